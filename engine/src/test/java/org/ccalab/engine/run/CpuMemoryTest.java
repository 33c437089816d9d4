package org.ccalab.engine.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.data.CorpusStore;
import org.ccalab.engine.data.Datasets;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Admission of CPU runs by their estimated working set (CpuMemory), before anything is allocated. */
class CpuMemoryTest {
    @TempDir
    Path work;

    private CpuEngine engine() {
        return new CpuEngine(new Datasets(new CorpusStore(work.resolve("cache"), URI.create("http://127.0.0.1:9/"))),
                AttentionLayers::create);
    }

    private static long threadAllocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /**
     * The review's case: MHA 2048/16 at batch 8 x 16384 (x alone is 2 GiB of float64) used to start allocating and
     * starve the shared JVM for ~30 s before an OutOfMemoryError. It now fails at once, naming the estimate and the
     * heap, having allocated (almost) nothing.
     */
    @Test
    void benchmarkThatCannotFitFailsBeforeAllocating() {
        RunSpec spec = new RunSpec(RunKind.BENCHMARK, new MhaConfig(2048, 16), 1,
                new BenchmarkSpec(8, 16_384, null, null, null, "bf16", null, null), null);
        long a0 = threadAllocated();
        assertThatThrownBy(() -> engine().run(spec, work, null, new RecordingObserver()))
                .isInstanceOf(RunFailedException.class)
                .satisfies(e -> assertThat(((RunFailedException) e).failureClass()).isEqualTo(FailureClass.OUT_OF_MEMORY))
                .hasMessageContaining("estimated").hasMessageContaining("max heap").hasMessageContaining("GiB");
        assertThat(threadAllocated() - a0).as("bytes allocated before refusing").isLessThan(64L << 20);
    }

    @Test
    void trainingThatCannotFitFailsBeforeAllocatingTheModel() {
        RunSpec spec = new RunSpec(RunKind.TRAINING, new MhaConfig(1024, 8), 1, null,
                new TrainingSpec("recall", "bytes", 4, 4096, 32, 10, null, null, null, null, null, null, null));
        long a0 = threadAllocated();
        assertThatThrownBy(() -> engine().run(spec, work, null, new RecordingObserver()))
                .isInstanceOf(RunFailedException.class)
                .satisfies(e -> assertThat(((RunFailedException) e).failureClass()).isEqualTo(FailureClass.OUT_OF_MEMORY))
                .hasMessageContaining("training mha").hasMessageContaining("estimated");
        assertThat(threadAllocated() - a0).isLessThan(64L << 20);
    }

    @Test
    void budgetLeavesAReserveForTheRestOfTheJvm() {
        assertThat(CpuMemory.budgetBytes(1L << 30)).isEqualTo(768L << 20);
        assertThat(CpuMemory.budgetBytes(8L << 30)).isEqualTo(6L << 30);
        assertThat(CpuMemory.budgetBytes(200L << 20)).isZero();
        CpuMemory.require("small", 700L << 20, 1L << 30);
        assertThatThrownBy(() -> CpuMemory.require("big", 800L << 20, 1L << 30))
                .isInstanceOf(RunFailedException.class)
                .hasMessage("big needs an estimated 800 MiB of float64 working set on the CPU engine, over the 768 MiB it"
                        + " may use (max heap 1024 MiB less a 256 MiB reserve for the rest of this JVM); use a smaller"
                        + " batch, seqLen or width, or a CUDA worker");
    }

    static List<AttentionConfig> variants() {
        return List.of(new MhaConfig(512, 4), new GqaConfig(512, 4, 1), MlaConfig.kvMatched(512, 4, 128),
                new MlaConfig(512, 4, 256, 128, 128, 64, 128, 10_000.0, 1e-6), new CcaConfig(512, 4, 4),
                new CcgqaConfig(512, 4, 2, 4), new OvqConfig(512, 4));
    }

    /**
     * The estimate is an upper bound of what the run holds: it covers x, dy, the error check's copies and the
     * parameters plus everything one forward and one backward of the real layer allocate in total (garbage
     * included, so more than they hold at once), for every family; and it is not absurdly above it.
     */
    @ParameterizedTest
    @MethodSource("variants")
    void estimateBoundsWhatTheLayersAllocate(AttentionConfig cfg) {
        int b = 2, s = 128, e = cfg.dModel();
        AttentionLayer layer = AttentionLayers.create(cfg, SplitMix64.derive(1, "init"));
        SplitMix64 rng = SplitMix64.derive(2, "data");
        Tensor x = Tensor.zeros(b, s, e);
        for (int i = 0; i < x.data().length; i++) x.data()[i] = rng.nextGaussian();
        Tensor dy = x.copy();
        layer.backward(layer.forward(x), dy); // warm: one-time allocations are not the run's
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long a0 = mx.getTotalThreadAllocatedBytes();
        ForwardPass pass = layer.forward(x);
        layer.backward(pass, dy);
        long passes = mx.getTotalThreadAllocatedBytes() - a0;
        long held = 8L * (4L * b * s * e + 3 * CostModel.parameters(cfg));
        long estimate = CpuMemory.benchmarkBytes(cfg, new BenchmarkSpec(b, s, List.of(Phase.FORWARD, Phase.BACKWARD),
                null, null, "fp32", 0, 1));
        assertThat(estimate).as("%s estimate vs allocated %d", cfg.family(), passes + held).isGreaterThan(passes + held);
        assertThat(estimate).as("%s estimate not absurd", cfg.family()).isLessThan(3 * (passes + held));
    }
}
