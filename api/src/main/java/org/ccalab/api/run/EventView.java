package org.ccalab.api.run;

import java.time.Instant;
import java.util.UUID;
import tools.jackson.databind.JsonNode;

/** One ingested run event, in (attempt, seq) order. */
public record EventView(int attempt, long seq, UUID eventId, String type, Instant time, Instant receivedAt, JsonNode payload) {}
