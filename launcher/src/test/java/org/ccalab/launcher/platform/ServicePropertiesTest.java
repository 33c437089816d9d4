package org.ccalab.launcher.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ServicePropertiesTest {
    private final PlatformSettings settings = new PlatformSettings(Path.of("/tmp/home"), 8081, null, "postgres", "pw",
            "ccalab", 15432, null, 19092, 19093, 1);
    private final ServiceProperties properties = new ServiceProperties(settings, "jdbc:postgresql://db/ccalab",
            "127.0.0.1:19092", Map.of(
                    "spring.datasource.password", "from-the-command-line",
                    "spring.kafka.bootstrap-servers", "elsewhere:9092",
                    "ccalab.scheduler.lease-timeout", "30s"));

    @Test
    void workersGetKafkaButNoDatabaseCredentials() {
        Map<String, Object> worker = properties.worker("worker-1", Map.of("ccalab.worker.release-on-shutdown", "false"));
        assertThat(worker).doesNotContainKeys("spring.datasource.url", "spring.datasource.username", "spring.datasource.password")
                .containsEntry("spring.kafka.bootstrap-servers", "127.0.0.1:19092")
                .containsEntry("ccalab.worker.id", "worker-1")
                .containsEntry("ccalab.worker.checkpoint-dir", Path.of("/tmp/home/checkpoints").toString())
                .containsEntry("ccalab.worker.release-on-shutdown", "false")
                .containsEntry("spring.config.name", "gpu-worker");
    }

    @Test
    void theApiGetsTheDatabaseAndNoKafka() {
        Map<String, Object> api = properties.api();
        assertThat(api).containsEntry("spring.datasource.url", "jdbc:postgresql://db/ccalab")
                .containsEntry("spring.datasource.password", "pw")
                .containsEntry("server.port", 8081);
        assertThat((String) api.get("spring.autoconfigure.exclude")).contains("KafkaAutoConfiguration");
    }

    @Test
    void theSchedulerGetsBothAndTheLaunchersAddressesWinOverArguments() {
        Map<String, Object> scheduler = properties.scheduler();
        assertThat(scheduler).containsEntry("spring.kafka.bootstrap-servers", "127.0.0.1:19092")
                .containsEntry("spring.datasource.url", "jdbc:postgresql://db/ccalab")
                .containsEntry("ccalab.scheduler.lease-timeout", "30s")
                .containsEntry("spring.main.web-application-type", "none");
    }
}
