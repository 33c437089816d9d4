package org.ccalab.api.comparison;

import org.ccalab.api.run.CellView;

/** What makes two benchmark cells comparable: the same phase, scope, masking and shape. */
record CellKey(String phase, String scope, boolean causal, int batch, int seqLen) {
    static CellKey of(CellView c) {
        return new CellKey(c.phase(), c.scope(), c.causal(), c.batch(), c.seqLen());
    }
}
