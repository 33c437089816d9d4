package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * On a GPU host: CCA/CCGQA decode token by token from a zero state ({@code ccaDecodeStep}) equals the prefill
 * prologue over the same z at every position (q and the appended keys), and the value cache holds
 * [W_vc x_t ; W_vd x_{t-1}] exactly. The float64 check of the decode kernel is bench/side_by_side.py's
 * {@code check_cca_decode}; this one proves the Java launch (arguments, shapes, in-place state).
 */
@Tag("gpu")
class CudaCcaDecodeGpuTest {
    /** Both sides round the same fp32 math to bf16 once; the prefill's stage 2 runs in TF32 (~1e-3). */
    static final double TOLERANCE = 1e-2;

    @ParameterizedTest
    @CsvSource({"1, 40, 4, 4, 128, 2, 2, 64, EXP, true", "2, 33, 8, 2, 128, 2, 2, 64, LINEAR, true",
            "1, 25, 4, 2, 64, 3, 2, 64, CLAMPED_EXP, true", "2, 20, 4, 1, 128, 2, 3, 0, EXP, false",
            "1, 30, 2, 1, 256, 2, 2, 128, EXP, true"})
    void decodeEqualsPrefillAtEveryPosition(int b, int t, int hq, int hkv, int d, int k0, int k1, int rotary,
                                            KeyTemperature temp, boolean qkMean) {
        int groups = hq + hkv, c = groups * d, p = k0 - 1 + k1 - 1, half = hkv * d / 2;
        List<DeviceBuffer> held = new ArrayList<>();
        try (CudaBackend cuda = CudaBackend.open()) {
            float[] w1 = Random.floats(c * d * k1, 5, 1 / Math.sqrt(d * k1));
            CcaPrologueWeights w = new CcaPrologueWeights(keep(held, cuda.uploadFloats(Random.floats(c * k0, 1, 0.5))),
                    keep(held, cuda.uploadFloats(Random.floats(c, 2, 0.1))),
                    keep(held, cuda.uploadFloats(CcaPrologueWeights.repackW1(w1, groups, d, k1))),
                    keep(held, cuda.uploadFloats(Random.floats(c, 3, 0.1))),
                    keep(held, cuda.uploadFloats(Random.floats(hkv, 4, 0.3))), k0, k1);
            CudaBackend.PrologueOptions opt = new CudaBackend.PrologueOptions(rotary, 10_000.0, temp, 1e-12, qkMean);
            short[] z = Random.bf16((long) b * t * c, 6), vc = Random.bf16((long) b * t * half, 7),
                    vd = Random.bf16((long) b * t * half, 8);
            AttentionShape s = new AttentionShape(b, t, hq, hkv, d);
            DeviceBuffer zAll = keep(held, cuda.uploadBf16(z));
            DeviceBuffer qPre = keep(held, cuda.allocate(s.qElements() * 2)), kPre = keep(held, cuda.allocate(s.kvElements() * 2));
            cuda.ccaPrologue(qPre, kPre, zAll, w, s, opt);
            short[] qWant = cuda.downloadBf16(qPre, (int) s.qElements()), kWant = cuda.downloadBf16(kPre, (int) s.kvElements());

            DeviceBuffer kCache = keep(held, cuda.allocate(s.kvElements() * 2)), vCache = keep(held, cuda.allocate(s.kvElements() * 2));
            DeviceBuffer window = keep(held, cuda.allocate(Math.max(2, (long) b * p * c * 2)));
            DeviceBuffer vState = keep(held, cuda.allocate((long) b * half * 2));
            DeviceBuffer q = keep(held, cuda.allocate((long) b * hq * d * 2));
            cuda.zero(window);
            cuda.zero(vState);
            short[] qGot = new short[(int) s.qElements()];
            for (int pos = 0; pos < t; pos++) {
                try (DeviceBuffer zt = cuda.uploadBf16(rows(z, b, t, c, pos));
                     DeviceBuffer vct = cuda.uploadBf16(rows(vc, b, t, half, pos));
                     DeviceBuffer vdt = cuda.uploadBf16(rows(vd, b, t, half, pos))) {
                    cuda.ccaDecodeStep(q, kCache, vCache, window, vState, zt, vct, vdt, w, s, pos, opt);
                    short[] qt = cuda.downloadBf16(q, b * hq * d);
                    for (int bi = 0; bi < b; bi++)
                        System.arraycopy(qt, bi * hq * d, qGot, ((bi * t) + pos) * hq * d, hq * d);
                }
            }
            short[] kGot = cuda.downloadBf16(kCache, (int) s.kvElements()), vGot = cuda.downloadBf16(vCache, (int) s.kvElements());
            double eq = relErr(qGot, qWant), ek = relErr(kGot, kWant);
            System.out.printf("cca decode B%d T%d %dq/%dkv D%d k0=%d k1=%d: q rel err %.2e, k rel err %.2e (tolerance %.0e)%n",
                    b, t, hq, hkv, d, k0, k1, eq, ek, TOLERANCE);
            assertThat(eq).as("q, decode vs prefill").isLessThan(TOLERANCE);
            assertThat(ek).as("k cache, decode vs prefill").isLessThan(TOLERANCE);
            for (int bi = 0; bi < b; bi++)
                for (int pos = 0; pos < t; pos++)
                    for (int e = 0; e < 2 * half; e++) {
                        short want = e < half ? vc[(bi * t + pos) * half + e]
                                : pos == 0 ? 0 : vd[(bi * t + pos - 1) * half + e - half];
                        assertThat(vGot[(bi * t + pos) * 2 * half + e]).as("v cache b%d t%d channel %d", bi, pos, e).isEqualTo(want);
                    }
            assertThat(cuda.downloadBf16(vState, b * half)).as("value-shift state = W_vd x of the last token")
                    .isEqualTo(rows(vd, b, t, half, t - 1));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    @Test
    void aPositionOutsideTheCacheIsRefused() {
        try (CudaBackend cuda = CudaBackend.open(); DeviceBuffer x = cuda.allocate(1 << 20)) {
            AttentionShape s = new AttentionShape(1, 8, 2, 2, 64);
            CcaPrologueWeights w = new CcaPrologueWeights(x, x, x, x, x, 2, 2);
            CudaBackend.PrologueOptions opt = new CudaBackend.PrologueOptions(0, 1e4, KeyTemperature.EXP, 1e-12, true);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> cuda.ccaDecodeStep(x, x, x, x, x, x, x, x, w, s, 8, opt))
                    .hasMessageContaining("pos 8");
        }
    }

    /** Row `pos` of every sequence of a [B, T, width] array, as [B, width]. */
    private static short[] rows(short[] a, int b, int t, int width, int pos) {
        short[] out = new short[b * width];
        for (int bi = 0; bi < b; bi++) System.arraycopy(a, (bi * t + pos) * width, out, bi * width, width);
        return out;
    }

    private static double relErr(short[] got, short[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            double g = Bf16.toFloat(got[i]), r = Bf16.toFloat(want[i]);
            num += (g - r) * (g - r);
            den += r * r;
        }
        return Math.sqrt(num / den);
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer b) {
        held.add(b);
        return b;
    }
}
