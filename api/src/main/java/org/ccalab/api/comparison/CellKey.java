package org.ccalab.api.comparison;

import org.ccalab.api.run.CellView;

/**
 * What makes two benchmark cells comparable: the same phase, scope, masking, shape and requested dtype (the dashboard's
 * cellKey: a bf16 run is not a ratio against an fp32 baseline; CPU cells record the requested dtype since session 8).
 */
record CellKey(String phase, String scope, boolean causal, int batch, int seqLen, String dtype) {
    static CellKey of(CellView c) {
        return new CellKey(c.phase(), c.scope(), c.causal(), c.batch(), c.seqLen(), c.dtype());
    }
}
