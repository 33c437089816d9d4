package org.ccalab.engine.backend.cuda.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ccalab.engine.attention.Parameter;

/**
 * The LM's trainable tensors in {@code LanguageModel.parameters()} order, with the shapes the GPU model expects:
 * {@code embed_tokens.weight} [V, E] (also the tied output head), per layer {@code input_layernorm.weight} [E],
 * {@code attn.q_proj.weight} [Hq*D, E], {@code attn.k_proj.weight}, {@code attn.v_proj.weight} [Hkv*D, E],
 * {@code attn.o_proj.weight} [E, Hq*D], {@code post_attention_layernorm.weight} [E], {@code mlp.gate_proj.weight},
 * {@code mlp.up_proj.weight} [F, E], {@code mlp.down_proj.weight} [E, F]; then {@code norm.weight} [E].
 * Matrices get a bf16 copy for the GEMMs and weight decay (AdamW.java decays rank >= 2 only).
 */
final class ParameterLayout {
    /** One tensor: its name, shape, and index in the list. */
    record Entry(int index, String name, int[] shape) {
        long elements() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }

        boolean isMatrix() {
            return shape.length >= 2;
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    /** Indices within one layer's run of {@link #PER_LAYER} tensors. */
    static final int ATTN_NORM = 0, Q = 1, K = 2, V = 3, O = 4, MLP_NORM = 5, GATE = 6, UP = 7, DOWN = 8, PER_LAYER = 9;
    static final int EMBEDDING = 0;

    private final List<Entry> entries;
    private final int layers;

    ParameterLayout(ModelShape s) {
        this.layers = s.layers();
        List<Entry> es = new ArrayList<>();
        add(es, "embed_tokens.weight", s.vocab(), s.width());
        for (int i = 0; i < s.layers(); i++) {
            String p = "layers." + i + ".";
            add(es, p + "input_layernorm.weight", s.width());
            add(es, p + "attn.q_proj.weight", s.qWidth(), s.width());
            add(es, p + "attn.k_proj.weight", s.kvWidth(), s.width());
            add(es, p + "attn.v_proj.weight", s.kvWidth(), s.width());
            add(es, p + "attn.o_proj.weight", s.width(), s.qWidth());
            add(es, p + "post_attention_layernorm.weight", s.width());
            add(es, p + "mlp.gate_proj.weight", s.hidden(), s.width());
            add(es, p + "mlp.up_proj.weight", s.hidden(), s.width());
            add(es, p + "mlp.down_proj.weight", s.width(), s.hidden());
        }
        add(es, "norm.weight", s.width());
        this.entries = List.copyOf(es);
    }

    private static void add(List<Entry> es, String name, int... shape) {
        es.add(new Entry(es.size(), name, shape));
    }

    List<Entry> entries() {
        return entries;
    }

    int size() {
        return entries.size();
    }

    /** Index of tensor {@code which} (ATTN_NORM .. DOWN) of layer {@code layer}. */
    int layer(int layer, int which) {
        if (layer < 0 || layer >= layers || which < 0 || which >= PER_LAYER)
            throw new IndexOutOfBoundsException("layer " + layer + " tensor " + which);
        return 1 + layer * PER_LAYER + which;
    }

    int finalNorm() {
        return entries.size() - 1;
    }

    long totalElements() {
        long n = 0;
        for (Entry e : entries) n += e.elements();
        return n;
    }

    /** Fails naming the first tensor whose name or shape differs: the CPU model is not the one this layout plans. */
    void requireMatches(List<Parameter> parameters) {
        if (parameters.size() != entries.size())
            throw new IllegalStateException("the CPU model has " + parameters.size() + " tensors, the GPU layout "
                    + entries.size() + ": " + entries);
        for (Entry e : entries) {
            Parameter p = parameters.get(e.index());
            if (!p.name().equals(e.name()) || !Arrays.equals(p.value().shape(), e.shape()))
                throw new IllegalStateException("tensor " + e.index() + ": the CPU model has " + p.name()
                        + Arrays.toString(p.value().shape()) + ", the GPU layout expects " + e);
        }
    }

    // ---- host-side packing (float64 CPU tensors <-> the device's fp32 / bf16)

    static float[] toFloats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }

    static void toDoubles(float[] src, double[] dst) {
        if (src.length != dst.length) throw new IllegalArgumentException(src.length + " values into " + dst.length);
        for (int i = 0; i < src.length; i++) dst[i] = src[i];
    }

    /** The bf16 copy the GEMMs read: the fp32 master value rounded to nearest even, as the AdamW kernel writes it. */
    static short[] toBf16(float[] x) {
        short[] h = new short[x.length];
        for (int i = 0; i < x.length; i++) h[i] = org.ccalab.engine.backend.cuda.Bf16.fromFloat(x[i]);
        return h;
    }
}
