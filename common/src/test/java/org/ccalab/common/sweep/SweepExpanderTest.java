package org.ccalab.common.sweep;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.MhaConfig;
import org.junit.jupiter.api.Test;

class SweepExpanderTest {
    private final SweepExpander expander = new SweepExpander();

    private static Map<String, Object> mha() {
        return map("family", "mha", "dModel", 256, "nHeads", 4);
    }

    private static Map<String, Object> gqa(int kv) {
        return map("family", "gqa", "dModel", 256, "nHeads", 4, "nKvHeads", kv);
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static SweepRequest bench(List<?> variants, Map<String, ?> grid, Map<String, ?> base) {
        return new SweepRequest(RunKind.BENCHMARK, variants, grid, base, null);
    }

    private static List<String> fields(Runnable r) {
        try {
            r.run();
        } catch (InvalidSweepException e) {
            return e.violations().stream().map(InvalidConfigException::field).toList();
        }
        throw new AssertionError("expected an InvalidSweepException");
    }

    @Test
    void shouldExpandVariantsTimesCartesianGridWithLastKeyFastest() {
        List<SweepPoint> points = expander.expand(bench(List.of(mha(), gqa(2)),
                map("seqLen", List.of(128, 256, 512), "seed", List.of(1, 2)), map("batch", 2)));

        assertThat(points).hasSize(2 * 3 * 2);
        assertThat(points).extracting(SweepPoint::ordinal).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        assertThat(points.subList(0, 6)).allSatisfy(p -> assertThat(p.spec().variant()).isInstanceOf(MhaConfig.class));
        assertThat(points.subList(6, 12)).allSatisfy(p -> assertThat(p.spec().variant()).isEqualTo(new GqaConfig(256, 4, 2)));
        assertThat(points).extracting(p -> p.spec().benchmark().seqLen())
                .containsExactly(128, 128, 256, 256, 512, 512, 128, 128, 256, 256, 512, 512);
        assertThat(points).extracting(p -> p.spec().seed()).containsExactly(1L, 2L, 1L, 2L, 1L, 2L, 1L, 2L, 1L, 2L, 1L, 2L);
        assertThat(points).allSatisfy(p -> assertThat(p.spec().benchmark().batch()).isEqualTo(2));
        assertThat(points.get(3).gridValues()).containsExactly(Map.entry("seqLen", 256), Map.entry("seed", 2));
        assertThat(points.get(7).variantIndex()).isEqualTo(1);
    }

    @Test
    void shouldMakeOneRunPerVariantWithTheDefaultSeedWhenThereIsNoGrid() {
        List<SweepPoint> points = expander.expand(bench(List.of(mha()), null, map("batch", 1, "seqLen", 64, "phases", List.of("forward"))));

        assertThat(points).singleElement().satisfies(p -> {
            RunSpec spec = p.spec();
            assertThat(spec.seed()).isEqualTo(SweepExpander.DEFAULT_SEED);
            assertThat(spec.benchmark().phases()).containsExactly(Phase.FORWARD);
            assertThat(spec.training()).isNull();
            assertThat(p.gridValues()).isEmpty();
        });
    }

    @Test
    void shouldBindNestedRecordsAndEnumsOfATrainingSweep() {
        Map<String, Object> cca = map("family", "cca", "dModel", 256, "nHeads", 2, "headDim", 32,
                "conv", map("convSeqKernel", 3, "keyTemperature", "linear"));
        List<SweepPoint> points = expander.expand(new SweepRequest(RunKind.TRAINING, List.of(cca),
                map("learningRate", List.of(1e-3, 3e-3)), null, map("steps", 50, "seqLen", 32)));

        assertThat(points).hasSize(2);
        CcaConfig config = (CcaConfig) points.get(0).spec().variant();
        assertThat(config.conv().convSeqKernel()).isEqualTo(3);
        assertThat(config.conv().keyTemperature()).isEqualTo(KeyTemperature.LINEAR);
        assertThat(config.compression()).isEqualTo(4);
        assertThat(points).extracting(p -> p.spec().training().learningRate()).containsExactly(1e-3, 3e-3);
        assertThat(points.get(1).spec().training().steps()).isEqualTo(50);
    }

    @Test
    void shouldAcceptExactlyTheLimitAndRejectOneMoreAtGrid() {
        SweepExpander small = new SweepExpander(6);
        assertThat(small.expand(bench(List.of(mha(), gqa(1)), map("seqLen", List.of(8, 16, 32)), map("batch", 1)))).hasSize(6);

        assertThatThrownBy(() -> small.expand(bench(List.of(mha(), gqa(1)), map("seqLen", List.of(8, 16, 32, 64)), map("batch", 1))))
                .isInstanceOfSatisfying(InvalidSweepException.class, e -> {
                    assertThat(e.violations()).singleElement().satisfies(v -> {
                        assertThat(v.field()).isEqualTo("grid");
                        assertThat(v.reason()).contains("2 variants x 4 seqLen = 8 runs").contains("at most 6");
                    });
                });
    }

    @Test
    void shouldRejectAnAbsurdGridWithoutOverflowOrExpandingIt() {
        List<Integer> thousand = java.util.stream.IntStream.rangeClosed(1, 1000).boxed().toList();
        Map<String, Object> grid = map("seed", thousand, "batch", thousand.subList(0, 256), "seqLen", thousand,
                "warmup", thousand, "iterations", thousand, "dtype", List.of("bf16", "fp16", "fp32", "fp64"));
        assertThat(fields(() -> expander.expand(bench(List.of(mha()), grid, map())))).containsExactly("grid");
    }

    @Test
    void shouldNameTheVariantFieldAtFaultForEveryBadVariant() {
        List<Object> variants = List.of(mha(), gqa(3), map("family", "mla", "dModel", 256, "nHeads", 4, "kvLoraRank", 64, "qkRopeHeadDim", 3, "vHeadDim", 64),
                map("family", "rwkv"), map("dModel", 8), "mha", map("family", "mha", "dModel", 256, "nHeads", 4, "nKvHeads", 2));

        assertThat(fields(() -> expander.expand(bench(variants, null, map("batch", 1, "seqLen", 8)))))
                .containsExactly("variants[1].nKvHeads", "variants[2].qkRopeHeadDim", "variants[3].family",
                        "variants[4].family", "variants[5]", "variants[6].nKvHeads");
    }

    @Test
    void shouldNameNestedAndTypeFaultsWithTheirPath() {
        List<Object> variants = List.of(
                map("family", "cca", "dModel", 256, "nHeads", 2, "headDim", 32, "conv", map("convSeqKernel", 99)),
                map("family", "gqa", "dModel", "wide", "nHeads", 4, "nKvHeads", 1),
                map("family", "mha", "dModel", 256.5, "nHeads", 4),
                map("family", "mha", "dModel", 256, "nHeads", 4, "rope", map("fraction", 2.0, "base", 10000)),
                map("family", "mha", "dModel", 1e12, "nHeads", 4));

        assertThat(fields(() -> expander.expand(bench(variants, null, map("batch", 1, "seqLen", 8)))))
                .containsExactly("variants[0].conv.convSeqKernel", "variants[1].dModel", "variants[2].dModel",
                        "variants[3].rope.fraction", "variants[4].dModel");
    }

    @Test
    void shouldSayAParameterIsRequiredWhenItsCheckFailsOnAValueTheRequestLeftOut() {
        InvalidSweepException e = (InvalidSweepException) org.assertj.core.api.Assertions.catchThrowable(() ->
                expander.expand(bench(List.of(map("family", "cca", "dModel", 256, "nHeads", 2),
                        map("family", "cca", "dModel", 256, "nHeads", 2, "headDim", 0)), Map.of(), map())));

        assertThat(e.violations()).extracting(InvalidConfigException::field, InvalidConfigException::reason)
                .containsExactly(org.assertj.core.api.Assertions.tuple("variants[0].headDim", "is required: must be in [1, 512]"),
                        org.assertj.core.api.Assertions.tuple("variants[1].headDim", "must be in [1, 512], got 0"),
                        org.assertj.core.api.Assertions.tuple("benchmark.batch", "is required: must be in [1, 256]"),
                        org.assertj.core.api.Assertions.tuple("benchmark.seqLen", "is required: must be in [1, 131072]"));
    }

    @Test
    void shouldPlaceAGridValueFaultAtItsGridEntryAndABaseFaultAtTheBase() {
        InvalidSweepException e = (InvalidSweepException) org.assertj.core.api.Assertions.catchThrowable(() ->
                expander.expand(bench(List.of(mha()), map("seqLen", List.of(64, 0, 200_000), "batch", List.of(1, "two")),
                        map("dtype", "fp8"))));

        assertThat(e.violations()).extracting(InvalidConfigException::field)
                .contains("grid.seqLen[1]", "grid.seqLen[2]", "grid.batch[1]", "benchmark.dtype")
                .doesNotHaveDuplicates();
        assertThat(e.violations()).filteredOn(v -> v.field().equals("grid.seqLen[2]"))
                .singleElement().satisfies(v -> assertThat(v.reason()).contains("200000"));
    }

    @Test
    void shouldPlaceAVariantAndSpecCombinationFaultAtTheGridEntryOrTheBaseNamingTheVariant() {
        Map<String, Object> hybrid = map("family", "ovq", "dModel", 64, "nHeads", 2,
                "ovq", map("chunkLength", 16, "dictionarySize", 16, "growthLength", 256, "swaWindow", 32));
        Map<String, Object> ovqOnly = map("family", "ovq", "dModel", 64, "nHeads", 2,
                "ovq", map("chunkLength", 16, "dictionarySize", 16, "growthLength", 256, "swaWindow", 0));

        InvalidSweepException fromGrid = (InvalidSweepException) org.assertj.core.api.Assertions.catchThrowable(() ->
                expander.expand(new SweepRequest(RunKind.TRAINING, List.of(ovqOnly, hybrid),
                        map("nLayers", List.of(2, 1)), null, map("steps", 5))));
        assertThat(fromGrid.violations()).singleElement().satisfies(v -> {
            assertThat(v.field()).isEqualTo("grid.nLayers[1]");
            assertThat(v.reason()).contains("nLayers >= 2").endsWith("(with variants[1])");
        });

        assertThat(fields(() -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(hybrid),
                null, null, map("steps", 5, "nLayers", 1))))).containsExactly("training.nLayers");
        // One block of OVQ layers only, or of another family, is a model; so is a two-block hybrid.
        assertThat(expander.expand(new SweepRequest(RunKind.TRAINING, List.of(ovqOnly, mha()), null, null,
                map("steps", 5, "nLayers", 1)))).hasSize(2);
        assertThat(expander.expand(new SweepRequest(RunKind.TRAINING, List.of(hybrid), null, null,
                map("steps", 5, "nLayers", 2)))).hasSize(1);
    }

    @Test
    void shouldRejectUnknownGridKeysEmptyAxesDuplicatesAndNonArrays() {
        assertThat(fields(() -> expander.expand(bench(List.of(mha()),
                map("seqlen", List.of(1), "batch", List.of(), "seed", List.of(1, 1.0), "dtype", "bf16", "learningRate", List.of(1e-3)),
                map("batch", 1, "seqLen", 8)))))
                .containsExactly("grid.seqlen", "grid.batch", "grid.seed[1]", "grid.dtype", "grid.learningRate");
    }

    @Test
    void shouldRejectAMissingKindNoVariantsAndTheOtherKindsBase() {
        assertThat(fields(() -> expander.expand(new SweepRequest(null, List.of(mha()), null, map(), null)))).containsExactly("kind");
        assertThat(fields(() -> expander.expand(new SweepRequest(RunKind.BENCHMARK, List.of(), null, map("batch", 1, "seqLen", 8), map()))))
                .containsExactly("training", "variants");
    }

    @Test
    void shouldRejectUnknownBaseParametersAndNonIntegralSeeds() {
        assertThat(fields(() -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()), map("seed", List.of(1.5)), null,
                map("stepz", 10))))).containsExactly("grid.seed[0]");
        assertThat(fields(() -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()), null, null,
                map("stepz", 10))))).containsExactly("training.stepz");
    }

    @Test
    void shouldListTheGridKeysOfEachKind() {
        assertThat(SweepExpander.gridKeys(RunKind.BENCHMARK)).startsWith("seed", "batch", "seqLen").contains("phases", "dtype");
        assertThat(SweepExpander.gridKeys(RunKind.TRAINING)).contains("seed", "learningRate", "dataset", "steps").doesNotContain("phases");
    }

    @Test
    void shouldBindDeterministicDefaultingToFalseOnBothKindsAndSweepItAsAGridAxis() {
        SweepRequest plain = bench(List.of(mha()), null, map("batch", 1, "seqLen", 64));
        assertThat(expander.expand(plain)).singleElement().satisfies(p -> {
            assertThat(p.spec().benchmark().deterministic()).isFalse();
            assertThat(p.spec().deterministic()).isFalse();
        });

        List<SweepPoint> both = expander.expand(bench(List.of(mha()), map("deterministic", List.of(false, true)),
                map("batch", 1, "seqLen", 64, "phases", List.of("backward"))));
        assertThat(both).extracting(p -> p.spec().deterministic()).containsExactly(false, true);
        assertThat(both.get(1).gridValues()).containsExactly(Map.entry("deterministic", true));

        SweepRequest training = new SweepRequest(RunKind.TRAINING, List.of(mha()), null, null,
                map("steps", 10, "deterministic", true));
        assertThat(expander.expand(training)).singleElement().satisfies(p -> {
            assertThat(p.spec().training().deterministic()).isTrue();
            assertThat(p.spec().deterministic()).isTrue();
        });
        assertThat(SweepExpander.gridKeys(RunKind.BENCHMARK)).contains("deterministic");
        assertThat(SweepExpander.gridKeys(RunKind.TRAINING)).contains("deterministic");
    }

    @Test
    void shouldRejectADeterministicThatIsNotABooleanAtItsPath() {
        assertThat(fields(() -> expander.expand(bench(List.of(mha()), null, map("batch", 1, "seqLen", 64, "deterministic", "yes")))))
                .containsExactly("benchmark.deterministic");
        assertThat(fields(() -> expander.expand(bench(List.of(mha()), map("deterministic", List.of(true, 1)), map("batch", 1, "seqLen", 64)))))
                .containsExactly("grid.deterministic[1]");
        assertThat(fields(() -> expander.expand(bench(List.of(mha()), map("deterministic", List.of(true, true)), map("batch", 1, "seqLen", 64)))))
                .containsExactly("grid.deterministic[1]");
        assertThat(fields(() -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()), null, null,
                map("deterministic", 0))))).containsExactly("training.deterministic");
    }

    private static List<String> messages(Runnable r) {
        try {
            r.run();
        } catch (InvalidSweepException e) {
            return e.violations().stream().map(Throwable::getMessage).toList();
        }
        throw new AssertionError("expected an InvalidSweepException");
    }

    @Test
    void shouldRefuseABaseValueThatEveryGridPointOverridesByTheFieldsOwnRule() {
        Runnable r = () -> expander.expand(bench(List.of(mha()), map("seqLen", List.of(1024, 2048)), map("batch", 1, "seqLen", -5)));
        assertThat(messages(r)).containsExactly("benchmark.seqLen: must be in [1, 131072], got -5");

        // Wrongly typed, beyond int, an element of a list, a boolean: each named at the base as an unswept one would be.
        Runnable types = () -> expander.expand(bench(List.of(mha()),
                map("seqLen", List.of(1024), "batch", List.of(1, 2), "phases", List.of(List.of("FORWARD")), "deterministic", List.of(false, true)),
                map("seqLen", "long", "batch", 99_999_999_999L, "phases", List.of("SIDEWAYS"), "deterministic", "yes")));
        assertThat(fields(types)).containsExactlyInAnyOrder("benchmark.seqLen", "benchmark.batch", "benchmark.phases[0]",
                "benchmark.deterministic");
        assertThat(messages(types)).contains("benchmark.seqLen: must be an integer, got \"long\"",
                "benchmark.batch: must be in [1, 256], got 99999999999", "benchmark.deterministic: must be true or false, got \"yes\"");

        Runnable training = () -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()),
                map("learningRate", List.of(1e-3, 3e-3), "dataset", List.of("recall")), null,
                map("learningRate", 5.0, "dataset", "icr:abc", "steps", 10)));
        assertThat(fields(training)).containsExactly("training.learningRate", "training.dataset");
    }

    @Test
    void shouldListAnOverriddenBaseFaultWithEveryOtherFaultOfTheRequest() {
        Runnable r = () -> expander.expand(bench(List.of(mha(), gqa(3)), map("seqLen", List.of(1024, 0)),
                map("batch", 1, "seqLen", -5, "dtype", "fp8")));
        assertThat(fields(r)).containsExactly("variants[1].nKvHeads", "benchmark.dtype", "grid.seqLen[1]", "benchmark.seqLen");

        // A fault in every point (dtype): the base value is still judged, with the first point's values.
        Runnable none = () -> expander.expand(bench(List.of(mha()), map("seqLen", List.of(1024)),
                map("batch", 1, "seqLen", 0, "dtype", "fp8")));
        assertThat(messages(none)).containsExactly("benchmark.dtype: must be one of [bf16, fp16, fp32, fp64], got fp8",
                "benchmark.seqLen: must be in [1, 131072], got 0");
    }

    @Test
    void shouldJudgeAnOverriddenBaseValueWithTheRunsOtherValuesAndBlameOnlyItsOwnField() {
        // warmupSteps 50 replaced by the grid's 5 would still not fit the runs' 10 steps: its own rule refuses it.
        Runnable r = () -> expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()), map("warmupSteps", List.of(5)),
                null, map("steps", 10, "warmupSteps", 50)));
        assertThat(messages(r)).containsExactly("training.warmupSteps: must be in [0, 10], got 50");

        // steps 10 replaced by the grid is a valid steps; that it would not fit the (unswept) warmupSteps 50 is no fault,
        // as no run has both: accepted as before.
        List<SweepPoint> points = expander.expand(new SweepRequest(RunKind.TRAINING, List.of(mha()), map("steps", List.of(100, 200)),
                null, map("steps", 10, "warmupSteps", 50)));
        assertThat(points).extracting(p -> p.spec().training().warmupSteps()).containsExactly(50, 50);
    }

    @Test
    void shouldExpandAValidOrNullOverriddenBaseValueExactlyAsWithoutIt() {
        List<SweepPoint> without = expander.expand(bench(List.of(mha()), map("seqLen", List.of(1024, 2048), "seed", List.of(1, 2)),
                map("batch", 1)));
        for (Object base : java.util.Arrays.asList(4096, 1, 131_072, null)) {
            Map<String, Object> spec = map("batch", 1, "seqLen", base);
            List<SweepPoint> with = expander.expand(bench(List.of(mha()), map("seqLen", List.of(1024, 2048), "seed", List.of(1, 2)), spec));
            assertThat(with).as("base seqLen %s", base).isEqualTo(without);
        }
        // A seed axis replaces no base value; a base without the swept key has nothing to judge.
        assertThat(expander.expand(bench(List.of(mha()), map("seed", List.of(1, 2)), map("batch", 1, "seqLen", 64)))).hasSize(2);
    }

    @Test
    void shouldReportAValueBeyondIntAgainstTheFieldsOwnRange() {
        Runnable base = () -> expander.expand(bench(List.of(mha()), null, map("batch", 1, "seqLen", 99_999_999_999L)));
        assertThat(messages(base)).containsExactly("benchmark.seqLen: must be in [1, 131072], got 99999999999");
        Runnable grid = () -> expander.expand(bench(List.of(mha()), map("seqLen", List.of(128, new java.math.BigInteger("99999999999999999999"))), map("batch", 1)));
        assertThat(messages(grid)).containsExactly("grid.seqLen[1]: must be in [1, 131072], got 99999999999999999999");
        Runnable negative = () -> expander.expand(bench(List.of(mha()), null, map("batch", -99_999_999_999L, "seqLen", 128)));
        assertThat(fields(negative)).containsExactly("benchmark.batch");
        assertThat(messages(negative).getFirst()).doesNotContain("2147483648").endsWith("got -99999999999");
    }

    @Test
    void shouldBlameARealFieldForAHeadDimTooLarge() {
        Runnable r = () -> expander.expand(bench(List.of(map("family", "mha", "dModel", 16384, "nHeads", 1)), null, map("batch", 1, "seqLen", 128)));
        assertThat(fields(r)).containsExactly("variants[0].nHeads");
        assertThat(messages(r).getFirst()).contains("dModel/nHeads", "16384");
    }

    @Test
    void shouldReportEveryFaultOfOneVariant() {
        Runnable r = () -> expander.expand(bench(List.of(map("family", "ovq", "dModel", 64, "nHeads", 2,
                "ovq", map("chunkLength", 0, "growth", "EXP", "colour", "red"))), null, map("batch", 1, "seqLen", 128)));
        assertThat(fields(r)).containsExactlyInAnyOrder("variants[0].ovq.colour", "variants[0].ovq.growth", "variants[0].ovq.chunkLength");
        // Two type faults in one record and in one list are both reported; a range fault beside them too.
        Runnable types = () -> expander.expand(bench(List.of(map("family", "mha", "dModel", "64", "nHeads", "4")), null,
                map("batch", 1, "seqLen", 128, "phases", List.of("SIDEWAYS", "UP"), "warmup", "x")));
        assertThat(fields(types)).contains("variants[0].dModel", "variants[0].nHeads", "benchmark.phases[0]",
                "benchmark.phases[1]", "benchmark.warmup");
    }

    @Test
    void shouldNotReportARuleAcrossValuesThatADefaultPutInMightHaveCaused() {
        // growth "EXP" is at fault; its default (LOG) would make growthLength 100 < dictionarySize 128 a fault the
        // request may not have: only the growth is reported.
        Runnable r = () -> expander.expand(bench(List.of(map("family", "ovq", "dModel", 64, "nHeads", 2,
                "ovq", map("growth", "EXP", "dictionarySize", 128, "growthLength", 100))), null, map("batch", 1, "seqLen", 128)));
        assertThat(fields(r)).containsExactly("variants[0].ovq.growth");
    }

    private static List<String> faults(Runnable r) {
        try {
            r.run();
        } catch (InvalidSweepException e) {
            return e.violations().stream().map(Throwable::getMessage).toList();
        }
        throw new AssertionError("expected an InvalidSweepException");
    }

    @Test
    void shouldReportEveryRangeFaultOfTheBenchmarkSpecTogether() {
        Runnable r = () -> expander.expand(bench(List.of(mha()), null, map("batch", 0, "seqLen", -5, "iterations", 0)));
        assertThat(faults(r)).containsExactly("benchmark.batch: must be in [1, 256], got 0",
                "benchmark.seqLen: must be in [1, 131072], got -5", "benchmark.iterations: must be in [1, 10000], got 0");
        Runnable dtype = () -> expander.expand(bench(List.of(mha()), null, map("batch", 0, "seqLen", 8, "dtype", "int4", "warmup", -1)));
        assertThat(fields(dtype)).containsExactly("benchmark.batch", "benchmark.dtype", "benchmark.warmup");
    }

    @Test
    void shouldReportEveryRangeFaultOfOneVariantTogether() {
        Runnable mha = () -> expander.expand(bench(List.of(map("family", "mha", "dModel", 0, "nHeads", 0)), null,
                map("batch", 1, "seqLen", 128)));
        assertThat(faults(mha)).containsExactly("variants[0].dModel: must be in [1, 16384], got 0",
                "variants[0].nHeads: must be in [1, 256], got 0");
        Runnable gqa = () -> expander.expand(bench(List.of(map("family", "gqa", "dModel", 0, "nHeads", 300, "nKvHeads", 0)), null,
                map("batch", 1, "seqLen", 128)));
        assertThat(fields(gqa)).containsExactly("variants[0].dModel", "variants[0].nHeads", "variants[0].nKvHeads");
        Runnable ccgqa = () -> expander.expand(bench(List.of(map("family", "ccgqa", "dModel", 0, "nQHeads", 0, "nKvHeads", 0,
                "headDim", 0)), null, map("batch", 1, "seqLen", 128)));
        assertThat(fields(ccgqa)).containsExactly("variants[0].dModel", "variants[0].nQHeads", "variants[0].headDim",
                "variants[0].nKvHeads");
        Runnable cca = () -> expander.expand(bench(List.of(map("family", "cca", "dModel", 0, "nHeads", 0)), null,
                map("batch", 1, "seqLen", 128)));
        assertThat(faults(cca)).containsExactly("variants[0].dModel: must be in [1, 16384], got 0",
                "variants[0].nHeads: must be in [1, 256], got 0", "variants[0].headDim: is required: must be in [1, 512]");
        Runnable ovq = () -> expander.expand(bench(List.of(map("family", "ovq", "dModel", 0, "nHeads", 0,
                "ovq", map("chunkLength", 0, "constantRate", 5.0, "swaWindow", -1))), null, map("batch", 1, "seqLen", 128)));
        assertThat(fields(ovq)).containsExactlyInAnyOrder("variants[0].dModel", "variants[0].nHeads",
                "variants[0].ovq.chunkLength", "variants[0].ovq.constantRate", "variants[0].ovq.swaWindow");
    }

    @Test
    void shouldReportEveryMissingRequiredMlaParameterAtOnceAndCrossRulesOnlyAfter() {
        Runnable missing = () -> expander.expand(bench(List.of(map("family", "mla", "dModel", 256, "nHeads", 4,
                "qkRopeHeadDim", 64)), null, map("batch", 1, "seqLen", 128)));
        assertThat(faults(missing)).containsExactly("variants[0].kvLoraRank: is required: must be in [1, 16384]",
                "variants[0].vHeadDim: is required: must be in [1, 512]");
        // qkRopeHeadDim odd and vHeadDim 0 together; the cross rule (qkNope + qkRope >= 1) is not reached.
        Runnable mixed = () -> expander.expand(bench(List.of(map("family", "mla", "dModel", 256, "nHeads", 4,
                "kvLoraRank", 0, "qkRopeHeadDim", 3, "vHeadDim", 0)), null, map("batch", 1, "seqLen", 128)));
        assertThat(faults(mixed)).containsExactly("variants[0].kvLoraRank: must be in [1, 16384], got 0",
                "variants[0].qkRopeHeadDim: must be even (rotate-half pairs), got 3",
                "variants[0].vHeadDim: must be in [1, 512], got 0");
        // With every single value valid, the cross rule is reported.
        Runnable cross = () -> expander.expand(bench(List.of(map("family", "mla", "dModel", 256, "nHeads", 4,
                "kvLoraRank", 64, "vHeadDim", 64)), null, map("batch", 1, "seqLen", 128)));
        assertThat(faults(cross)).containsExactly("variants[0].qkNopeHeadDim: is required: qkNopeHeadDim + qkRopeHeadDim must be >= 1");
    }
}
