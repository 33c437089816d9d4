package org.ccalab.engine.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.tokenizer.Tokenizer;

/**
 * Resolves a {@code TrainingSpec.dataset} name: the synthetic tasks (tokenizer unused) {@code recall} /
 * {@code recall:<keys>} (multi-query associative recall) and ovq.md section 9's {@code icr} / {@code icr:<vocab>}
 * (basic in-context recall), {@code picr} / {@code picr:<keys>} (positional in-context recall) and {@code linreg}
 * / {@code linreg:<functions>} (linear-regression in-context learning); {@code brown} / {@code nlp-corpus}
 * (pinned npm corpora); or {@code file:/path} (UTF-8 text).
 */
public final class Datasets {
    private final CorpusStore store;

    public Datasets(CorpusStore store) {
        this.store = store;
    }

    public Dataset open(String name, Tokenizer tokenizer, long seed) {
        if (name.equals("recall")) return new AssociativeRecall(AssociativeRecall.DEFAULT_KEYS, seed);
        if (name.startsWith("recall:")) return sized(name, "recall:<keys>", n -> new AssociativeRecall(n, seed));
        if (name.equals("icr")) return new InContextRecall(InContextRecall.DEFAULT_VOCAB, seed);
        if (name.startsWith("icr:")) return sized(name, "icr:<vocab>", n -> new InContextRecall(n, seed));
        if (name.equals("picr")) return new PositionalRecall(PositionalRecall.DEFAULT_KEY_IDS, seed);
        if (name.startsWith("picr:")) return sized(name, "picr:<keys>", n -> new PositionalRecall(n, seed));
        if (name.equals("linreg")) return new LinearRegressionIcl(LinearRegressionIcl.DEFAULT_FUNCTIONS, seed);
        if (name.startsWith("linreg:")) return sized(name, "linreg:<functions>", n -> new LinearRegressionIcl(n, seed));
        if (name.startsWith("file:")) return text(name, readFile(name), tokenizer);
        NamedCorpus corpus = NamedCorpus.byDatasetName(name);
        if (corpus == null)
            throw new InvalidConfigException("dataset", "unknown dataset " + name
                    + "; use recall, recall:<keys>, icr, icr:<vocab>, picr, picr:<keys>, linreg, linreg:<functions>,"
                    + " brown, nlp-corpus or file:/path");
        return text(name, store.text(corpus), tokenizer);
    }

    /** A synthetic task sized by the integer after the colon; every refusal names the field "dataset". */
    private static Dataset sized(String name, String form, java.util.function.IntFunction<Dataset> task) {
        int n;
        try {
            n = Integer.parseInt(name.substring(name.indexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new InvalidConfigException("dataset", form + " needs an integer, got " + name);
        }
        try {
            return task.apply(n);
        } catch (InvalidConfigException e) {
            // "icr:<vocab>: vocab must be in [6, 1048576], got 4" rather than a range of an unnamed number.
            throw new InvalidConfigException("dataset", form + ": " + e.field() + " " + e.reason());
        }
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
