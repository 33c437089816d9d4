package org.ccalab.scheduler.watchdog;

import org.ccalab.scheduler.run.ExperimentStatuses;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * One periodic scan: leases, then cancellations, then experiment statuses. Each part commits on its own,
 * so a failure in one (Kafka unreachable for a control message) does not hold back the others.
 */
@Component
public class Watchdog {
    private static final Logger log = LoggerFactory.getLogger(Watchdog.class);

    private final LeaseWatchdog leases;
    private final CancellationWatchdog cancellations;
    private final ExperimentStatuses experiments;
    private final TransactionTemplate tx;

    Watchdog(LeaseWatchdog leases, CancellationWatchdog cancellations, ExperimentStatuses experiments, TransactionTemplate tx) {
        this.leases = leases;
        this.cancellations = cancellations;
        this.experiments = experiments;
        this.tx = tx;
    }

    public void tick() {
        run("lease", leases::scan);
        run("cancellation", cancellations::scan);
        run("experiment status", () -> tx.execute(s -> experiments.refreshActive()));
    }

    private static void run(String part, java.util.function.Supplier<Integer> scan) {
        try {
            scan.get();
        } catch (RuntimeException e) {
            // The next tick retries; the loop itself must survive a transient database or broker fault.
            log.warn("{} scan failed, retrying next tick: {}", part, e.toString());
        }
    }
}
