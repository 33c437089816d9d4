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
 *
 * <p>CCA/CCGQA layers have ten attention tensors instead of four (CompressedConvAttention's order, indices
 * {@link #CCA_Q} ..): {@code attn.q_proj.weight} [Dq, E], {@code attn.k_proj.weight} [Dk, E],
 * {@code attn.v_proj_current.weight} [Dk - Dk/2, E], {@code attn.v_proj_delayed.weight} [Dk/2, E],
 * {@code attn.conv_qk_depthwise.weight} [C, 1, k0], {@code .bias} [C], {@code attn.conv_qk_grouped.weight}
 * [C, D, k1], {@code .bias} [C], {@code attn.temp} [Hkv], {@code attn.o_proj.weight} [E, Dq]. On the device the
 * grouped conv weight (value, gradient, moments) is held repacked for the kernels ({@link #toDevice}).
 *
 * <p>MLA layers have MlaAttention's tensors ({@link #mlaTensors}: five with a direct query projection, seven with the
 * low-rank one), as {@code attn.<name>} in its order, PyTorch [out, in] shapes, the two norm gains vectors.
 *
 * <p>OVQ layers have the MHA layer's four, then {@code attn.beta_log} [H] when beta is learnt (OvqAttention's order,
 * index {@link #OVQ_BETA_LOG}); the hybrid's sliding-window blocks (even layers) the MHA layer's four.
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

    /**
     * Indices within one MHA/GQA layer's run of {@link #PER_LAYER} tensors; ATTN_NORM and MLP_NORM .. DOWN name
     * the same tensors of a CCA layer (whose attention tensors are {@link #attention}'s).
     */
    static final int ATTN_NORM = 0, Q = 1, K = 2, V = 3, O = 4, MLP_NORM = 5, GATE = 6, UP = 7, DOWN = 8, PER_LAYER = 9;
    /** A CCA/CCGQA layer's attention tensors, in order: the argument of {@link #attention}. */
    static final int CCA_Q = 0, CCA_K = 1, CCA_V_CURRENT = 2, CCA_V_DELAYED = 3, CCA_W0 = 4, CCA_B0 = 5, CCA_W1 = 6, CCA_B1 = 7,
            CCA_TEMP = 8, CCA_O = 9, CCA_TENSORS = 10;
    /** An OVQ layer's beta_log: after q, k, v, o. */
    static final int OVQ_BETA_LOG = 4;
    static final int EMBEDDING = 0;
    static final String GROUPED_CONV = "attn.conv_qk_grouped.weight";

    private final List<Entry> entries;
    private final int layers;
    /** Attention tensors of each layer: 4 (q, k, v, o; OVQ with beta_log 5), {@link #CCA_TENSORS} or MLA's. */
    private final int[] attentionTensors;
    /** Index of each layer's first tensor (its input norm). */
    private final int[] layerStart;
    /** Whether q, k, v, o are the layer's first four attention tensors (MHA/GQA, OVQ and SWA blocks). */
    private final boolean plainProjections;
    /** MLA: the attention tensors' names (without "attn."), else empty. */
    private final List<String> mlaNames;

    ParameterLayout(ModelShape s) {
        this.layers = s.layers();
        this.mlaNames = s.mla() == null ? List.of() : List.copyOf(mlaTensors(s.mla()).keySet());
        this.attentionTensors = new int[s.layers()];
        this.layerStart = new int[s.layers()];
        this.plainProjections = s.cca() == null && s.mla() == null;
        List<Entry> es = new ArrayList<>();
        add(es, "embed_tokens.weight", s.vocab(), s.width());
        for (int i = 0; i < s.layers(); i++) {
            String p = "layers." + i + ".";
            layerStart[i] = es.size();
            add(es, p + "input_layernorm.weight", s.width());
            if (s.mla() != null) {
                mlaTensors(s.mla()).forEach((name, shape) -> add(es, p + "attn." + name, shape));
            } else if (s.cca() == null) {
                add(es, p + "attn.q_proj.weight", s.qWidth(), s.width());
                add(es, p + "attn.k_proj.weight", s.kvWidth(), s.width());
                add(es, p + "attn.v_proj.weight", s.kvWidth(), s.width());
                add(es, p + "attn.o_proj.weight", s.width(), s.qWidth());
                if (s.ovqLayer(i) && s.ovq().ovq().learnBeta()) add(es, p + "attn.beta_log", s.qHeads());
            } else {
                var c = s.cca();
                int kv = s.kvWidth(), packed = c.packedWidth(), k0 = c.conv().convSeqKernel(), k1 = c.conv().convChannelKernel();
                add(es, p + "attn.q_proj.weight", s.qWidth(), s.width());
                add(es, p + "attn.k_proj.weight", kv, s.width());
                add(es, p + "attn.v_proj_current.weight", kv - kv / 2, s.width());
                add(es, p + "attn.v_proj_delayed.weight", kv / 2, s.width());
                add(es, p + "attn.conv_qk_depthwise.weight", packed, 1, k0);
                add(es, p + "attn.conv_qk_depthwise.bias", packed);
                add(es, p + GROUPED_CONV, packed, s.headDim(), k1);
                add(es, p + "attn.conv_qk_grouped.bias", packed);
                add(es, p + "attn.temp", s.kvHeads());
                add(es, p + "attn.o_proj.weight", s.width(), s.qWidth());
            }
            attentionTensors[i] = es.size() - layerStart[i] - 1;
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

    /** Index of tensor {@code which} (ATTN_NORM .. DOWN; Q .. O only for MHA/GQA/OVQ/SWA layers) of layer {@code layer}. */
    int layer(int layer, int which) {
        if (layer < 0 || layer >= layers || which < 0 || which >= PER_LAYER)
            throw new IndexOutOfBoundsException("layer " + layer + " tensor " + which);
        if (!plainProjections && which >= Q && which <= O)
            throw new IllegalArgumentException("a CCA or MLA layer has no tensor " + which + " (its attention tensors are"
                    + " attention(layer, j))");
        int offset = which < MLP_NORM ? which : which - MLP_NORM + 1 + attentionTensors[layer];
        return layerStart[layer] + offset;
    }

    /** Index of attention tensor {@code j} (CCA_Q .. CCA_O; or 0 .. 3 = q, k, v, o, OVQ's 4 = beta_log) of layer {@code layer}. */
    int attention(int layer, int j) {
        if (layer < 0 || layer >= layers || j < 0 || j >= attentionTensors[layer])
            throw new IndexOutOfBoundsException("layer " + layer + " attention tensor " + j);
        return layerStart[layer] + 1 + j;
    }

    /**
     * An MLA layer's attention tensors in MlaAttention.parameters() order with their shapes: q_proj [n Dqk, E], or
     * q_a_proj [Rq, E], q_a_layernorm [Rq], q_b_proj [n Dqk, Rq]; kv_a_proj_with_mqa [R + Dr, E], kv_a_layernorm
     * [R], kv_b_proj [n (Dn + Dv), R], o_proj [E, n Dv].
     */
    static java.util.LinkedHashMap<String, int[]> mlaTensors(org.ccalab.common.variant.MlaConfig m) {
        int e = m.dModel(), n = m.nHeads(), r = m.kvLoraRank();
        var t = new java.util.LinkedHashMap<String, int[]>();
        if (m.hasQueryCompression()) {
            t.put("q_a_proj.weight", new int[] {m.qLoraRank(), e});
            t.put("q_a_layernorm.weight", new int[] {m.qLoraRank()});
            t.put("q_b_proj.weight", new int[] {n * m.qkHeadDim(), m.qLoraRank()});
        } else {
            t.put("q_proj.weight", new int[] {n * m.qkHeadDim(), e});
        }
        t.put("kv_a_proj_with_mqa.weight", new int[] {r + m.qkRopeHeadDim(), e});
        t.put("kv_a_layernorm.weight", new int[] {r});
        t.put("kv_b_proj.weight", new int[] {n * (m.qkNopeHeadDim() + m.vHeadDim()), r});
        t.put("o_proj.weight", new int[] {e, n * m.vHeadDim()});
        return t;
    }

    /** Index of MLA layer {@code layer}'s attention tensor {@code name} (MlaAttention's name), or -1 when the config has none. */
    int mlaAttention(int layer, String name) {
        int j = mlaNames.indexOf(name);
        return j < 0 ? -1 : attention(layer, j);
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

    /**
     * A tensor's fp32 host values (CPU layout) in the device's layout: the grouped conv weight [C, D, k1] repacked
     * to [C / D, k1, D_in, D_out] (CcaPrologueWeights.repackW1), every other tensor as it is.
     */
    static float[] toDevice(Entry e, float[] host) {
        if (!e.name().endsWith(GROUPED_CONV)) return host;
        int[] sh = e.shape();
        return org.ccalab.engine.backend.cuda.CcaPrologueWeights.repackW1(host, sh[0] / sh[1], sh[1], sh[2]);
    }

    /** The inverse of {@link #toDevice}. */
    static float[] toHost(Entry e, float[] device) {
        if (!e.name().endsWith(GROUPED_CONV)) return device;
        int[] sh = e.shape();
        return org.ccalab.engine.backend.cuda.CudaCcaLayer.unpackW1(device, sh[0] / sh[1], sh[1], sh[2]);
    }

    /** The bf16 copy the GEMMs read: the fp32 master value rounded to nearest even, as the AdamW kernel writes it. */
    static short[] toBf16(float[] x) {
        short[] h = new short[x.length];
        for (int i = 0; i < x.length; i++) h[i] = org.ccalab.engine.backend.cuda.Bf16.fromFloat(x[i]);
        return h;
    }
}
