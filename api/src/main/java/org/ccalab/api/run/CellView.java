package org.ccalab.api.run;

import java.time.Instant;

/** One benchmark cell as stored; NaN errors mean not measured and are written as the string "NaN". */
public record CellView(long id, int attempt, String phase, String scope, boolean causal, int batch, int seqLen, String dtype,
                       String backend, double p10Ms, double p50Ms, double p90Ms, Double tflops, Double bytesPerSecond,
                       Long peakMemoryBytes, Long kvBytesPerToken, Double maxAbsError, Double maxRelError,
                       Instant createdAt) {}
