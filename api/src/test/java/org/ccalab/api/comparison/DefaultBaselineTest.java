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
        return new RunRow(UUID.nameUUIDFromBytes(name.getBytes()), experiment, "exp", ordinal, kind, family, "SUCCEEDED",
                0, 1, 3, null, null, null, 0, "hash", "{}", "{}", Instant.EPOCH, null, null, null, null, null, null, null,
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
}
