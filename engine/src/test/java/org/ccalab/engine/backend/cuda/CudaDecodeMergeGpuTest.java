package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBackend.DecodeMerge;
import org.ccalab.engine.backend.cuda.CudaBackend.DecodeSplit;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Variant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * On a GPU host: decode v3 with each merge of its split partials (the last block alone, or SPIN: every block a
 * slice once all splits arrived) forced, at several split counts, against the float64 CPU kernel and the GPU
 * prefill's last row (the decode query is that row). Two consecutive calls on different inputs with a poisoned
 * output each: a counter left non-zero by the first call would make the second merge nothing (LAST_BLOCK: the
 * output stays poisoned) or merge before the partials are written (SPIN: the first call's partials). After every SPIN
 * call each KV head's 64-bit counter (common/mma.cuh group_arrive_share) has moved by exactly 2^32 (its low word back
 * at zero, whatever the split count). The counters start one launch short of their wrap, so the first SPIN call
 * wraps them.
 */
@Tag("gpu")
class CudaDecodeMergeGpuTest {
    /** bf16 inputs and output, fp32 accumulation: the backend check's decode bound. */
    private static final double TOLERANCE = 8e-3;

    @ParameterizedTest(name = "B{0} L{1} cap{2} {3}q/{4}kv D{5}")
    @CsvSource({"1, 16384, 16384, 8, 2, 128", "1, 3000, 3100, 16, 4, 128", "2, 700, 1000, 8, 2, 128",
            "1, 5000, 5000, 4, 4, 64", "1, 2049, 2049, 8, 1, 256", "1, 65, 80, 8, 8, 128"})
    void everyMergeAndSplitCountMatchesTheFloat64ReferenceTwiceInARow(int b, int length, int capacity, int hq, int hkv,
                                                                       int d) {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        AttentionKernel ref = CpuBackend.create().attention();
        Variant v = new Variant(hq + "q/" + hkv + "kv d" + d, "gqa", hq, hkv, d);
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaBenchCli cli = new CudaBenchCli(cuda, 1);
            int g = hq / hkv, checked = 0, words = 2 * b * hkv;
            SpinCounters.setNearWrap(cuda, cuda.decodeSpinCounters(words), words);
            for (int splits : new int[] {0, 1, 3, 17, 64, 256}) {
                DecodeSplit sp = splits > 0 ? CudaBackend.forcedDecodeSplit(length, d, splits)
                        : CudaBackend.decodeSplit(b, hq, hkv, length, d, cuda.multiprocessors());
                if (!sp.fused()) continue;
                for (DecodeMerge merge : DecodeMerge.values()) {
                    String what = v.name() + " B" + b + " L" + length + " splits " + splits + " -> " + sp.splits() + " " + merge;
                    if (merge == DecodeMerge.SPIN && !cuda.decodeSpinFits(d, g, sp.splits() * hkv * b)) {
                        assertThatThrownBy(() -> decodeOnce(cli, cuda, ref, v, b, length, capacity, splits, merge, 0))
                                .as(what).hasMessageContaining("not co-resident");
                        continue;
                    }
                    // a single split (or cluster) writes O itself: no arrival
                    boolean spin = cuda.decodeMerge(merge, sp, b, hkv, d, g) == DecodeMerge.SPIN && sp.partials() > 1;
                    for (int rep = 0; rep < 2; rep++) {
                        int[] before = SpinCounters.read(cuda, cuda.decodeSpinCounters(words), words);
                        Err[] e = decodeOnce(cli, cuda, ref, v, b, length, capacity, splits, merge, 10 * splits + rep);
                        SpinCounters.assertLaunches(before, SpinCounters.read(cuda, cuda.decodeSpinCounters(words), words),
                                spin ? 1 : 0, what + " call " + rep);
                        System.out.printf("decode merge %s call %d: rel %.2e vs float64, %.2e vs prefill row%n", what, rep,
                                e[0].rel(), e[1].rel());
                        assertThat(e[0].rel()).as(what + " call " + rep + " vs float64").isLessThan(TOLERANCE);
                        assertThat(e[1].rel()).as(what + " call " + rep + " vs the prefill's last row").isLessThan(TOLERANCE);
                        checked++;
                    }
                }
            }
            assertThat(checked).isGreaterThanOrEqualTo(6);
            // The shipped rule at batch 1, 8q/2kv 16k (one block per SM): AUTO takes SPIN on any device it fits.
            DecodeSplit auto = CudaBackend.decodeSplit(1, 8, 2, 16384, 128, cuda.multiprocessors());
            assertThat(cuda.decodeMerge(DecodeMerge.AUTO, auto, 1, 2, 128, 4)).isEqualTo(DecodeMerge.SPIN);
        }
    }

    private static Err[] decodeOnce(CudaBenchCli cli, CudaBackend cuda, AttentionKernel ref, Variant v, int b, int length,
                                    int capacity, int splits, DecodeMerge merge, long seed) {
        return cli.decodeErrors(ref, v, b, length, capacity, seed, (o, q, k, vc) -> cuda.decode(o, q, k, vc, b, length,
                capacity, v.qHeads(), v.kvHeads(), v.headDim(), splits, merge));
    }
}
