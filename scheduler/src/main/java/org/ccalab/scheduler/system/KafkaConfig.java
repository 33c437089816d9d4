package org.ccalab.scheduler.system;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.ccalab.common.run.Topics;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.scheduler.ingest.UnprocessableRecordException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.kafka.autoconfigure.ConcurrentKafkaListenerContainerFactoryConfigurer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.config.TopicBuilder;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaAdmin;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.listener.CommonErrorHandler;
import org.springframework.kafka.listener.DeadLetterPublishingRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.kafka.support.ExponentialBackOffWithMaxRetries;
import org.springframework.util.backoff.ExponentialBackOff;
import tools.jackson.core.JacksonException;

/**
 * Topics, and what happens to a record a listener cannot process: a few redeliveries with backoff for
 * faults that may pass (database or broker unavailable), none for faults that cannot (unparseable JSON,
 * an unknown run, a constraint violation), then the record goes to {@code <topic>-dlt}. Without the recoverer Spring Kafka would log the record and skip it (stack.md).
 */
@Configuration(proxyBeanMethods = false)
class KafkaConfig {
    private static final Logger log = LoggerFactory.getLogger(KafkaConfig.class);

    /** Replication 1 suits the local broker; a production cluster sets its default by broker config. */
    @Bean
    KafkaAdmin.NewTopics schedulerTopics(SchedulerProperties properties) {
        SchedulerProperties.Partitions p = properties.partitions();
        return new KafkaAdmin.NewTopics(
                topic(Topics.RUNS_REQUESTED, p.runsRequested()), topic(Topics.RUNS_REQUESTED + Topics.DLT_SUFFIX, p.runsRequested()),
                topic(Topics.RUNS_EVENTS, p.runsEvents()), topic(Topics.RUNS_EVENTS + Topics.DLT_SUFFIX, p.runsEvents()),
                topic(Topics.RUNS_CONTROL, p.runsControl()), topic(Topics.RUNS_CONTROL + Topics.DLT_SUFFIX, p.runsControl()),
                topic(Topics.WORKERS, p.workersStatus()), topic(Topics.WORKERS + Topics.DLT_SUFFIX, p.workersStatus()));
    }

    private static NewTopic topic(String name, int partitions) {
        return TopicBuilder.name(name).partitions(partitions).build();
    }

    /** Picked up by Boot for the default listener container factory, so it covers every @KafkaListener. */
    @Bean
    CommonErrorHandler kafkaErrorHandler(KafkaTemplate<String, String> template, SchedulerProperties properties) {
        // Partition left to the producer: the DLT may have been created (by another service) with fewer
        // partitions than its source; the original coordinates travel in the recoverer's headers anyway.
        var recoverer = new DeadLetterPublishingRecoverer(template,
                (record, e) -> new TopicPartition(record.topic() + Topics.DLT_SUFFIX, -1));
        var backOff = new ExponentialBackOffWithMaxRetries(properties.listener().retries());
        backOff.setInitialInterval(properties.listener().retryInterval().toMillis());
        backOff.setMultiplier(2.0);
        backOff.setMaxInterval(10_000);
        var handler = new DefaultErrorHandler(recoverer, backOff);
        handler.addNotRetryableExceptions(JacksonException.class, UnprocessableRecordException.class,
                InvalidConfigException.class, DataIntegrityViolationException.class);
        return handler;
    }

    /**
     * The dead-letter listener's own factory: a record it cannot store is retried with a long backoff
     * (the database may come back) and, failing that, logged with its coordinates; there is no
     * dead-letter topic for the dead-letter topics.
     */
    @Bean
    ConcurrentKafkaListenerContainerFactory<Object, Object> deadLetterContainerFactory(
            ConcurrentKafkaListenerContainerFactoryConfigurer configurer, ConsumerFactory<Object, Object> consumerFactory) {
        var factory = new ConcurrentKafkaListenerContainerFactory<Object, Object>();
        configurer.configure(factory, consumerFactory);
        var backOff = new ExponentialBackOff(1_000, 2.0);
        backOff.setMaxInterval(60_000);
        backOff.setMaxElapsedTime(15 * 60_000);
        factory.setCommonErrorHandler(new DefaultErrorHandler((record, e) -> log.error(
                "dead letter {}-{}@{} could not be stored and is dropped: {}", record.topic(), record.partition(),
                record.offset(), e.toString()), backOff));
        return factory;
    }
}
