package org.ccalab.engine.data;

import java.util.List;
import java.util.random.RandomGenerator;

/**
 * A training source. Training batches are drawn from a generator the trainer owns (and checkpoints), so
 * the data position is part of the resumable state; validation batches are fixed for the dataset.
 */
public interface Dataset {
    String name();

    /** Token ids are in [0, vocabSize). */
    int vocabSize();

    Batch trainBatch(RandomGenerator rng, int batch, int seqLen);

    /** The same batches every call: a held-out split or a fixed-seed sample. */
    List<Batch> validationBatches(int batch, int seqLen);

    /** True when every scored target is a recall answer, so token accuracy is recall accuracy. */
    boolean isRecallTask();
}
