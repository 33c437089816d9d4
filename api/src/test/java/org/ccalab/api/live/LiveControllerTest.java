package org.ccalab.api.live;

import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.api.run.RunRepository;
import org.ccalab.api.support.TestProperties;
import org.ccalab.api.system.ApiProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

@WebMvcTest(LiveController.class)
class LiveControllerTest {
    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of());
        }
    }

    @Autowired
    MockMvc mvc;
    @MockitoBean
    LiveFeeds feeds;
    @MockitoBean
    RunRepository runs;

    @Test
    void shouldAnswerAnEventSourceForAnUnknownRunWithA404Problem() throws Exception {
        UUID id = UUID.randomUUID();
        when(runs.find(id)).thenReturn(Optional.empty());
        // What a browser's EventSource sends: the problem must still come back, as problem+json.
        mvc.perform(get("/api/live/runs/" + id).header("Accept", "text/event-stream"))
                .andExpect(status().isNotFound())
                .andExpect(content().contentTypeCompatibleWith("application/problem+json"))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:not-found"));
        verify(feeds, never()).subscribeRun(id);
    }
}
