package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Stats;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Variant;

/**
 * The CCA paper's kernel benchmark (../shared/spec/cca.md section 9) as the paper lays it out: E = 2048, head dims
 * 64, 128 and 256, the methods MHA, GQA-4, GQA-8, CCA-4x and CCA-2x8x (query compression 2, KV compression 8) at
 * each, latency in ms (not TFLOP/s) for the forward non-causal ("prefill"), the forward causal and the backward
 * non-causal, and the speedups the paper reports at 16k printed beside ours.
 *
 * <p>What is timed is the attention op, as the paper's "attention latency" figures: MHA/GQA the flash core;
 * CCA the fused prologue (both convolutions, q-k mean, L2 norm with key temperature, RoPE on half the dims) plus the
 * core with the value shift fused where the KV heads pair up (a separate shift kernel otherwise). The backward is the
 * core's for every method: the CCA prologue's backward lives inside CudaCcaLayer.backward and is timed with the
 * projections in the {@code layer} phase. MLA is not on this grid (its head dims are 192 / 128); the {@code mla}
 * phase times it at the same width.
 */
final class CudaPaperBenchmark {
    static final int[] HEAD_DIMS = {64, 128, 256};

    /** A method of the paper's figures: query heads E / (d qDiv), KV heads E / (d kvDiv). */
    record Method(String name, String family, int qDiv, int kvDiv) {
        Variant at(int headDim) {
            int hq = CudaBenchCli.E / (headDim * qDiv), hkv = CudaBenchCli.E / (headDim * kvDiv);
            return new Variant(name + " " + hq + "q/" + hkv + "kv d" + headDim, family, hq, hkv, headDim);
        }

        boolean compressed() {
            return family.startsWith("cc");
        }
    }

    static final List<Method> METHODS = List.of(new Method("MHA", "mha", 1, 1), new Method("GQA-4", "gqa", 1, 4),
            new Method("GQA-8", "gqa", 1, 8), new Method("CCA-4x", "cca", 4, 4), new Method("CCA-2x8x", "ccgqa", 2, 8));

    /** The paper's reported speedups at S = 16k (cca.md section 9, text only): baseline / method latency. */
    static final String PAPER_CLAIMS = "paper at 16k: CCA-4x vs MHA 1.6-1.7x non-causal, 1.6-1.9x causal, 1.2-1.3x backward; "
            + "vs GQA-8 1.3-1.4x non-causal; CCA-2x8x vs MHA 1.3-1.4x, vs GQA-8 1.1-1.3x";

    /** The three timed passes, in the paper's figure order. */
    enum Pass { FORWARD_NON_CAUSAL, FORWARD_CAUSAL, BACKWARD_NON_CAUSAL }

    private final CudaBenchCli cli;
    private final CudaBackend cuda;

    CudaPaperBenchmark(CudaBenchCli cli, CudaBackend cuda) {
        this.cli = cli;
        this.cuda = cuda;
    }

    /** Times every (head dim, S, method, pass), adds the cells and the latency and speedup tables. */
    void run(int[] seqs) {
        List<String> rows = new ArrayList<>();
        rows.add("== paper kernel benchmark (cca.md section 9): E=2048, batch 1, latency ms p50 of CUDA graph replays; "
                + "CCA = prologue + core ==");
        rows.add("   " + PAPER_CLAIMS);
        for (int d : HEAD_DIMS) {
            rows.add(String.format(Locale.ROOT, "-- head dim %d: %s", d, String.join(", ",
                    METHODS.stream().map(m -> m.at(d).name()).toList())));
            rows.add(String.format(Locale.ROOT, "%-10s %7s %12s %12s %12s   %s", "method", "S", "fwd n-c", "fwd causal",
                    "bwd n-c", "MHA / method (n-c, causal, bwd); GQA-8 / method (n-c)"));
            for (int t : seqs) {
                Map<String, double[]> ms = new LinkedHashMap<>();
                for (Method m : METHODS) ms.put(m.name(), time(m.at(d), m.compressed(), t));
                double[] mha = ms.get("MHA"), gqa8 = ms.get("GQA-8");
                for (Method m : METHODS) {
                    double[] x = ms.get(m.name());
                    String ratios = m.name().equals("MHA") ? "" : String.format(Locale.ROOT, "%5.2fx %5.2fx %5.2fx; %5.2fx",
                            mha[0] / x[0], mha[1] / x[1], mha[2] / x[2], gqa8[0] / x[0]);
                    rows.add(String.format(Locale.ROOT, "%-10s %7d %12.3f %12.3f %12.3f   %s", m.name(), t, x[0], x[1], x[2], ratios));
                }
            }
        }
        rows.forEach(cli::addRow);
    }

    /** {fwd non-causal, fwd causal, bwd non-causal} p50 ms of one method at one length; each also becomes a cell. */
    private double[] time(Variant v, boolean compressed, int t) {
        int hq = v.qHeads(), hkv = v.kvHeads(), d = v.headDim();
        AttentionShape s = new AttentionShape(1, t, hq, hkv, d);
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer q = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), 51)));
            DeviceBuffer k = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), 52)));
            DeviceBuffer vv = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), 53)));
            DeviceBuffer o = keep(held, cuda.allocate(s.qElements() * 2)), lse = keep(held, cuda.allocate((long) hq * t * 4));
            Prologue prologue = compressed ? new Prologue(held, s) : null;
            double[] out = new double[3];
            for (Pass pass : Pass.values()) {
                boolean causal = pass == Pass.FORWARD_CAUSAL;
                Stats st;
                if (pass == Pass.BACKWARD_NON_CAUSAL) {
                    DeviceBuffer g = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16(s.qElements(), 54)));
                    DeviceBuffer dq = keep(held, cuda.allocate(s.qElements() * 4)), dk = keep(held, cuda.allocate(s.kvElements() * 4));
                    DeviceBuffer dv = keep(held, cuda.allocate(s.kvElements() * 4));
                    cuda.flashForward(o, lse, q, k, vv, s, false, hkv);
                    st = time(i -> cuda.flashBackward(dq, dk, dv, q, k, vv, o, lse, g, s, false));
                } else if (prologue != null) {
                    st = time(i -> prologue.forward(o, lse, causal));
                } else {
                    st = time(i -> cuda.flashForward(o, lse, q, k, vv, s, causal, hkv));
                }
                out[pass.ordinal()] = st.p50();
                cli.paperCell(pass == Pass.BACKWARD_NON_CAUSAL ? "backward" : "forward",
                        compressed && pass != Pass.BACKWARD_NON_CAUSAL ? "core+prologue" : "core", v, t, st, causal);
            }
            return out;
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /**
     * The kernels' own time: replays of a CUDA graph. Eager launches through JCuda cost ~20-30 us of host time each
     * (run s6-paper-2: MHA's one-kernel core read 25 us at S = 512, CCA's two kernels 60 us), which at short S is
     * the whole figure and would rank the methods by launch count. Eager where a body cannot be captured.
     */
    private Stats time(java.util.function.IntConsumer body) {
        Stats graph = cli.timeGraph(body);
        return graph != null ? graph : cli.time(body);
    }

    /** The CCA/CCGQA forward op: prologue from the packed projections z, then the core (value shift fused or not). */
    private final class Prologue {
        private final AttentionShape s;
        private final DeviceBuffer z, q, k, v, shifted;
        private final CcaPrologueWeights w;
        private final CudaBackend.PrologueOptions opt;
        private final boolean fusedShift;

        Prologue(List<DeviceBuffer> held, AttentionShape s) {
            this.s = s;
            int hq = s.qHeads(), hkv = s.kvHeads(), d = s.headDim();
            z = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16((long) s.tokens() * (hq + hkv) * d, 55)));
            q = keep(held, cuda.allocate(s.qElements() * 2));
            k = keep(held, cuda.allocate(s.kvElements() * 2));
            v = keep(held, cuda.uploadBf16(CudaBenchCli.Random.bf16(s.kvElements(), 56)));
            w = CudaBenchCli.randomPrologueWeights(cuda, held, hq, hkv, d);
            opt = new CudaBackend.PrologueOptions(d / 2, 10000.0, KeyTemperature.EXP, 1e-12, true);
            // The fused shift delays the second half of the KV heads; one KV head needs the separate kernel.
            fusedShift = hkv % 2 == 0;
            shifted = fusedShift ? v : keep(held, cuda.allocate(s.kvElements() * 2));
        }

        void forward(DeviceBuffer o, DeviceBuffer lse, boolean causal) {
            cuda.ccaPrologue(q, k, z, w, s, opt);
            if (!fusedShift) cuda.valueShift(shifted, v, 1, s.tokens(), s.kvHeads() * s.headDim());
            cuda.flashForward(o, lse, q, k, shifted, s, causal, fusedShift ? s.kvHeads() / 2 : s.kvHeads());
        }
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer b) {
        held.add(b);
        return b;
    }
}
