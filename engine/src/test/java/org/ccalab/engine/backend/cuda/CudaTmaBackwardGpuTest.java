package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a Hopper GPU host (tag {@code gpu}; skipped in substance where the sm_90a image does not run): the plain wgmma
 * backward's TMA twins ("t", CudaKernels.hasTmaBackward: Q / dO / K / V copied by TMA; at D = 128 dQ reduce-added by
 * TMA from a writer thread instead of the consumers' atomics) compute the cp.async kernels' products and sum them in
 * another order: dq, dk, dv within 1e-5 of theirs (relative to the largest gradient; the fp32 adds' order is all
 * that differs), and within the flash check's 8e-3 of the float64 CPU kernel. Ragged tails (TMA's zeros on load, its
 * dropped rows on the reduce-add), grouped heads, batches, causal and full.
 */
@Tag("gpu")
class CudaTmaBackwardGpuTest {
    private static final double GRAD_BOUND = 8e-3, ORDER_BOUND = 1e-5;

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    private record Case(int headDim, int qHeads, int kvHeads, int batch, int tokens, boolean causal) {
        AttentionShape shape() {
            return new AttentionShape(batch, tokens, qHeads, kvHeads, headDim);
        }

        @Override
        public String toString() {
            return "D" + headDim + " " + qHeads + "q/" + kvHeads + "kv B" + batch + " T" + tokens + (causal ? " causal" : " full");
        }
    }

    @Test
    void theTmaBackwardMatchesTheCpAsyncOneAndFloat64() {
        List<Case> cases = new ArrayList<>();
        for (int d : new int[] {64, 128}) {
            cases.add(new Case(d, 2, 2, 1, 700, true));    // a ragged tail: the last query tile's rows past T
            cases.add(new Case(d, 4, 1, 3, 1000, true));   // grouped heads, batches
            cases.add(new Case(d, 4, 2, 2, 333, false));   // full, T under three query tiles
        }
        try (CudaBackend probe = open("auto")) {
            if (!probe.tmaBackward(new AttentionShape(1, 16, 2, 2, 128))) {
                System.out.println("tma backward: no sm_90a image here, nothing to check");
                return;
            }
        }
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            long seed = 900 + cases.indexOf(c);
            double[][] tma = run("auto", c, seed), copied = run("off", c, seed);
            AttentionShape s = c.shape();
            double[] q = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.qElements(), seed)),
                    k = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1)),
                    v = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2)),
                    g = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.qElements(), seed + 3));
            var dims = new AttentionKernel.Dims(c.batch(), c.tokens(), c.qHeads(), c.kvHeads(), c.headDim(), c.headDim(),
                    1 / Math.sqrt(c.headDim()), c.causal(), 0);
            double[] o = new double[q.length], lse = new double[c.batch() * c.qHeads() * c.tokens()];
            ref.forward(o, lse, q, k, v, dims);
            double[][] want = {new double[q.length], new double[k.length], new double[v.length]};
            ref.backward(want[0], want[1], want[2], g, q, k, v, o, lse, dims);
            String[] names = {"dq", "dk", "dv"};
            StringBuilder line = new StringBuilder("tma backward " + c + ":");
            for (int i = 0; i < 3; i++) {
                double order = Err.of(tma[i], copied[i]).maxAbs() / maxAbs(copied[i]);
                double err = Err.of(tma[i], want[i]).rel();
                line.append(String.format(Locale.ROOT, " %s %.2e from cp.async's, %.2e against float64;", names[i], order, err));
                if (!(order < ORDER_BOUND)) failures.add(c + ": " + names[i] + " differs from the cp.async kernel's by " + order);
                if (!(err < GRAD_BOUND)) failures.add(c + ": " + names[i] + " rel " + err + " against float64");
            }
            System.out.println(line);
        }
        assertThat(failures).isEmpty();
    }

    private static double maxAbs(double[] x) {
        double m = 0;
        for (double e : x) m = Math.max(m, Math.abs(e));
        return m;
    }

    /**
     * dq, dk, dv of one forward + backward under ccalab.flash.tma = {@code tma} (the forward's bits are the same either
     * way: CudaTmaForwardGpuTest).
     */
    private static double[][] run(String tma, Case c, long seed) {
        AttentionShape s = c.shape();
        int rows = c.batch() * c.qHeads() * c.tokens();
        try (CudaBackend cuda = open(tma); DeviceBuffer dq = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), seed));
             DeviceBuffer dk = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1));
             DeviceBuffer dv = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2));
             DeviceBuffer dO = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), seed + 3));
             DeviceBuffer out = cuda.allocate(s.qElements() * 2); DeviceBuffer oLo = cuda.allocate(s.qElements() * 2);
             DeviceBuffer l = cuda.allocate(rows * 4L); DeviceBuffer gq = cuda.allocate(s.qElements() * 4);
             DeviceBuffer gk = cuda.allocate(s.kvElements() * 4); DeviceBuffer gv = cuda.allocate(s.kvElements() * 4)) {
            assertThat(cuda.tmaBackward(s)).as(tma + " " + c).isEqualTo(!tma.equals("off"));
            cuda.flashForward(out, oLo, l, dq, dk, dv, s, c.causal(), c.kvHeads());
            cuda.poison(gq);
            cuda.flashBackward(gq, gk, gv, dq, dk, dv, out, oLo, l, dO, s, c.causal());
            return new double[][] {cuda.downloadDoubles(gq, (int) s.qElements()), cuda.downloadDoubles(gk, (int) s.kvElements()),
                    cuda.downloadDoubles(gv, (int) s.kvElements())};
        }
    }

    private static CudaBackend open(String tma) {
        return BackendProperties.open(Map.of("ccalab.flash.tma", tma));
    }
}
