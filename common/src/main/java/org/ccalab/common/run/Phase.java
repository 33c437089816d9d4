package org.ccalab.common.run;

/** What a benchmark cell times: prefill/forward of S tokens, its backward, or one decode step at context S. */
public enum Phase { FORWARD, BACKWARD, DECODE }
