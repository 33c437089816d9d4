package org.ccalab.engine.attention.cca;

import org.ccalab.common.variant.KeyTemperature;

/** beta(theta) and d beta / d theta for the three modes of cca.md section 2 step 6. */
final class KeyTemperatureFn {
    static final double CLAMP_MIN = 1e-7, CLAMP_MAX = 2.0;

    private KeyTemperatureFn() {}

    static double beta(KeyTemperature mode, double theta) {
        return switch (mode) {
            case EXP -> Math.exp(theta);
            case LINEAR -> theta;
            case CLAMPED_EXP -> Math.exp(Math.min(CLAMP_MAX, Math.max(CLAMP_MIN, theta)));
        };
    }

    /** Like torch.clamp, the clamped mode passes gradient on the closed interval and none outside. */
    static double derivative(KeyTemperature mode, double theta) {
        return switch (mode) {
            case EXP -> Math.exp(theta);
            case LINEAR -> 1.0;
            case CLAMPED_EXP -> theta >= CLAMP_MIN && theta <= CLAMP_MAX ? Math.exp(theta) : 0.0;
        };
    }

    /** Initial theta: beta = 1 at start for every mode (the clamped mode starts on its lower bound so it trains). */
    static double initial(KeyTemperature mode) {
        return switch (mode) {
            case EXP -> 0.0;
            case LINEAR -> 1.0;
            case CLAMPED_EXP -> CLAMP_MIN;
        };
    }
}
