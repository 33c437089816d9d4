package org.ccalab.engine.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The blocked attention kernel against the one-dot-product-at-a-time reference, across block edges. */
class AttentionKernelTest {
    private static final ForkJoinPool POOL = new ForkJoinPool(3);

    @AfterAll
    static void stop() {
        POOL.shutdown();
    }

    private static double[] random(int n, long seed) {
        return new SplittableRandom(seed).doubles(n, -1.5, 1.5).toArray();
    }

    private static void assertClose(String what, double[] got, double[] want) {
        for (int i = 0; i < want.length; i++) assertThat(got[i]).as("%s[%d]", what, i).isCloseTo(want[i], within(1e-12));
    }

    @ParameterizedTest(name = "B={0} T={1} Hq={2} Hkv={3} Dk={4} Dv={5} causal={6}")
    @CsvSource({"1,1,1,1,4,4,true", "2,63,4,2,8,5,true", "1,64,2,2,3,7,true", "1,130,4,1,6,6,true",
            "2,70,2,1,5,4,false", "1,129,3,3,4,4,false"})
    void shouldMatchReferenceForwardAndBackward(int b, int t, int hq, int hkv, int dk, int dv, boolean causal) {
        Parallel par = new Parallel(POOL);
        AttentionKernel fast = new AttentionKernel(par);
        ReferenceAttention ref = new ReferenceAttention(par);
        var d = new AttentionKernel.Dims(b, t, hq, hkv, dk, dv, 1 / Math.sqrt(dk), causal);
        double[] q = random(b * t * hq * dk, 1), k = random(b * t * hkv * dk, 2), v = random(b * t * hkv * dv, 3);
        double[] o1 = new double[b * t * hq * dv], o2 = o1.clone(), l1 = new double[b * hq * t], l2 = l1.clone();
        fast.forward(o1, l1, q, k, v, d);
        ref.forward(o2, l2, q, k, v, d);
        assertClose("o", o1, o2);
        assertClose("lse", l1, l2);
        double[] dO = random(o1.length, 4);
        double[][] g1 = {random(q.length, 5), random(k.length, 6), random(v.length, 7)}; // backward adds into these
        double[][] g2 = {g1[0].clone(), g1[1].clone(), g1[2].clone()};
        fast.backward(g1[0], g1[1], g1[2], dO, q, k, v, o1, l1, d);
        ref.backward(g2[0], g2[1], g2[2], dO, q, k, v, o2, l2, d);
        assertClose("dq", g1[0], g2[0]);
        assertClose("dk", g1[1], g2[1]);
        assertClose("dv", g1[2], g2[2]);
    }

    /**
     * Sliding windows cut the key range inside a block, at a block edge and beyond it; W >= T must equal the
     * unwindowed kernel bit for bit, and the reference must itself honour the window (checked by brute force
     * in {@link #referenceWindowIgnoresKeysOutsideIt}).
     */
    @ParameterizedTest(name = "B={0} T={1} Hq={2} Hkv={3} D={4} W={5}")
    @CsvSource({"1,1,1,1,4,1", "2,63,4,2,8,1", "1,130,2,1,5,7", "2,140,2,2,4,64", "1,200,3,1,6,65",
            "1,129,2,2,3,100", "2,70,2,1,5,70", "1,66,1,1,4,500"})
    void shouldMatchReferenceWithASlidingWindow(int b, int t, int hq, int hkv, int dd, int w) {
        Parallel par = new Parallel(POOL);
        AttentionKernel fast = new AttentionKernel(par);
        ReferenceAttention ref = new ReferenceAttention(par);
        var d = new AttentionKernel.Dims(b, t, hq, hkv, dd, dd + 1, 1 / Math.sqrt(dd), true, w);
        double[] q = random(b * t * hq * dd, 21), k = random(b * t * hkv * dd, 22), v = random(b * t * hkv * (dd + 1), 23);
        double[] o1 = new double[b * t * hq * (dd + 1)], o2 = o1.clone(), l1 = new double[b * hq * t], l2 = l1.clone();
        fast.forward(o1, l1, q, k, v, d);
        ref.forward(o2, l2, q, k, v, d);
        assertClose("o", o1, o2);
        assertClose("lse", l1, l2);
        double[] dO = random(o1.length, 24);
        double[][] g1 = {new double[q.length], new double[k.length], new double[v.length]};
        double[][] g2 = {new double[q.length], new double[k.length], new double[v.length]};
        fast.backward(g1[0], g1[1], g1[2], dO, q, k, v, o1, l1, d);
        ref.backward(g2[0], g2[1], g2[2], dO, q, k, v, o2, l2, d);
        assertClose("dq", g1[0], g2[0]);
        assertClose("dk", g1[1], g2[1]);
        assertClose("dv", g1[2], g2[2]);
        if (w >= t) {
            var plain = new AttentionKernel.Dims(b, t, hq, hkv, dd, dd + 1, 1 / Math.sqrt(dd), true);
            double[] o3 = new double[o1.length], l3 = new double[l1.length];
            fast.forward(o3, l3, q, k, v, plain);
            assertThat(o1).as("a window covering the sequence is no window").isEqualTo(o3);
        }
    }

    /** Query t of the windowed reference equals full softmax attention over keys t - W < s <= t only. */
    @org.junit.jupiter.api.Test
    void referenceWindowIgnoresKeysOutsideIt() {
        int t = 9, w = 3, dd = 4;
        double[] q = random(t * dd, 31), k = random(t * dd, 32), v = random(t * dd, 33);
        double[] o = new double[t * dd];
        new ReferenceAttention(new Parallel(POOL)).forward(o, new double[t], q, k, v,
                new AttentionKernel.Dims(1, t, 1, 1, dd, dd, 0.5, true, w));
        for (int i = 0; i < t; i++) {
            double[] want = new double[dd], p = new double[t];
            double sum = 0;
            for (int s = Math.max(0, i - w + 1); s <= i; s++) {
                double dot = 0;
                for (int c = 0; c < dd; c++) dot += q[i * dd + c] * k[s * dd + c];
                sum += p[s] = Math.exp(0.5 * dot);
            }
            for (int s = Math.max(0, i - w + 1); s <= i; s++)
                for (int c = 0; c < dd; c++) want[c] += p[s] / sum * v[s * dd + c];
            for (int c = 0; c < dd; c++) assertThat(o[i * dd + c]).as("t=%d c=%d", i, c).isCloseTo(want[c], within(1e-14));
        }
    }

    /** A windowed chunk read from a cache holding earlier rows gives the windowed reference prefill's last rows. */
    @ParameterizedTest(name = "B={0} len={1} chunk={2} Hq={3} Hkv={4} D={5} W={6}")
    @CsvSource({"1,20,1,2,1,4,5", "2,30,7,4,2,8,5", "1,200,130,2,1,6,64", "2,150,65,2,2,3,70", "1,12,12,1,1,4,3",
            "1,40,3,1,1,4,100"})
    void shouldDecodeAWindowedChunkLikeTheReference(int b, int len, int chunk, int hq, int hkv, int dd, int w) {
        Parallel par = new Parallel(POOL);
        var d = new AttentionKernel.Dims(b, len, hq, hkv, dd, dd, 1 / Math.sqrt(dd), true, w);
        double[] q = random(b * len * hq * dd, 41), k = random(b * len * hkv * dd, 42), v = random(b * len * hkv * dd, 43);
        double[] want = new double[b * len * hq * dd];
        new ReferenceAttention(par).forward(want, new double[b * hq * len], q, k, v, d);
        double[] qChunk = new double[b * chunk * hq * dd];
        for (int i = 0; i < b; i++)
            System.arraycopy(q, (i * len + len - chunk) * hq * dd, qChunk, i * chunk * hq * dd, chunk * hq * dd);
        double[] o = new double[b * chunk * hq * dd];
        new AttentionKernel(par).decodeChunk(o, qChunk, chunk, k, v, len, len, b, hq, hkv, dd, dd, 1 / Math.sqrt(dd), w);
        for (int i = 0; i < b; i++)
            for (int j = 0; j < chunk * hq * dd; j++)
                assertThat(o[i * chunk * hq * dd + j]).as("b=%d [%d]", i, j)
                        .isCloseTo(want[(i * len + len - chunk) * hq * dd + j], within(1e-12));
    }

    /**
     * Chunked prefill and decode read a cache [B, capacity, Hkv, D] with spare rows after {@code len}; the last
     * {@code chunk} queries against it must give the reference prefill's last rows. Lengths cross the query
     * block (64) and the decode split (512), so the split-K merge and ragged tails are covered.
     */
    @ParameterizedTest(name = "B={0} len={1} chunk={2} Hq={3} Hkv={4} Dk={5} Dv={6}")
    @CsvSource({"1,1,1,1,1,4,4", "2,19,1,4,2,8,5", "1,513,1,3,1,6,6", "2,1100,1,2,1,5,3", "1,1025,1,4,4,4,4",
            "2,30,7,4,2,8,5", "1,200,130,2,1,6,4", "2,600,65,4,2,3,5", "1,12,12,1,1,4,4"})
    void shouldDecodeFromTheCacheLikeTheReferencePrefill(int b, int len, int chunk, int hq, int hkv, int dk, int dv) {
        Parallel par = new Parallel(POOL);
        var d = new AttentionKernel.Dims(b, len, hq, hkv, dk, dv, 1 / Math.sqrt(dk), true);
        double[] q = random(b * len * hq * dk, 11), k = random(b * len * hkv * dk, 12), v = random(b * len * hkv * dv, 13);
        double[] want = new double[b * len * hq * dv];
        new ReferenceAttention(par).forward(want, new double[b * hq * len], q, k, v, d);
        int capacity = len + 5;
        double[] kc = new double[b * capacity * hkv * dk], vc = new double[b * capacity * hkv * dv];
        java.util.Arrays.fill(kc, Double.NaN); // spare rows must never be read
        java.util.Arrays.fill(vc, Double.NaN);
        for (int i = 0; i < b; i++) {
            System.arraycopy(k, i * len * hkv * dk, kc, i * capacity * hkv * dk, len * hkv * dk);
            System.arraycopy(v, i * len * hkv * dv, vc, i * capacity * hkv * dv, len * hkv * dv);
        }
        double[] qChunk = new double[b * chunk * hq * dk];
        for (int i = 0; i < b; i++)
            System.arraycopy(q, (i * len + len - chunk) * hq * dk, qChunk, i * chunk * hq * dk, chunk * hq * dk);
        double[][] results = new double[2][];
        ForkJoinPool single = new ForkJoinPool(1);
        try {
            for (int run = 0; run < 2; run++) {
                double[] o = new double[b * chunk * hq * dv];
                new AttentionKernel(new Parallel(run == 0 ? POOL : single))
                        .decodeChunk(o, qChunk, chunk, kc, vc, capacity, len, b, hq, hkv, dk, dv, 1 / Math.sqrt(dk));
                results[run] = o;
            }
        } finally {
            single.shutdown();
        }
        for (int i = 0; i < b; i++)
            for (int j = 0; j < chunk * hq * dv; j++)
                assertThat(results[0][i * chunk * hq * dv + j]).as("b=%d [%d]", i, j)
                        .isCloseTo(want[(i * len + len - chunk) * hq * dv + j], within(1e-12));
        assertThat(results[1]).as("same bits on one thread").isEqualTo(results[0]);
    }
}
