package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.ccalab.engine.backend.cuda.train.Transfers;

/**
 * The fused / SPIN decode merges' counters as the gpu tests see them: 2 ints per group forming one 64-bit counter
 * (common/mma.cuh group_arrive_share) whose low word is zero between launches and whose high word counts launches.
 */
final class SpinCounters {
    private SpinCounters() {}

    /** Sets {@code words / 2} counters one launch short of their wrap (high words 0xffffffff). */
    static void setNearWrap(CudaBackend cuda, DeviceBuffer counters, int words) {
        int[] w = new int[words];
        for (int i = 1; i < words; i += 2) w[i] = -1;
        Transfers.upload(cuda, counters, w);
    }

    static int[] read(CudaBackend cuda, DeviceBuffer counters, int words) {
        return Transfers.downloadInts(cuda, counters, words);
    }

    /** Every counter's low word is zero and its high word moved by {@code launches} (mod 2^32) since {@code before}. */
    static void assertLaunches(int[] before, int[] after, int launches, String what) {
        for (int i = 0; i < after.length; i += 2) {
            assertThat(after[i]).as(what + " counter " + i / 2 + " low word").isZero();
            assertThat(after[i + 1] - before[i + 1]).as(what + " counter " + i / 2 + " launches").isEqualTo(launches);
        }
    }
}
