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
 * On a Hopper GPU host (tag {@code gpu}; skipped in substance where the sm_90a image does not run): the persistent
 * forward ("4p", CudaKernels.PERSISTENT_SUFFIX), whose blocks walk several (query tile, head) items with their K/V
 * ring running on across items, computes each item as the grid's v4 kernel does: the same bits for O, O's rounding
 * residual and the LSE (ccalab.flash.persistent on against off), and O within the flash check's 8e-3 of the float64
 * CPU kernel. The batched cases leave two to ten items to each block (P = SMs / B blocks per batch entry), ragged
 * tails, grouped heads and windows that cross key tiles; one shape large enough for the auto rule checks that the
 * rule picks the persistent kernel and that it equals the grid's.
 */
@Tag("gpu")
class CudaPersistentForwardGpuTest {
    private static final double OUT_BOUND = 8e-3;

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    private record Case(int headDim, int qHeads, int kvHeads, int batch, int tokens, int window) {
        AttentionShape shape() {
            return new AttentionShape(batch, tokens, qHeads, kvHeads, headDim);
        }

        @Override
        public String toString() {
            return "D" + headDim + " " + qHeads + "q/" + kvHeads + "kv B" + batch + " T" + tokens + (window > 0 ? " W" + window : "");
        }
    }

    @Test
    void thePersistentForwardEqualsTheGridsBitsAndFloat64() {
        List<Case> cases = List.of(
                new Case(64, 2, 1, 44, 390, 0),    // P = 3 blocks per entry, 8 items each: 2-3 per block
                new Case(64, 4, 2, 33, 700, 200),  // P = 4, 24 windowed items: 6 per block
                new Case(128, 4, 1, 3, 1000, 0),   // grouped heads, ragged tail
                new Case(128, 4, 2, 66, 520, 130)); // P = 2, 20 items: 10 per block, a window one key past a tile
        if (!hopper()) return;
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            long seed = 500 + cases.indexOf(c);
            ForwardBits grid = run("off", c, seed, false), walked = run("on", c, seed, true);
            if (!walked.sameBits(grid)) failures.add(c + ": the persistent forward's bits differ from the grid's");
            AttentionShape s = c.shape();
            double[] q = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.qElements(), seed)),
                    k = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1)),
                    v = Bf16.toDoubles(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2));
            double[] o = new double[q.length], lse = new double[c.batch() * c.qHeads() * c.tokens()];
            ref.forward(o, lse, q, k, v, new AttentionKernel.Dims(c.batch(), c.tokens(), c.qHeads(), c.kvHeads(),
                    c.headDim(), c.headDim(), 1 / Math.sqrt(c.headDim()), true, c.window()));
            double err = Err.of(Bf16.toDoubles(walked.o()), o).rel();
            System.out.printf(Locale.ROOT, "persistent %s: O rel %.2e against float64, bits %s the grid's%n", c, err,
                    walked.sameBits(grid) ? "equal to" : "NOT equal to");
            if (!(err < OUT_BOUND)) failures.add(c + ": O rel " + err);
        }
        assertThat(failures).isEmpty();
    }

    /** The cp.async kernels' rule (ccalab.flash.tma = off; CudaTmaForwardGpuTest checks the TMA kernels' wider one). */
    @Test
    void theAutoRuleTakesThePersistentKernelForShortCausalItems() {
        Case c = new Case(64, 16, 16, 1, 4096, 0);
        if (!hopper()) return;
        try (CudaBackend cuda = BackendProperties.open(Map.of("ccalab.flash.persistent", "auto", "ccalab.flash.tma", "off"))) {
            assertThat(cuda.persistentForward(c.shape(), true, 0)).isTrue();
            assertThat(cuda.persistentForward(new AttentionShape(1, 16384, 16, 16, 64), true, 0)).isFalse();
            assertThat(cuda.persistentForward(new AttentionShape(1, 16384, 16, 16, 64), true, 512)).isTrue();
            assertThat(cuda.persistentForward(c.shape(), false, 0)).isFalse();
            // 8 x 16 heads of 2048 x 64: 67 MB of K/V, more than the L2 keeps for a walk over every head at once
            assertThat(cuda.persistentForward(new AttentionShape(8, 2048, 16, 16, 64), true, 0)).isFalse();
        }
        assertThat(run("auto", c, 600, true).sameBits(run("off", c, 600, false))).isTrue();
    }

    private static boolean hopper() {
        try (CudaBackend cuda = open("auto")) {
            boolean wgmma = cuda.flashVariant(new AttentionShape(1, 16, 2, 2, 64)) == CudaKernels.FlashVariant.WGMMA;
            if (!wgmma) System.out.println("persistent forward: no sm_90a image here, nothing to check");
            return wgmma;
        }
    }

    /** One forward with O's residual (the training instance) under ccalab.flash.persistent = {@code mode}. */
    private static ForwardBits run(String mode, Case c, long seed, boolean expectPersistent) {
        AttentionShape s = c.shape();
        int rows = c.batch() * c.qHeads() * c.tokens();
        try (CudaBackend cuda = open(mode); DeviceBuffer dq = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), seed));
             DeviceBuffer dk = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 1));
             DeviceBuffer dv = cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), seed + 2));
             DeviceBuffer out = cuda.allocate(s.qElements() * 2); DeviceBuffer oLo = cuda.allocate(s.qElements() * 2);
             DeviceBuffer l = cuda.allocate(rows * 4L)) {
            assertThat(cuda.persistentForward(s, true, c.window())).as(mode + " " + c).isEqualTo(expectPersistent);
            cuda.poison(out);
            cuda.poison(oLo);
            cuda.poison(l);
            if (c.window() > 0) cuda.flashForwardWindowed(out, oLo, l, dq, dk, dv, s, c.window());
            else cuda.flashForward(out, oLo, l, dq, dk, dv, s, true, c.kvHeads(), 1 / Math.sqrt(c.headDim()));
            return new ForwardBits(cuda.downloadBf16(out, (int) s.qElements()), cuda.downloadBf16(oLo, (int) s.qElements()),
                    cuda.downloadFloats(l, rows));
        }
    }

    private static CudaBackend open(String mode) {
        return BackendProperties.open(Map.of("ccalab.flash.persistent", mode));
    }
}
