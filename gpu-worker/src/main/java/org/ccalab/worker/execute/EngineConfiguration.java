package org.ccalab.worker.execute;

import org.ccalab.engine.run.Engine;
import org.ccalab.engine.run.Engines;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;
import org.springframework.core.env.Environment;

/** The engine this worker drives; the engine module picks and logs the backend (engine.backend / ENGINE_BACKEND). */
@Configuration(proxyBeanMethods = false)
class EngineConfiguration {

    /**
     * Lazy so that a {@code @Primary} engine (a test double) replaces it without starting a backend. The choice
     * is read from this context's environment (system property, ENGINE_BACKEND, or a property the launcher gave
     * this worker), not only the JVM's, so that workers in one JVM may differ.
     */
    @Bean
    @Lazy
    Engine engine(Environment environment) {
        return Engines.create(environment.getProperty("engine.backend", "auto"));
    }
}
