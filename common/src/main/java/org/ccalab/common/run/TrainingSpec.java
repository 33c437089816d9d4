package org.ccalab.common.run;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.common.validation.Check;

/**
 * One training run of a small decoder-only LM whose blocks use the run's attention variant.
 * dataset: the synthetic tasks {@code recall} / {@code recall:<keys>} (multi-query associative recall), {@code icr} /
 * {@code icr:<vocab>}, {@code picr} / {@code picr:<keys>} and {@code linreg} / {@code linreg:<functions>} (ovq.md
 * section 9), {@code brown} or {@code nlp-corpus} (pinned npm corpora), or {@code file:/path}; any other name is
 * refused here ({@link #DATASET_FORMS}), so the api answers 400 at {@code training.dataset}. The size after a
 * synthetic task's colon must be a positive integer (checked here, so the api refuses {@code icr:abc} at submission); its range and its fit to seqLen are the engine's to judge
 * ({@code engine.data.Datasets}). tokenizer: {@code bytes} or {@code gpt2}. Nulls take the defaults below.
 * deterministic: every backward of the run gives the same bits on every attempt (default false; see
 * {@link RunSpec#deterministic()}); written to JSON only when true, so a spec that does not ask keeps the JSON, and
 * the config hash, it had before the option existed.
 */
public record TrainingSpec(String dataset, String tokenizer, Integer nLayers, Integer seqLen, Integer batch,
                           Integer steps, Double learningRate, Integer warmupSteps, Double weightDecay,
                           Double gradClip, Integer evalEvery, Integer checkpointEvery, Integer mlpHidden,
                           @JsonInclude(JsonInclude.Include.NON_DEFAULT) Boolean deterministic) {
    public static final int MAX_STEPS = 1_000_000;
    /**
     * Synthetic tasks, each bare or sized by an integer after the colon, and what that integer counts. The engine's
     * dataset registry ({@code engine.data.Datasets}) opens exactly these; its test checks that they match.
     */
    public static final Map<String, String> SIZED_TASKS = orderedMap("recall", "keys", "icr", "vocab", "picr", "keys",
            "linreg", "functions");
    /** The pinned corpora by dataset name ({@code engine.data.NamedCorpus.ALL}; its test checks that they match). */
    public static final List<String> NAMED_CORPORA = List.of("brown", "nlp-corpus");
    /** Every accepted dataset form, in the order error messages list them. */
    public static final List<String> DATASET_FORMS = datasetForms();

    public TrainingSpec {
        if (dataset == null) dataset = "recall";
        if (tokenizer == null) tokenizer = "bytes";
        if (nLayers == null) nLayers = 2;
        if (seqLen == null) seqLen = 64;
        if (batch == null) batch = 8;
        if (steps == null) steps = 200;
        if (learningRate == null) learningRate = 3e-3;
        if (warmupSteps == null) warmupSteps = Math.min(20, steps / 10);
        if (weightDecay == null) weightDecay = 0.1;
        if (gradClip == null) gradClip = 1.0;
        if (evalEvery == null) evalEvery = 50;
        if (checkpointEvery == null) checkpointEvery = 100;
        if (mlpHidden == null) mlpHidden = 0; // 0: the SwiGLU default, 8/3 * dModel rounded to 8
        if (deterministic == null) deterministic = false;
        Check.that(!dataset.isBlank() && dataset.length() <= 512, "dataset", "must be 1..512 characters");
        checkDataset(dataset);
        Check.that(tokenizer.equals("bytes") || tokenizer.equals("gpt2"), "tokenizer",
                "must be bytes or gpt2, got " + tokenizer);
        Check.inRange("nLayers", nLayers, 1, 64);
        Check.inRange("seqLen", seqLen, 2, 65_536);
        Check.inRange("batch", batch, 1, 1024);
        Check.inRange("steps", steps, 1, MAX_STEPS);
        Check.inRange("learningRate", learningRate, 1e-8, 1.0);
        Check.inRange("warmupSteps", warmupSteps, 0, steps);
        Check.inRange("weightDecay", weightDecay, 0.0, 1.0);
        Check.inRange("gradClip", gradClip, 0.0, 1e6);
        Check.inRange("evalEvery", evalEvery, 1, MAX_STEPS);
        Check.inRange("checkpointEvery", checkpointEvery, 1, MAX_STEPS);
        Check.inRange("mlpHidden", mlpHidden, 0, 65_536);
    }

    /** Without {@code deterministic} (false). */
    public TrainingSpec(String dataset, String tokenizer, Integer nLayers, Integer seqLen, Integer batch,
                        Integer steps, Double learningRate, Integer warmupSteps, Double weightDecay,
                        Double gradClip, Integer evalEvery, Integer checkpointEvery, Integer mlpHidden) {
        this(dataset, tokenizer, nLayers, seqLen, batch, steps, learningRate, warmupSteps, weightDecay, gradClip,
                evalEvery, checkpointEvery, mlpHidden, null);
    }

    /**
     * A dataset name the engine can open: a synthetic task (bare, or sized by a positive integer), a pinned corpus,
     * or {@code file:<path>} (whether the file exists is the worker's to find out: it is read on the worker's host).
     */
    private static void checkDataset(String dataset) {
        if (dataset.startsWith("file:")) {
            Check.that(dataset.length() > "file:".length(), "dataset", "file:<path> needs a path, got " + dataset);
            return;
        }
        int colon = dataset.indexOf(':');
        String base = colon < 0 ? dataset : dataset.substring(0, colon);
        Check.that(SIZED_TASKS.containsKey(base) || (colon < 0 && NAMED_CORPORA.contains(dataset)), "dataset",
                "unknown dataset " + dataset + "; use " + String.join(", ", DATASET_FORMS));
        checkSizedTask(dataset);
    }

    private static void checkSizedTask(String dataset) {
        int colon = dataset.indexOf(':');
        String size = SIZED_TASKS.get(colon < 0 ? dataset : dataset.substring(0, colon));
        if (size == null || colon < 0) return;
        String form = dataset.substring(0, colon) + ":<" + size + ">";
        String n = dataset.substring(colon + 1);
        Check.that(n.matches("[0-9]{1,9}") && Integer.parseInt(n) >= 1, "dataset",
                form + " needs a positive integer " + size + ", got " + dataset);
    }

    private static List<String> datasetForms() {
        List<String> forms = new ArrayList<>();
        SIZED_TASKS.forEach((task, size) -> {
            forms.add(task);
            forms.add(task + ":<" + size + ">");
        });
        forms.addAll(NAMED_CORPORA);
        forms.add("file:<path>");
        return List.copyOf(forms);
    }

    private static Map<String, String> orderedMap(String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) m.put(keyValues[i], keyValues[i + 1]);
        return Collections.unmodifiableMap(m);
    }
}
