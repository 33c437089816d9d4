package org.ccalab.engine.backend.cuda.train;

import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.engine.backend.cuda.CudaMlaLayer;
import org.ccalab.engine.backend.cuda.CudaOvq;
import org.ccalab.engine.model.LayerPattern;
import org.ccalab.engine.model.ModelConfig;

/**
 * Every size a GPU training step needs, derived once from the model config and the batch shape, and the
 * checks that refuse what the GPU path cannot train: a head dim without flash kernels (64 or 128; CCA/CCGQA also 256,
 * which {@link org.ccalab.engine.backend.cuda.CudaCcaLayer} runs forward and backward), an MLA config
 * without CUDA kernels ({@link CudaMlaLayer#unsupported}), a width that is not a multiple of 8 (the norm kernels
 * read 8-element vectors).
 *
 * @param rotaryDims RoPE channels per head (rotate-half, the first rotaryDims of each head), 0 for none
 * @param cca        the CCA/CCGQA attention (its layer is {@link org.ccalab.engine.backend.cuda.CudaCcaLayer}: heads,
 *                   convs, RoPE and temperature from here), or null for MHA/GQA/MLA
 * @param mla        the MLA attention (its layer is {@link CudaMlaLayer}: qHeads = kvHeads = its heads, headDim its
 *                   value head dim, rotaryDims 0 as the layer rotates its own rope slices), or null
 * @param ovq        the OVQ attention (its layer is {@link org.ccalab.engine.backend.cuda.CudaOvqLayer}, NoPE), or null;
 *                   with a sliding window its even blocks are the hybrid's SWA layers (MHA, full RoPE: rotaryDims and
 *                   ropeBase are theirs), run as causal attention, which they equal while tokens <= the window
 */
public record ModelShape(int batch, int tokens, int width, int qHeads, int kvHeads, int headDim, int hidden, int vocab,
                         int layers, int rotaryDims, double ropeBase, double normEps, CcgqaConfig cca, MlaConfig mla,
                         OvqConfig ovq) {
    /** An MHA/GQA model's shape. */
    public ModelShape(int batch, int tokens, int width, int qHeads, int kvHeads, int headDim, int hidden, int vocab,
                      int layers, int rotaryDims, double ropeBase, double normEps) {
        this(batch, tokens, width, qHeads, kvHeads, headDim, hidden, vocab, layers, rotaryDims, ropeBase, normEps, null, null);
    }

    /** A CCA/CCGQA model's shape. */
    public ModelShape(int batch, int tokens, int width, int qHeads, int kvHeads, int headDim, int hidden, int vocab,
                      int layers, int rotaryDims, double ropeBase, double normEps, CcgqaConfig cca) {
        this(batch, tokens, width, qHeads, kvHeads, headDim, hidden, vocab, layers, rotaryDims, ropeBase, normEps, cca, null);
    }

    /** A CCA/CCGQA (cca) or MLA (mla) model's shape. */
    public ModelShape(int batch, int tokens, int width, int qHeads, int kvHeads, int headDim, int hidden, int vocab,
                      int layers, int rotaryDims, double ropeBase, double normEps, CcgqaConfig cca, MlaConfig mla) {
        this(batch, tokens, width, qHeads, kvHeads, headDim, hidden, vocab, layers, rotaryDims, ropeBase, normEps, cca, mla, null);
    }

    public ModelShape {
        if (width % 8 != 0) throw new InvalidConfigException("dModel", "GPU training needs a multiple of 8, got " + width);
        if (mla != null) requireKernels(mla);
        else if (headDim != 64 && headDim != 128 && !(cca != null && headDim == 256))
            throw new InvalidConfigException("nHeads", "GPU training needs head dim dModel/nHeads of 64 or 128 (the flash"
                    + " kernels; CCA/CCGQA also 256: its layer's prologue and backward kernels), got " + headDim);
        if (qHeads % kvHeads != 0) throw new InvalidConfigException("nKvHeads", "must divide nHeads");
        if (ovq != null) requireKernels(ovq);
        long rows = (long) batch * tokens;
        if (rows * Math.max(vocab, Math.max(hidden, width)) > Integer.MAX_VALUE)
            throw new InvalidConfigException("batch", "batch * seqLen * max(vocab, mlpHidden) = " + rows * Math.max(vocab, hidden)
                    + " elements is beyond one GPU buffer's int indexing");
    }

    /**
     * The form a variant is trained in on the GPU: GQA (MHA is GQA with Hkv = H, MQA with Hkv = 1), CCGQA (CCA is
     * CCGQA with Hq = Hkv) or MLA.
     */
    static AttentionConfig supportedAttention(AttentionConfig attention) {
        return switch (attention) {
            case MhaConfig m -> m.asGqa();
            case GqaConfig g -> g;
            case CcaConfig a -> a.asGrouped();
            case CcgqaConfig g -> g;
            case MlaConfig m -> requireKernels(m);
            case OvqConfig o -> o;
        };
    }

    /**
     * The OVQ layer's kernels take the spec ({@link CudaOvq#unsupported}); the hybrid's sliding-window blocks run on
     * the flash kernels' windowed instances (head dims 64 and 128, as OVQ's).
     */
    private static void requireKernels(OvqConfig o) {
        String why = CudaOvq.unsupported(o.ovq(), o.headDim());
        if (why != null)
            throw new InvalidConfigException(why.substring(0, why.indexOf(':')), "GPU training of OVQ: " + why + "; train it with"
                    + " engine.backend=cpu");
    }

    /** The sliding window of block {@code layer}'s attention (the OVQ hybrid's SWA blocks), 0 for none. */
    public int window(int layer) {
        return ovq == null ? 0 : LayerPattern.slidingWindow(ovq, layer).map(LayerPattern.SlidingWindow::window).orElse(0);
    }

    /** Whether block {@code layer} is an OVQ layer (else the family's own, or the hybrid's sliding-window MHA). */
    public boolean ovqLayer(int layer) {
        return ovq != null && LayerPattern.slidingWindow(ovq, layer).isEmpty();
    }

    /** {@code m}, or INVALID_CONFIG naming what the GPU layer lacks for it ({@link CudaMlaLayer#unsupported}). */
    private static MlaConfig requireKernels(MlaConfig m) {
        String why = CudaMlaLayer.unsupported(m);
        if (why != null) throw new InvalidConfigException("variant", "GPU training of MLA: " + why + "; train it with engine.backend=cpu");
        return m;
    }

    public static ModelShape of(ModelConfig config, TrainingSpec spec) {
        if (supportedAttention(config.attention()) instanceof MlaConfig m)
            return new ModelShape(spec.batch(), spec.seqLen(), m.dModel(), m.nHeads(), m.nHeads(), m.vHeadDim(), config.mlpHidden(),
                    config.vocabSize(), config.nLayers(), 0, m.ropeBase(), config.normEps(), null, m);
        if (supportedAttention(config.attention()) instanceof CcgqaConfig c) {
            var rope = c.conv().rope();
            return new ModelShape(spec.batch(), spec.seqLen(), c.dModel(), c.nQHeads(), c.nKvHeads(), c.headDim(),
                    config.mlpHidden(), config.vocabSize(), config.nLayers(), rope.rotaryDims(c.headDim()), rope.base(),
                    config.normEps(), c);
        }
        if (supportedAttention(config.attention()) instanceof OvqConfig o) {
            // the hybrid's SWA blocks (MHA, full RoPE) set the rotary dims; OVQ blocks have none
            GqaConfig swa = LayerPattern.slidingWindow(o, 0).map(w -> w.shape().asGqa()).orElse(null);
            return new ModelShape(spec.batch(), spec.seqLen(), o.dModel(), o.nHeads(), o.nHeads(), o.headDim(),
                    config.mlpHidden(), config.vocabSize(), config.nLayers(), swa == null ? 0 : swa.rope().rotaryDims(o.headDim()),
                    swa == null ? 0 : swa.rope().base(), config.normEps(), null, null, o);
        }
        GqaConfig g = (GqaConfig) supportedAttention(config.attention());
        return new ModelShape(spec.batch(), spec.seqLen(), g.dModel(), g.nHeads(), g.nKvHeads(), g.headDim(),
                config.mlpHidden(), config.vocabSize(), config.nLayers(), g.rope().rotaryDims(g.headDim()), g.rope().base(),
                config.normEps());
    }

    /** N = B*T. */
    public int rows() {
        return batch * tokens;
    }

    /** Hq*D: the query / attention-output width. */
    public int qWidth() {
        return qHeads * headDim;
    }

    /** Hkv*D: the key / value width. */
    public int kvWidth() {
        return kvHeads * headDim;
    }
}
