package org.ccalab.api.live;

import java.util.UUID;
import org.ccalab.api.run.RunRepository;
import org.ccalab.api.system.ApiException;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * Server-sent events. A run's stream: {@code status} (at once, then on every lifecycle change),
 * {@code metrics} (points newer than the stream's start), {@code cells}; the queue's stream: {@code queue}
 * (the {@code GET /api/queue} body) at once and on every change. Subscribe first, then load history over
 * REST, and drop duplicate steps: nothing is lost between the two.
 */
@RestController
@RequestMapping("/api/live")
class LiveController {
    private final LiveFeeds feeds;
    private final RunRepository runs;

    LiveController(LiveFeeds feeds, RunRepository runs) {
        this.feeds = feeds;
        this.runs = runs;
    }

    @GetMapping(path = "/runs/{id}", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    SseEmitter run(@PathVariable UUID id) {
        if (runs.find(id).isEmpty()) throw ApiException.notFound("run", id);
        return feeds.subscribeRun(id);
    }

    @GetMapping(path = "/queue", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    SseEmitter queue() {
        return feeds.subscribeQueue();
    }
}
