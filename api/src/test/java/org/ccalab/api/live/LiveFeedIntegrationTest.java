package org.ccalab.api.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.UUID;
import org.ccalab.api.support.FreshDatabase;
import org.ccalab.api.support.Fixtures;
import org.ccalab.api.support.Http;
import org.ccalab.api.support.SseClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * SSE driven by LISTEN: rows written without a NOTIFY reach no client (the negative control: nothing
 * polls), and the NOTIFY the ingester sends delivers exactly the new points, cells and status.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class LiveFeedIntegrationTest {
    static final FreshDatabase db = new FreshDatabase();
    static final Duration WAIT = Duration.ofSeconds(30);  // a ceiling: a loaded CI machine once needed more than 10 s

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
    Http http;
    Fixtures fixtures;

    @BeforeEach
    void setUp() {
        http = new Http(port);
        fixtures = new Fixtures(jdbc);
        await().atMost(WAIT).until(listener::listening);
    }

    private UUID newRun() {
        Http.Response r = http.post("/api/experiments", """
                {"name": "live", "kind": "TRAINING", "variants": [{"family": "mha", "dModel": 64, "nHeads": 2}],
                 "training": {"steps": 10}}
                """);
        assertThat(r.status()).isEqualTo(201);
        return UUID.fromString(r.json().get("runs").get(0).get("id").asString());
    }

    private void notifyRun(UUID run) {
        jdbc.queryForList("SELECT pg_notify('run_updates', ?)", run.toString());
    }

    @Test
    void shouldDeliverNewPointsCellsAndStatusAfterANotify() throws Exception {
        UUID run = newRun();
        fixtures.point(run, "train/loss", 0, 9.0); // before the subscription: history, not live
        try (SseClient sse = new SseClient(http, "/api/live/runs/" + run)) {
            assertThat(sse.status()).isEqualTo(200);
            SseClient.Event first = sse.next("status", WAIT);
            assertThat(first).isNotNull();
            assertThat(json.readTree(first.data()).get("status").asString()).isEqualTo("QUEUED");

            fixtures.point(run, "train/loss", 1, 2.5);
            fixtures.point(run, "train/loss", 2, 2.25);
            assertThat(sse.next("metrics", Duration.ofMillis(1500))).as("no NOTIFY, no event").isNull();

            notifyRun(run);
            SseClient.Event metrics = sse.next("metrics", WAIT);
            assertThat(metrics).isNotNull();
            JsonNode points = json.readTree(metrics.data()).get("points");
            assertThat(points).extracting(p -> p.get("step").asLong()).containsExactly(1L, 2L);
            assertThat(points.get(1).get("value").asDouble()).isEqualTo(2.25);
            assertThat(points.get(0).get("name").asString()).isEqualTo("train/loss");

            notifyRun(run); // a repeated signal with nothing new sends nothing
            assertThat(sse.next("metrics", Duration.ofMillis(1000))).isNull();

            fixtures.cell(run, "FORWARD", 64, 0.7, 1.0);
            fixtures.status(run, "RUNNING");
            fixtures.point(run, "val/loss", 2, 2.4);
            notifyRun(run);
            SseClient.Event status = sse.next("status", WAIT);
            assertThat(status).isNotNull();
            assertThat(json.readTree(status.data()).get("status").asString()).isEqualTo("RUNNING");
            SseClient.Event more = sse.next("metrics", WAIT);
            assertThat(json.readTree(more.data()).get("points").get(0).get("name").asString()).isEqualTo("val/loss");
            SseClient.Event cells = sse.next("cells", WAIT);
            assertThat(json.readTree(cells.data()).get("cells").get(0).get("p50Ms").asDouble()).isEqualTo(0.7);
        }
    }

    @Test
    void shouldPushTheQueueWhenItChanges() throws Exception {
        try (SseClient sse = new SseClient(http, "/api/live/queue")) {
            SseClient.Event first = sse.next("queue", WAIT);
            assertThat(first).isNotNull();
            long queued = json.readTree(first.data()).get("queued").asLong();
            UUID run = newRun(); // the api's own insert notifies queue_updates
            // A signal from an earlier test may still be in flight and repeat the old snapshot: read on until
            // the snapshot that holds the new run (or the wait runs out).
            JsonNode q = null;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                SseClient.Event next = sse.next("queue", WAIT);
                if (next == null) break;
                q = json.readTree(next.data());
                if (q.get("items").toString().contains(run.toString())) break;
            }
            assertThat(q).as("a queue event after the insert").isNotNull();
            assertThat(q.get("queued").asLong()).isEqualTo(queued + 1);
            assertThat(q.get("items")).extracting(i -> i.get("runId").asString()).contains(run.toString());
        }
    }

    @Test
    void shouldAnswer404ForAnUnknownRunStream() throws Exception {
        assertThat(http.get("/api/live/runs/" + UUID.randomUUID()).status()).isEqualTo(404);
    }
}
