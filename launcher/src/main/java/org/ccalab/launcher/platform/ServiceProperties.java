package org.ccalab.launcher.platform;

import java.util.HashMap;
import java.util.Map;

/**
 * What each service's context is told by the launcher, on top of its own defaults: where the database and
 * the broker are, and what sets it apart from its neighbours on the shared classpath.
 *
 * @param overrides properties for every context (launcher arguments, test tunables), below these
 */
record ServiceProperties(PlatformSettings settings, String jdbcUrl, String bootstrapServers, Map<String, Object> overrides) {

    /** Auto-configurations the worker's classpath neighbours would bring into its context: a worker has no database. */
    private static final String WORKER_EXCLUDES = String.join(",",
            "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
            "org.springframework.boot.jdbc.autoconfigure.DataSourceInitializationAutoConfiguration",
            "org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration",
            "org.springframework.boot.jdbc.autoconfigure.JdbcTemplateAutoConfiguration",
            "org.springframework.boot.jdbc.autoconfigure.JdbcClientAutoConfiguration",
            "org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration",
            "org.springframework.boot.batch.autoconfigure.BatchAutoConfiguration",
            "org.springframework.boot.batch.jdbc.autoconfigure.BatchJdbcAutoConfiguration");

    /** PostgreSQL is the api's only link (contracts.md): no Kafka client, no Batch, though the scheduler's jars are near. */
    private static final String API_EXCLUDES = String.join(",",
            "org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration",
            "org.springframework.boot.batch.autoconfigure.BatchAutoConfiguration",
            "org.springframework.boot.batch.jdbc.autoconfigure.BatchJdbcAutoConfiguration");

    Map<String, Object> scheduler() {
        Map<String, Object> props = withDatabase(withKafka(common()));
        props.put("spring.application.name", "scheduler");
        props.put("spring.main.web-application-type", "none");
        // Its defaults are a @PropertySource; this keeps the api's application.yml (same classpath) out of it.
        props.put("spring.config.name", "scheduler");
        return props;
    }

    Map<String, Object> worker(String id, Map<String, Object> extra) {
        Map<String, Object> props = withKafka(common());
        props.put("spring.config.name", "gpu-worker");
        props.put("spring.application.name", "gpu-worker");
        props.put("spring.main.web-application-type", "none");
        props.put("spring.autoconfigure.exclude", WORKER_EXCLUDES);
        props.put("ccalab.worker.id", id);
        props.put("ccalab.worker.checkpoint-dir", settings.home().resolve("checkpoints").toString());
        props.putAll(extra);
        // Workers never hold database credentials, not even ones passed to the launcher for the others.
        props.keySet().removeIf(key -> key.startsWith("spring.datasource."));
        return props;
    }

    Map<String, Object> api() {
        Map<String, Object> props = withDatabase(common());
        props.put("spring.autoconfigure.exclude", API_EXCLUDES);
        props.put("spring.application.name", "api");
        props.put("server.port", settings.apiPort());
        props.put("spring.main.web-application-type", "servlet");
        return props;
    }

    private Map<String, Object> common() {
        Map<String, Object> props = new HashMap<>(overrides);
        props.put("spring.main.banner-mode", "off");
        // The launcher orders shutdown itself; Boot's hooks would close contexts and logging in parallel.
        props.put("logging.register-shutdown-hook", "false");
        // Logging is one system per JVM and keeps the first context's name: a fixed "[scheduler]" would mislead.
        props.put("logging.include-application-name", "false");
        return props;
    }

    private Map<String, Object> withKafka(Map<String, Object> props) {
        props.put("spring.kafka.bootstrap-servers", bootstrapServers);
        return props;
    }

    private Map<String, Object> withDatabase(Map<String, Object> props) {
        props.put("spring.datasource.url", jdbcUrl);
        props.put("spring.datasource.username", settings.datasourceUsername());
        props.put("spring.datasource.password", settings.datasourcePassword());
        return props;
    }
}
