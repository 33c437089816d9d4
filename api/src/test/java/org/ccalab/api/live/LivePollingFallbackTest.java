package org.ccalab.api.live;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.UUID;
import org.ccalab.api.support.FreshDatabase;
import org.ccalab.api.support.Fixtures;
import org.ccalab.api.support.Http;
import org.ccalab.api.support.SseClient;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.json.JsonMapper;

/** Without LISTEN the feeds poll: a change nobody announced still reaches the client. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"ccalab.api.live.force-polling=true", "ccalab.api.live.poll-interval=200ms"})
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class LivePollingFallbackTest {
    static final FreshDatabase db = new FreshDatabase();

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        db.register(registry);
    }

    @LocalServerPort
    int port;
    @Autowired
    JdbcTemplate jdbc;
    @Autowired
    JsonMapper json;
    @Autowired
    NotificationListener listener;

    @Test
    void shouldDeliverAnUnannouncedPointByPolling() throws Exception {
        Http http = new Http(port);
        assertThat(listener.listening()).isFalse();
        Http.Response r = http.post("/api/experiments", """
                {"name": "poll", "kind": "TRAINING", "variants": [{"family": "mha", "dModel": 64, "nHeads": 2}]}
                """);
        UUID run = UUID.fromString(r.json().get("runs").get(0).get("id").asString());
        try (SseClient sse = new SseClient(http, "/api/live/runs/" + run)) {
            assertThat(sse.next("status", Duration.ofSeconds(30))).isNotNull();
            new Fixtures(jdbc).point(run, "train/loss", 3, 1.75);
            SseClient.Event metrics = sse.next("metrics", Duration.ofSeconds(30));
            assertThat(metrics).isNotNull();
            assertThat(json.readTree(metrics.data()).get("points").get(0).get("value").asDouble()).isEqualTo(1.75);
        }
    }
}
