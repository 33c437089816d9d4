package org.ccalab.scheduler.support;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.ccalab.scheduler.SchedulerApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.ContextConfiguration;

/**
 * The whole scheduler against real parts: a fresh PostgreSQL database (migrated by Flyway from the
 * migrations module) and an embedded KRaft broker, per test class. Leases and loop intervals are short
 * so the tests finish in seconds; classes override what they drive themselves.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@SpringBootTest(classes = SchedulerApplication.class, properties = {
        "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}",
        "spring.kafka.consumer.properties.metadata.max.age.ms=1000",
        "ccalab.scheduler.lease-timeout=3s",
        "ccalab.scheduler.dispatch-lease-timeout=3s",
        "ccalab.scheduler.worker-freshness=1h",
        "ccalab.scheduler.prefetch=0",
        "ccalab.scheduler.loops.dispatch-interval=100ms",
        "ccalab.scheduler.loops.watchdog-interval=200ms",
        "ccalab.scheduler.loops.sweep-interval=200ms",
        "ccalab.scheduler.listener.retries=1",
        "ccalab.scheduler.listener.retry-interval=50ms",
        "ccalab.scheduler.partitions.runs-requested=4",
        "ccalab.scheduler.partitions.runs-events=2",
})
@EmbeddedKafka(partitions = 1)
@ContextConfiguration(initializers = FreshDatabaseInitializer.class)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
public @interface SchedulerIntegrationTest {}
