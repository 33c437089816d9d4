package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * On a GPU host: the tensor-core CCA prologue's two block heights (64 tokens, and the 32-token "_t32" instance that
 * short sequences get, CudaKernels.ccaTokensPerBlock) write the same q and k bit for bit: every output element is the
 * same sequence of TF32 MMAs over the same W chunks and the same per-token elementwise work, only the split of tokens
 * and columns over warps differs. Lengths that are not multiples of 32 or 64 and one shorter than a block check the
 * edges; the float64 checks of the launched instances are the layer tests' (CudaCcaLayerGpuTest, CudaBenchCli
 * checks) and bench/side_by_side.py's check_prologue (both heights).
 */
@Tag("gpu")
class CudaCcaPrologueGpuTest {
    @ParameterizedTest
    @CsvSource({"1, 5, 4, 4, 128, 2, 2, 64, EXP, true", "2, 100, 8, 2, 128, 2, 2, 64, LINEAR, true",
            "1, 333, 4, 2, 64, 3, 2, 64, CLAMPED_EXP, true", "2, 97, 4, 1, 128, 2, 3, 0, EXP, false",
            "1, 161, 2, 1, 256, 2, 2, 128, EXP, true", "1, 1000, 8, 8, 64, 2, 2, 32, EXP, true"})
    void bothBlockHeightsWriteTheSameQAndK(int b, int t, int hq, int hkv, int d, int k0, int k1, int rotary,
                                          KeyTemperature temp, boolean qkMean) {
        int groups = hq + hkv, c = groups * d;
        List<DeviceBuffer> held = new ArrayList<>();
        try (CudaBackend cuda = CudaBackend.open()) {
            CcaPrologueWeights w = new CcaPrologueWeights(keep(held, cuda.uploadFloats(Random.floats(c * k0, 1, 0.5))),
                    keep(held, cuda.uploadFloats(Random.floats(c, 2, 0.1))),
                    keep(held, cuda.uploadFloats(CcaPrologueWeights.repackW1(Random.floats(c * d * k1, 5, 1 / Math.sqrt(d * k1)),
                            groups, d, k1))),
                    keep(held, cuda.uploadFloats(Random.floats(c, 3, 0.1))),
                    keep(held, cuda.uploadFloats(Random.floats(hkv, 4, 0.3))), k0, k1);
            CudaBackend.PrologueOptions opt = new CudaBackend.PrologueOptions(rotary, 10_000.0, temp, 1e-12, qkMean);
            AttentionShape s = new AttentionShape(b, t, hq, hkv, d);
            DeviceBuffer z = keep(held, cuda.uploadBf16(Random.bf16((long) b * t * c, 6)));
            short[][] out = new short[4][];
            int[] heights = {CudaKernels.CCA_TT, CudaKernels.CCA_TT_SHORT};
            for (int i = 0; i < 2; i++) {
                DeviceBuffer q = keep(held, cuda.allocate(s.qElements() * 2)), k = keep(held, cuda.allocate(s.kvElements() * 2));
                cuda.poison(q);
                cuda.poison(k);
                cuda.ccaPrologue(q, k, z, w, s, opt, CudaKernels.Prologue.TENSOR_CORE, heights[i]);
                out[2 * i] = cuda.downloadBf16(q, (int) s.qElements());
                out[2 * i + 1] = cuda.downloadBf16(k, (int) s.kvElements());
            }
            for (short[] o : out)
                for (short v : o) assertThat(Float.isFinite(Bf16.toFloat(v))).as("no poisoned or non-finite output").isTrue();
            assertThat(out[2]).as("q, 32-token blocks vs 64").isEqualTo(out[0]);
            assertThat(out[3]).as("k, 32-token blocks vs 64").isEqualTo(out[1]);
            assertThatThrownBy(() -> cuda.ccaPrologue(z, z, z, w, s, opt, CudaKernels.Prologue.TENSOR_CORE, 16))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 tokens per block");
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer buffer) {
        held.add(buffer);
        return buffer;
    }
}
