package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.engine.attention.ovq.OvqCoreReference;

/**
 * OVQ's GPU kernels against the float64 reference ({@link OvqCoreReference}) on fresh random inputs: the core on
 * the same bf16 q, k, v (so the fold's discrete outcome, dictionary sizes and every count, can be compared exactly,
 * and the reads within fp32 arithmetic and the output's bf16 rounding), run whole or in prefill pieces and
 * single-token decode steps; and the layer as projections (against float64 products of the same bf16 weights and
 * input) composed with the core (the reference fed the GPU's own projected q, k, v: a projection rounding one bf16
 * ulp differently must not flip a centroid choice and read as a kernel error) and the output projection.
 * The gpu tests, CudaBenchCli's checks and the benchmark cells' errors all come from here.
 */
final class CudaOvqCheck {
    private CudaOvqCheck() {}

    /** The reads' error and whether every (sequence, head)'s {n, folded, open} and counts equal the reference's. */
    record Core(CudaBenchCli.Err err, boolean dictionariesMatch, String detail) {}

    /** T tokens of random unit q, k and Gaussian v through {@code pieces} calls (summing to T) against one float64 run. */
    static Core core(CudaBackend cuda, OvqSpec spec, int d, int batch, int heads, int tokens, List<Integer> pieces, long seed) {
        if (pieces.stream().mapToInt(Integer::intValue).sum() != tokens)
            throw new IllegalArgumentException("pieces " + pieces + " must sum to " + tokens);
        SplittableRandom rng = new SplittableRandom(seed);
        int n = batch * tokens * heads * d;
        double[] q = unitRows(rng, n, d), k = unitRows(rng, n, d), v = new double[n];
        for (int i = 0; i < n; i++) v[i] = bf16(rng.nextGaussian());
        double[] beta = new double[heads];
        float[] betaF = new float[heads];
        for (int h = 0; h < heads; h++) {
            betaF[h] = (float) (Math.sqrt(d) * (0.7 + 0.3 * h));
            beta[h] = betaF[h];
        }
        OvqCoreReference.Result ref = OvqCoreReference.run(spec, d, batch, tokens, heads, q, k, v, beta);
        double[] got = new double[n];
        try (CudaOvq ovq = new CudaOvq(cuda, spec, d); CudaOvq.State st = ovq.newState(batch, heads);
             DeviceBuffer betaD = cuda.uploadFloats(betaF)) {
            int done = 0;
            for (int piece : pieces) {
                try (DeviceBuffer qd = upload(cuda, q, batch, tokens, heads * d, done, piece);
                     DeviceBuffer kd = upload(cuda, k, batch, tokens, heads * d, done, piece);
                     DeviceBuffer vd = upload(cuda, v, batch, tokens, heads * d, done, piece);
                     DeviceBuffer od = cuda.allocate((long) batch * piece * heads * d * 2)) {
                    cuda.poison(od);
                    ovq.run(st, od, qd, kd, vd, betaD, piece);
                    unslice(got, Bf16.toDoubles(cuda.downloadBf16(od, batch * piece * heads * d)), batch, tokens, heads * d, done, piece);
                }
                done += piece;
            }
            int[][] meta = st.meta();
            boolean match = true;
            StringBuilder detail = new StringBuilder();
            for (int bh = 0; bh < batch * heads; bh++) {
                int[] want = {ref.size()[bh], ref.folded()[bh], tokens % spec.chunkLength()};
                boolean same = Arrays.equals(meta[bh], want)
                        && Arrays.equals(st.counts(bh, ref.size()[bh]), ref.counts()[bh]);
                if (!same) detail.append(" head ").append(bh).append(": {n, folded, open} ").append(Arrays.toString(meta[bh]))
                        .append(" vs ").append(Arrays.toString(want));
                match &= same;
            }
            return new Core(CudaBenchCli.Err.of(got, ref.att()), match, match ? "dictionaries equal" : detail.toString());
        }
    }

    /**
     * The backward's errors against the float64 reference's gradients: dq, dk (normalised q, k), dv, and d beta per
     * head; and the training forward's reads and dictionaries, as {@link #core} checks the inference kernel's.
     */
    record Backward(CudaBenchCli.Err dq, CudaBenchCli.Err dk, CudaBenchCli.Err dv, CudaBenchCli.Err dBeta,
                    CudaBenchCli.Err forward, boolean dictionariesMatch) {
        CudaBenchCli.Err worst() {
            return CudaOvqCheck.worst(dq, dk, dv, dBeta);
        }
    }

    /** T tokens of random unit q, k, Gaussian v and dO through {@link CudaOvq#runForTraining} and {@link CudaOvq#backward}. */
    static Backward backward(CudaBackend cuda, OvqSpec spec, int d, int batch, int heads, int tokens, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int n = batch * tokens * heads * d;
        double[] q = unitRows(rng, n, d), k = unitRows(rng, n, d), v = new double[n], dOut = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = bf16(rng.nextGaussian());
            dOut[i] = bf16(rng.nextGaussian());
        }
        double[] beta = new double[heads];
        float[] betaF = new float[heads];
        for (int h = 0; h < heads; h++) {
            betaF[h] = (float) (Math.sqrt(d) * (0.7 + 0.3 * h));
            beta[h] = betaF[h];
        }
        OvqCoreReference.Result ref = OvqCoreReference.run(spec, d, batch, tokens, heads, q, k, v, beta);
        OvqCoreReference.Gradients want = OvqCoreReference.backward(spec, d, batch, tokens, heads, q, k, v, beta, dOut);
        try (CudaOvq ovq = new CudaOvq(cuda, spec, d); CudaOvq.State st = ovq.newState(batch, heads);
             CudaOvq.Records rec = ovq.newRecords(batch, heads, tokens); DeviceBuffer betaD = cuda.uploadFloats(betaF);
             DeviceBuffer qd = cuda.uploadBf16(Bf16.fromDoubles(q)); DeviceBuffer kd = cuda.uploadBf16(Bf16.fromDoubles(k));
             DeviceBuffer vd = cuda.uploadBf16(Bf16.fromDoubles(v)); DeviceBuffer gd = cuda.uploadBf16(Bf16.fromDoubles(dOut));
             DeviceBuffer od = cuda.allocate((long) n * 2); DeviceBuffer dq = cuda.allocate((long) n * 4);
             DeviceBuffer dk = cuda.allocate((long) n * 4); DeviceBuffer dv = cuda.allocate((long) n * 4);
             DeviceBuffer dBeta = cuda.allocate((long) batch * heads * 4)) {
            for (DeviceBuffer b : List.of(od, dq, dk, dv, dBeta)) cuda.poison(b);
            ovq.runForTraining(st, rec, od, qd, kd, vd, betaD, tokens);
            int[][] meta = st.meta();
            boolean match = true;
            for (int bh = 0; bh < batch * heads; bh++)
                match &= Arrays.equals(meta[bh], new int[] {ref.size()[bh], ref.folded()[bh], tokens % spec.chunkLength()})
                        && Arrays.equals(st.counts(bh, ref.size()[bh]), ref.counts()[bh]);
            CudaBenchCli.Err fwd = CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(od, n)), ref.att());
            ovq.backward(st, rec, dq, dk, dv, dBeta, gd, qd, kd, vd, betaD, tokens);
            float[] db = cuda.downloadFloats(dBeta, batch * heads);
            double[] dBetaH = new double[heads];
            for (int bh = 0; bh < batch * heads; bh++) dBetaH[bh % heads] += db[bh];
            return new Backward(CudaBenchCli.Err.of(widen(cuda.downloadFloats(dq, n)), want.dq()),
                    CudaBenchCli.Err.of(widen(cuda.downloadFloats(dk, n)), want.dk()),
                    CudaBenchCli.Err.of(widen(cuda.downloadFloats(dv, n)), want.dv()),
                    CudaBenchCli.Err.of(dBetaH, want.dBeta()), fwd, match);
        }
    }

    private static double[] widen(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    /** Prefill of {@code prefill} tokens, then single-token steps to T. */
    static List<Integer> decodePieces(int prefill, int tokens) {
        List<Integer> p = new ArrayList<>();
        if (prefill > 0) p.add(prefill);
        for (int t = prefill; t < tokens; t++) p.add(1);
        return p;
    }

    /**
     * The layer on random x [B, T, E] and weights: the worst of the projections' error (q, k normalised, and v
     * against float64 products of the same bf16 operands) and y's error against the float64 core run on the GPU's
     * projected q, k, v followed by the float64 output projection. With {@code decodeFrom} < T the core runs a
     * prefill of that many tokens and then single-token decode steps.
     */
    static CudaBenchCli.Err layer(CudaBackend cuda, OvqConfig cfg, int batch, int tokens, int decodeFrom, long seed) {
        int e = cfg.dModel(), h = cfg.nHeads(), d = cfg.headDim(), inner = h * d, rows = batch * tokens;
        double[] x = bf16s(CudaBenchCli.Random.doubles((long) rows * e, seed));
        double[][] w = new double[4][];
        for (int i = 0; i < 4; i++) {
            w[i] = bf16s(CudaBenchCli.Random.doubles((long) inner * e, seed + 1 + i));
            for (int j = 0; j < w[i].length; j++) w[i][j] = bf16(w[i][j] * 0.05);
        }
        float[] beta = new float[h];
        for (int i = 0; i < h; i++) beta[i] = (float) Math.sqrt(d) * (1 + 0.1f * i);
        double[] betaD = new double[h];
        for (int i = 0; i < h; i++) betaD[i] = beta[i];
        try (CudaOvqLayer layer = new CudaOvqLayer(cuda, cfg, Bf16.fromDoubles(w[0]), Bf16.fromDoubles(w[1]),
                Bf16.fromDoubles(w[2]), Bf16.fromDoubles(w[3]), beta);
             CudaOvq.State st = layer.newState(batch); DeviceBuffer xd = cuda.uploadBf16(Bf16.fromDoubles(x))) {
            long bytes = (long) rows * inner * 2;
            double[] q, k, v, y = new double[rows * e];
            try (DeviceBuffer qd = cuda.allocate(bytes); DeviceBuffer kd = cuda.allocate(bytes); DeviceBuffer vd = cuda.allocate(bytes)) {
                layer.project(qd, kd, vd, xd, rows);
                q = Bf16.toDoubles(cuda.downloadBf16(qd, rows * inner));
                k = Bf16.toDoubles(cuda.downloadBf16(kd, rows * inner));
                v = Bf16.toDoubles(cuda.downloadBf16(vd, rows * inner));
            }
            CudaBenchCli.Err proj = worst(CudaBenchCli.Err.of(q, normalized(matmulNt(x, w[0], rows, inner, e), d)),
                    CudaBenchCli.Err.of(k, normalized(matmulNt(x, w[1], rows, inner, e), d)),
                    CudaBenchCli.Err.of(v, matmulNt(x, w[2], rows, inner, e)));
            int done = 0;
            for (int piece : decodeFrom < tokens ? decodePieces(decodeFrom, tokens) : List.of(tokens)) {
                try (DeviceBuffer qd = upload(cuda, q, batch, tokens, inner, done, piece);
                     DeviceBuffer kd = upload(cuda, k, batch, tokens, inner, done, piece);
                     DeviceBuffer vd = upload(cuda, v, batch, tokens, inner, done, piece);
                     DeviceBuffer att = cuda.allocate((long) batch * piece * inner * 2);
                     DeviceBuffer yd = cuda.allocate((long) batch * piece * e * 2)) {
                    cuda.poison(yd);
                    layer.attend(yd, att, qd, kd, vd, st, piece);
                    unslice(y, Bf16.toDoubles(cuda.downloadBf16(yd, batch * piece * e)), batch, tokens, e, done, piece);
                }
                done += piece;
            }
            double[] att = OvqCoreReference.run(cfg.ovq(), d, batch, tokens, h, q, k, v, betaD).att();
            return worst(proj, CudaBenchCli.Err.of(y, matmulNt(att, w[3], rows, e, inner)));
        }
    }

    /** The layer backward's errors: dx, each weight's gradient, and d loss / d beta per head. */
    record LayerBackward(CudaBenchCli.Err dx, CudaBenchCli.Err dWq, CudaBenchCli.Err dWk, CudaBenchCli.Err dWv,
                         CudaBenchCli.Err dWo, CudaBenchCli.Err dBeta) {
        CudaBenchCli.Err worst() {
            return CudaOvqCheck.worst(dx, dWq, dWk, dWv, dWo, dBeta);
        }
    }

    /**
     * The layer's training forward and backward on random x, dy [B, T, E] and weights against float64: the output
     * projection's backward on float64 products of the same bf16 operands, the core's backward as the reference takes
     * it ({@link OvqCoreReference#backward}) fed the GPU's own projected, normalised q, k and v (as {@link #layer}:
     * a projection one ulp off must not flip a fold decision), the norm's backward from the GPU's bf16 projections,
     * and the input projections' in float64.
     */
    static LayerBackward layerBackward(CudaBackend cuda, OvqConfig cfg, int batch, int tokens, long seed) {
        int e = cfg.dModel(), h = cfg.nHeads(), d = cfg.headDim(), inner = h * d, rows = batch * tokens;
        double[] x = bf16s(CudaBenchCli.Random.doubles((long) rows * e, seed)), dy = bf16s(CudaBenchCli.Random.doubles((long) rows * e, seed + 9));
        double[][] w = new double[4][];
        for (int i = 0; i < 4; i++) {
            w[i] = bf16s(CudaBenchCli.Random.doubles((long) inner * e, seed + 1 + i));
            for (int j = 0; j < w[i].length; j++) w[i][j] = bf16(w[i][j] * 0.05);
        }
        float[] beta = new float[h];
        double[] betaD = new double[h];
        for (int i = 0; i < h; i++) betaD[i] = beta[i] = (float) Math.sqrt(d) * (1 + 0.1f * i);
        double[] qRaw, kRaw, q, k, v, gx;
        double[][] gw = new double[4][];
        double[] gBeta;
        long act = (long) rows * inner, wBytes = (long) inner * e * 4;
        try (CudaOvqLayer layer = new CudaOvqLayer(cuda, cfg, Bf16.fromDoubles(w[0]), Bf16.fromDoubles(w[1]),
                Bf16.fromDoubles(w[2]), Bf16.fromDoubles(w[3]), beta);
             CudaOvqLayer.Training tr = layer.newTraining(batch, tokens);
             DeviceBuffer xd = cuda.uploadBf16(Bf16.fromDoubles(x)); DeviceBuffer dyd = cuda.uploadBf16(Bf16.fromDoubles(dy));
             DeviceBuffer yd = cuda.allocate((long) rows * e * 2); DeviceBuffer dxd = cuda.allocate((long) rows * e * 2);
             DeviceBuffer gq = cuda.allocate(wBytes); DeviceBuffer gk = cuda.allocate(wBytes); DeviceBuffer gv = cuda.allocate(wBytes);
             DeviceBuffer go = cuda.allocate(wBytes)) {
            for (DeviceBuffer g : List.of(gq, gk, gv, go)) cuda.zero(g);
            cuda.poison(dxd);
            layer.forwardForTraining(yd, xd, tr);
            layer.backward(dxd, dyd, tr, new CudaOvqLayer.Gradients(gq, gk, gv, go));
            qRaw = Bf16.toDoubles(cuda.downloadBf16(tr.qRaw, (int) act));
            kRaw = Bf16.toDoubles(cuda.downloadBf16(tr.kRaw, (int) act));
            q = Bf16.toDoubles(cuda.downloadBf16(tr.q, (int) act));
            k = Bf16.toDoubles(cuda.downloadBf16(tr.k, (int) act));
            v = Bf16.toDoubles(cuda.downloadBf16(tr.v, (int) act));
            gx = Bf16.toDoubles(cuda.downloadBf16(dxd, rows * e));
            DeviceBuffer[] gd = {gq, gk, gv, go};
            for (int i = 0; i < 4; i++) gw[i] = widen(cuda.downloadFloats(gd[i], inner * e));
            gBeta = layer.betaGradient(tr);
        }
        double[] att = OvqCoreReference.run(cfg.ovq(), d, batch, tokens, h, q, k, v, betaD).att();
        double[] dAtt = matmul(dy, w[3], rows, inner, e, false);  // dy [rows, E] . Wo [E, inner]
        OvqCoreReference.Gradients core = OvqCoreReference.backward(cfg.ovq(), d, batch, tokens, h, q, k, v, betaD, dAtt);
        double[] dq = normBackward(core.dq(), qRaw, d), dk = normBackward(core.dk(), kRaw, d), dv = core.dv();
        double[] dx = matmul(dq, w[0], rows, e, inner, false);
        double[] dxk = matmul(dk, w[1], rows, e, inner, false), dxv = matmul(dv, w[2], rows, e, inner, false);
        for (int i = 0; i < dx.length; i++) dx[i] += dxk[i] + dxv[i];
        return new LayerBackward(CudaBenchCli.Err.of(gx, dx),
                CudaBenchCli.Err.of(gw[0], matmul(dq, x, inner, e, rows, true)),
                CudaBenchCli.Err.of(gw[1], matmul(dk, x, inner, e, rows, true)),
                CudaBenchCli.Err.of(gw[2], matmul(dv, x, inner, e, rows, true)),
                CudaBenchCli.Err.of(gw[3], matmul(dy, att, e, inner, rows, true)),
                CudaBenchCli.Err.of(gBeta, core.dBeta()));
    }

    /**
     * c [m, n] in float64: a [m, k] . b [k, n], or with {@code transA} a stored [k, m] (a^T . b: a weight's gradient,
     * dy^T x).
     */
    static double[] matmul(double[] a, double[] b, int m, int n, int k, boolean transA) {
        double[] c = new double[m * n];
        for (int p = 0; p < k; p++)
            for (int i = 0; i < m; i++) {
                double ai = transA ? a[p * m + i] : a[i * k + p];
                if (ai == 0) continue;
                int bo = p * n, co = i * n;
                for (int j = 0; j < n; j++) c[co + j] += ai * b[bo + j];
            }
        return c;
    }

    /** Through x / sqrt(|x|^2 + 1e-12) per row of d, at the rows x before the norm: r (g - xhat (xhat . g)). */
    static double[] normBackward(double[] g, double[] x, int d) {
        double[] out = new double[g.length];
        for (int r = 0; r < g.length / d; r++) {
            double ss = 0, dot = 0;
            for (int i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
            double inv = 1 / Math.sqrt(ss + 1e-12);
            for (int i = 0; i < d; i++) dot += x[r * d + i] * inv * g[r * d + i];
            for (int i = 0; i < d; i++) out[r * d + i] = inv * (g[r * d + i] - x[r * d + i] * inv * dot);
        }
        return out;
    }

    static CudaBenchCli.Err worst(CudaBenchCli.Err... errs) {
        return Arrays.stream(errs).max(java.util.Comparator.comparingDouble(CudaBenchCli.Err::rel)).orElseThrow();
    }

    /** c [m, n] = a [m, k] . b [n, k]^T in float64. */
    static double[] matmulNt(double[] a, double[] b, int m, int n, int k) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
                c[i * n + j] = s;
            }
        return c;
    }

    /** Rows of d scaled to x / sqrt(|x|^2 + 1e-12), as the layer's norm. */
    static double[] normalized(double[] x, int d) {
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
            double inv = 1 / Math.sqrt(ss + 1e-12);
            for (int i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv;
        }
        return y;
    }

    /** Gaussian rows of D, L2-normalised, rounded to bf16 (a kernel input exactly). */
    static double[] unitRows(SplittableRandom rng, int n, int d) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = rng.nextGaussian();
        double[] y = normalized(x, d);
        return bf16s(y);
    }

    private static double bf16(double x) {
        return Bf16.toFloat(Bf16.fromFloat((float) x));
    }

    private static double[] bf16s(double[] x) {
        for (int i = 0; i < x.length; i++) x[i] = bf16(x[i]);
        return x;
    }

    /** Tokens [from, from + count) of x [B, T, row] uploaded as bf16 [B, count, row]. */
    private static DeviceBuffer upload(CudaBackend cuda, double[] x, int batch, int tokens, int row, int from, int count) {
        double[] out = new double[batch * count * row];
        for (int b = 0; b < batch; b++) System.arraycopy(x, (b * tokens + from) * row, out, b * count * row, count * row);
        return cuda.uploadBf16(Bf16.fromDoubles(out));
    }

    private static void unslice(double[] into, double[] part, int batch, int tokens, int row, int from, int count) {
        for (int b = 0; b < batch; b++) System.arraycopy(part, b * count * row, into, (b * tokens + from) * row, count * row);
    }
}
