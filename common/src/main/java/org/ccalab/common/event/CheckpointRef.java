package org.ccalab.common.event;

/** A checkpoint the worker wrote: the step it resumes after, where it lives, and its content hash. */
public record CheckpointRef(long step, String uri, String sha256, long bytes) {}
