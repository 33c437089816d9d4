package org.ccalab.api.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.doThrow;

import org.ccalab.api.live.ChangeNotifier;
import org.ccalab.api.support.FreshDatabase;
import org.ccalab.api.support.Http;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.bean.override.mockito.MockitoSpyBean;

/**
 * The experiment and its runs are one transaction: a failure after every row was written (here the
 * final NOTIFY) leaves neither the experiment nor any run behind.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class CreateExperimentAtomicityTest {
    static final FreshDatabase db = new FreshDatabase();

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        db.register(registry);
    }

    @LocalServerPort
    int port;
    @Autowired
    JdbcTemplate jdbc;
    @MockitoSpyBean
    ChangeNotifier notifier;

    @Test
    void shouldRollBackTheExperimentAndItsRunsWhenTheTransactionFails() {
        String body = """
                {"name": "atomic", "kind": "BENCHMARK", "variants": [{"family": "mha", "dModel": 64, "nHeads": 2}],
                 "grid": {"seqLen": [8, 16, 32]}, "benchmark": {"batch": 1}}
                """;
        doThrow(new IllegalStateException("simulated failure after the inserts")).when(notifier).queueChanged();
        Http.Response failed = new Http(port).post("/api/experiments", body);
        assertThat(failed.status()).isEqualTo(500);
        assertThat(failed.json().get("type").asString()).isEqualTo("urn:ccalab:problem:internal-error");
        assertThat(jdbc.queryForObject("SELECT count(*) FROM experiment", Long.class)).isZero();
        assertThat(jdbc.queryForObject("SELECT count(*) FROM run", Long.class)).isZero();

        org.mockito.Mockito.reset(notifier);
        assertThat(new Http(port).post("/api/experiments", body).status()).isEqualTo(201);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM run", Long.class)).isEqualTo(3);
    }
}
