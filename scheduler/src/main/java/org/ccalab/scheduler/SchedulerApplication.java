package org.ccalab.scheduler;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.annotation.PropertySource;

/**
 * The scheduler: sweep jobs (Spring Batch), dispatch to {@code runs.requested}, ingestion of
 * {@code runs.events} and {@code workers.status}, the watchdog, dead letters.
 * <p>
 * Usable as a library: the launcher starts this class as its own Spring context beside the api and a
 * worker in one JVM, so there is no static state here and the defaults come from a classpath resource of
 * lower precedence than any application.properties or property the launcher passes
 * ({@code spring.datasource.*}, {@code spring.kafka.bootstrap-servers}, {@code ccalab.scheduler.*}).
 */
@SpringBootApplication
@ConfigurationPropertiesScan
@PropertySource("classpath:org/ccalab/scheduler/scheduler-defaults.properties")
public class SchedulerApplication {
    public static void main(String[] args) {
        SpringApplication.run(SchedulerApplication.class, args);
    }
}
