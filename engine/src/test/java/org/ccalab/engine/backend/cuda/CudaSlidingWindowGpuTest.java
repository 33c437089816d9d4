package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}): the flash kernels' sliding-window instances (the OVQ hybrid's SWA blocks: query t
 * sees keys t - W < s <= t) against the float64 CPU kernel with the same window, on fresh random bf16 inputs.
 *
 * <p>Every backend layout that has them: mma.sync (M2 at D = 64, N128 at D = 128) and, on the sm_90a image, wgmma
 * (plain and deterministic backward). Windows: 1 (a query sees only itself), below one key tile (37), a tile exactly
 * (128), across tiles at ragged lengths (200, 300), the platform default 512 over 2048 tokens, T - 1; grouped heads and
 * batch 2. The deterministic backward on both layouts. The forward's O within the flash check's 8e-3 (bf16 output rounding and bf16 probabilities), its LSE within
 * 1e-3 absolute; the backward (the training path: the "_lo" forward, Dv from O + O_lo) against the float64 gradients
 * of the float64 forward, within the backward check's 8e-3 (absolute 1e-4 where float64's is exactly zero: dq and dk at
 * W = 1). Each case with W <= T / 2 must also differ from plain
 * causal attention by far more than that bound, so a kernel that ignored its window fails. The deterministic backward
 * gives the same bits twice. A window that covers the sequence runs the causal kernels (same bits).
 */
@Tag("gpu")
class CudaSlidingWindowGpuTest {
    private static final double OUT_BOUND = 8e-3, LSE_BOUND = 1e-3, GRAD_BOUND = 8e-3, ZERO_BOUND = 1e-4;

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    private record Case(int headDim, int qHeads, int kvHeads, int batch, int tokens, int window) {
        AttentionShape shape() {
            return new AttentionShape(batch, tokens, qHeads, kvHeads, headDim);
        }

        AttentionKernel.Dims dims(int w) {
            return new AttentionKernel.Dims(batch, tokens, qHeads, kvHeads, headDim, headDim, 1 / Math.sqrt(headDim), true, w);
        }

        @Override
        public String toString() {
            return "D" + headDim + " " + qHeads + "q/" + kvHeads + "kv B" + batch + " T" + tokens + " W" + window;
        }
    }

    private static final List<Case> CASES = List.of(
            new Case(64, 2, 2, 1, 700, 1),
            new Case(64, 4, 2, 2, 700, 37),
            new Case(64, 2, 2, 1, 1000, 200),
            new Case(64, 2, 2, 1, 2048, 512),
            new Case(128, 2, 2, 1, 700, 128),
            new Case(128, 4, 2, 1, 900, 300),
            new Case(128, 2, 1, 2, 517, 516));

    @Test
    void windowedForwardAndBackwardMatchFloat64OnEveryLayout() {
        boolean hopper;
        try (CudaBackend cuda = open("auto", false)) {
            hopper = cuda.flashVariant(new AttentionShape(1, 16, 2, 2, 128)) == CudaKernels.FlashVariant.WGMMA;
        }
        List<String> modes = hopper ? List.of("mma", "wgmma") : List.of("mma");
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        for (String mode : modes)
            try (CudaBackend cuda = open(mode, false)) {
                for (Case c : CASES) failures.addAll(check(cuda, ref, c, mode, 700 + CASES.indexOf(c)));
            }
        assertThat(failures).isEmpty();
    }

    private static List<String> check(CudaBackend cuda, AttentionKernel ref, Case c, String mode, long seed) {
        AttentionShape s = c.shape();
        short[] qb = CudaBenchCli.Random.bf16(s.qElements(), seed), kb = CudaBenchCli.Random.bf16(s.kvElements(), seed + 1),
                vb = CudaBenchCli.Random.bf16(s.kvElements(), seed + 2), gb = CudaBenchCli.Random.bf16(s.qElements(), seed + 3);
        double[] q = Bf16.toDoubles(qb), k = Bf16.toDoubles(kb), v = Bf16.toDoubles(vb), g = Bf16.toDoubles(gb);
        int rows = c.batch() * c.qHeads() * c.tokens();
        double[] o = new double[q.length], lse = new double[rows];
        ref.forward(o, lse, q, k, v, c.dims(c.window()));
        double[] wq = new double[q.length], wk = new double[k.length], wv = new double[v.length];
        ref.backward(wq, wk, wv, g, q, k, v, o, lse, c.dims(c.window()));
        List<String> failures = new ArrayList<>();
        String name = mode + " " + c;
        if (c.window() <= c.tokens() / 2) {
            double[] causal = new double[q.length];
            ref.forward(causal, new double[rows], q, k, v, c.dims(0));
            double apart = Err.of(causal, o).rel();
            if (!(apart > 20 * OUT_BOUND)) failures.add(name + ": the window changes the output by only " + apart);
        }
        try (DeviceBuffer dq = cuda.uploadBf16(qb); DeviceBuffer dk = cuda.uploadBf16(kb); DeviceBuffer dv = cuda.uploadBf16(vb);
             DeviceBuffer dO = cuda.uploadBf16(gb); DeviceBuffer out = cuda.allocate(s.qElements() * 2);
             DeviceBuffer oLo = cuda.allocate(s.qElements() * 2); DeviceBuffer l = cuda.allocate(rows * 4L);
             DeviceBuffer gq = cuda.allocate(s.qElements() * 4); DeviceBuffer gk = cuda.allocate(s.kvElements() * 4);
             DeviceBuffer gv = cuda.allocate(s.kvElements() * 4)) {
            cuda.poison(out);
            cuda.poison(l);
            cuda.flashForwardWindowed(out, null, l, dq, dk, dv, s, c.window());
            Err eo = Err.of(Bf16.toDoubles(cuda.downloadBf16(out, q.length)), o);
            double lseErr = maxAbs(cuda.downloadDoubles(l, rows), lse);
            cuda.poison(out);
            cuda.poison(oLo);
            cuda.flashForwardWindowed(out, oLo, l, dq, dk, dv, s, c.window());
            cuda.poison(gq);
            cuda.flashBackwardWindowed(gq, gk, gv, dq, dk, dv, out, oLo, l, dO, s, c.window());
            Err eq = Err.of(cuda.downloadDoubles(gq, wq.length), wq), ek = Err.of(cuda.downloadDoubles(gk, wk.length), wk),
                    ev = Err.of(cuda.downloadDoubles(gv, wv.length), wv);
            System.out.printf(Locale.ROOT, "%s: O %.2e LSE %.2e; dq %.2e dk %.2e dv %.2e%n", name, eo.rel(), lseErr, eq.rel(),
                    ek.rel(), ev.rel());
            if (!(eo.rel() < OUT_BOUND)) failures.add(name + ": O rel " + eo.rel());
            if (!(lseErr < LSE_BOUND)) failures.add(name + ": LSE max abs " + lseErr);
            gradient(failures, name + ": dq", eq, wq);
            gradient(failures, name + ": dk", ek, wk);
            gradient(failures, name + ": dv", ev, wv);
        }
        return failures;
    }

    @Test
    void theDeterministicWindowedBackwardRepeatsItsBits() {
        List<String> modes = new ArrayList<>(List.of("mma"));  // the mma.sync "_det_swa" since session 17
        try (CudaBackend probe = open("auto", false)) {
            if (probe.wgmmaBackward()) modes.add("wgmma");
        }
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        for (String mode : modes)
        try (CudaBackend cuda = open(mode, true)) {
            for (Case c : List.of(new Case(64, 4, 2, 1, 1500, 300), new Case(128, 4, 1, 2, 1100, 200))) {
                AttentionShape s = c.shape();
                short[] qb = CudaBenchCli.Random.bf16(s.qElements(), 91), kb = CudaBenchCli.Random.bf16(s.kvElements(), 92),
                        vb = CudaBenchCli.Random.bf16(s.kvElements(), 93), gb = CudaBenchCli.Random.bf16(s.qElements(), 94);
                int rows = c.batch() * c.qHeads() * c.tokens();
                double[] q = Bf16.toDoubles(qb), k = Bf16.toDoubles(kb), v = Bf16.toDoubles(vb);
                double[] o = new double[q.length], lse = new double[rows];
                ref.forward(o, lse, q, k, v, c.dims(c.window()));
                double[] wq = new double[q.length], wk = new double[k.length], wv = new double[v.length];
                ref.backward(wq, wk, wv, Bf16.toDoubles(gb), q, k, v, o, lse, c.dims(c.window()));
                try (DeviceBuffer dq = cuda.uploadBf16(qb); DeviceBuffer dk = cuda.uploadBf16(kb); DeviceBuffer dv = cuda.uploadBf16(vb);
                     DeviceBuffer dO = cuda.uploadBf16(gb); DeviceBuffer out = cuda.allocate(s.qElements() * 2);
                     DeviceBuffer oLo = cuda.allocate(s.qElements() * 2); DeviceBuffer l = cuda.allocate(rows * 4L);
                     DeviceBuffer gq = cuda.allocate(s.qElements() * 4); DeviceBuffer gk = cuda.allocate(s.kvElements() * 4);
                     DeviceBuffer gv = cuda.allocate(s.kvElements() * 4)) {
                    cuda.flashForwardWindowed(out, oLo, l, dq, dk, dv, s, c.window());
                    float[][] first = null;
                    for (int run = 0; run < 2; run++) {
                        cuda.flashBackwardWindowed(gq, gk, gv, dq, dk, dv, out, oLo, l, dO, s, c.window());
                        float[][] got = {cuda.downloadFloats(gq, wq.length), cuda.downloadFloats(gk, wk.length),
                                cuda.downloadFloats(gv, wv.length)};
                        if (first == null) first = got;
                        else if (!Arrays.deepEquals(first, got)) failures.add(mode + " " + c + ": two deterministic runs differ");
                    }
                    double[] errs = {Err.of(cuda.downloadDoubles(gq, wq.length), wq).rel(),
                            Err.of(cuda.downloadDoubles(gk, wk.length), wk).rel(), Err.of(cuda.downloadDoubles(gv, wv.length), wv).rel()};
                    System.out.printf(Locale.ROOT, "deterministic %s %s: dq %.2e dk %.2e dv %.2e%n", mode, c, errs[0], errs[1], errs[2]);
                    for (double e : errs) if (!(e < GRAD_BOUND)) failures.add(mode + " " + c + ": deterministic gradient rel " + e);
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void aWindowThatCoversTheSequenceIsPlainCausalAttention() {
        Case c = new Case(64, 2, 2, 1, 300, 300);
        AttentionShape s = c.shape();
        short[] qb = CudaBenchCli.Random.bf16(s.qElements(), 81), kb = CudaBenchCli.Random.bf16(s.kvElements(), 82),
                vb = CudaBenchCli.Random.bf16(s.kvElements(), 83);
        try (CudaBackend cuda = CudaBackend.open(); DeviceBuffer dq = cuda.uploadBf16(qb); DeviceBuffer dk = cuda.uploadBf16(kb);
             DeviceBuffer dv = cuda.uploadBf16(vb); DeviceBuffer a = cuda.allocate(s.qElements() * 2);
             DeviceBuffer b = cuda.allocate(s.qElements() * 2); DeviceBuffer l = cuda.allocate(2L * 300 * 4)) {
            cuda.flashForward(a, l, dq, dk, dv, s, true, 2);
            cuda.flashForwardWindowed(b, null, l, dq, dk, dv, s, 300);
            assertThat(cuda.downloadBf16(b, (int) s.qElements())).isEqualTo(cuda.downloadBf16(a, (int) s.qElements()));
        }
    }

    /**
     * A gradient within GRAD_BOUND of float64, relative; where float64's is exactly zero (W = 1: each query sees only
     * itself, P = 1, so dS = dP - Dv = 0 and dq = dk = 0), within ZERO_BOUND absolute instead: the inputs have unit
     * variance, so a gradient that is not zero is of order 0.1-1, while the GPU's dP and Dv (the same products summed in
     * other orders, fp32) differ by ~1e-6.
     */
    private static void gradient(List<String> failures, String what, Err e, double[] want) {
        boolean zero = Arrays.stream(want).allMatch(x -> x == 0);
        if (zero ? !(e.maxAbs() < ZERO_BOUND) : !(e.rel() < GRAD_BOUND))
            failures.add(what + (zero ? " max abs (float64's is zero) " + e.maxAbs() : " rel " + e.rel()));
        else if (zero) System.out.printf(Locale.ROOT, "%s: float64's is zero, max abs %.2e%n", what, e.maxAbs());
    }

    private static double maxAbs(double[] got, double[] want) {
        double m = 0;
        for (int i = 0; i < got.length; i++) m = Math.max(m, Double.isNaN(got[i]) ? 1e9 : Math.abs(got[i] - want[i]));
        return m;
    }

    private static CudaBackend open(String mode, boolean deterministic) {
        String[] keys = {"ccalab.flash.forward", "ccalab.flash.backward", "ccalab.flash.deterministic"};
        String[] saved = new String[keys.length];
        for (int i = 0; i < keys.length; i++) saved[i] = System.getProperty(keys[i]);
        System.setProperty(keys[0], mode);
        System.setProperty(keys[1], mode);
        System.setProperty(keys[2], Boolean.toString(deterministic));
        try {
            return CudaBackend.open();
        } finally {
            for (int i = 0; i < keys.length; i++) {
                if (saved[i] == null) System.clearProperty(keys[i]);
                else System.setProperty(keys[i], saved[i]);
            }
        }
    }
}
