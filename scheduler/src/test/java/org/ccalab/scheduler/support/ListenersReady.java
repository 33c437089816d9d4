package org.ccalab.scheduler.support;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.stereotype.Component;

/**
 * Waits until every listener of the context has its partitions. Joining a consumer group takes seconds
 * on a loaded machine; a test that sends an event before the ingester listens would see a lease lapse
 * that has nothing to do with what it tests.
 */
@Component
public class ListenersReady {
    private final KafkaListenerEndpointRegistry registry;

    public ListenersReady(KafkaListenerEndpointRegistry registry) {
        this.registry = registry;
    }

    public void awaitAssignments() {
        for (MessageListenerContainer container : registry.getListenerContainers()) {
            await().atMost(Duration.ofSeconds(60)).until(() ->
                    container.getAssignedPartitions() != null && !container.getAssignedPartitions().isEmpty());
        }
    }
}
