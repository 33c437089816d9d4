package org.ccalab.engine.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.ccalab.common.run.TrainingSpec;
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

    /**
     * The synthetic tasks by name: bare (the task's default size) and sized ({@code name:<n>}). Their names are
     * {@code TrainingSpec.SIZED_TASKS}' keys, which the api validates against (DatasetsTest checks both ways).
     */
    static final Map<String, Synthetic> SYNTHETIC = Map.of(
            "recall", new Synthetic(AssociativeRecall.DEFAULT_KEYS, AssociativeRecall::new),
            "icr", new Synthetic(InContextRecall.DEFAULT_VOCAB, InContextRecall::new),
            "picr", new Synthetic(PositionalRecall.DEFAULT_KEY_IDS, PositionalRecall::new),
            "linreg", new Synthetic(LinearRegressionIcl.DEFAULT_FUNCTIONS, LinearRegressionIcl::new));

    record Synthetic(int defaultSize, SizedTask task) {}

    @FunctionalInterface
    interface SizedTask {
        Dataset create(int size, long seed);
    }

    public Dataset open(String name, Tokenizer tokenizer, long seed) {
        int colon = name.indexOf(':');
        Synthetic synthetic = SYNTHETIC.get(colon < 0 ? name : name.substring(0, colon));
        if (synthetic != null && colon < 0) return synthetic.task().create(synthetic.defaultSize(), seed);
        if (synthetic != null) {
            String task = name.substring(0, colon);
            return sized(name, task + ":<" + TrainingSpec.SIZED_TASKS.get(task) + ">", n -> synthetic.task().create(n, seed));
        }
        if (name.startsWith("file:")) return text(name, readFile(name), tokenizer);
        NamedCorpus corpus = NamedCorpus.byDatasetName(name);
        if (corpus == null)
            throw new InvalidConfigException("dataset", "unknown dataset " + name + "; use "
                    + String.join(", ", TrainingSpec.DATASET_FORMS));
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
