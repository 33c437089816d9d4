package org.ccalab.api.comparison;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.ccalab.api.run.RunRow;
import org.junit.jupiter.api.Test;

/**
 * The default baseline rule on the example dashboard/src/features/compare/baseline.test.ts also uses (the same
 * runs, in the same order, with the same expected picks): the two sides must not drift apart.
 */
class DefaultBaselineTest {
    private static final UUID EXPERIMENT = UUID.randomUUID();

    private static RunRow run(String name, int ordinal, String kind, String family) {
        return run(name, EXPERIMENT, ordinal, kind, family);
    }

    private static RunRow run(String name, UUID experiment, int ordinal, String kind, String family) {
        return run(name, experiment, ordinal, kind, family, "{}");
    }

    private static RunRow run(String name, UUID experiment, int ordinal, String kind, String family, String variantJson) {
        return new RunRow(UUID.nameUUIDFromBytes(name.getBytes()), experiment, "exp", ordinal, kind, family, "SUCCEEDED",
                0, 1, 3, null, null, null, 0, "hash", variantJson, "{}", Instant.EPOCH, null, null, null, null, null, null, null,
                Instant.EPOCH, null);
    }

    private static List<UUID> ids(List<RunRow> rows) {
        return rows.stream().map(RunRow::id).toList();
    }

    // The shared example: benchmark gqa, mha; training cca, mha; a second benchmark mha.
    private static final RunRow BENCH_GQA = run("bench-gqa", 0, "BENCHMARK", "gqa");
    private static final RunRow BENCH_MHA = run("bench-mha", 1, "BENCHMARK", "mha");
    private static final RunRow TRAIN_CCA = run("train-cca", 2, "TRAINING", "cca");
    private static final RunRow TRAIN_MHA = run("train-mha", 3, "TRAINING", "mha");
    private static final RunRow BENCH_MHA_2 = run("bench-mha-2", 4, "BENCHMARK", "mha");
    private static final List<RunRow> EXAMPLE = List.of(BENCH_GQA, BENCH_MHA, TRAIN_CCA, TRAIN_MHA, BENCH_MHA_2);

    @Test
    void shouldPickTheFirstMhaRunOfEachKindInTheOrderAsked() {
        assertThat(DefaultBaseline.of(EXAMPLE, ids(EXAMPLE), List.of())).containsExactly(BENCH_MHA.id(), TRAIN_MHA.id());
    }

    @Test
    void shouldFallBackToTheFirstRunOfAKindWithoutMha() {
        List<RunRow> noMha = List.of(BENCH_GQA, TRAIN_CCA, run("bench-cca", 5, "BENCHMARK", "cca"));
        assertThat(DefaultBaseline.of(noMha, ids(noMha), List.of())).containsExactly(BENCH_GQA.id(), TRAIN_CCA.id());
    }

    @Test
    void shouldFollowTheOrderOfRunsAsListedNotAsStored() {
        // The repository returns rows in (experiment, ordinal) order; the user listed the second MHA run first.
        List<UUID> asked = List.of(BENCH_MHA_2.id(), BENCH_GQA.id(), BENCH_MHA.id());
        List<RunRow> stored = List.of(BENCH_GQA, BENCH_MHA, BENCH_MHA_2);
        assertThat(DefaultBaseline.of(stored, asked, List.of())).containsExactly(BENCH_MHA_2.id());
    }

    @Test
    void shouldFollowTheOrderOfExperimentsAsListedThenOrdinals() {
        UUID older = UUID.randomUUID(), newer = UUID.randomUUID();
        RunRow olderMha = run("older-mha", older, 1, "BENCHMARK", "mha");
        RunRow newerGqa = run("newer-gqa", newer, 0, "BENCHMARK", "gqa");
        RunRow newerMha = run("newer-mha", newer, 2, "BENCHMARK", "mha");
        RunRow newerMhaFirst = run("newer-mha-first", newer, 1, "BENCHMARK", "mha");
        List<RunRow> stored = List.of(olderMha, newerGqa, newerMha, newerMhaFirst);
        assertThat(DefaultBaseline.of(stored, List.of(), List.of(newer, older))).containsExactly(newerMhaFirst.id());
    }

    // README's mha-vs-gqa sweep: MHA and GQA x seqLen 256, 512 (ordinals mha@256, mha@512, gqa@256, gqa@512).
    private static final String MHA = "{\"family\": \"mha\", \"dModel\": 256, \"nHeads\": 8}";
    private static final String MHA_REORDERED = "{\"nHeads\": 8, \"dModel\": 256, \"family\": \"mha\"}";
    private static final String GQA = "{\"family\": \"gqa\", \"dModel\": 256, \"nHeads\": 8, \"nKvHeads\": 2}";

    @Test
    void shouldTakeEveryRunOfTheBaselineVariantInASeqLenSweep() {
        RunRow mha256 = run("sweep-mha-256", EXPERIMENT, 0, "BENCHMARK", "mha", MHA);
        RunRow mha512 = run("sweep-mha-512", EXPERIMENT, 1, "BENCHMARK", "mha", MHA_REORDERED);
        RunRow gqa256 = run("sweep-gqa-256", EXPERIMENT, 2, "BENCHMARK", "gqa", GQA);
        RunRow gqa512 = run("sweep-gqa-512", EXPERIMENT, 3, "BENCHMARK", "gqa", GQA);
        List<RunRow> sweep = List.of(mha256, mha512, gqa256, gqa512);
        // The run that picks the variant is unchanged (the dashboard's defaultBaseline picks it too) ...
        assertThat(DefaultBaseline.of(sweep, List.of(), List.of(EXPERIMENT))).containsExactly(mha256.id());
        // ... and the baseline is every run of that variant, key order in the JSON aside.
        assertThat(DefaultBaseline.variantRuns(sweep, List.of(), List.of(EXPERIMENT))).containsExactly(mha256.id(), mha512.id());
        // Another MHA config is another variant, and a training run of the same config another kind.
        RunRow mhaWide = run("sweep-mha-wide", EXPERIMENT, 4, "BENCHMARK", "mha", "{\"family\": \"mha\", \"dModel\": 512, \"nHeads\": 8}");
        RunRow trainMha = run("sweep-train-mha", UUID.randomUUID(), 0, "TRAINING", "mha", MHA);
        List<RunRow> more = List.of(gqa512, mha512, mhaWide, trainMha, mha256);
        assertThat(DefaultBaseline.variantRuns(more, ids(more), List.of()))
                .containsExactly(mha512.id(), mha256.id(), trainMha.id());
    }
}
