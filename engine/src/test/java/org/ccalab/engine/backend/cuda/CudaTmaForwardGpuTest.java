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
 * On a Hopper GPU host (tag {@code gpu}; skipped in substance where the sm_90a image does not run): the TMA forwards
 * ("4t", CudaKernels.TMA_SUFFIX: one producer thread copying through tensor maps from CudaTensorMaps) land the same
 * bytes in the same swizzled tiles as the cp.async kernels and compute as they do, so O, O's residual and the LSE are
 * the same bits (ccalab.flash.tma on against off), for the grid and the persistent walk, causal and full, windows,
 * grouped heads, ragged tails (TMA's out-of-bounds zeros), batches and value-shifted heads (V's row -1, a negative
 * coordinate); and O is within the flash check's 8e-3 of the float64 CPU kernel where no head is shifted.
 */
@Tag("gpu")
class CudaTmaForwardGpuTest {
    private static final double OUT_BOUND = 8e-3;

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    private record Case(int headDim, int qHeads, int kvHeads, int batch, int tokens, boolean causal, int window,
                        int vShiftFrom, boolean persistent) {
        AttentionShape shape() {
            return new AttentionShape(batch, tokens, qHeads, kvHeads, headDim);
        }

        @Override
        public String toString() {
            return "D" + headDim + " " + qHeads + "q/" + kvHeads + "kv B" + batch + " T" + tokens
                    + (causal ? " causal" : " full") + (window > 0 ? " W" + window : "")
                    + (vShiftFrom < kvHeads ? " V shifted from head " + vShiftFrom : "") + (persistent ? " persistent" : " grid");
        }
    }

    @Test
    void theTmaForwardsEqualTheCpAsyncKernelsBitsAndFloat64() {
        List<Case> cases = new ArrayList<>();
        for (int d : new int[] {64, 128}) {
            cases.add(new Case(d, 2, 2, 1, 700, true, 0, 2, false));      // ragged tail, one block column per head
            cases.add(new Case(d, 4, 1, 3, 1000, true, 0, 0, false));     // every KV head shifted: row -1 as zeros
            cases.add(new Case(d, 8, 2, 2, 1100, false, 0, 1, false));    // full, half the KV heads shifted
            cases.add(new Case(d, 4, 2, 2, 1500, true, 300, 2, false));   // a window across key tiles
            cases.add(new Case(d, 2, 1, 44, 390, true, 0, 1, true));      // persistent: 2-3 items per block
            cases.add(new Case(d, 4, 2, 33, 700, true, 200, 2, true));    // persistent windows, 6 items per block
        }
        if (!hopper()) return;
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            long seed = 700 + cases.indexOf(c);
            ForwardBits copied = run("off", c, seed), tma = run("on", c, seed);
            boolean same = tma.sameBits(copied);
            if (!same) failures.add(c + ": the TMA forward's bits differ from the cp.async kernel's");
            String vs = "";
            if (c.vShiftFrom() == c.kvHeads()) {
                AttentionShape s = c.shape();
                double[] q = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.qElements(), seed)),
                        k = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1)),
                        v = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2));
                double[] o = new double[q.length], lse = new double[c.batch() * c.qHeads() * c.tokens()];
                ref.forward(o, lse, q, k, v, new AttentionKernel.Dims(c.batch(), c.tokens(), c.qHeads(), c.kvHeads(),
                        c.headDim(), c.headDim(), 1 / Math.sqrt(c.headDim()), c.causal(), c.window()));
                double err = Err.of(Bf16.toDoubles(tma.o()), o).rel();
                vs = String.format(Locale.ROOT, ", O rel %.2e against float64", err);
                if (!(err < OUT_BOUND)) failures.add(c + ": O rel " + err);
            }
            System.out.printf(Locale.ROOT, "tma %s: bits %s the cp.async kernel's%s%n", c, same ? "equal to" : "NOT equal to", vs);
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void theAutoRuleTakesTmaAtD128AndAtD64WhenPersistentOrFull() {
        if (!hopper()) return;
        try (CudaBackend cuda = CudaBackend.open()) {  // the defaults: ccalab.flash.tma = auto
            AttentionShape d128 = new AttentionShape(1, 16384, 16, 16, 128), d64 = new AttentionShape(1, 16384, 16, 16, 64);
            assertThat(cuda.persistentForward(d128, true, 0)).isFalse();
            assertThat(cuda.tmaForward(d128, true, false)).isTrue();
            assertThat(cuda.persistentForward(d64, true, 0)).isTrue();
            assertThat(cuda.tmaForward(d64, true, true)).isTrue();
            assertThat(cuda.tmaForward(d64, true, false)).isFalse();
            assertThat(cuda.tmaForward(d64, false, false)).isTrue();
        }
    }

    private static boolean hopper() {
        try (CudaBackend cuda = CudaBackend.open()) {
            boolean wgmma = cuda.flashVariant(new AttentionShape(1, 16, 2, 2, 64)) == CudaKernels.FlashVariant.WGMMA;
            if (!wgmma) System.out.println("tma forward: no sm_90a image here, nothing to check");
            return wgmma;
        }
    }

    /** One forward with O's residual (the training instance) under ccalab.flash.tma = {@code tma}. */
    private static ForwardBits run(String tma, Case c, long seed) {
        AttentionShape s = c.shape();
        int rows = c.batch() * c.qHeads() * c.tokens();
        try (CudaBackend cuda = open(tma, c.persistent() ? "on" : "off");
             DeviceBuffer dq = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), seed));
             DeviceBuffer dk = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1));
             DeviceBuffer dv = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2));
             DeviceBuffer out = cuda.allocate(s.qElements() * 2); DeviceBuffer oLo = cuda.allocate(s.qElements() * 2);
             DeviceBuffer l = cuda.allocate(rows * 4L)) {
            assertThat(cuda.persistentForward(s, c.causal(), c.window())).as(tma + " " + c).isEqualTo(c.persistent());
            assertThat(cuda.tmaForward(s, c.causal(), c.persistent())).as(tma + " " + c).isEqualTo(tma.equals("on"));
            cuda.poison(out);
            cuda.poison(oLo);
            cuda.poison(l);
            if (c.window() > 0) {
                assertThat(c.vShiftFrom()).as("the windowed entry point shifts no head").isEqualTo(c.kvHeads());
                cuda.flashForwardWindowed(out, oLo, l, dq, dk, dv, s, c.window());
            } else {
                cuda.flashForward(out, oLo, l, dq, dk, dv, s, c.causal(), c.vShiftFrom(), 1 / Math.sqrt(c.headDim()));
            }
            return new ForwardBits(cuda.downloadBf16(out, (int) s.qElements()), cuda.downloadBf16(oLo, (int) s.qElements()),
                    cuda.downloadFloats(l, rows));
        }
    }

    private static CudaBackend open(String tma, String persistent) {
        return BackendProperties.open(Map.of("ccalab.flash.tma", tma, "ccalab.flash.persistent", persistent));
    }
}
