package org.ccalab.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.SplittableRandom;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The sliding-window MHA layer of OVQ hybrids ({@link AttentionLayers#slidingWindow}): query t sees keys
 * t - W < s <= t, with full RoPE, and decodes from a ring of the last W keys and values.
 */
class SlidingWindowAttentionTest {
    private static AttentionLayer swa(int e, int heads, int window, long seed) {
        AttentionLayer layer = AttentionLayers.slidingWindow(new MhaConfig(e, heads), window, new SplittableRandom(seed));
        LayerChecks.scrambleParameters(layer, seed + 100);
        return layer;
    }

    @ParameterizedTest(name = "W={0} T={1}")
    @CsvSource({"1,6", "3,9", "4,4", "8,5"})
    void gradientsMatchFiniteDifferences(int window, int tokens) {
        assertThat(LayerChecks.checkGradients(swa(8, 2, window, 1), 2, tokens, 7)).isPositive();
    }

    /** W = 4: the ring wraps three times; W = 20: it grows from 16 rows to 20 first, then wraps. */
    @ParameterizedTest(name = "W={0} T={1}")
    @CsvSource({"1,7", "4,13", "20,45", "64,30"})
    void decodeEqualsPrefillAtEveryPosition(int window, int tokens) {
        LayerChecks.checkDecodeEqualsPrefill(swa(12, 3, window, 2), 2, tokens, 9);
    }

    /** Chunks longer and shorter than the window, mixed with single tokens, reproduce the forward pass. */
    @Test
    void chunkedPrefillEqualsForward() {
        int e = 8, b = 2, window = 5;
        int[] chunks = {3, 1, 7, 2, 1, 11, 4};
        int tokens = java.util.Arrays.stream(chunks).sum();
        AttentionLayer layer = swa(e, 2, window, 3);
        Tensor x = LayerChecks.randn(new SplittableRandom(4), 1.0, b, tokens, e);
        double[] y = layer.forward(x).output().data();
        DecodeState state = layer.newDecodeState(b);
        int at = 0;
        for (int c : chunks) {
            double[] part = new double[b * c * e];
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * tokens + at) * e, part, i * c * e, c * e);
            double[] out = layer.prefill(state, Tensor.wrap(part, b, c, e)).data();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < c * e; j++)
                    assertThat(Math.abs(out[i * c * e + j] - y[(i * tokens + at) * e + j]))
                            .as("chunk at %d, b=%d [%d]", at, i, j).isLessThan(1e-12);
            at += c;
        }
        assertThat(state.position()).isEqualTo(tokens);
    }

    /** A window that covers the whole sequence is plain causal MHA: same weights, same bits, forward and backward. */
    @Test
    void windowCoveringTheSequenceIsCausalMha() {
        int e = 12, tokens = 10;
        AttentionLayer mha = AttentionLayers.create(new MhaConfig(e, 3), new SplittableRandom(5));
        AttentionLayer swa = AttentionLayers.slidingWindow(new MhaConfig(e, 3), tokens, new SplittableRandom(5));
        LayerChecks.scrambleParameters(mha, 6);
        LayerChecks.scrambleParameters(swa, 6);
        Tensor x = LayerChecks.randn(new SplittableRandom(7), 1.0, 2, tokens, e);
        Tensor dy = LayerChecks.randn(new SplittableRandom(8), 1.0, 2, tokens, e);
        ForwardPass pm = mha.forward(x), ps = swa.forward(x);
        assertThat(ps.output().data()).isEqualTo(pm.output().data());
        assertThat(swa.backward(ps, dy).data()).isEqualTo(mha.backward(pm, dy).data());
        List<Parameter> a = mha.parameters(), b = swa.parameters();
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i).name()).isEqualTo(a.get(i).name());
            assertThat(b.get(i).grad().data()).as(a.get(i).name()).isEqualTo(a.get(i).grad().data());
        }
    }

    /**
     * W = 3, output of token t = 7: perturbing x_4 = x_{t-W} (the newest token outside its window) leaves it
     * bit-identical, in forward and in decode; perturbing x_5 = x_{t-W+1} (the oldest inside) changes it.
     */
    @Test
    void tokensBeyondTheWindowHaveNoInfluence() {
        int e = 8, tokens = 8, window = 3, t = 7;
        AttentionLayer layer = swa(e, 2, window, 9);
        Tensor x = LayerChecks.randn(new SplittableRandom(10), 1.0, 1, tokens, e);
        double[] base = row(layer.forward(x).output(), t, e);
        double[] baseDecode = decodeRow(layer, x, t);
        assertThat(row(layer.forward(perturbed(x, t - window, e)).output(), t, e)).isEqualTo(base);
        assertThat(decodeRow(layer, perturbed(x, t - window, e), t)).isEqualTo(baseDecode);
        double[] inside = row(layer.forward(perturbed(x, t - window + 1, e)).output(), t, e);
        double change = 0;
        for (int c = 0; c < e; c++) change = Math.max(change, Math.abs(inside[c] - base[c]));
        assertThat(change).as("x_{t-W+1} is inside the window").isGreaterThan(1e-3);
        assertThat(decodeRow(layer, perturbed(x, t - window + 1, e), t)).isNotEqualTo(baseDecode);
    }

    /** The decode state is W tokens of K and V once full, whatever the position: constant, not growing. */
    @Test
    void decodeStateStopsGrowingAtTheWindow() {
        int e = 8, heads = 2, window = 5, batch = 3;
        AttentionLayer layer = swa(e, heads, window, 11);
        DecodeState s = layer.newDecodeState(batch);
        long perToken = (long) batch * 2 * e * 2; // K and V of E values each, at 2 bytes
        for (int t = 0; t < 17; t++) {
            layer.decode(s, LayerChecks.randn(new SplittableRandom(t), 1.0, batch, e));
            assertThat(s.bytes(2)).as("after %d tokens", t + 1).isEqualTo(Math.min(t + 1, window) * perToken);
        }
    }

    private static Tensor perturbed(Tensor x, int t, int e) {
        Tensor y = x.copy();
        for (int c = 0; c < e; c++) y.data()[t * e + c] += 0.5;
        return y;
    }

    private static double[] row(Tensor y, int t, int e) {
        return java.util.Arrays.copyOfRange(y.data(), t * e, (t + 1) * e);
    }

    private static double[] decodeRow(AttentionLayer layer, Tensor x, int t) {
        int e = x.dim(2);
        DecodeState s = layer.newDecodeState(1);
        double[] y = null;
        for (int i = 0; i <= t; i++) y = layer.decode(s, Tensor.wrap(row(x, i, e), 1, e)).data();
        return y;
    }
}
