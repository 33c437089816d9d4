package org.ccalab.engine.run;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;

/** Records what a run reports; stops when the supplied condition says so. */
final class RecordingObserver implements RunObserver {
    final List<List<MetricPoint>> metricBatches = new ArrayList<>();
    final List<BenchmarkCell> cells = new ArrayList<>();
    final List<CheckpointRef> checkpoints = new ArrayList<>();
    private final BooleanSupplier stop;

    RecordingObserver(BooleanSupplier stop) {
        this.stop = stop;
    }

    RecordingObserver() {
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
