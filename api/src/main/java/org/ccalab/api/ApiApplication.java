package org.ccalab.api;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.annotation.PropertySource;

/**
 * The REST api. No static state: the launcher starts it as one Spring context among several in one JVM,
 * each with its own {@code spring.datasource.*} and {@code server.port}; its defaults live in a named
 * resource, not an application.properties that would shadow the other services'.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
@PropertySource("classpath:org/ccalab/api/api-defaults.properties")
public class ApiApplication {
    public static void main(String[] args) {
        SpringApplication.run(ApiApplication.class, args);
    }
}
