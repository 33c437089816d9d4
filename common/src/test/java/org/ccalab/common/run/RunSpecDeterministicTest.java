package org.ccalab.common.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.variant.MhaConfig;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** The per-run deterministic option on the wire: its JSON, its default, and specs stored before it existed. */
class RunSpecDeterministicTest {
    private final JsonMapper json = JsonMapper.builder().build();

    @Test
    void shouldRoundTripDeterministicOnBothKindsWithoutATopLevelProperty() {
        RunSpec bench = new RunSpec(RunKind.BENCHMARK, new MhaConfig(64, 4), 3,
                new BenchmarkSpec(1, 64, List.of(Phase.BACKWARD), null, null, null, null, null, true), null);
        String text = json.writeValueAsString(bench);
        assertThat(json.readTree(text).get("benchmark").get("deterministic").asBoolean()).isTrue();
        assertThat(json.readTree(text).has("deterministic")).as("derived, not a property of its own").isFalse();
        RunSpec back = json.readValue(text, RunSpec.class);
        assertThat(back).isEqualTo(bench);
        assertThat(back.deterministic()).isTrue();

        RunSpec train = new RunSpec(RunKind.TRAINING, new MhaConfig(64, 4), 3, null,
                new TrainingSpec(null, null, null, null, null, 10, null, null, null, null, null, null, null, true));
        RunSpec trainBack = json.readValue(json.writeValueAsString(train), RunSpec.class);
        assertThat(trainBack).isEqualTo(train);
        assertThat(trainBack.deterministic()).isTrue();
    }

    @Test
    void shouldWriteTheOptionOnlyWhenTrueSoSpecsThatDoNotAskKeepTheirJsonAndHash() {
        RunSpec plain = new RunSpec(RunKind.BENCHMARK, new MhaConfig(64, 4), 3,
                new BenchmarkSpec(1, 64, null, null, null, null, null, null, false), null);
        RunSpec before = new RunSpec(RunKind.BENCHMARK, new MhaConfig(64, 4), 3,
                new BenchmarkSpec(1, 64, null, null, null, null, null, null), null);
        assertThat(json.readTree(json.writeValueAsString(plain)).get("benchmark").has("deterministic")).isFalse();
        assertThat(json.writeValueAsString(plain)).isEqualTo(json.writeValueAsString(before));
        TrainingSpec t = new TrainingSpec(null, null, null, null, null, 10, null, null, null, null, null, null, null, false);
        assertThat(json.readTree(json.writeValueAsString(t)).has("deterministic")).isFalse();
    }

    @Test
    void shouldReadASpecStoredBeforeTheOptionExistedAsNotDeterministic() {
        RunSpec old = json.readValue("""
                {"kind":"TRAINING","variant":{"family":"mha","dModel":64,"nHeads":4},"seed":1,
                 "training":{"dataset":"recall","steps":10}}""", RunSpec.class);
        assertThat(old.training().deterministic()).isFalse();
        assertThat(old.deterministic()).isFalse();
        assertThat(new BenchmarkSpec(1, 8, null, null, null, null, null, null).deterministic()).isFalse();
    }

    @Test
    void shouldCarryTheAttemptsDeterminismInTheFingerprintAndReadOldFingerprintsAsUnsaid() {
        EnvironmentFingerprint env = new EnvironmentFingerprint("c", false, "v", "k", "cpu", "none", "none", "none", "jvm", "h");
        assertThat(env.deterministicBackward()).isNull();
        EnvironmentFingerprint det = env.withDeterministicBackward(true);
        assertThat(json.readValue(json.writeValueAsString(det), EnvironmentFingerprint.class)).isEqualTo(det);
        assertThat(json.readValue("""
                {"gitCommit":"c","gitDirty":false,"engineVersion":"v","kernelBuildHash":"k","backend":"cpu",
                 "gpuModel":"none","driverVersion":"none","cudaVersion":"none","jvm":"jvm","host":"h"}""",
                EnvironmentFingerprint.class)).isEqualTo(env);
    }
}
