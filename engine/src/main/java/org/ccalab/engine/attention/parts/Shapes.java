package org.ccalab.engine.attention.parts;

import java.util.Arrays;
import org.ccalab.engine.tensor.Tensor;

/** Input checks shared by the layers; messages name the argument and the expected shape. */
public final class Shapes {
    private Shapes() {}

    /** x must be [B, T, E] with B, T >= 1. */
    public static void requireSequence(String name, Tensor x, int width) {
        int[] s = x.shape();
        if (s.length != 3 || s[2] != width || s[0] < 1 || s[1] < 1)
            throw new IllegalArgumentException(name + ": expected shape [B, T, " + width + "], got " + Arrays.toString(s));
    }

    /** xt must be [B, E] for a decode state of B sequences. */
    public static void requireToken(String name, Tensor x, int batch, int width) {
        int[] s = x.shape();
        if (s.length != 2 || s[0] != batch || s[1] != width)
            throw new IllegalArgumentException(name + ": expected shape [" + batch + ", " + width + "], got " + Arrays.toString(s));
    }

    /** x must be [B, T, E] for a decode state of B sequences. */
    public static void requireChunk(String name, Tensor x, int batch, int width) {
        int[] s = x.shape();
        if (s.length != 3 || s[0] != batch || s[1] < 1 || s[2] != width)
            throw new IllegalArgumentException(name + ": expected shape [" + batch + ", T, " + width + "], got " + Arrays.toString(s));
    }

    public static <S> S requireState(Object state, Class<S> type, String layer) {
        if (!type.isInstance(state))
            throw new IllegalArgumentException("state: a " + layer + " layer needs a state made by its own newDecodeState, got "
                    + (state == null ? "null" : state.getClass().getSimpleName()));
        return type.cast(state);
    }
}
