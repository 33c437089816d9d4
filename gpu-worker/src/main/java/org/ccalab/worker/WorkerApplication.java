package org.ccalab.worker;

import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * The gpu-worker: takes runs from {@code runs.requested}, runs them on the engine one at a time, streams
 * {@code runs.events}. Kafka is its only link: it has no datasource and no web server.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class WorkerApplication {

    /**
     * Its configuration file is {@code gpu-worker.properties}, not application.properties, so that the
     * launcher can run it beside the api and the scheduler in one JVM without their files shadowing each other.
     */
    public static final Map<String, Object> DEFAULTS = Map.of("spring.config.name", "gpu-worker");

    public static void main(String[] args) {
        new SpringApplicationBuilder(WorkerApplication.class).properties(DEFAULTS).run(args);
    }
}
