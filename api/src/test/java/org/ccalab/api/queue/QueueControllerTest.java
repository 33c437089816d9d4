package org.ccalab.api.queue;

import static org.hamcrest.Matchers.hasSize;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.support.TestProperties;
import org.ccalab.api.system.ApiProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

@WebMvcTest(QueueController.class)
class QueueControllerTest {
    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of("ccalab.api.limits.max-queue-items", "7", "ccalab.api.worker-stale-after", "45s"));
        }
    }

    @Autowired
    MockMvc mvc;
    @MockitoBean
    QueueRepository queue;

    @Test
    void shouldListTheQueueWithTheConfiguredItemLimit() throws Exception {
        UUID run = UUID.randomUUID();
        when(queue.queue(7)).thenReturn(new QueueRepository.Queue(3, 0, 1, 1, List.of(new QueueRepository.QueueItem(run,
                UUID.randomUUID(), "exp", 0, "BENCHMARK", "mha", "RUNNING", 0, 1, 3, "w-1", true, Instant.now(), Instant.now(),
                Instant.now(), Instant.now(), null, 2.5, 10.0))));
        mvc.perform(get("/api/queue"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.queued").value(3))
                .andExpect(jsonPath("$.items", hasSize(1)))
                .andExpect(jsonPath("$.items[0].runId").value(run.toString()))
                .andExpect(jsonPath("$.items[0].waitSeconds").value(2.5));
    }

    @Test
    void shouldJudgeWorkersAliveByTheConfiguredStaleness() throws Exception {
        when(queue.workers(Duration.ofSeconds(45))).thenReturn(List.of());
        mvc.perform(get("/api/workers")).andExpect(status().isOk()).andExpect(jsonPath("$.items", hasSize(0)));
        verify(queue).workers(Duration.ofSeconds(45));
    }

    @Test
    void shouldPageDeadLettersAndValidateTheSort() throws Exception {
        when(queue.deadLetterCount("runs.events")).thenReturn(120L);
        when(queue.deadLetters(eq("runs.events"), any())).thenReturn(List.of());
        mvc.perform(get("/api/dead-letters").param("topic", "runs.events").param("page", "2").param("size", "50"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.totalElements").value(120))
                .andExpect(jsonPath("$.totalPages").value(3))
                .andExpect(jsonPath("$.page").value(2))
                .andExpect(jsonPath("$.sort").value("receivedAt,desc"));
        mvc.perform(get("/api/dead-letters").param("sort", "record_value"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("sort"));
    }
}
