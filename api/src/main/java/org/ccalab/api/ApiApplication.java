package org.ccalab.api;

import io.swagger.v3.oas.annotations.OpenAPIDefinition;
import io.swagger.v3.oas.annotations.info.Info;
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
@OpenAPIDefinition(info = @Info(title = "cca-lab api", version = "1",
        description = "Submit attention-variant experiments (benchmark and training sweeps), follow their runs, and "
                + "compare results; errors are RFC 9457 problem details naming the field. See api/README.md."))
@ConfigurationPropertiesScan
@PropertySource("classpath:org/ccalab/api/api-defaults.properties")
public class ApiApplication {
    public static void main(String[] args) {
        SpringApplication.run(ApiApplication.class, args);
    }
}
