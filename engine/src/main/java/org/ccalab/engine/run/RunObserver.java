package org.ccalab.engine.run;

import java.util.List;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;

/** What a running job reports to its host (the worker streams these as events). Called from the run's thread. */
public interface RunObserver {
    void metrics(List<MetricPoint> points);

    void cells(List<BenchmarkCell> cells);

    void checkpoint(CheckpointRef checkpoint);

    /** Polled at every step boundary; true stops the run, which then throws {@link RunStoppedException}. */
    boolean stopRequested();
}
