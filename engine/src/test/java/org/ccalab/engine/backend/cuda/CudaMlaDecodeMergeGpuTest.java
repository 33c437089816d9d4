package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Random;
import org.ccalab.engine.backend.cuda.CudaMlaKernels.DecodeInstance;
import org.ccalab.engine.backend.cuda.CudaMlaKernels.DecodeSplit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * On a GPU host: the absorbed MLA decode (the ring split kernel at R = 512 / 448, the session-2 kernel at 960, the
 * padded rings at other widths) with
 * each merge of its partials forced (split + combine, and the ring's fused merge where the grid is co-resident) and
 * with the rule's choice, at several split counts, against the float64 CPU decode of the same bf16 cache as MQA over
 * the latent rows. Two consecutive calls on different inputs with a poisoned output each: a fused-merge counter left
 * wrong by the first call would merge before the second call's partials are written, or never release. After every
 * fused call each head group's 64-bit counter (common/mma.cuh group_arrive_share) has moved by exactly 2^32 (its
 * low word back at zero, whatever the split count), and split + combine leaves it alone. The counters start one
 * launch short of their wrap (high words 0xffffffff), so the first fused call wraps them.
 */
@Tag("gpu")
class CudaMlaDecodeMergeGpuTest {
    /** fp32 output; the bf16 probabilities in P C are the one rounding (~2e-3): the CLI check's bound. */
    private static final double TOLERANCE = 8e-3;

    @ParameterizedTest(name = "B{0} H{1} L{2} cap{3} R{4} DR{5}")
    @CsvSource({"1, 16, 16384, 16384, 512, 64", "1, 16, 5000, 5100, 448, 64", "3, 16, 1000, 1024, 512, 64",
            "1, 32, 3000, 3000, 512, 64", "2, 20, 555, 600, 512, 64", "1, 16, 33, 40, 960, 64",
            // the padded ("any") rings, session 13: r_kv 256 (head dim 64's kvMatched), 200 with d_r 32, 96 with no rope
            "1, 16, 8000, 8000, 256, 64", "2, 20, 555, 600, 200, 32", "1, 16, 3000, 3100, 96, 0",
            // and above 512: the split kernel at 960, padded (split + combine only)
            "1, 16, 3000, 3000, 640, 64", "2, 20, 555, 600, 776, 32"})
    void everyMergeAndSplitCountMatchesTheFloat64ReferenceTwiceInARow(int b, int h, int length, int capacity, int r, int dr) {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        AttentionKernel ref = CpuBackend.create().attention();
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaMla mla = new CudaMla(cuda);
            DecodeInstance inst = mla.decodeInstance(r, dr);
            int words = 2 * CudaMlaKernels.ceil(h, CudaMlaKernels.DECODE_HEADS_PER_BLOCK) * b;
            SpinCounters.setNearWrap(cuda, cuda.mlaSpinCounters(words), words);
            int checked = 0;
            for (int splits : new int[] {0, 1, 7, 64, 132}) {
                DecodeSplit sp = splits > 0 ? CudaMlaKernels.forcedDecodeSplit(length, inst, splits)
                        : CudaMlaKernels.decodeSplit(b, h, length, inst, cuda.multiprocessors(), mla.limits().smemPerMultiprocessor());
                for (Boolean fused : new Boolean[] {null, false, true}) {
                    String what = inst.name() + " B" + b + " H" + h + " L" + length + " splits " + splits + " -> "
                            + sp.splits() + (fused == null ? " rule" : fused ? " fused" : " split+combine");
                    if (fused == Boolean.TRUE && (!inst.ring() || !mla.fusedMergeFits(inst, sp, b, h))) {
                        assertThatThrownBy(() -> decodeOnce(cuda, mla, ref, inst, sp, b, h, length, capacity, r, dr, true, 0))
                                .as(what).hasMessageContaining("fused merge refused");
                        continue;
                    }
                    boolean runsFused = fused != null ? fused
                            : inst.ring() && mla.fusedMergeFits(inst, sp, b, h) && sp.splits() >= CudaMlaKernels.SPIN_MIN_SPLITS;
                    for (int rep = 0; rep < 2; rep++) {
                        int[] before = SpinCounters.read(cuda, cuda.mlaSpinCounters(words), words);
                        Err e = decodeOnce(cuda, mla, ref, inst, sp, b, h, length, capacity, r, dr, fused, 100L * splits + rep);
                        System.out.printf("mla decode %s call %d: rel %.2e vs float64%n", what, rep, e.rel());
                        assertThat(e.rel()).as(what + " call " + rep).isLessThan(TOLERANCE);
                        SpinCounters.assertLaunches(before, SpinCounters.read(cuda, cuda.mlaSpinCounters(words), words),
                                runsFused ? 1 : 0, what + " call " + rep);
                        checked++;
                    }
                }
            }
            assertThat(checked).isGreaterThanOrEqualTo(20);
        }
    }

    private static Err decodeOnce(CudaBackend cuda, CudaMla mla, AttentionKernel ref, DecodeInstance inst, DecodeSplit sp,
                                  int b, int h, int length, int capacity, int r, int dr, Boolean fused, long seed) {
        int dk = r + dr;
        double scale = 1 / Math.sqrt(128 + dr);
        short[] cache = Random.bf16((long) b * capacity * dk, 500 + seed), qa = Random.bf16((long) b * h * dk, 900 + seed);
        double[] rows = Bf16.toDoubles(cache), values = new double[b * capacity * r];
        for (int i = 0; i < b * capacity; i++) System.arraycopy(rows, i * dk, values, i * r, r);
        double[] want = new double[b * h * r];
        ref.decode(want, Bf16.toDoubles(qa), rows, values, capacity, length, b, h, 1, dk, r, scale);
        try (DeviceBuffer dc = cuda.uploadBf16(cache); DeviceBuffer dq = cuda.uploadBf16(qa);
             DeviceBuffer out = cuda.allocate((long) want.length * 4)) {
            cuda.poison(out);
            mla.decode(out, dq, dc, b, length, capacity, h, r, dr, scale, inst, sp, fused);
            float[] got = cuda.downloadFloats(out, want.length);
            double[] g = new double[got.length];
            for (int i = 0; i < g.length; i++) g[i] = got[i];
            return Err.of(g, want);
        }
    }
}
