package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.junit.jupiter.api.Test;

/** CudaOvq's host side without a GPU: what it refuses, the growth table, the flag bits, the kernel names. */
class CudaOvqTest {
    static OvqSpec spec(int chunk, int nMax, int growthLength, OvqGrowth growth) {
        return new OvqSpec(chunk, nMax, growthLength, growth, null, null, null, null, null, null, null, 0);
    }

    @Test
    void refusesWhatTheKernelsDoNotCoverNamingTheField() {
        assertThat(CudaOvq.unsupported(OvqSpec.DEFAULT, 64)).isNull();
        assertThat(CudaOvq.unsupported(OvqSpec.DEFAULT, 128)).isNull();
        assertThat(CudaOvq.unsupported(OvqSpec.DEFAULT, 96)).startsWith("variant.headDim").contains("96");
        assertThat(CudaOvq.unsupported(spec(128, 1024, 4096, OvqGrowth.LOG), 64)).startsWith("variant.ovq.chunkLength")
                .contains("128");
        assertThat(CudaOvq.unsupported(spec(64, 1 << 16, 1 << 24, OvqGrowth.LINEAR), 64)).isNull(); // 2^18 chunks
        assertThat(CudaOvq.unsupported(spec(1, 1 << 16, 1 << 24, OvqGrowth.LOG), 64)).startsWith("variant.ovq.growthLength");
    }

    @Test
    void theGrowthTableIsTheSchedulesTargetsUpToItsCap() {
        for (OvqSpec s : new OvqSpec[] {OvqSpec.DEFAULT, spec(16, 48, 256, OvqGrowth.LOG), spec(64, 1100, 1100, OvqGrowth.LINEAR),
                spec(1, 20, 100, OvqGrowth.LOG), spec(64, 8, 4096, OvqGrowth.LOG)}) {
            int[] t = CudaOvq.targets(s);
            assertThat(t[t.length - 1]).isEqualTo(s.dictionarySize());
            for (int f = 0; f < t.length; f++) assertThat(t[f]).isEqualTo(s.dictionaryTarget((long) (f + 1) * s.chunkLength()));
            if (t.length > 1) assertThat(t[t.length - 2]).isLessThan(s.dictionarySize());
            // past the table the kernel keeps its last entry: the schedule must agree far beyond it
            assertThat(s.dictionaryTarget((long) (4 * t.length + 7) * s.chunkLength())).isEqualTo(s.dictionarySize());
        }
    }

    @Test
    void flagBitsFollowTheKernelsConstants() throws IOException {
        assertThat(CudaOvq.flags(OvqSpec.DEFAULT)).isEqualTo(1 | 2);
        OvqSpec all = new OvqSpec(64, 1024, 4096, OvqGrowth.LOG, OvqAssignment.DOT, OvqUpdate.CONSTANT, 0.2, true, true,
                null, null, 0);
        assertThat(CudaOvq.flags(all)).isEqualTo(4 | 8);
        String src = Files.readString(cuda("attention/ovq.cuh"));
        assertThat(src).contains("F_EUCLIDEAN = 1, F_NEWTON = 2, F_STATE_ONLY = 4, F_RENORMALIZE = 8")
                .contains("NT = 256, NW = NT / 32, MAX_L = " + CudaOvq.MAX_CHUNK + ";")
                .contains("DEC_ROWS = " + CudaOvq.DECODE_ROWS + ";")
                .contains("rt() { return D == 64 ? 64 : 32; }")
                .contains("prev_stride() { return 2 * D + 4; }"); // CudaOvq.Records sizes prev with it
        assertThat(CudaOvq.smemBytes(64)).isEqualTo(73_472);
        assertThat(CudaOvq.smemBytes(128)).isEqualTo(114_048).isLessThan(113 * 1024); // two blocks per SM
        String bwd = Files.readString(cuda("attention/ovq_bwd.cuh"));
        assertThat(bwd).contains("F_STATE_GRAD = " + CudaOvq.STATE_GRADIENT + ";")
                .contains("bwd_br() { return D == 64 ? 32 : 16; }")
                .contains("bwd_pq() { return D + 8; }")
                .contains("bwd_ts() { return D + 4; }");
        // tile 2 x 32 x 68 + 64 + 2 x 64 x 33, chunk 2 x 64 x 72, per-token / per-warp arrays 1609 floats
        assertThat(CudaOvq.backwardSmemBytes(64)).isEqualTo(77_860);
        // the partial dq (64 x 132) outgrows the tile; chunk 2 x 64 x 136
        assertThat(CudaOvq.backwardSmemBytes(128)).isEqualTo(109_860).isLessThan(113 * 1024);
    }

    @Test
    void everyKernelNameIsAnInstance() throws IOException {
        String src = Files.readString(cuda("ovq_kernels.cuh"));
        for (int d : CudaOvq.HEAD_DIMS) {
            assertThat(src).contains("OVQ_RUN(" + CudaOvq.runKernel(d) + ", " + d + ", false)")
                    .contains("OVQ_RUN(" + CudaOvq.trainKernel(d) + ", " + d + ", true)")
                    .contains("OVQ_BWD(" + d + ")").contains("OVQ_L2NORM(" + d + ")").contains("OVQ_L2NORM_BWD(" + d + ")");
            assertThat(CudaOvq.all()).contains(CudaOvq.runKernel(d), CudaOvq.trainKernel(d), CudaOvq.backwardKernel(d),
                    CudaOvq.l2normKernel(d), CudaOvq.l2normBackwardKernel(d));
        }
        assertThat(src).contains("__cluster_dims__(" + CudaOvq.CLUSTER + ", 1, 1)");
        assertThat(CudaKernels.all()).containsAll(CudaOvq.all());
    }

    static Path cuda(String file) {
        Path p = Path.of("src/main/cuda", file);
        return Files.exists(p) ? p : Path.of("engine/src/main/cuda", file);
    }
}
