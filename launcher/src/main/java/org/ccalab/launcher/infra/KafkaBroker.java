package org.ccalab.launcher.infra;

import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Apache Kafka broker in KRaft combined mode (broker and controller) inside this JVM, its log under
 * {@code dir}. The directory is formatted once; later starts reuse it, so topics and offsets survive.
 */
public final class KafkaBroker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KafkaBroker.class);

    private final KafkaRaftServer server;
    private final String bootstrapServers;

    private KafkaBroker(KafkaRaftServer server, String bootstrapServers) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
    }

    public static KafkaBroker start(Path dir, int port, int controllerPort) throws Exception {
        installExitProcedures();
        Files.createDirectories(dir);
        String listener = "127.0.0.1:" + port;
        String controller = "127.0.0.1:" + controllerPort;
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", "1");
        props.put("listeners", "PLAINTEXT://" + listener + ",CONTROLLER://" + controller);
        props.put("advertised.listeners", "PLAINTEXT://" + listener);
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
        props.put("controller.quorum.bootstrap.servers", controller);
        props.put("log.dirs", dir.toString());
        // One broker: every replication factor and min.isr is 1.
        props.put("num.partitions", "1");
        props.put("offsets.topic.num.partitions", "1");
        props.put("offsets.topic.replication.factor", "1");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        // After a crash the old registration blocks the broker until this timeout (9 s by default).
        props.put("broker.session.timeout.ms", "3000");
        props.put("broker.heartbeat.interval.ms", "500");
        KafkaConfig config = new KafkaConfig(props, false);

        if (!Files.exists(dir.resolve("meta.properties"))) { // format once, never again: a new cluster id would not match
            new Formatter().setNodeId(config.nodeId()).setClusterId(Uuid.randomUuid().toString())
                    .setControllerListenerName(config.controllerListenerNames().getFirst())
                    .setMetadataLogDirectory(config.metadataLogDir()).addDirectory(dir.toString())
                    .setInitialControllers(StorageTool.createStandaloneDynamicVoters(config))
                    .setHasDynamicQuorum(true).setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                    .run();
            log.info("formatted a new Kafka log in {}", dir);
        }
        long t0 = System.nanoTime();
        KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
        server.startup(); // returns when the broker is serving
        log.info("Kafka broker (KRaft) on {} in {} ms", listener, (System.nanoTime() - t0) / 1_000_000);
        return new KafkaBroker(server, listener);
    }

    /**
     * Kafka halts the JVM on a fatal fault (a port clash, a corrupt log): no shutdown hook would run and the
     * PostgreSQL server would be orphaned. Exit through System.exit instead, on another thread because the
     * caller may hold locks the hooks need, and stop the caller.
     */
    private static void installExitProcedures() {
        Exit.Procedure viaSystemExit = (status, message) -> {
            log.error("Kafka requested the JVM to stop ({}): {}", status, message);
            Thread.ofPlatform().name("kafka-exit").start(() -> System.exit(status));
            throw new IllegalStateException("Kafka fatal fault: " + message);
        };
        Exit.setHaltProcedure(viaSystemExit);
        Exit.setExitProcedure(viaSystemExit);
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
    }
}
