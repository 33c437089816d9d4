package org.ccalab.engine.train;

import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.data.TextDataset;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tokenizer.ByteTokenizer;

/** Shared fixtures for the training tests: a tiny English text and a tiny model of any variant. */
final class TinyTraining {
    private TinyTraining() {}

    static final String TEXT = """
            The jury further said in term-end presentments that the City Executive Committee, which had over-all
            charge of the election, deserves the praise and thanks of the City of Atlanta for the manner in which
            the election was conducted. The September-October term jury had been charged by Fulton Superior Court
            Judge Durwood Pye to investigate reports of possible irregularities in the hard-fought primary which
            was won by Mayor-nominate Ivan Allen Jr. Only a relative handful of such reports was received, the
            jury said, considering the widespread interest in the election, the number of voters and the size of
            this city. The jury said it did find that many of Georgia's registration and election laws are
            outmoded or inadequate and often ambiguous. It recommended that Fulton legislators act to have these
            laws studied and revised to the end of modernizing and improving them.
            """.repeat(4);

    static Dataset text() {
        ByteTokenizer t = new ByteTokenizer();
        return new TextDataset("test-text", t.encode(TEXT), t.vocabSize());
    }

    static TrainingSpec spec(int steps, int seqLen, int batch, double lr) {
        return new TrainingSpec("file:/test", "bytes", 2, seqLen, batch, steps, lr, Math.min(5, steps / 4), 0.01, 1.0, 1000, 1000, 48);
    }

    static Trainer trainer(AttentionConfig variant, Dataset data, TrainingSpec spec, long seed) {
        ModelConfig cfg = new ModelConfig(variant, data.vocabSize(), spec.nLayers(), spec.mlpHidden());
        LanguageModel model = new LanguageModel(cfg, AttentionLayers::create, SplitMix64.derive(seed, "init"));
        return new Trainer(model, data, spec, seed);
    }
}
