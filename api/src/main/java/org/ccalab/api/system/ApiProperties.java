package org.ccalab.api.system;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Everything tunable in the api, under {@code ccalab.api.*}; validated at start so a bad value stops the
 * service with its name instead of misbehaving later.
 *
 * @param defaultMaxAttempts attempts per run when a request names none
 * @param workerStaleAfter   a worker not seen for this long is listed as not alive
 */
@Validated
@ConfigurationProperties("ccalab.api")
public record ApiProperties(@Valid @DefaultValue Limits limits, @Valid @DefaultValue Live live,
                            @Valid @DefaultValue Cors cors,
                            @DefaultValue("3") @Min(1) @Max(100) int defaultMaxAttempts,
                            @DefaultValue("30s") @NotNull Duration workerStaleAfter) {

    /**
     * @param maxRunsPerExperiment grid cardinality limit (variants x grid)
     * @param maxBodyBytes         request bodies larger than this answer 413
     * @param maxPageSize          largest {@code size} of a paged list
     * @param defaultMaxPoints     metric points per series when {@code maxPoints} is not given
     * @param maxMaxPoints         largest {@code maxPoints} a client may ask for
     * @param maxQueueItems        queue entries listed by {@code GET /api/queue} (counts stay exact)
     */
    public record Limits(@DefaultValue("1000") @Min(1) @Max(100_000) int maxRunsPerExperiment,
                         @DefaultValue("1048576") @Min(1024) long maxBodyBytes,
                         @DefaultValue("200") @Min(1) @Max(10_000) int maxPageSize,
                         @DefaultValue("1000") @Min(3) int defaultMaxPoints,
                         @DefaultValue("20000") @Min(3) int maxMaxPoints,
                         @DefaultValue("500") @Min(1) int maxQueueItems) {}

    /**
     * @param pollInterval  how often the feeds poll when LISTEN is unavailable
     * @param keepAlive     SSE comment interval that keeps proxies from closing idle streams
     * @param timeout       an SSE stream ends after this; EventSource clients reconnect by themselves
     * @param forcePolling  skip LISTEN and poll (tests, or databases behind poolers without LISTEN)
     */
    public record Live(@DefaultValue("1s") @NotNull Duration pollInterval,
                       @DefaultValue("15s") @NotNull Duration keepAlive,
                       @DefaultValue("30m") @NotNull Duration timeout,
                       @DefaultValue("false") boolean forcePolling) {}

    /** Cross-origin access is off unless origins are listed (the dashboard is served same-origin). */
    public record Cors(@DefaultValue List<String> allowedOrigins) {}
}
