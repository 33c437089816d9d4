package org.ccalab.engine.run;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;

/** Records what a run reports; stops when the supplied condition says so (also used by the CUDA engine tests). */
public final class RecordingObserver implements RunObserver {
    public final List<List<MetricPoint>> metricBatches = new ArrayList<>();
    public final List<BenchmarkCell> cells = new ArrayList<>();
    public final List<CheckpointRef> checkpoints = new ArrayList<>();
    private final BooleanSupplier stop;

    public RecordingObserver(BooleanSupplier stop) {
        this.stop = stop;
    }

    public RecordingObserver() {
        this(() -> false);
    }

    List<MetricPoint> series(String name) {
        return metricBatches.stream().flatMap(List::stream).filter(p -> p.name().equals(name)).toList();
    }

    @Override
    public void metrics(List<MetricPoint> points) {
        metricBatches.add(points);
    }

    @Override
    public void cells(List<BenchmarkCell> c) {
        cells.addAll(c);
    }

    @Override
    public void checkpoint(CheckpointRef checkpoint) {
        checkpoints.add(checkpoint);
    }

    @Override
    public boolean stopRequested() {
        return stop.getAsBoolean();
    }
}
