package org.ccalab.scheduler.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

/** Binding and validation of {@code ccalab.scheduler.*}: defaults, overrides, and a bad value naming its property. */
class SchedulerPropertiesTest {
    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(SchedulerProperties.class)
    static class Config {}

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
            .withUserConfiguration(Config.class);

    @Test
    void defaultsMatchTheDocumentedOnes() {
        runner.run(context -> {
            SchedulerProperties p = context.getBean(SchedulerProperties.class);
            assertThat(p.leaseTimeout()).isEqualTo(Duration.ofSeconds(15));
            assertThat(p.prefetch()).isZero();
            assertThat(p.dispatchLeaseTimeout()).isEqualTo(Duration.ofMinutes(30));
            assertThat(p.partitions().runsRequested()).isEqualTo(8);
            assertThat(p.loops().dispatch()).isTrue();
            assertThat(p.sweep().chunkSize()).isEqualTo(50);
            assertThat(p.listener().retries()).isEqualTo(3);
        });
    }

    @Test
    void overridesBindFromKebabCaseProperties() {
        runner.withPropertyValues("ccalab.scheduler.lease-timeout=3s", "ccalab.scheduler.loops.sweep=false",
                "ccalab.scheduler.partitions.runs-requested=16").run(context -> {
            SchedulerProperties p = context.getBean(SchedulerProperties.class);
            assertThat(p.leaseTimeout()).isEqualTo(Duration.ofSeconds(3));
            assertThat(p.loops().sweep()).isFalse();
            assertThat(p.partitions().runsRequested()).isEqualTo(16);
        });
    }

    @Test
    void tooFewRequestPartitionsStopTheContextNamingTheProperty() {
        runner.withPropertyValues("ccalab.scheduler.partitions.runs-requested=2").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("partitions.runsRequested")
                    .hasMessageContaining("4");
        });
    }
}
