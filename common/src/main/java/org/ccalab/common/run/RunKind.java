package org.ccalab.common.run;

public enum RunKind { BENCHMARK, TRAINING }
