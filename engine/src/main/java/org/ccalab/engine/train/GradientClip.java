package org.ccalab.engine.train;

import java.util.List;
import org.ccalab.engine.attention.Parameter;

/** Clipping by the global L2 norm over every gradient (Pascanu et al. 2013). */
public final class GradientClip {
    private GradientClip() {}

    public static double globalNorm(List<Parameter> parameters) {
        double ss = 0;
        for (Parameter p : parameters) for (double g : p.grad().data()) ss += g * g;
        return Math.sqrt(ss);
    }

    /** Scales every gradient by min(1, maxNorm / norm); maxNorm 0 disables clipping. */
    public static void clip(List<Parameter> parameters, double norm, double maxNorm) {
        if (maxNorm <= 0 || norm <= maxNorm) return;
        double scale = maxNorm / (norm + 1e-6);
        for (Parameter p : parameters) {
            double[] g = p.grad().data();
            for (int i = 0; i < g.length; i++) g[i] *= scale;
        }
    }
}
