package org.ccalab.launcher.platform;

import java.nio.file.Path;
import java.util.regex.Pattern;
import org.springframework.core.env.PropertyResolver;

/**
 * What the launcher needs to know, read from system properties, environment variables ({@code CCALAB_HOME}) or
 * {@code --key=value} arguments.
 *
 * @param home           state directory: PostgreSQL data, Kafka log, checkpoints ({@code ccalab.home}, default ./.ccalab)
 * @param apiPort        the api and dashboard ({@code server.port}, default 8080)
 * @param datasourceUrl  an existing PostgreSQL ({@code spring.datasource.url}); null: run an embedded one
 * @param kafkaBootstrap an existing Kafka ({@code spring.kafka.bootstrap-servers}); null: run a broker in-process
 * @param workers        how many worker contexts to start ({@code ccalab.workers}, default 1)
 */
public record PlatformSettings(Path home, int apiPort, String datasourceUrl, String datasourceUsername,
                               String datasourcePassword, String database, int postgresPort, String kafkaBootstrap,
                               int kafkaPort, int kafkaControllerPort, int workers) {
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    public PlatformSettings {
        if (home == null) throw new IllegalArgumentException("ccalab.home is required");
        if (!IDENTIFIER.matcher(database).matches()) {
            throw new IllegalArgumentException("ccalab.postgres.database must be a lower-case identifier, got " + database);
        }
        if (workers < 0 || workers > 64) throw new IllegalArgumentException("ccalab.workers must be 0..64, got " + workers);
        home = home.toAbsolutePath().normalize();
    }

    public static PlatformSettings from(PropertyResolver p) {
        return new PlatformSettings(
                Path.of(p.getProperty("ccalab.home", ".ccalab")),
                p.getProperty("server.port", Integer.class, 8080),
                p.getProperty("spring.datasource.url"),
                p.getProperty("spring.datasource.username", "postgres"),
                p.getProperty("spring.datasource.password", ""),
                p.getProperty("ccalab.postgres.database", "ccalab"),
                p.getProperty("ccalab.postgres.port", Integer.class, 15432),
                p.getProperty("spring.kafka.bootstrap-servers"),
                p.getProperty("ccalab.kafka.port", Integer.class, 19092),
                p.getProperty("ccalab.kafka.controller-port", Integer.class, 19093),
                p.getProperty("ccalab.workers", Integer.class, 1));
    }

    public boolean embeddedDatabase() {
        return datasourceUrl == null || datasourceUrl.isBlank();
    }

    public boolean embeddedKafka() {
        return kafkaBootstrap == null || kafkaBootstrap.isBlank();
    }
}
