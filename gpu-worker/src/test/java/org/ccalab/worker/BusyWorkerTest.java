package org.ccalab.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Topics;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.MhaConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.test.EmbeddedKafkaBroker;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;
import org.springframework.kafka.test.utils.KafkaTestUtils;
import tools.jackson.databind.json.JsonMapper;

/**
 * Two workers in one group: while one is busy with a long run, every request goes to the other, whichever
 * partition it is in. A busy worker that kept its partitions (paused) would leave about half of them waiting.
 */
class BusyWorkerTest {
    private final EmbeddedKafkaBroker broker = new EmbeddedKafkaKraftBroker(1, 8);
    private final List<ConfigurableApplicationContext> workers = new ArrayList<>();
    private final JsonMapper json = JsonMapper.builder().build();

    @Configuration(proxyBeanMethods = false)
    static class Scripted {
        @Bean
        @Primary
        ScriptedEngine scriptedEngine() {
            return new ScriptedEngine();
        }
    }

    @AfterEach
    void stop() {
        workers.reversed().forEach(ConfigurableApplicationContext::close);
        broker.destroy();
    }

    @Test
    void anIdleWorkerTakesEveryRequestWhileTheOtherIsBusy() {
        broker.afterPropertiesSet();
        ConfigurableApplicationContext busy = worker("busy");
        busy.getBean(ScriptedEngine.class).stepMillis = 100;
        @SuppressWarnings("unchecked")
        KafkaTemplate<String, String> kafka = busy.getBean(KafkaTemplate.class);
        UUID longRun = send(kafka, 300); // 30 s
        List<ProducerRecordView> seen = new CopyOnWriteArrayList<>();
        try (Consumer<String, String> consumer = consumer()) {
            awaitEvent(consumer, seen, longRun, EventType.STARTED);
            ConfigurableApplicationContext idle = worker("idle");
            idle.getBean(ScriptedEngine.class).stepMillis = 5;

            List<UUID> quick = new ArrayList<>();
            for (int i = 0; i < 8; i++) quick.add(send(kafka, 3));

            await().atMost(Duration.ofSeconds(25)).untilAsserted(() -> {
                poll(consumer, seen);
                for (UUID run : quick) {
                    assertThat(events(seen, run)).as("run %s", run).anyMatch(e -> e.type() == EventType.SUCCEEDED);
                }
            });
            assertThat(events(seen, longRun)).noneMatch(e -> e.type().terminal()); // still busy all along
            for (UUID run : quick) assertThat(events(seen, run).getFirst().workerId()).isEqualTo("idle");
        }
    }

    private ConfigurableApplicationContext worker(String id) {
        ConfigurableApplicationContext context = new SpringApplicationBuilder(WorkerApplication.class, Scripted.class)
                .properties(WorkerApplication.DEFAULTS)
                .properties(Map.of("spring.kafka.bootstrap-servers", broker.getBrokersAsString(),
                        "ccalab.worker.id", id, "ccalab.worker.heartbeat-interval", "500ms",
                        "ccalab.worker.checkpoint-dir", System.getProperty("java.io.tmpdir") + "/ccalab-busy-test",
                        "spring.main.banner-mode", "off"))
                .run();
        workers.add(context);
        return context;
    }

    private UUID send(KafkaTemplate<String, String> kafka, int steps) {
        UUID runId = UUID.randomUUID();
        TrainingSpec training = new TrainingSpec(null, null, null, null, null, steps, null, null, null, null, null, null, null);
        RunSpec spec = new RunSpec(RunKind.TRAINING, new MhaConfig(64, 4), 7, null, training);
        kafka.send(new ProducerRecord<>(Topics.RUNS_REQUESTED, runId.toString(),
                json.writeValueAsString(new RunRequest(runId, 1, UUID.randomUUID(), spec, null)))).join();
        return runId;
    }

    private Consumer<String, String> consumer() {
        Map<String, Object> props = KafkaTestUtils.consumerProps(broker, "probe-" + UUID.randomUUID(), false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        Consumer<String, String> consumer = new DefaultKafkaConsumerFactory<>(props, new StringDeserializer(),
                new StringDeserializer()).createConsumer();
        consumer.subscribe(List.of(Topics.RUNS_EVENTS));
        return consumer;
    }

    private record ProducerRecordView(String key, String value) {}

    private void awaitEvent(Consumer<String, String> consumer, List<ProducerRecordView> seen, UUID run, EventType type) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            poll(consumer, seen);
            return events(seen, run).stream().anyMatch(e -> e.type() == type);
        });
    }

    private static void poll(Consumer<String, String> consumer, List<ProducerRecordView> seen) {
        consumer.poll(Duration.ofMillis(200)).forEach(r -> seen.add(new ProducerRecordView(r.key(), r.value())));
    }

    private List<RunEvent> events(List<ProducerRecordView> seen, UUID run) {
        return seen.stream().filter(r -> run.toString().equals(r.key()))
                .map(r -> json.readValue(r.value(), RunEvent.class)).toList();
    }
}
