package org.ccalab.api.comparison;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

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

@WebMvcTest(CompareController.class)
class CompareControllerTest {
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
    ComparisonService service;

    @Test
    void shouldRequireExactlyOneOfRunsAndExperiments() throws Exception {
        mvc.perform(get("/api/compare"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:bad-parameter"))
                .andExpect(jsonPath("$.errors[0].field").value("runs"));
        mvc.perform(get("/api/compare").param("runs", UUID.randomUUID().toString()).param("experiments", UUID.randomUUID().toString()))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].message", org.hamcrest.Matchers.containsString("not both")));
    }

    @Test
    void shouldNameTheParameterHoldingABadId() throws Exception {
        mvc.perform(get("/api/compare").param("runs", UUID.randomUUID() + ",xyz"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("runs"));
        mvc.perform(get("/api/compare").param("runs", UUID.randomUUID().toString()).param("baseline", "first"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("baseline"));
        verifyNoInteractions(service);
    }

    @Test
    void shouldPassTheMetricAndBaseline() throws Exception {
        UUID a = UUID.randomUUID(), b = UUID.randomUUID();
        org.mockito.Mockito.when(service.compare(any(), any(), any(), any()))
                .thenReturn(new ComparisonService.Comparison(new ComparisonService.Baseline("run", a, java.util.List.of(a)), "train/loss", MetricDirection.LOWER_IS_BETTER, java.util.List.of()));
        mvc.perform(get("/api/compare").param("runs", a + "," + b + "," + a).param("baseline", a.toString()).param("metric", "train/loss"))
                .andExpect(status().isOk()).andExpect(jsonPath("$.metric").value("train/loss"));
        org.mockito.Mockito.verify(service).compare(java.util.List.of(a, b), java.util.List.of(), a, "train/loss");
    }
}
