package org.ccalab.api.queue;

import java.util.List;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.Page;
import org.ccalab.api.system.PageQuery;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api")
class QueueController {
    private final QueueRepository queue;
    private final ApiProperties properties;

    QueueController(QueueRepository queue, ApiProperties properties) {
        this.queue = queue;
        this.properties = properties;
    }

    record WorkersResponse(List<QueueRepository.Worker> items) {}

    @GetMapping("/queue")
    QueueRepository.Queue queue() {
        return queue.queue(properties.limits().maxQueueItems());
    }

    @GetMapping("/workers")
    WorkersResponse workers() {
        return new WorkersResponse(queue.workers(properties.workerStaleAfter()));
    }

    @GetMapping("/dead-letters")
    Page<QueueRepository.DeadLetter> deadLetters(@RequestParam(required = false) String topic,
                                                 @RequestParam(required = false) Integer page,
                                                 @RequestParam(required = false) Integer size,
                                                 @RequestParam(required = false) String sort) {
        PageQuery paging = PageQuery.of(page, size, sort, QueueRepository.DEAD_LETTER_SORTABLE, "receivedAt,desc", "id DESC",
                50, properties.limits().maxPageSize());
        String t = topic == null || topic.isBlank() ? null : topic.trim();
        return paging.page(queue.deadLetters(t, paging), queue.deadLetterCount(t));
    }
}
