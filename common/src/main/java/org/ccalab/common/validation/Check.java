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

    /** A collector of the rules of one value alone (ranges, allowed values): see {@link Faults}. */
    public static Faults faults() {
        return new Faults();
    }

    /**
     * Collects every fault that is a rule of one value alone (a range, an allowed value), each with the same message
     * as the throwing guard above, and throws them together ({@link #throwIfAny()}, one {@link InvalidConfigException}
     * carrying the others): a record checks these first, then its rules across values, which a value already at fault
     * could have caused and so are not judged until the single values pass.
     */
    public static final class Faults {
        private final java.util.List<InvalidConfigException> faults = new java.util.ArrayList<>();

        private Faults() {}

        public Faults positive(String field, int value) {
            return run(() -> Check.positive(field, value));
        }

        public Faults inRange(String field, int value, int min, int max) {
            return run(() -> Check.inRange(field, value, min, max));
        }

        public Faults inRange(String field, double value, double min, double max) {
            return run(() -> Check.inRange(field, value, min, max));
        }

        public Faults that(boolean condition, String field, String message) {
            return run(() -> Check.that(condition, field, message));
        }

        /** Throws every fault collected, in the order found; nothing if none. */
        public void throwIfAny() {
            if (!faults.isEmpty()) throw InvalidConfigException.of(faults);
        }

        private Faults run(Runnable check) {
            try {
                check.run();
            } catch (InvalidConfigException e) {
                faults.add(e);
            }
            return this;
        }
    }
}
