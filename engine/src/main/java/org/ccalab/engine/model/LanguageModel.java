package org.ccalab.engine.model;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.Parameter;

/**
 * Decoder-only LM: token embedding, nLayers pre-norm blocks (attention variant + SwiGLU MLP), final
 * RMSNorm, output head tied to the embedding. Forward keeps what backward needs in a {@link Pass};
 * backward ADDS into every parameter's gradient.
 *
 * <p>Init (GPT-2 style): embedding and projections N(0, 0.02), the MLP down projection scaled by
 * 1/sqrt(2 nLayers) so the residual stream does not grow with depth; norms at 1; attention parameters as
 * the variant initialises them. Everything is drawn from one generator in parameter order.
 *
 * <p>Block i's attention follows {@link LayerPattern}: the variant's layer everywhere, except OVQ with
 * {@code swaWindow} W > 0, which alternates sliding-window MHA (even i, RoPE) and OVQ (odd i, NoPE), SWA first;
 * {@link ModelConfig} refuses such a hybrid with fewer than two blocks, which would hold no OVQ layer at all.
 * Parameter names are {@code layers.<i>.attn.<name>} for every kind of block.
 */
public final class LanguageModel {
    static final double INIT_STD = 0.02;

    private final ModelConfig config;
    private final Parameter embedding; // [V, E], also the output head
    private final List<Block> blocks;
    private final RmsNorm finalNorm;
    private final List<Parameter> parameters;

    public LanguageModel(ModelConfig config, AttentionFactory attention, RandomGenerator rng) {
        this.config = config;
        int e = config.width();
        this.embedding = Parameter.zeros("embed_tokens.weight", config.vocabSize(), e);
        Init.normal(embedding, INIT_STD, rng);
        double downStd = INIT_STD / Math.sqrt(2.0 * config.nLayers());
        List<Block> bs = new ArrayList<>();
        for (int i = 0; i < config.nLayers(); i++) {
            String prefix = "layers." + i + ".";
            AttentionLayer attn = attention.createLayer(i, config.attention(), rng);
            bs.add(new Block(i, attn,
                    new RmsNorm(prefix + "input_layernorm.weight", e, config.normEps()),
                    new RmsNorm(prefix + "post_attention_layernorm.weight", e, config.normEps()),
                    new SwiGluMlp(prefix + "mlp.", e, config.mlpHidden(), INIT_STD, downStd, rng)));
        }
        this.blocks = List.copyOf(bs);
        this.finalNorm = new RmsNorm("norm.weight", e, config.normEps());
        List<Parameter> ps = new ArrayList<>();
        ps.add(embedding);
        for (Block b : blocks) ps.addAll(b.parameters());
        ps.add(finalNorm.weight());
        this.parameters = List.copyOf(ps);
    }

    public ModelConfig config() {
        return config;
    }

    /** Every trainable tensor under its safetensors name, in a stable order. */
    public List<Parameter> parameters() {
        return parameters;
    }

    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters) n += p.value().length();
        return n;
    }

    public void zeroGrad() {
        for (Parameter p : parameters) p.zeroGrad();
    }

    /** A forward result: logits [B*T, V] and the activations backward needs. */
    public record Pass(double[] logits, int batch, int seqLen, int[] tokens, List<Block.Saved> blocks,
                       double[] xFinal, double[] rstdFinal, double[] hFinal) {}

    /** tokens [B*T] (row-major per sequence) -> logits [B*T, V]. */
    public Pass forward(int[] tokens, int batch, int seqLen) {
        int e = config.width();
        int v = config.vocabSize();
        int n = batch * seqLen;
        if (tokens.length != n)
            throw new IllegalArgumentException("tokens length " + tokens.length + " != batch * seqLen = " + n);
        double[] emb = embedding.value().data();
        double[] x = new double[n * e]; // residual stream [N, E]
        for (int r = 0; r < n; r++) {
            int tok = tokens[r];
            if (tok < 0 || tok >= v) throw new IllegalArgumentException("token " + tok + " outside vocabulary of " + v);
            System.arraycopy(emb, tok * e, x, r * e, e);
        }
        List<Block.Saved> saved = new ArrayList<>(blocks.size());
        for (Block b : blocks) {
            double[] y = new double[n * e];
            saved.add(b.forward(y, x, batch, seqLen, e));
            x = y;
        }
        double[] h = new double[n * e]; // final norm [N, E]
        double[] rstd = finalNorm.forward(h, x, n);
        double[] logits = new double[n * v]; // [N, V]
        Dense.forward(logits, h, emb, n, e, v);
        return new Pass(logits, batch, seqLen, tokens, saved, x, rstd, h);
    }

    /** Accumulates every parameter gradient from dLogits [B*T, V]. */
    public void backward(Pass pass, double[] dLogits) {
        int e = config.width();
        int v = config.vocabSize();
        int n = pass.batch() * pass.seqLen();
        double[] emb = embedding.value().data();
        double[] dEmb = embedding.grad().data();
        Dense.backwardWeight(dEmb, dLogits, pass.hFinal(), n, e, v);
        double[] dh = new double[n * e];
        Dense.backwardInput(dh, dLogits, emb, n, e, v);
        double[] dx = new double[n * e];
        finalNorm.backward(dx, dh, pass.xFinal(), pass.rstdFinal(), n);
        for (int i = blocks.size() - 1; i >= 0; i--)
            dx = blocks.get(i).backward(pass.blocks().get(i), dx, pass.batch(), pass.seqLen(), e);
        int[] tokens = pass.tokens();
        for (int r = 0; r < n; r++) {
            int off = tokens[r] * e;
            for (int j = 0; j < e; j++) dEmb[off + j] += dx[r * e + j];
        }
    }

    /** The attention layer of block {@code i}, e.g. for decoding or benchmarks. */
    public AttentionLayer attention(int i) {
        return blocks.get(i).attention();
    }
}
