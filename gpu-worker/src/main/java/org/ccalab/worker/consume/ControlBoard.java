package org.ccalab.worker.consume;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.common.run.RunControl;
import org.springframework.stereotype.Component;

/**
 * Remembers recent control messages, because one can overtake its run's request: a run cancelled or fenced
 * while its request still waits in runs.requested must not start when the request arrives.
 */
@Component
class ControlBoard {
    private static final int CAPACITY = 10_000;

    private final Map<UUID, RunControl> recent = new LinkedHashMap<>(256, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, RunControl> eldest) {
            return size() > CAPACITY;
        }
    };

    synchronized void record(RunControl control) {
        recent.merge(control.runId(), control, (old, now) ->
                old.action() == RunControl.Action.CANCEL ? old : now); // a cancel is final for the run
    }

    /** The control that forbids starting this attempt: any CANCEL of the run, or a FENCE of this attempt or later. */
    synchronized Optional<RunControl> forbidding(UUID runId, int attempt) {
        RunControl control = recent.get(runId);
        if (control == null) return Optional.empty();
        if (control.action() == RunControl.Action.CANCEL || control.attempt() >= attempt) return Optional.of(control);
        return Optional.empty();
    }
}
