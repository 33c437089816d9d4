package org.ccalab.api.run;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.ccalab.api.live.ChangeNotifier;
import org.ccalab.api.system.ApiException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Cancelling a run: the api records the request; the scheduler acts on it (contracts.md, run lifecycle). */
@Service
class RunService {
    private final RunRepository runs;
    private final ChangeNotifier notifier;

    RunService(RunRepository runs, ChangeNotifier notifier) {
        this.runs = runs;
        this.notifier = notifier;
    }

    record CancelResult(UUID id, String status, Instant cancelRequestedAt) {}

    @Transactional
    CancelResult cancel(UUID id) {
        String status = runs.lockStatus(id).orElseThrow(() -> ApiException.notFound("run", id));
        if (RunStatus.valueOf(status).terminal()) {
            throw ApiException.conflict("run " + id + " is " + status + " and can no longer be cancelled");
        }
        Instant at = runs.requestCancel(id);
        notifier.runsChanged(List.of(id));
        notifier.queueChanged();
        return new CancelResult(id, status, at);
    }
}
