package org.ccalab.launcher.infra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's infrastructure keeps its data across a restart, and refuses to run on someone else's server. */
class InfrastructureTest {

    @TempDir Path home;

    @Test
    void postgresKeepsItsDataAcrossARestart() throws Exception {
        int port = FreePorts.next();
        try (EmbeddedDatabase db = EmbeddedDatabase.start(home.resolve("pg"), port, "ccalab")) {
            sql(db.jdbcUrl(), "create table kept(v text); insert into kept values ('survives')");
        }
        try (EmbeddedDatabase db = EmbeddedDatabase.start(home.resolve("pg"), port, "ccalab")) {
            assertThat(db.jdbcUrl()).contains("/ccalab");
            try (Connection c = DriverManager.getConnection(db.jdbcUrl()); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("select v from kept")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("survives");
            }
        }
    }

    @Test
    void postgresLeftRunningByAKilledLauncherIsStoppedAndItsDataKept() throws Exception {
        int port = FreePorts.next();
        Path dir = home.resolve("pg");
        Process launcher = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), KilledLauncher.class.getName(), dir.toString(),
                Integer.toString(port)).redirectErrorStream(true).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(launcher.getInputStream()))) {
            String line;
            while ((line = out.readLine()) != null && !line.contains("READY")) { /* its log */ }
        }
        launcher.destroyForcibly().waitFor(); // SIGKILL: no hook runs, the postmaster is orphaned
        long orphan = Long.parseLong(java.nio.file.Files.readAllLines(dir.resolve("postmaster.pid")).getFirst().trim());
        assertThat(ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false)).as("orphaned postmaster").isTrue();

        try (EmbeddedDatabase db = EmbeddedDatabase.start(dir, port, "ccalab")) {
            assertThat(ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            try (Connection c = DriverManager.getConnection(db.jdbcUrl()); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("select v from kept")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("survives");
            }
        }
    }

    @Test
    void postgresRefusesAPortHeldByAnotherServer() throws Exception {
        int port = FreePorts.next();
        try (EmbeddedDatabase first = EmbeddedDatabase.start(home.resolve("a"), port, "ccalab")) {
            assertThatThrownBy(() -> EmbeddedDatabase.start(home.resolve("b"), port, "ccalab"))
                    .hasMessageContaining("port " + port + " is held by another PostgreSQL");
            sql(first.jdbcUrl(), "select 1"); // the first server was left alone
        }
    }

    @Test
    void kafkaKeepsTopicsAndCommittedOffsetsAcrossARestart() throws Exception {
        int port = FreePorts.next();
        int controller = FreePorts.next();
        Path dir = home.resolve("kafka");
        try (KafkaBroker broker = KafkaBroker.start(dir, port, controller)) {
            produce(broker.bootstrapServers(), "first");
            assertThat(consume(broker.bootstrapServers(), 1)).containsExactly("first");
        }
        try (KafkaBroker broker = KafkaBroker.start(dir, port, controller)) {
            produce(broker.bootstrapServers(), "second");
            // The group's offset survived: only the new record is delivered.
            assertThat(consume(broker.bootstrapServers(), 1)).containsExactly("second");
        }
    }

    private static void sql(String url, String statements) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute(statements);
        }
    }

    private static void produce(String bootstrap, String value) throws Exception {
        Map<String, Object> props = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (var producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("probe", "k", value)).get();
        }
    }

    private static List<String> consume(String bootstrap, int expected) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "probe-group");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<String> values = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("probe"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (values.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
            }
            consumer.commitSync();
            consumer.poll(Duration.ofMillis(500)).forEach(r -> values.add(r.value())); // nothing more may come
        }
        return values;
    }
}
