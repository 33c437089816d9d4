package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ccalab.engine.backend.cuda.CudaTrainingKernels.Dtype;
import org.junit.jupiter.api.Test;

/** CPU-only: names against the CUDA instance file, launch shapes, argument checks. GPU results: bench/check_training_kernels.py. */
class CudaTrainingKernelsTest {
    private static String instanceFile() throws IOException {
        Path p = Path.of("src/main/cuda/training_kernels.cuh");
        if (!Files.exists(p)) p = Path.of("engine/src/main/cuda/training_kernels.cuh");
        return Files.readString(p);
    }

    /** Kernel names the instance file defines: plain extern "C" functions and macro instances NAME(T, name). */
    private static Set<String> definedKernels(String src) {
        Set<String> names = new HashSet<>();
        Matcher direct = Pattern.compile("(?m)^([a-z][a-z0-9_]*)\\(").matcher(src);
        while (direct.find()) names.add(direct.group(1));
        Matcher macro = Pattern.compile("(?m)^[A-Z_]+\\([^,()]+, ([a-z][a-z0-9_]*)\\)\\s*$").matcher(src);
        while (macro.find()) names.add(macro.group(1));
        return names;
    }

    @Test
    void listsExactlyTheKernelsTheInstanceFileDefines() throws IOException {
        List<String> all = CudaTrainingKernels.all();
        assertThat(new HashSet<>(all)).hasSize(all.size());
        assertThat(definedKernels(instanceFile())).containsExactlyInAnyOrderElementsOf(all);
        assertThat(all).contains("rmsnorm_fwd", "rmsnorm_bwd_f32", "rmsnorm_bwd_bf16", "cross_entropy_bf16",
                "embedding_bwd_rows_f32", "adamw_step", "grad_sumsq_reduce", "rope_f32");
    }

    @Test
    void namesCarryTheDtypeSuffix() {
        assertThat(CudaTrainingKernels.crossEntropy(Dtype.BF16)).isEqualTo("cross_entropy_bf16");
        assertThat(CudaTrainingKernels.rmsnormBackward(Dtype.F32)).isEqualTo("rmsnorm_bwd_f32");
        assertThat(CudaTrainingKernels.embeddingForward(Dtype.F32)).isEqualTo("embedding_fwd_f32");
        assertThat(CudaTrainingKernels.embeddingBackwardRows(Dtype.BF16)).isEqualTo("embedding_bwd_rows_bf16");
        assertThat(CudaTrainingKernels.rope(Dtype.BF16)).isEqualTo("rope_bf16");
    }

    @Test
    void rmsnormShapes() {
        assertThat(CudaTrainingKernels.rmsnormForwardBlocks(16_384)).isEqualTo(2048);
        assertThat(CudaTrainingKernels.rmsnormForwardBlocks(9)).isEqualTo(2);
        // dw partials: one per 32 rows whatever the GPU, so the reduction order depends on N only
        assertThat(CudaTrainingKernels.rmsnormBackwardBlocks(16_384)).isEqualTo(512);
        assertThat(CudaTrainingKernels.rmsnormBackwardBlocks(33)).isEqualTo(2);
        assertThat(CudaTrainingKernels.rmsnormBackwardSmem(2048)).isEqualTo(32_768);
        assertThat(CudaTrainingKernels.rmsnormBackwardSmem(8192)).isEqualTo(131_072);
        assertThat(CudaTrainingKernels.rmsnormReduceBlocks(2048)).isEqualTo(64);
        assertThat(CudaTrainingKernels.rmsnormReduceBlocks(264)).isEqualTo(9);
    }

    @Test
    void crossEntropyTakesBigBlocksForBigVocabularies() {
        assertThat(CudaTrainingKernels.crossEntropyThreads(50_304)).isEqualTo(1024);
        assertThat(CudaTrainingKernels.crossEntropyThreads(16_384)).isEqualTo(1024);
        assertThat(CudaTrainingKernels.crossEntropyThreads(16_383)).isEqualTo(256);
        assertThat(CudaTrainingKernels.crossEntropyThreads(256)).isEqualTo(256);
    }

    @Test
    void gridsAreClampedAndNeverEmpty() {
        assertThat(CudaTrainingKernels.sumsqBlocks(0)).isEqualTo(1);
        assertThat(CudaTrainingKernels.sumsqBlocks(4096)).isEqualTo(1);
        assertThat(CudaTrainingKernels.sumsqBlocks(4097)).isEqualTo(2);
        assertThat(CudaTrainingKernels.sumsqBlocks(Integer.MAX_VALUE)).isEqualTo(1024);
        assertThat(CudaTrainingKernels.elementwiseBlocks(1)).isEqualTo(1);
        assertThat(CudaTrainingKernels.elementwiseBlocks(257)).isEqualTo(2);
        assertThat(CudaTrainingKernels.elementwiseBlocks(1L << 40)).isEqualTo(16_384);
        assertThat(CudaTrainingKernels.embeddingForwardBlocks(4097)).isEqualTo(513);
        assertThat(CudaTrainingKernels.embeddingScatterBlocks(1)).isEqualTo(1);
        assertThat(CudaTrainingKernels.embeddingScatterBlocks(1 << 24)).isEqualTo(4096);
    }

    @Test
    void refusesShapesTheKernelsCannotTake() {
        CudaTrainingKernels.checkWidth(8);
        CudaTrainingKernels.checkWidth(2048);
        assertThatThrownBy(() -> CudaTrainingKernels.checkWidth(12)).hasMessageContaining("multiple of 8");
        assertThatThrownBy(() -> CudaTrainingKernels.checkWidth(0)).isInstanceOf(IllegalArgumentException.class);
        CudaTrainingKernels.checkRope(128, 0, 64);
        CudaTrainingKernels.checkRope(192, 128, 64); // MLA: the rope slice after qk_nope
        assertThatThrownBy(() -> CudaTrainingKernels.checkRope(128, 0, 63)).hasMessageContaining("even");
        assertThatThrownBy(() -> CudaTrainingKernels.checkRope(1024, 0, 514)).hasMessageContaining("at most 512");
        assertThatThrownBy(() -> CudaTrainingKernels.checkRope(128, 96, 64)).hasMessageContaining("outside headDim");
    }
}
