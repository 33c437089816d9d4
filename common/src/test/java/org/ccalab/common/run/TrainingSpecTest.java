package org.ccalab.common.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.common.validation.InvalidConfigException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TrainingSpecTest {
    private static TrainingSpec withDataset(String dataset) {
        return new TrainingSpec(dataset, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"recall", "recall:64", "icr", "icr:256", "picr", "picr:64", "linreg", "linreg:16",
            "brown", "nlp-corpus", "file:/tmp/corpus.txt", "file:relative.txt"})
    void shouldAcceptEveryDatasetFormTheEngineKnows(String dataset) {
        assertThat(withDataset(dataset).dataset()).isEqualTo(dataset);
    }

    @ParameterizedTest
    @ValueSource(strings = {"icr:abc", "icr:", "picr:-1", "linreg:0", "recall:1.5", "icr:99999999999", "picr: 64"})
    void shouldRefuseASyntheticTaskWhoseSizeIsNotAPositiveIntegerNamingTheDataset(String dataset) {
        assertThatThrownBy(() -> withDataset(dataset))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> {
                    assertThat(e.field()).isEqualTo("dataset");
                    assertThat(e.reason()).contains("needs a positive integer").contains(dataset);
                });
    }

    @ParameterizedTest
    @ValueSource(strings = {"icr:abc", "picr:x", "linreg:x", "recall:x"})
    void shouldSayWhatTheSizeOfEachTaskCounts(String dataset) {
        String expected = switch (dataset.substring(0, dataset.indexOf(':'))) {
            case "icr" -> "icr:<vocab>";
            case "linreg" -> "linreg:<functions>";
            default -> dataset.substring(0, dataset.indexOf(':')) + ":<keys>";
        };
        assertThatThrownBy(() -> withDataset(dataset))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.reason()).startsWith(expected));
    }

    /** Names the engine cannot open were accepted and failed only on the worker ("wikitext" -> FAILED INVALID_CONFIG). */
    @ParameterizedTest
    @ValueSource(strings = {"wikitext", "some-named-corpus", "brown:3", "nlp-corpus:1", "RECALL", "recallx", "file:", "icrx:4"})
    void shouldRefuseAnUnknownDatasetListingTheValidNames(String dataset) {
        assertThatThrownBy(() -> withDataset(dataset))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> {
                    assertThat(e.field()).isEqualTo("dataset");
                    assertThat(e.reason()).contains(dataset);
                    if (!dataset.equals("file:"))
                        assertThat(e.reason()).contains("recall, recall:<keys>, icr, icr:<vocab>, picr, picr:<keys>,"
                                + " linreg, linreg:<functions>, brown, nlp-corpus, file:<path>");
                });
    }

    @org.junit.jupiter.api.Test
    void datasetFormsListEveryForm() {
        assertThat(TrainingSpec.DATASET_FORMS).containsExactly("recall", "recall:<keys>", "icr", "icr:<vocab>", "picr",
                "picr:<keys>", "linreg", "linreg:<functions>", "brown", "nlp-corpus", "file:<path>");
    }

    @org.junit.jupiter.api.Test
    void benchmarkSpecReportsEverySingleValueFaultTogetherWithItsOwnMessage() {
        assertThatThrownBy(() -> new BenchmarkSpec(0, -5, null, null, null, "int4", -1, 0))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.all())
                        .extracting(InvalidConfigException::field, InvalidConfigException::reason)
                        .containsExactly(
                                org.assertj.core.groups.Tuple.tuple("batch", "must be in [1, 256], got 0"),
                                org.assertj.core.groups.Tuple.tuple("seqLen", "must be in [1, 131072], got -5"),
                                org.assertj.core.groups.Tuple.tuple("dtype", "must be one of [bf16, fp16, fp32, fp64], got int4"),
                                org.assertj.core.groups.Tuple.tuple("warmup", "must be in [0, 1000], got -1"),
                                org.assertj.core.groups.Tuple.tuple("iterations", "must be in [1, 10000], got 0")));
    }
}
