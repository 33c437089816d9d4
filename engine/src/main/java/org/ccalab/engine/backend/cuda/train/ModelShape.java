package org.ccalab.engine.backend.cuda.train;

import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.model.ModelConfig;

/**
 * Every size a GPU training step needs, derived once from the model config and the batch shape, and the
 * checks that refuse what the GPU path cannot train: attention other than MHA/GQA/MQA (CCA, CCGQA and MLA have
 * no GPU training path), a head dim without flash kernels (64 or 128), a width that is not a multiple of 8
 * (the norm kernels read 8-element vectors).
 *
 * @param rotaryDims RoPE channels per head (rotate-half, the first rotaryDims of each head), 0 for none
 */
public record ModelShape(int batch, int tokens, int width, int qHeads, int kvHeads, int headDim, int hidden, int vocab,
                         int layers, int rotaryDims, double ropeBase, double normEps) {
    public ModelShape {
        if (width % 8 != 0) throw new InvalidConfigException("dModel", "GPU training needs a multiple of 8, got " + width);
        if (headDim != 64 && headDim != 128)
            throw new InvalidConfigException("nHeads", "GPU training needs head dim dModel/nHeads of 64 or 128 (the flash"
                    + " kernels), got " + headDim);
        if (qHeads % kvHeads != 0) throw new InvalidConfigException("nKvHeads", "must divide nHeads");
        long rows = (long) batch * tokens;
        if (rows * Math.max(vocab, Math.max(hidden, width)) > Integer.MAX_VALUE)
            throw new InvalidConfigException("batch", "batch * seqLen * max(vocab, mlpHidden) = " + rows * Math.max(vocab, hidden)
                    + " elements is beyond one GPU buffer's int indexing");
    }

    /** The GQA form of a variant GPU training supports (MHA is GQA with Hkv = H, MQA with Hkv = 1). */
    static GqaConfig supportedAttention(AttentionConfig attention) {
        return switch (attention) {
            case MhaConfig m -> m.asGqa();
            case GqaConfig g -> g;
            default -> throw new InvalidConfigException("variant", "GPU training supports MHA/GQA only (got "
                    + attention.family() + "); train " + attention.family() + " with engine.backend=cpu");
        };
    }

    public static ModelShape of(ModelConfig config, TrainingSpec spec) {
        GqaConfig g = supportedAttention(config.attention());
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
