package org.ccalab.common.validation;

/** Guards used by compact constructors; each failure names its field. */
public final class Check {
    private Check() {}

    public static int positive(String field, int value) {
        if (value < 1) throw new InvalidConfigException(field, "must be >= 1, got " + value);
        return value;
    }

    public static int atMost(String field, int value, int max) {
        if (value > max) throw new InvalidConfigException(field, "must be <= " + max + ", got " + value);
        return value;
    }

    public static int inRange(String field, int value, int min, int max) {
        if (value < min || value > max)
            throw new InvalidConfigException(field, "must be in [" + min + ", " + max + "], got " + value);
        return value;
    }

    public static double inRange(String field, double value, double min, double max) {
        if (!(value >= min && value <= max))
            throw new InvalidConfigException(field, "must be in [" + min + ", " + max + "], got " + value);
        return value;
    }

    public static void divides(String field, int divisor, int dividend, String dividendName) {
        if (divisor < 1 || dividend % divisor != 0)
            throw new InvalidConfigException(field,
                    "must divide " + dividendName + " (" + dividend + "), got " + divisor);
    }

    /**
     * The head dim {@code dModel / nHeads} within {@code max}, blamed on {@code nHeads} (a real field: the one to
     * raise), the message naming both.
     */
    public static void headDim(int dModel, int nHeads, int max) {
        if (dModel / nHeads > max)
            throw new InvalidConfigException("nHeads", "the head dim dModel/nHeads must be <= " + max + ", got "
                    + dModel + "/" + nHeads + " = " + dModel / nHeads + "; raise nHeads or lower dModel");
    }

    public static void that(boolean condition, String field, String message) {
        if (!condition) throw new InvalidConfigException(field, message);
    }
}
