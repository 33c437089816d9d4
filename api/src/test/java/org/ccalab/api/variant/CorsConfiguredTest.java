package org.ccalab.api.variant;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.options;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.util.Map;
import org.ccalab.api.support.TestProperties;
import org.ccalab.api.system.ApiProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.test.web.servlet.MockMvc;

/** With origins configured, CORS admits exactly those (off by default: ExperimentControllerTest). */
@WebMvcTest(VariantController.class)
class CorsConfiguredTest {
    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of("ccalab.api.cors.allowed-origins", "https://lab.example"));
        }
    }

    @Autowired
    MockMvc mvc;

    @Test
    void shouldAllowOnlyTheConfiguredOrigin() throws Exception {
        mvc.perform(options("/api/variants").header("Origin", "https://lab.example").header("Access-Control-Request-Method", "GET"))
                .andExpect(status().isOk())
                .andExpect(header().string("Access-Control-Allow-Origin", "https://lab.example"));
        mvc.perform(options("/api/variants").header("Origin", "https://elsewhere.example").header("Access-Control-Request-Method", "GET"))
                .andExpect(status().isForbidden());
    }
}
