package org.ccalab.launcher.platform;

import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.launcher.infra.EmbeddedDatabase;
import org.ccalab.launcher.infra.KafkaBroker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * The whole platform in one JVM: PostgreSQL (configured, or embedded under the state dir), a Kafka broker
 * (configured, or in-process), then the scheduler, the workers and the api, each a Spring context of its own.
 * {@link #close()} stops them in the reverse order: the api and the workers while Kafka and the database still
 * answer, then the scheduler, the broker, the database.
 */
public final class Platform implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Platform.class);

    private final PlatformSettings settings;
    private final Map<String, Object> overrides;
    private final List<AutoCloseable> infrastructure = new ArrayList<>();
    private final Map<String, ConfigurableApplicationContext> workers = new HashMap<>();
    private ConfigurableApplicationContext scheduler;
    private ConfigurableApplicationContext api;
    private String jdbcUrl;
    private String bootstrapServers;
    private ServiceProperties properties;
    private int workerCount;

    /**
     * @param overrides properties for every context (tunables such as lease timeouts), below the launcher's own
     */
    public Platform(PlatformSettings settings, Map<String, Object> overrides) {
        this.settings = settings;
        this.overrides = Map.copyOf(overrides);
    }

    public static Platform start(PlatformSettings settings) {
        return start(settings, Map.of());
    }

    public static Platform start(PlatformSettings settings, Map<String, Object> overrides) {
        Platform platform = new Platform(settings, overrides);
        platform.start();
        return platform;
    }

    /** Starts everything; on failure stops what had started and rethrows. */
    public void start() {
        try {
            startAll();
        } catch (Exception e) {
            close();
            throw e instanceof RuntimeException r ? r : new IllegalStateException("platform did not start: " + e, e);
        }
    }

    private void startAll() throws Exception {
        long t0 = System.nanoTime();
        log.info("state directory {}", settings.home());
        if (settings.embeddedDatabase()) EmbeddedDatabase.stopOrphan(settings.home().resolve("postgres"));
        checkPortsFree();
        if (settings.embeddedDatabase()) {
            EmbeddedDatabase db = EmbeddedDatabase.start(settings.home().resolve("postgres"), settings.postgresPort(),
                    settings.database());
            infrastructure.add(db);
            jdbcUrl = db.jdbcUrl();
        } else {
            jdbcUrl = settings.datasourceUrl();
            log.info("PostgreSQL from configuration: {}", jdbcUrl);
        }
        if (settings.embeddedKafka()) {
            KafkaBroker broker = KafkaBroker.start(settings.home().resolve("kafka"), settings.kafkaPort(),
                    settings.kafkaControllerPort());
            infrastructure.add(broker);
            bootstrapServers = broker.bootstrapServers();
        } else {
            bootstrapServers = settings.kafkaBootstrap();
            log.info("Kafka from configuration: {}", bootstrapServers);
        }
        properties = new ServiceProperties(settings, jdbcUrl, bootstrapServers, overrides);
        scheduler = run(Service.SCHEDULER, properties.scheduler());
        for (int i = 0; i < settings.workers(); i++) startWorker(Map.of());
        api = run(Service.API, properties.api());
        log.info("cca-lab is up at {} in {} ms", apiUrl(), (System.nanoTime() - t0) / 1_000_000);
    }

    /** Starts one more worker context (ids worker-1, worker-2, ...), with extra properties of its own. */
    public synchronized String startWorker(Map<String, Object> extra) {
        String id = "worker-" + (++workerCount);
        workers.put(id, run(Service.WORKER, properties.worker(id, extra)));
        return id;
    }

    /** Stops one worker's context, e.g. to see its run recovered elsewhere. */
    public synchronized void stopWorker(String id) {
        ConfigurableApplicationContext context = workers.remove(id);
        if (context == null) throw new IllegalArgumentException("no running worker " + id);
        context.close();
    }

    public String apiUrl() {
        return "http://localhost:" + settings.apiPort();
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public PlatformSettings settings() {
        return settings;
    }

    /**
     * The launcher's properties go first in the context's environment, above system properties and the
     * application's own files, so that addresses decided here (an embedded database's port) win.
     */
    private static ConfigurableApplicationContext run(Service service, Map<String, Object> properties) {
        long t0 = System.nanoTime();
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new MapPropertySource("ccalab-launcher-" + service, properties));
        ConfigurableApplicationContext context = new SpringApplicationBuilder(service.mainClass())
                .main(service.mainClass()).environment(environment).registerShutdownHook(false).run();
        log.info("{} started in {} ms", service.name().toLowerCase(), (System.nanoTime() - t0) / 1_000_000);
        return context;
    }

    private void checkPortsFree() {
        List<Integer> ports = new ArrayList<>(List.of(settings.apiPort()));
        if (settings.embeddedDatabase()) ports.add(settings.postgresPort());
        if (settings.embeddedKafka()) ports.addAll(List.of(settings.kafkaPort(), settings.kafkaControllerPort()));
        for (int port : ports) {
            try (ServerSocket socket = new ServerSocket(port)) {
                socket.setReuseAddress(true);
            } catch (Exception e) {
                throw new IllegalStateException("port " + port + " is in use (another cca-lab running?); "
                        + "see README: server.port, ccalab.postgres.port, ccalab.kafka.port, ccalab.kafka.controller-port");
            }
        }
    }

    @Override
    public synchronized void close() {
        closeQuietly("api", api);
        api = null;
        for (var worker : List.copyOf(workers.entrySet())) closeQuietly(worker.getKey(), worker.getValue());
        workers.clear();
        closeQuietly("scheduler", scheduler);
        scheduler = null;
        for (AutoCloseable part : infrastructure.reversed()) closeQuietly(part.getClass().getSimpleName(), part);
        infrastructure.clear();
    }

    private static void closeQuietly(String name, AutoCloseable part) {
        if (part == null) return;
        try {
            part.close();
        } catch (Exception e) {
            log.warn("stopping {} failed: {}", name, e.toString());
        }
    }
}
