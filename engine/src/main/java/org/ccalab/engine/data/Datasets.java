package org.ccalab.engine.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.tokenizer.Tokenizer;

/**
 * Resolves a {@code TrainingSpec.dataset} name: {@code recall} or {@code recall:<keys>} (synthetic,
 * tokenizer unused), {@code brown} / {@code nlp-corpus} (pinned npm corpora), or {@code file:/path}
 * (UTF-8 text).
 */
public final class Datasets {
    private final CorpusStore store;

    public Datasets(CorpusStore store) {
        this.store = store;
    }

    public Dataset open(String name, Tokenizer tokenizer, long seed) {
        if (name.equals("recall")) return new AssociativeRecall(AssociativeRecall.DEFAULT_KEYS, seed);
        if (name.startsWith("recall:")) {
            try {
                return new AssociativeRecall(Integer.parseInt(name.substring(7)), seed);
            } catch (NumberFormatException e) {
                throw new InvalidConfigException("dataset", "recall:<keys> needs an integer, got " + name);
            } catch (InvalidConfigException e) {
                throw new InvalidConfigException("dataset", e.reason());
            }
        }
        if (name.startsWith("file:")) return text(name, readFile(name), tokenizer);
        NamedCorpus corpus = NamedCorpus.byDatasetName(name);
        if (corpus == null)
            throw new InvalidConfigException("dataset", "unknown dataset " + name
                    + "; use recall, recall:<keys>, brown, nlp-corpus or file:/path");
        return text(name, store.text(corpus), tokenizer);
    }

    private static Dataset text(String name, String text, Tokenizer tokenizer) {
        return new TextDataset(name, tokenizer.encode(text), tokenizer.vocabSize());
    }

    private static String readFile(String name) {
        Path path;
        try {
            path = Path.of(java.net.URI.create(name.startsWith("file://") ? name : "file://" + name.substring(5)));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException("dataset", "not a file path: " + name);
        }
        if (!Files.isRegularFile(path)) throw new InvalidConfigException("dataset", "no such file: " + path);
        try {
            return Files.readString(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidConfigException("dataset", "cannot read " + path + ": " + e.getMessage());
        }
    }
}
