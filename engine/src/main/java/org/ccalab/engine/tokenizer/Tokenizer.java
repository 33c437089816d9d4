package org.ccalab.engine.tokenizer;

import org.ccalab.common.validation.InvalidConfigException;

/** Text to token ids and back. Ids are in [0, {@link #vocabSize()}). */
public interface Tokenizer {
    String name();

    int vocabSize();

    int[] encode(String text);

    String decode(int[] tokens);

    /** The tokenizer a {@code TrainingSpec.tokenizer} names: {@code bytes} or {@code gpt2}. */
    static Tokenizer named(String name) {
        return switch (name) {
            case "bytes" -> new ByteTokenizer();
            case "gpt2" -> new Gpt2Tokenizer();
            default -> throw new InvalidConfigException("tokenizer", "must be bytes or gpt2, got " + name);
        };
    }
}
