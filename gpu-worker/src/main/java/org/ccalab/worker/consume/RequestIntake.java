package org.ccalab.worker.consume;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.stereotype.Component;

/**
 * This worker's membership in the group {@code gpu-workers}. A busy worker leaves the group (its request
 * container stops), so that the partitions it held, and the requests waiting in them, go to the idle workers;
 * it rejoins when its run has ended. Pausing instead would keep the partitions: a request hashed to a busy
 * worker's partition would wait behind a long run while another worker sits idle.
 */
@Component
class RequestIntake {
    private static final Logger log = LoggerFactory.getLogger(RequestIntake.class);
    private static final long STOP_WAIT_SECONDS = 60;

    private final KafkaListenerEndpointRegistry registry;
    private volatile CountDownLatch stopped = new CountDownLatch(0);

    RequestIntake(KafkaListenerEndpointRegistry registry) {
        this.registry = registry;
    }

    /**
     * Called on the listener's own thread, which cannot wait for its container to stop: the stop completes after
     * the listener returns, and {@link #rejoin} waits for it.
     */
    void leave() {
        CountDownLatch latch = new CountDownLatch(1);
        stopped = latch;
        container().stop(latch::countDown);
    }

    /** From any thread but the listener's: starts the container again once the stop has completed. */
    void rejoin() {
        try {
            if (!stopped.await(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
                log.warn("request container still stopping after {} s; starting it anyway", STOP_WAIT_SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // the worker is shutting down
        }
        container().start();
    }

    private MessageListenerContainer container() {
        return registry.getListenerContainer(RunRequestListener.ID);
    }
}
