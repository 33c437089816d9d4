package org.ccalab.api.live;

import static org.mockito.Mockito.after;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.ccalab.api.queue.QueueRepository;
import org.ccalab.api.run.RunRepository;
import org.ccalab.api.support.TestProperties;
import org.junit.jupiter.api.Test;

class LiveFeedsTest {
    @Test
    void shouldCoalesceABurstOfSignalsIntoOneUpdatePerRun() throws Exception {
        RunRepository runs = mock(RunRepository.class);
        QueueRepository queue = mock(QueueRepository.class);
        UUID watched = UUID.randomUUID(), unwatched = UUID.randomUUID();
        CountDownLatch release = new CountDownLatch(1);
        // The subscription's first read holds the sending thread while the burst arrives.
        when(runs.lastSteps(watched)).thenAnswer(inv -> {
            release.await();
            return Map.of();
        });
        when(runs.find(watched)).thenReturn(Optional.empty());
        LiveFeeds feeds = new LiveFeeds(runs, queue, TestProperties.bind(Map.of()));
        try {
            feeds.subscribeRun(watched);
            for (int i = 0; i < 500; i++) feeds.runsChanged(Set.of(watched, unwatched));
            release.countDown();

            // One read for the subscription, one for the whole burst; none for the run nobody watches.
            verify(runs, timeout(5000).times(2)).find(watched);
            verify(runs, after(500).times(2)).find(watched);
            verify(runs, after(0).never()).find(unwatched);
        } finally {
            feeds.destroy();
        }
    }
}
