package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.cost.CostModel;

/**
 * CudaBenchCli's {@code ovq} phase: OVQ's kernels checked against float64 ({@link CudaOvqCheck}), then its prefill,
 * backward (the training forward + backward less the training forward) and decode beside MHA's (flash forward and
 * backward, split-KV decode) at the same width and heads, 16 heads of 64 and of 128, the
 * spec's defaults (chunk 64, N_max 1024 reached at 4096 tokens), batch 1, over the given lengths: the curve that
 * shows OVQ's linear prefill and constant decode against attention's quadratic prefill and growing cache. Decode
 * times are graph replays over L2-cold state copies, each step appending its token (folds included).
 */
final class CudaOvqCli {
    static final int HEADS = 16;

    private final CudaBenchCli cli;
    private final CudaBackend cuda;

    CudaOvqCli(CudaBenchCli cli, CudaBackend cuda) {
        this.cli = cli;
        this.cuda = cuda;
    }

    void run(int[] seqs) {
        checks();
        cli.addRow("== OVQ (chunk 64, N_max 1024, growth 4096) vs MHA causal flash, batch 1, 16 heads: prefill ms and decode"
                + " us per token (state read GB/s) ==");
        for (int d : CudaOvq.HEAD_DIMS) {
            OvqConfig cfg = new OvqConfig(HEADS * d, HEADS);
            for (int t : seqs) time(cfg, t);
        }
    }

    private void checks() {
        OvqSpec small = new OvqSpec(16, 48, 256, null, null, null, null, null, null, null, null, 0);
        check("core D 64 L 16 N_max 48, B 2 x 3 heads, T 333", CudaOvqCheck.core(cuda, small, 64, 2, 3, 333, List.of(333), 1));
        check("core D 64 L 16, T 333 as 100 + 57 + 20 decode steps + 156",
                CudaOvqCheck.core(cuda, small, 64, 2, 3, 333, pieces(), 1));
        check("core D 128 defaults, T 700, decode from 600", CudaOvqCheck.core(cuda, OvqSpec.DEFAULT, 128, 1, 2, 700,
                CudaOvqCheck.decodePieces(600, 700), 2));
        check("core D 64 L 64 N_max 1100 (three row tiles per block), T 1400", CudaOvqCheck.core(cuda,
                new OvqSpec(64, 1100, 1100, org.ccalab.common.variant.OvqGrowth.LINEAR, null, null, null, null, null, null, null, 0),
                64, 1, 1, 1400, List.of(1400), 3));
        checkBackward("backward D 64 L 16 N_max 48, B 2 x 3 heads, T 333", CudaOvqCheck.backward(cuda, small, 64, 2, 3, 333, 5));
        checkBackward("backward D 128 defaults, T 700", CudaOvqCheck.backward(cuda, OvqSpec.DEFAULT, 128, 1, 2, 700, 6));
        checkBackward("backward D 64 L 64 N_max 1100, T 1400", CudaOvqCheck.backward(cuda,
                new OvqSpec(64, 1100, 1100, org.ccalab.common.variant.OvqGrowth.LINEAR, null, null, null, null, null, null, null, 0),
                64, 1, 1, 1400, 7));
        checkBackward("backward D 128 renormalised, CONSTANT, T 300", CudaOvqCheck.backward(cuda, new OvqSpec(16, 64, 256,
                null, null, org.ccalab.common.variant.OvqUpdate.CONSTANT, 0.3, null, true, null, null, 0), 128, 1, 2, 300, 8));
        CudaOvqCheck.LayerBackward lb = CudaOvqCheck.layerBackward(cuda, new OvqConfig(2048, 16), 1, 130, 9);
        cli.record("check", String.format(Locale.ROOT, "ovq layer backward E 2048 16 x 128, T 130 (dx %.1e dWq %.1e dWk %.1e"
                        + " dWv %.1e dWo %.1e dbeta %.1e)", lb.dx().rel(), lb.dWq().rel(), lb.dWk().rel(), lb.dWv().rel(),
                lb.dWo().rel(), lb.dBeta().rel()), lb.worst().rel() < 1e-2, lb.worst(), Map.of());
        CudaBenchCli.Err layer = CudaOvqCheck.layer(cuda, new OvqConfig(2048, 16), 1, 130, 100, 4);
        cli.record("check", "ovq layer E 2048 16 x 128, T 130 (decode from 100)", layer.rel() < 1e-2, layer, Map.of());
    }

    private static List<Integer> pieces() {
        List<Integer> p = new ArrayList<>(List.of(100, 57));
        for (int i = 0; i < 20; i++) p.add(1);
        p.add(156);
        return p;
    }

    /** As CudaOvqGpuTest: dictionaries equal, the reads within 3e-3, every gradient within 1e-4 of float64's. */
    private void checkBackward(String name, CudaOvqCheck.Backward r) {
        boolean ok = r.dictionariesMatch() && r.forward().rel() < 3e-3 && r.worst().rel() < 1e-4;
        cli.record("check", String.format(Locale.ROOT, "ovq %s (dq %.1e dk %.1e dv %.1e dbeta %.1e, forward %.1e%s)", name,
                r.dq().rel(), r.dk().rel(), r.dv().rel(), r.dBeta().rel(), r.forward().rel(),
                r.dictionariesMatch() ? "" : ", DICTIONARIES DIFFER"), ok, r.worst(), Map.of("dictionariesMatch", r.dictionariesMatch()));
    }

    private void check(String name, CudaOvqCheck.Core r) {
        cli.record("check", "ovq " + name + " (" + r.detail() + ")", r.dictionariesMatch() && r.err().rel() < 3e-3, r.err(),
                Map.of("dictionariesMatch", r.dictionariesMatch()));
    }

    private void time(OvqConfig cfg, int t) {
        int h = cfg.nHeads(), d = cfg.headDim();
        long n = (long) t * h * d;
        List<DeviceBuffer> held = new ArrayList<>();
        try (CudaOvq core = new CudaOvq(cuda, cfg.ovq(), d); CudaOvq.State st = core.newState(1, h)) {
            DeviceBuffer q = keep(held, random(n, 1)), k = keep(held, random(n, 2)), v = keep(held, random(n, 3));
            core.l2normalize(q, (long) t * h);
            core.l2normalize(k, (long) t * h);
            DeviceBuffer beta = keep(held, cuda.uploadFloats(betas(h, d))), o = keep(held, cuda.allocate(n * 2));
            CudaBenchCli.Stats pre = cli.time(i -> {
                st.reset();
                core.run(st, o, q, k, v, beta, t);
            });
            // MHA at the same shape: the flash forward, causal
            AttentionShape s = new AttentionShape(1, t, h, h, d);
            DeviceBuffer lse = keep(held, cuda.allocate((long) h * t * 4));
            CudaBenchCli.Stats mha = cli.time(i -> cuda.flashForward(o, lse, q, k, v, s, true, h));
            // training: the recording forward, then forward + backward (the backward consumes the state)
            DeviceBuffer dO = keep(held, random(n, 7)), dq = keep(held, cuda.allocate(4 * n)),
                    dk = keep(held, cuda.allocate(4 * n)), dv = keep(held, cuda.allocate(4 * n)),
                    dBeta = keep(held, cuda.allocate(4L * h));
            CudaBenchCli.Stats trainFwd, trainBoth;
            try (CudaOvq.Records rec = core.newRecords(1, h, t)) {
                trainFwd = cli.time(i -> core.runForTraining(st, rec, o, q, k, v, beta, t));
                trainBoth = cli.time(i -> {
                    core.runForTraining(st, rec, o, q, k, v, beta, t);
                    core.backward(st, rec, dq, dk, dv, dBeta, dO, q, k, v, beta, t);
                });
            }
            cuda.flashForward(o, lse, q, k, v, s, true, h);
            CudaBenchCli.Stats mhaBwd = cli.time(i -> cuda.flashBackward(dq, dk, dv, q, k, v, o, lse, dO, s, true));
            double bwdMs = trainBoth.p50() - trainFwd.p50();
            // the hybrid's other half: sliding-window attention over the spec's window (512 where it has none)
            int w = cfg.ovq().swaWindow() > 0 ? cfg.ovq().swaWindow() : 512;
            CudaBenchCli.Stats swa = cli.time(i -> cuda.flashForwardWindowed(o, null, lse, q, k, v, s, w));
            cuda.flashForwardWindowed(o, null, lse, q, k, v, s, w);
            CudaBenchCli.Stats swaBwd = cli.time(i -> cuda.flashBackwardWindowed(dq, dk, dv, q, k, v, o, null, lse, dO, s, w));
            double swaFlops = 4.0 * h * d * windowPairs(t, w);
            // decode one token after t through L2-cold copies of the state; MHA decode over a cache of t
            DeviceBuffer q1 = keep(held, random((long) h * d, 4)), k1 = keep(held, random((long) h * d, 5)),
                    v1 = keep(held, random((long) h * d, 6)), o1 = keep(held, cuda.allocate((long) h * d * 2));
            core.l2normalize(q1, h);
            core.l2normalize(k1, h);
            List<CudaOvq.State> states = new ArrayList<>();
            long stateBytes = (long) h * cfg.ovq().dictionarySize() * (2L * d + 1) * 4;
            try {
                for (int c = 0, count = GraphTiming.coldCopies(stateBytes); c < count; c++) {
                    CudaOvq.State sc = core.newState(1, h);
                    states.add(sc);
                    core.run(sc, o, q, k, v, beta, t);
                }
                CudaBenchCli.Stats dec = cli.timeGraph(i -> core.run(states.get(i % states.size()), o1, q1, k1, v1, beta, 1));
                List<DeviceBuffer[]> caches = new ArrayList<>(List.<DeviceBuffer[]>of(new DeviceBuffer[] {k, v}));
                for (int c = 1, count = GraphTiming.coldCopies(4 * n); c < count; c++)
                    caches.add(new DeviceBuffer[] {keep(held, random(n, 10 + 2L * c)), keep(held, random(n, 11 + 2L * c))});
                CudaBenchCli.Stats mhaDec = cli.timeGraph(i -> {
                    DeviceBuffer[] kv = caches.get(i % caches.size());
                    cuda.decode(o1, q1, kv[0], kv[1], 1, t, t, h, h, d);
                });
                int[] meta = states.getFirst().meta()[0];
                long read = states.getFirst().readBytes(meta[0], meta[2]);
                double prefillFlops = CostModel.estimate(cfg, t, 2).prefillAttentionFlops();
                cell("forward", cfg, t, pre, prefillFlops / (pre.p50() * 1e-3) / 1e12, 0);
                if (dec != null) cell("decode", cfg, t, dec, 0, read / (dec.p50() * 1e-3));
                cli.addRow(String.format(Locale.ROOT, "%4d x %3d T=%6d: OVQ prefill %8.3f ms (%5.1f TF) | MHA %8.3f ms: %5.2fx |"
                                + " backward OVQ %8.3f ms (training forward %8.3f) | MHA %8.3f ms: %5.2fx |"
                                + " decode OVQ %7.1f us (n %4d, %6.1f GB/s) | MHA %7.1f us: %5.2fx |"
                                + " SWA W%d forward %8.3f ms (%5.1f TF), backward %8.3f ms (%5.1f TF)", h, d, t, pre.p50(),
                        prefillFlops / (pre.p50() * 1e-3) / 1e12, mha.p50(), mha.p50() / pre.p50(),
                        bwdMs, trainFwd.p50(), mhaBwd.p50(), mhaBwd.p50() / bwdMs,
                        dec == null ? Double.NaN : dec.p50() * 1e3, meta[0], dec == null ? Double.NaN : read / (dec.p50() * 1e-3) / 1e9,
                        mhaDec == null ? Double.NaN : mhaDec.p50() * 1e3,
                        dec == null || mhaDec == null ? Double.NaN : mhaDec.p50() / dec.p50(),
                        w, swa.p50(), swaFlops / (swa.p50() * 1e-3) / 1e12, swaBwd.p50(), 2.5 * swaFlops / (swaBwd.p50() * 1e-3) / 1e12));
            } finally {
                states.forEach(CudaOvq.State::close);
            }
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /** Query-key pairs a causal window of w keys scores over t tokens: sum over queries of min(q + 1, w). */
    static double windowPairs(int t, int w) {
        long full = Math.min(t, w);
        return full * (full + 1) / 2.0 + (double) (t - full) * w;
    }

    private void cell(String phase, OvqConfig cfg, int t, CudaBenchCli.Stats st, double tflops, double bytesPerS) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("phase", phase);
        c.put("scope", "core");
        c.put("variant", "ovq " + cfg.nHeads() + "x" + cfg.headDim());
        c.put("family", "ovq");
        c.put("batch", 1);
        c.put("seqLen", t);
        c.put("p10Ms", st.p10());
        c.put("p50Ms", st.p50());
        c.put("p90Ms", st.p90());
        c.put("tflops", tflops);
        c.put("bytesPerS", bytesPerS);
        cli.addCell(c);
    }

    private static float[] betas(int h, int d) {
        float[] b = new float[h];
        java.util.Arrays.fill(b, (float) Math.sqrt(d));
        return b;
    }

    private DeviceBuffer random(long n, long seed) {
        return cuda.uploadBf16(CudaBenchCli.Random.bf16(n, seed));
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer b) {
        held.add(b);
        return b;
    }
}
