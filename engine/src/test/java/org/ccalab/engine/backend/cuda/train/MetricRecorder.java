package org.ccalab.engine.backend.cuda.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.engine.run.RunObserver;

/** Records a run's metric points and checkpoints; never asks it to stop. */
class MetricRecorder implements RunObserver {
    final List<MetricPoint> points = new ArrayList<>();
    final List<CheckpointRef> checkpoints = new ArrayList<>();

    @Override
    public void metrics(List<MetricPoint> p) {
        points.addAll(p);
    }

    @Override
    public void cells(List<BenchmarkCell> c) {}

    @Override
    public void checkpoint(CheckpointRef c) {
        checkpoints.add(c);
    }

    @Override
    public boolean stopRequested() {
        return false;
    }

    /** How many points each metric name got. */
    Map<String, Integer> countsByName() {
        Map<String, Integer> m = new TreeMap<>();
        for (MetricPoint p : points) m.merge(p.name(), 1, Integer::sum);
        return m;
    }

    double first(String name) {
        return points.stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow().value();
    }
}
