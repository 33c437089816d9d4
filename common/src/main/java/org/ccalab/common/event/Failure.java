package org.ccalab.common.event;

public record Failure(FailureClass failureClass, String message) {}
