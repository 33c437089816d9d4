package org.ccalab.api.live;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.ccalab.api.queue.QueueRepository;
import org.ccalab.api.run.CellView;
import org.ccalab.api.run.MetricPointView;
import org.ccalab.api.run.RunRepository;
import org.ccalab.api.run.RunRow;
import org.ccalab.api.system.ApiProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * The open SSE streams and what each has been sent. A change signal (a NOTIFY, or a poll tick when
 * LISTEN is down) makes every stream of that run send only what is new to it: a {@code status} event when
 * a lifecycle field changed, {@code metrics} with the points past the last step it sent per series,
 * {@code cells} past the last cell id; the queue stream sends {@code queue} when the queue changed. So a
 * signal delivered twice, or a poll with nothing new, sends nothing. One thread does all sending, so no
 * emitter is written concurrently and the signal source is never blocked by a slow client.
 */
@Component
public class LiveFeeds implements DisposableBean {
    private static final Logger log = LoggerFactory.getLogger(LiveFeeds.class);
    /** Points per {@code metrics} event; a backlog goes out as several events. */
    static final int POINTS_PER_EVENT = 2000;

    private final RunRepository runs;
    private final QueueRepository queue;
    private final ApiProperties properties;
    private final Map<UUID, List<RunStream>> runStreams = new ConcurrentHashMap<>();
    private final List<QueueStream> queueStreams = new CopyOnWriteArrayList<>();
    private final Set<UUID> pendingRuns = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicBoolean queuePending = new java.util.concurrent.atomic.AtomicBoolean();
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "live-feeds");
        t.setDaemon(true);
        return t;
    });

    LiveFeeds(RunRepository runs, QueueRepository queue, ApiProperties properties) {
        this.runs = runs;
        this.queue = queue;
        this.properties = properties;
    }

    private static final class RunStream {
        final SseEmitter emitter;
        String statusSignature;
        Map<String, Long> lastSteps;
        long lastCellId;

        RunStream(SseEmitter emitter) {
            this.emitter = emitter;
        }
    }

    private static final class QueueStream {
        final SseEmitter emitter;
        String last;

        QueueStream(SseEmitter emitter) {
            this.emitter = emitter;
        }
    }

    /** Opens a run's stream: a first {@code status} event now; later events carry only what is new. */
    SseEmitter subscribeRun(UUID runId) {
        SseEmitter emitter = new SseEmitter(properties.live().timeout().toMillis());
        RunStream stream = new RunStream(emitter);
        List<RunStream> list = runStreams.computeIfAbsent(runId, k -> new CopyOnWriteArrayList<>());
        list.add(stream);
        Runnable remove = () -> {
            list.remove(stream);
            runStreams.computeIfPresent(runId, (k, v) -> v.isEmpty() ? null : v);
        };
        emitter.onCompletion(remove);
        emitter.onTimeout(remove);
        emitter.onError(e -> remove.run());
        sender.execute(() -> {
            stream.lastSteps = new java.util.HashMap<>(runs.lastSteps(runId));
            stream.lastCellId = runs.maxCellId(runId);
            // Only the status here: the cursors were just set to "now", so points or cells written after that
            // arrive with the signal their writer sends (a client that reacts to this first event by writing
            // must not race this same task's metrics query).
            push(runId, stream, false);
        });
        return emitter;
    }

    SseEmitter subscribeQueue() {
        SseEmitter emitter = new SseEmitter(properties.live().timeout().toMillis());
        QueueStream stream = new QueueStream(emitter);
        queueStreams.add(stream);
        emitter.onCompletion(() -> queueStreams.remove(stream));
        emitter.onTimeout(() -> queueStreams.remove(stream));
        emitter.onError(e -> queueStreams.remove(stream));
        sender.execute(() -> pushQueue(List.of(stream)));
        return emitter;
    }

    /**
     * Something about these runs may have changed. Signals coalesce: while a run's update waits to be sent,
     * more signals for it add nothing (the pending update reads the latest rows anyway), so a burst of
     * ingested events costs one round of queries per watched run, and unwatched runs cost nothing.
     */
    public void runsChanged(Set<UUID> runIds) {
        for (UUID id : runIds) {
            if (!runStreams.containsKey(id) || !pendingRuns.add(id)) continue;
            sender.execute(() -> {
                pendingRuns.remove(id);
                List<RunStream> streams = runStreams.get(id);
                if (streams != null) streams.forEach(s -> push(id, s));
            });
        }
    }

    public void queueChanged() {
        if (queueStreams.isEmpty() || !queuePending.compareAndSet(false, true)) return;
        sender.execute(() -> {
            queuePending.set(false);
            pushQueue(queueStreams);
        });
    }

    /** Polling mode: treat everything watched as possibly changed; unchanged streams send nothing. */
    public void pollAll() {
        runsChanged(Set.copyOf(runStreams.keySet()));
        queueChanged();
    }

    public boolean hasSubscribers() {
        return !runStreams.isEmpty() || !queueStreams.isEmpty();
    }

    void keepAlive() {
        sender.execute(() -> {
            runStreams.values().forEach(list -> list.forEach(s -> send(s.emitter, SseEmitter.event().comment("keep-alive"))));
            queueStreams.forEach(s -> send(s.emitter, SseEmitter.event().comment("keep-alive")));
        });
    }

    private void push(UUID runId, RunStream s) {
        push(runId, s, true);
    }

    private void push(UUID runId, RunStream s, boolean withData) {
        try {
            RunRow row = runs.find(runId).orElse(null);
            if (row == null) return;
            RunStatusEvent status = RunStatusEvent.of(row);
            if (!status.signature().equals(s.statusSignature)) {
                if (!send(s.emitter, SseEmitter.event().name("status").data(status))) return;
                s.statusSignature = status.signature();
            }
            if (!withData) return;
            List<Map.Entry<String, MetricPointView>> points;
            do {
                points = runs.pointsAfter(runId, s.lastSteps, POINTS_PER_EVENT);
                if (points.isEmpty()) break;
                List<Map<String, Object>> data = new ArrayList<>(points.size());
                for (Map.Entry<String, MetricPointView> p : points) {
                    MetricPointView v = p.getValue();
                    Map<String, Object> m = new java.util.LinkedHashMap<>();
                    m.put("name", p.getKey());
                    m.put("step", v.step());
                    m.put("value", v.value());
                    m.put("tokens", v.tokens());
                    m.put("elapsedS", v.elapsedS());
                    data.add(m);
                }
                if (!send(s.emitter, SseEmitter.event().name("metrics").data(Map.of("runId", runId, "points", data)))) return;
                for (Map.Entry<String, MetricPointView> p : points) s.lastSteps.merge(p.getKey(), p.getValue().step(), Math::max);
            } while (points.size() == POINTS_PER_EVENT);
            List<CellView> cells = runs.cells(runId, s.lastCellId);
            if (!cells.isEmpty()) {
                if (!send(s.emitter, SseEmitter.event().name("cells").data(Map.of("runId", runId, "cells", cells)))) return;
                s.lastCellId = cells.stream().mapToLong(CellView::id).max().orElse(s.lastCellId);
            }
        } catch (RuntimeException e) {
            log.warn("live update of run {} failed; the next signal retries", runId, e);
        }
    }

    private void pushQueue(List<QueueStream> streams) {
        try {
            QueueRepository.Queue snapshot = queue.queue(properties.limits().maxQueueItems());
            // Wait times grow every second; what tells a client something happened is membership and state.
            String signature = snapshot.items().stream()
                    .map(i -> i.runId() + ":" + i.status() + ":" + i.workerId() + ":" + i.attempt() + ":" + i.cancelRequestedAt())
                    .reduce(snapshot.queued() + "/" + snapshot.retrying() + "/" + snapshot.dispatched() + "/" + snapshot.running(),
                            (a, b) -> a + "," + b);
            for (QueueStream s : streams) {
                if (signature.equals(s.last)) continue;
                if (send(s.emitter, SseEmitter.event().name("queue").data(snapshot))) s.last = signature;
            }
        } catch (RuntimeException e) {
            log.warn("live queue update failed; the next signal retries", e);
        }
    }

    /** False when the client is gone (the emitter's callbacks then drop the stream). */
    private static boolean send(SseEmitter emitter, SseEmitter.SseEventBuilder event) {
        try {
            emitter.send(event);
            return true;
        } catch (IOException | IllegalStateException e) {
            emitter.completeWithError(e);
            return false;
        }
    }

    @Override
    public void destroy() {
        sender.shutdownNow();
        runStreams.values().forEach(list -> list.forEach(s -> completeQuietly(s.emitter)));
        queueStreams.forEach(s -> completeQuietly(s.emitter));
    }

    private static void completeQuietly(SseEmitter emitter) {
        try {
            emitter.complete();
        } catch (RuntimeException e) {
            // The container already recycled the response at shutdown; nothing left to close.
        }
    }
}
