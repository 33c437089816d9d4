package org.ccalab.launcher;

import java.util.HashMap;
import java.util.Map;
import org.ccalab.launcher.platform.Platform;
import org.ccalab.launcher.platform.PlatformSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.env.SimpleCommandLinePropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * {@code java -jar launcher/target/launcher.jar [--key=value ...]}: the whole platform locally, with nothing
 * installed but a JDK. Ctrl-C stops it in order (api, workers, scheduler, Kafka, PostgreSQL).
 */
public final class Launcher {
    private static final Logger log = LoggerFactory.getLogger(Launcher.class);

    private Launcher() {}

    public static void main(String[] args) {
        try {
            StandardEnvironment env = new StandardEnvironment();
            SimpleCommandLinePropertySource arguments = new SimpleCommandLinePropertySource(args);
            env.getPropertySources().addFirst(arguments);
            // Arguments reach every context too: ./ccalab --ccalab.scheduler.lease-timeout=30s
            Map<String, Object> overrides = new HashMap<>();
            for (String name : arguments.getPropertyNames()) overrides.put(name, arguments.getProperty(name));
            Platform platform = new Platform(PlatformSettings.from(env), overrides);
            // Before starting: Ctrl-C during start-up must still stop PostgreSQL, or its server is orphaned.
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("ccalab-shutdown").unstarted(() -> {
                log.info("stopping cca-lab");
                platform.close();
                log.info("cca-lab stopped");
            }));
            platform.start();
        } catch (Throwable t) {
            // Kafka's threads are not daemons: without an explicit exit a failed start would leave the JVM hanging.
            log.error("cca-lab did not start: {}", t.toString(), t);
            System.exit(1);
        }
    }
}
