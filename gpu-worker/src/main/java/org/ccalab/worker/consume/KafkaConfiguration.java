package org.ccalab.worker.consume;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.ccalab.common.run.Topics;
import org.ccalab.worker.system.WorkerProperties;
import org.springframework.boot.kafka.autoconfigure.ConcurrentKafkaListenerContainerFactoryConfigurer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.config.TopicBuilder;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.DeadLetterPublishingRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.util.backoff.FixedBackOff;

/**
 * Listener plumbing. A record that still fails after two retries goes to {@code <topic>-dlt} (Spring Kafka
 * would otherwise log and skip it). Topics are declared here too, with the scheduler's partition counts, so
 * that a worker can start first; declaring an existing topic changes nothing.
 */
@Configuration(proxyBeanMethods = false)
class KafkaConfiguration {
    static final String CONTROL_FACTORY = "controlListenerFactory";

    @Bean
    DefaultErrorHandler kafkaErrorHandler(KafkaTemplate<String, String> template) {
        // Partition left to the producer: a dead-letter topic may have fewer partitions than its source.
        var recoverer = new DeadLetterPublishingRecoverer(template,
                (record, e) -> new TopicPartition(record.topic() + Topics.DLT_SUFFIX, -1));
        return new DefaultErrorHandler(recoverer, new FixedBackOff(500L, 2L));
    }

    /** Control messages are idempotent and need no hand commit. */
    @Bean(CONTROL_FACTORY)
    ConcurrentKafkaListenerContainerFactory<Object, Object> controlListenerFactory(
            ConcurrentKafkaListenerContainerFactoryConfigurer configurer, ConsumerFactory<Object, Object> consumerFactory,
            DefaultErrorHandler errorHandler) {
        var factory = new ConcurrentKafkaListenerContainerFactory<Object, Object>();
        configurer.configure(factory, consumerFactory);
        factory.getContainerProperties().setAckMode(ContainerProperties.AckMode.RECORD);
        factory.setCommonErrorHandler(errorHandler);
        return factory;
    }

    @Bean
    NewTopic runsRequested(WorkerProperties properties) {
        return TopicBuilder.name(Topics.RUNS_REQUESTED).partitions(properties.requestPartitions()).build();
    }

    @Bean
    NewTopic runsRequestedDeadLetters(WorkerProperties properties) {
        return TopicBuilder.name(Topics.RUNS_REQUESTED + Topics.DLT_SUFFIX).partitions(properties.requestPartitions()).build();
    }

    /** As many as the scheduler declares: growing a keyed topic later would reorder a run's events. */
    @Bean
    NewTopic runsEvents() {
        return TopicBuilder.name(Topics.RUNS_EVENTS).partitions(8).build();
    }

    @Bean
    NewTopic runsControl() {
        return TopicBuilder.name(Topics.RUNS_CONTROL).partitions(1).build();
    }

    @Bean
    NewTopic workersStatus() {
        return TopicBuilder.name(Topics.WORKERS).partitions(1).build();
    }
}
