package org.ccalab.engine.backend.cuda.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every device buffer one training step uses besides the parameters, with its size: allocated once per run
 * ({@link Activations}) and reused by every step and every evaluation batch (they have the trainer's B and T).
 * Forward keeps, per layer, what its backward reads (llm.c's ActivationTensors); backward needs only a few
 * scratch buffers of one layer's size, reused across layers. A CCA/CCGQA layer keeps its attention's saved
 * tensors in its own {@link org.ccalab.engine.backend.cuda.CudaCcaLayer}: the plan has none of q .. lse and none
 * of the attention backward's scratch for it; an MLA layer ({@link org.ccalab.engine.backend.cuda.CudaMlaLayer}) and an
 * OVQ layer ({@link org.ccalab.engine.backend.cuda.CudaOvqLayer.Training}) likewise.
 */
final class ActivationPlan {
    static final int BF16 = 2, F32 = 4, I32 = 4, F64 = 8;

    /** One buffer: a name (layer-prefixed for per-layer ones), its bytes, and its shape in words. */
    record Buffer(String name, long bytes, String shape) {}

    // Per layer: names of the saved forward tensors.
    static final String X = "x", H1 = "h1", RSTD1 = "rstd1", Q = "q", K = "k", V = "v", ATT = "att", ATT_LO = "attLo", LSE = "lse",
            X2 = "x2", H2 = "h2", RSTD2 = "rstd2", GATE = "gate", UP = "up", HM = "hm";

    private final Map<String, Buffer> buffers = new LinkedHashMap<>();

    ActivationPlan(ModelShape s) {
        long n = s.rows(), e = s.width(), f = s.hidden(), qw = s.qWidth(), kvw = s.kvWidth();
        for (int i = 0; i < s.layers(); i++) {
            layer(i, X, n * e * BF16, "[N, E] bf16: the layer's input (residual stream)");
            layer(i, H1, n * e * BF16, "[N, E] bf16: attention norm output");
            layer(i, RSTD1, n * F32, "[N] fp32");
            if (flashLayer(s, i)) {
                layer(i, Q, n * qw * BF16, "[B, T, Hq, D] bf16, after RoPE");
                layer(i, K, n * kvw * BF16, "[B, T, Hkv, D] bf16, after RoPE");
                layer(i, V, n * kvw * BF16, "[B, T, Hkv, D] bf16");
                layer(i, ATT, n * qw * BF16, "[B, T, Hq, D] bf16: attention output before o_proj");
                layer(i, ATT_LO, n * qw * BF16, "[B, T, Hq, D] bf16: att's rounding residual (the flash backward's Dv)");
                layer(i, LSE, (long) s.batch() * s.qHeads() * s.tokens() * F32, "[B, Hq, T] fp32: row log-sum-exp");
            }
            layer(i, X2, n * e * BF16, "[N, E] bf16: residual after attention");
            layer(i, H2, n * e * BF16, "[N, E] bf16: MLP norm output");
            layer(i, RSTD2, n * F32, "[N] fp32");
            layer(i, GATE, n * f * BF16, "[N, F] bf16: gate projection");
            layer(i, UP, n * f * BF16, "[N, F] bf16: up projection");
            layer(i, HM, n * f * BF16, "[N, F] bf16: silu(gate) * up");
        }
        add("xFinal", n * e * BF16, "[N, E] bf16: the last residual stream");
        add("hFinal", n * e * BF16, "[N, E] bf16: final norm output");
        add("rstdFinal", n * F32, "[N] fp32");
        add("branch", n * e * BF16, "[N, E] bf16: a sublayer's output before the residual add");
        add("logits", n * s.vocab() * BF16, "[N, V] bf16, overwritten by dlogits");
        add("loss", n * F32, "[N] fp32 per-row loss");
        add("correct", n * I32, "[N] int32 argmax == target");
        add("ids", n * I32, "[N] int32 input tokens");
        add("targets", n * I32, "[N] int32, -1 not scored");
        add("sumsq", F64, "[1] fp64 global gradient sum of squares");
        add("dres", n * e * BF16, "[N, E] bf16: gradient of the residual stream");
        add("dnorm", n * e * BF16, "[N, E] bf16: gradient of a norm's output");
        add("dhm", n * f * BF16, "[N, F] bf16");
        boolean anyFlash = false;
        for (int i = 0; i < s.layers(); i++) anyFlash |= flashLayer(s, i);
        if (!anyFlash) return;
        add("dAtt", n * qw * BF16, "[N, Hq*D] bf16: gradient of the attention output");
        add("dq32", n * qw * F32, "[B, T, Hq, D] fp32 flash backward accumulator");
        add("dk32", n * kvw * F32, "[B, T, Hkv, D] fp32");
        add("dv32", n * kvw * F32, "[B, T, Hkv, D] fp32");
        add("dq", n * qw * BF16, "[N, Hq*D] bf16");
        add("dk", n * kvw * BF16, "[N, Hkv*D] bf16");
        add("dv", n * kvw * BF16, "[N, Hkv*D] bf16");
    }

    /** Whether block i runs the flash path here (MHA/GQA, the OVQ hybrid's SWA blocks); CCA, MLA, OVQ bring their own. */
    static boolean flashLayer(ModelShape s, int i) {
        return s.cca() == null && s.mla() == null && !s.ovqLayer(i);
    }

    static String layerName(int layer, String name) {
        return "layers." + layer + "." + name;
    }

    private void layer(int i, String name, long bytes, String shape) {
        add(layerName(i, name), bytes, shape);
    }

    private void add(String name, long bytes, String shape) {
        if (buffers.put(name, new Buffer(name, bytes, shape)) != null) throw new IllegalStateException("duplicate " + name);
    }

    List<Buffer> buffers() {
        return new ArrayList<>(buffers.values());
    }

    Buffer get(String name) {
        Buffer b = buffers.get(name);
        if (b == null) throw new IllegalArgumentException("no activation buffer " + name);
        return b;
    }

    long totalBytes() {
        long t = 0;
        for (Buffer b : buffers.values()) t += b.bytes();
        return t;
    }
}
