package org.ccalab.engine.attention.ovq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.LayerChecks;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The OVQ layer against an independent plain reference ({@link OvqReference}), hand-computed folds, exact
 * gradients (finite differences with the discrete choices checked unchanged), decode = prefill, the growth
 * schedule and the constant-size state.
 */
class OvqAttentionTest {
    private static OvqSpec spec(int chunk, int nMax, int growthLength, OvqGrowth growth, OvqAssignment assignment,
                                OvqUpdate update, double eta, boolean stateOnly, boolean renormalize,
                                boolean learnBeta, boolean stateGradient) {
        return new OvqSpec(chunk, nMax, growthLength, growth, assignment, update, eta, stateOnly, renormalize,
                learnBeta, stateGradient, null);
    }

    /** Config matrix: every flag, both schedules, L = 1, L not dividing T, T long enough to fill N_max. */
    static Stream<Arguments> configs() {
        var e = OvqAssignment.EUCLIDEAN;
        var dot = OvqAssignment.DOT;
        var newton = OvqUpdate.NEWTON;
        var constant = OvqUpdate.CONSTANT;
        return Stream.of(
                Arguments.of("log growth, euclidean, newton, learnt beta; T=23, L=4, full after 4 chunks",
                        new OvqConfig(16, 2, spec(4, 6, 16, OvqGrowth.LOG, e, newton, 0.1, false, false, true, true)), 23),
                Arguments.of("linear growth, dot, constant rate; T=14, L=3",
                        new OvqConfig(16, 2, spec(3, 4, 6, OvqGrowth.LINEAR, dot, constant, 0.25, false, false, true, true)), 14),
                Arguments.of("state-only; T=9, L=2",
                        new OvqConfig(16, 2, spec(2, 5, 10, OvqGrowth.LOG, e, newton, 0.1, true, false, true, true)), 9),
                Arguments.of("renormalised centroids, fixed beta, linear growth; T=17, L=4",
                        new OvqConfig(16, 2, spec(4, 5, 12, OvqGrowth.LINEAR, e, newton, 0.1, false, true, false, true)), 17),
                Arguments.of("L=1, log growth, N=4; T=10",
                        new OvqConfig(12, 2, spec(1, 4, 8, OvqGrowth.LOG, e, newton, 0.1, false, false, true, true)), 10),
                Arguments.of("state-only + renormalised + constant rate + dot; T=13, L=3",
                        new OvqConfig(16, 4, spec(3, 4, 8, OvqGrowth.LOG, dot, constant, 0.5, true, true, true, true)), 13),
                Arguments.of("one partial chunk only (T < L): no fold",
                        new OvqConfig(16, 2, spec(8, 4, 16, OvqGrowth.LOG, e, newton, 0.1, false, false, true, true)), 5));
    }

    private static OvqAttention layer(OvqConfig c, long seed) {
        OvqAttention l = (OvqAttention) AttentionLayers.create(c, new SplittableRandom(seed));
        RandomGenerator rng = new SplittableRandom(seed + 100);
        for (Parameter p : l.parameters()) {
            double[] w = p.value().data();
            for (int i = 0; i < w.length; i++)
                // beta near sqrt(D) (sharp reads); weights large enough that attention is far from uniform.
                w[i] = p.name().equals("beta_log") ? Math.log(Math.sqrt(c.headDim())) + 0.3 * rng.nextGaussian()
                        : 0.35 * rng.nextGaussian();
        }
        return l;
    }

    private static Tensor randn(RandomGenerator rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
        return t;
    }

    private static Map<String, double[]> weights(OvqAttention l, boolean copy) {
        Map<String, double[]> m = new HashMap<>();
        for (Parameter p : l.parameters()) m.put(p.name(), copy ? p.value().data().clone() : p.value().data());
        return m;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldMatchThePlainReference(String name, OvqConfig c, int tokens) {
        OvqAttention l = layer(c, 1);
        Tensor x = randn(new SplittableRandom(2), 2, tokens, c.dModel());
        double[] y = l.forward(x).output().data();
        Map<String, double[]> w = weights(l, false);
        double[] ref = OvqReference.forward(c, 2, tokens, w, x.data(), w, x.data());
        double scale = 0;
        for (double v : ref) scale = Math.max(scale, Math.abs(v));
        assertThat(scale).isPositive();
        for (int i = 0; i < y.length; i++) assertThat(y[i]).as("y[%d]", i).isCloseTo(ref[i], within(1e-12 * (1 + scale)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldMatchFiniteDifferenceGradients(String name, OvqConfig c, int tokens) {
        checkGradients(layer(c, 3), 2, tokens, 4, false);
    }

    /**
     * stateGradient false: backward is the derivative of the reads with the dictionary held fixed, i.e. of the
     * reference whose state side keeps the unperturbed weights and input. Also differs from the full gradient
     * in the keys and values only: q's gradient is the same, bit for bit.
     */
    @Test
    void shouldStopGradientsAtTheStateWhenAsked() {
        for (OvqSpec s : List.of(spec(3, 4, 8, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, 0.1, false,
                        false, true, false),
                spec(2, 3, 6, OvqGrowth.LINEAR, OvqAssignment.DOT, OvqUpdate.CONSTANT, 0.3, false, true, true, false))) {
            OvqConfig frozen = new OvqConfig(16, 2, s);
            checkGradients(layer(frozen, 5), 2, 11, 6, true);
            OvqConfig full = new OvqConfig(16, 2, new OvqSpec(s.chunkLength(), s.dictionarySize(), s.growthLength(),
                    s.growth(), s.assignment(), s.update(), s.constantRate(), s.stateOnly(), s.renormalizeCentroids(),
                    s.learnBeta(), true, null));
            Map<String, double[]> gFrozen = gradients(layer(frozen, 5), 11), gFull = gradients(layer(full, 5), 11);
            assertThat(gFrozen.get("q_proj.weight")).isEqualTo(gFull.get("q_proj.weight"));
            assertThat(gFrozen.get("k_proj.weight")).isNotEqualTo(gFull.get("k_proj.weight"));
            assertThat(gFrozen.get("v_proj.weight")).isNotEqualTo(gFull.get("v_proj.weight"));
        }
        // State-only reads no raw key or value, so with the state frozen k and v learn nothing at all.
        OvqConfig stateOnly = new OvqConfig(16, 2, spec(2, 3, 6, OvqGrowth.LINEAR, OvqAssignment.EUCLIDEAN,
                OvqUpdate.NEWTON, 0.1, true, false, true, false));
        Map<String, double[]> g = gradients(layer(stateOnly, 5), 11);
        assertThat(g.get("k_proj.weight")).containsOnly(0.0);
        assertThat(g.get("v_proj.weight")).containsOnly(0.0);
        assertThat(g.get("q_proj.weight")).isNotEqualTo(new double[g.get("q_proj.weight").length]);
    }

    private static Map<String, double[]> gradients(OvqAttention l, int tokens) {
        Tensor x = randn(new SplittableRandom(8), 2, tokens, l.config().dModel());
        Tensor r = randn(new SplittableRandom(9), 2, tokens, l.config().dModel());
        l.parameters().forEach(Parameter::zeroGrad);
        Map<String, double[]> g = new HashMap<>();
        g.put("x", l.backward(l.forward(x), r).data());
        for (Parameter p : l.parameters()) g.put(p.name(), p.grad().data().clone());
        return g;
    }

    /**
     * Backward against central differences of L = sum(y r) in x and every parameter (up to 40 entries each).
     * Every perturbed forward must make the same discrete choices as the unperturbed one, else the difference
     * would straddle a jump. {@code frozenState}: differences of the reference with the state side fixed.
     */
    private static void checkGradients(OvqAttention l, int batch, int tokens, long seed, boolean frozenState) {
        RandomGenerator rng = new SplittableRandom(seed);
        OvqConfig c = (OvqConfig) l.config();
        Tensor x = randn(rng, batch, tokens, c.dModel()), r = randn(rng, batch, tokens, c.dModel());
        l.parameters().forEach(Parameter::zeroGrad);
        ForwardPass pass = l.forward(x);
        double[] dx = l.backward(pass, r).data();
        List<int[]> decisions = OvqAttention.decisions(pass);
        Map<String, double[]> stateWeights = weights(l, true);
        double[] stateX = x.data().clone();
        Map<String, double[]> readWeights = weights(l, false);
        java.util.function.DoubleSupplier loss = () -> {
            double[] y;
            if (frozenState) {
                y = OvqReference.forward(c, batch, tokens, readWeights, x.data(), stateWeights, stateX);
            } else {
                ForwardPass p = l.forward(x);
                List<int[]> now = OvqAttention.decisions(p);
                assertThat(now).hasSameSizeAs(decisions);
                for (int i = 0; i < now.size(); i++) assertThat(now.get(i)).as("discrete choice %d", i).isEqualTo(decisions.get(i));
                y = p.output().data();
            }
            double s = 0;
            for (int i = 0; i < y.length; i++) s += y[i] * r.data()[i];
            return s;
        };
        LayerChecks.compare("x", x.data(), dx, loss, rng);
        for (Parameter p : l.parameters()) LayerChecks.compare(p.name(), p.value().data(), p.grad().data(), loss, rng);
    }


    /** Backward twice on one pass gives the same gradients: it rewinds a copy of the saved state. */
    @Test
    void shouldDifferentiateTheSamePassTwice() {
        OvqAttention l = layer(new OvqConfig(16, 2, spec(3, 4, 8, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN,
                OvqUpdate.NEWTON, 0.1, false, true, true, true)), 2);
        Tensor x = randn(new SplittableRandom(1), 1, 10, 16), r = randn(new SplittableRandom(2), 1, 10, 16);
        ForwardPass p = l.forward(x);
        l.parameters().forEach(Parameter::zeroGrad);
        double[] dx1 = l.backward(p, r).data();
        double[] g1 = l.parameters().get(1).grad().data().clone();
        l.parameters().forEach(Parameter::zeroGrad);
        double[] dx2 = l.backward(p, r).data();
        assertThat(dx2).isEqualTo(dx1);
        assertThat(l.parameters().get(1).grad().data()).isEqualTo(g1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldDecodeAndPrefillInChunksLikeTheForward(String name, OvqConfig c, int tokens) {
        OvqAttention l = layer(c, 4);
        int e = c.dModel(), b = 2;
        Tensor x = randn(new SplittableRandom(5), b, tokens, e);
        double[] y = l.forward(x).output().data();
        double scale = 0;
        for (double v : y) scale = Math.max(scale, Math.abs(v));
        // Token by token: the OVQ steps are the forward's own code; the projections of one row sum in another
        // order than those of T rows (Matmul's decode path), hence 1e-12 rather than bit equality.
        DecodeState s = l.newDecodeState(b);
        for (int t = 0; t < tokens; t++) {
            Tensor xt = Tensor.zeros(b, e);
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * tokens + t) * e, xt.data(), i * e, e);
            double[] yt = l.decode(s, xt).data();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < e; j++)
                    assertThat(yt[i * e + j]).as("decode t=%d", t).isCloseTo(y[(i * tokens + t) * e + j], within(1e-12 * (1 + scale)));
        }
        assertThat(s.position()).isEqualTo(tokens);
        // One prefill of the whole sequence runs exactly the forward's arithmetic: bit for bit.
        assertThat(l.prefill(l.newDecodeState(b), x).data()).isEqualTo(y);
        // Chunks that cut the OVQ chunks anywhere.
        DecodeState p = l.newDecodeState(b);
        int start = 0;
        for (int len : new int[] {1, 4, 2, 7, 3, 5, 100}) {
            len = Math.min(len, tokens - start);
            if (len == 0) break;
            double[] part = new double[b * len * e];
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * tokens + start) * e, part, i * len * e, len * e);
            double[] out = l.prefill(p, Tensor.wrap(part, b, len, e)).data();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < len * e; j++)
                    assertThat(out[i * len * e + j]).isCloseTo(y[(i * tokens + start) * e + j], within(1e-12 * (1 + scale)));
            start += len;
        }
        assertThat(p.position()).isEqualTo(tokens);
    }

    /** The dictionary after T tokens has dictionaryAfterChunks(T / L) rows in every head, never above N_max. */
    @Test
    void shouldGrowTheDictionaryByTheSchedule() {
        for (OvqSpec s : List.of(spec(3, 7, 20, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, 0.1, false, false, true, true),
                spec(2, 5, 9, OvqGrowth.LINEAR, OvqAssignment.DOT, OvqUpdate.CONSTANT, 0.2, false, false, true, true),
                spec(1, 6, 12, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, 0.1, false, false, true, true),
                // A schedule that outruns one chunk's tokens (target 8 after the first chunk of 2): catch-up folds.
                spec(2, 8, 9, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, 0.1, false, false, true, true))) {
            OvqConfig c = new OvqConfig(8, 2, s);
            OvqAttention l = layer(c, 6);
            OvqAttention.State st = (OvqAttention.State) l.newDecodeState(2);
            RandomGenerator rng = new SplittableRandom(7);
            boolean reachedCap = false;
            for (int t = 1; t <= 40; t++) {
                l.decode(st, randn(rng, 2, 8));
                int expected = s.dictionaryAfterChunks(t / s.chunkLength());
                for (OvqHead h : st.heads) {
                    assertThat(h.size()).as("%s after %d tokens", s, t).isEqualTo(expected).isLessThanOrEqualTo(s.dictionarySize());
                    assertThat(h.buffered()).isEqualTo(t % s.chunkLength());
                }
                reachedCap |= expected == s.dictionarySize();
            }
            assertThat(reachedCap).as("the test must reach N_max").isTrue();
        }
    }

    /**
     * The decode state's bytes are the cost model's state after T tokens; with the buffer empty they grow with
     * the dictionary and stop once it is full, and never exceed the cost model's bound.
     */
    @Test
    void shouldKeepTheDecodeStateConstantOnceTheDictionaryIsFull() {
        OvqConfig c = new OvqConfig(16, 2, spec(4, 5, 12, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON,
                0.1, false, false, true, true));
        OvqAttention l = layer(c, 9);
        DecodeState st = l.newDecodeState(3);
        RandomGenerator rng = new SplittableRandom(10);
        List<Long> atChunkEnds = new ArrayList<>();
        for (int t = 1; t <= 60; t++) {
            l.decode(st, randn(rng, 3, 16));
            assertThat(st.bytes(2)).isEqualTo(3 * CostModel.estimate(c, t, 2).decodeStateBytes())
                    .isLessThanOrEqualTo(3 * CostModel.decodeStateBytes(c, 2));
            if (t % 4 == 0) atChunkEnds.add(st.bytes(2));
        }
        int full = 0;
        while (c.ovq().dictionaryAfterChunks(full) < 5) full++;
        assertThat(full).isBetween(2, 10);
        for (int i = 1; i < atChunkEnds.size(); i++) {
            if (i < full) assertThat(atChunkEnds.get(i)).isGreaterThan(atChunkEnds.get(i - 1));
            else assertThat(atChunkEnds.get(i)).isEqualTo(atChunkEnds.get(full - 1));
        }
        // At 8 bytes per element the float64 dictionary counts 8 bytes per entry, not the spec's fp32 4.
        assertThat(st.bytes(8)).isEqualTo(3L * 2 * 5 * (2 * 8 + 1) * 8);
    }

    /** State-only: tokens before the first fold read an empty dictionary and output exactly 0, with no NaN. */
    @Test
    void shouldOutputZeroBeforeTheFirstFoldWhenStateOnly() {
        OvqConfig c = new OvqConfig(16, 2, spec(4, 4, 8, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON,
                0.1, true, false, true, true));
        OvqAttention l = layer(c, 11);
        Tensor x = randn(new SplittableRandom(12), 1, 9, 16);
        ForwardPass p = l.forward(x);
        double[] y = p.output().data();
        for (int i = 0; i < 4 * 16; i++) assertThat(y[i]).isZero();
        assertThat(Math.abs(y[4 * 16])).isPositive();
        double[] dx = l.backward(p, randn(new SplittableRandom(13), 1, 9, 16)).data();
        for (double v : dx) assertThat(v).isFinite();
    }

    /** Sequences and heads are independent tasks: any thread count gives the same bits. */
    @Test
    void shouldGiveTheSameBitsForAnyThreadCount() {
        OvqConfig c = new OvqConfig(16, 4, spec(3, 4, 8, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON,
                0.1, false, true, true, true));
        double[][] first = null;
        for (int threads : new int[] {1, 3}) {
            var pool = new java.util.concurrent.ForkJoinPool(threads);
            try {
                OvqAttention l = new OvqAttention(c, new CpuBackend(pool), new SplittableRandom(3));
                Tensor x = randn(new SplittableRandom(4), 3, 20, 16);
                ForwardPass p = l.forward(x);
                double[][] got = {p.output().data(), l.backward(p, x).data(), l.parameters().get(4).grad().data()};
                if (first == null) first = got;
                else for (int i = 0; i < got.length; i++) assertThat(got[i]).isEqualTo(first[i]);
            } finally {
                pool.shutdown();
            }
        }
    }
}
