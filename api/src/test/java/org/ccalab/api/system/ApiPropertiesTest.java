package org.ccalab.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

class ApiPropertiesTest {
    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(ApiProperties.class)
    static class Config {}

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
            .withUserConfiguration(Config.class);

    @Test
    void shouldBindDefaultsAndOverrides() {
        runner.withPropertyValues("ccalab.api.limits.max-runs-per-experiment=50", "ccalab.api.live.poll-interval=250ms",
                        "ccalab.api.cors.allowed-origins=https://a.example,https://b.example")
                .run(ctx -> {
                    ApiProperties p = ctx.getBean(ApiProperties.class);
                    assertThat(p.limits().maxRunsPerExperiment()).isEqualTo(50);
                    assertThat(p.limits().maxBodyBytes()).isEqualTo(1_048_576);
                    assertThat(p.live().pollInterval()).isEqualTo(Duration.ofMillis(250));
                    assertThat(p.live().forcePolling()).isFalse();
                    assertThat(p.cors().allowedOrigins()).containsExactly("https://a.example", "https://b.example");
                    assertThat(p.defaultMaxAttempts()).isEqualTo(3);
                });
    }

    @Test
    void shouldRefuseToStartWithAnInvalidValueNamingIt() {
        runner.withPropertyValues("ccalab.api.limits.default-max-points=2", "ccalab.api.default-max-attempts=500")
                .run(ctx -> {
                    assertThat(ctx).hasFailed();
                    StringBuilder messages = new StringBuilder();
                    for (Throwable t = ctx.getStartupFailure(); t != null; t = t.getCause()) messages.append(t.getMessage()).append('\n');
                    assertThat(messages.toString()).contains("ccalab.api").contains("defaultMaxPoints").contains("defaultMaxAttempts");
                });
    }
}
