package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.engine.backend.cuda.CudaBackend.DecodeSplit;
import org.junit.jupiter.api.Test;

/** CudaBackend.decodeSplit, the rule that picks decode v2 or v3 and the split of the cache (no GPU needed). */
class CudaDecodeSplitTest {
    private static final int H100_SMS = 132;

    @Test
    void batchOneWithFewKvHeadsRunsTheFusedKernelWithOneBlockPerSm() {
        // 8q/2kv at 16k: 2 KV heads x 64 splits of 256 keys (four 64-key tiles each) = 128 blocks
        assertThat(CudaBackend.decodeSplit(1, 8, 2, 16384, 128, H100_SMS)).isEqualTo(new DecodeSplit(64, 256, true));
        // 16q/4kv at 16k: 4 x 32 splits of 512 keys
        assertThat(CudaBackend.decodeSplit(1, 16, 4, 16384, 128, H100_SMS)).isEqualTo(new DecodeSplit(32, 512, true));
        // one token in the cache: one split of one tile, no partials to combine
        assertThat(CudaBackend.decodeSplit(1, 16, 4, 1, 128, H100_SMS)).isEqualTo(new DecodeSplit(1, 64, true));
        assertThat(CudaBackend.decodeSplit(1, 16, 4, 1, 128, H100_SMS).partials()).isEqualTo(1);
        assertThat(CudaBackend.decodeSplit(1, 8, 2, 16384, 128, H100_SMS).partials()).isEqualTo(64);
        // 1000 keys: 16 one-tile splits (132 / 2 SMs per head would allow more), two clusters
        assertThat(CudaBackend.decodeSplit(1, 8, 2, 1000, 128, H100_SMS)).isEqualTo(new DecodeSplit(16, 64, true));
        // D = 256 tiles hold 32 keys, D = 64 ones 128
        assertThat(CudaBackend.decodeSplit(1, 8, 1, 4096, 256, H100_SMS)).isEqualTo(new DecodeSplit(128, 32, true));
        assertThat(CudaBackend.decodeSplit(1, 8, 1, 4096, 64, H100_SMS)).isEqualTo(new DecodeSplit(32, 128, true));
    }

    @Test
    void batchedShapesKeepTheTwoKernelPath() {
        // B=8, 16 KV heads at 16k: 128 (sequence, KV head) pairs, four blocks per SM -> 5 splits of 3328 keys
        assertThat(CudaBackend.decodeSplit(8, 16, 16, 16384, 128, H100_SMS)).isEqualTo(new DecodeSplit(5, 3328, false));
        // 16 pairs is the first shape on v2 (batch 1 with 16 KV heads)
        assertThat(CudaBackend.decodeSplit(1, 16, 16, 16384, 128, H100_SMS).fused()).isFalse();
        assertThat(CudaBackend.decodeSplit(1, 32, 8, 16384, 128, H100_SMS).fused()).isTrue();
    }

    @Test
    void everySplitIsNonEmptyWholeTilesAndWithinTheCombineLimit() {
        for (int d : new int[] {64, 128, 256})
            for (int b : new int[] {1, 2, 3, 8})
                for (int hkv : new int[] {1, 2, 4, 16})
                    for (int length : new int[] {1, 63, 64, 65, 1000, 4097, 16384, 65536, 1 << 20}) {
                        DecodeSplit sp = CudaBackend.decodeSplit(b, hkv * 4, hkv, length, d, H100_SMS);
                        int nonEmpty = (length + sp.chunk() - 1) / sp.chunk();
                        assertThat(nonEmpty).isPositive();
                        if (sp.fused()) {  // whole clusters; only the last cluster may hold empty splits
                            int cl = CudaKernels.DECODE_V3_CLUSTER;
                            assertThat(sp.splits()).isEqualTo((nonEmpty + cl - 1) / cl * cl);
                            assertThat(sp.partials()).isEqualTo(sp.splits() / cl);
                            assertThat(sp.chunk() % CudaKernels.decodeTileKeys(d)).isZero();
                            assertThat(sp.splits()).isLessThanOrEqualTo(CudaKernels.DECODE_V3_MAX_SPLITS);
                        } else {  // every split holds keys
                            assertThat(sp.splits()).isEqualTo(nonEmpty);
                            assertThat(sp.partials()).isEqualTo(sp.splits());
                            assertThat(sp.chunk() % 64).isZero();
                        }
                    }
        assertThatThrownBy(() -> CudaBackend.decodeSplit(1, 8, 2, 0, 128, H100_SMS)).hasMessageContaining("length 0");
    }

    @Test
    void theFusedKernelsSharedMemoryMatchesDecodeCuh() {
        // dec::smem_bytes<D, G, 8, 2>: the two 64-key K/V stages at D = 128 (64 KB), the merge at D = 256, G = 8
        // (9 x [G][D + 2] floats: 8 warps' and the block's result, and the cluster leader's G x 18 floats)
        assertThat(CudaKernels.decodeSmem(128, 4)).isEqualTo(65_536);
        assertThat(CudaKernels.decodeSmem(256, 8)).isEqualTo((9 * 258 + 18) * 8 * 4);
        for (int d : new int[] {64, 128, 256})
            for (int g : new int[] {1, 2, 4, 8})
                assertThat(CudaKernels.decodeSmem(d, g)).isLessThanOrEqualTo(227 * 1024);
        assertThat(CudaKernels.all()).contains("decode_hd128_g4", "decode_hd256_g8", "decode_splitkv_hd128_g4",
                "decode_hd128_g4_spin", "decode_hd64_g1_spin", "decode_hd256_g8_spin");
    }

    @Test
    void aForcedSplitCountGivesWholeTilesOnTheFusedPath() {
        // 16384 keys in 17 splits: 964 keys each -> 16 tiles of 64 = 1024 keys, 16 splits
        assertThat(CudaBackend.forcedDecodeSplit(16384, 128, 17)).isEqualTo(new DecodeSplit(16, 1024, true));
        assertThat(CudaBackend.forcedDecodeSplit(16384, 128, 1)).isEqualTo(new DecodeSplit(1, 16384, true));
        // more splits than tiles: one tile each
        assertThat(CudaBackend.forcedDecodeSplit(65, 128, 256)).isEqualTo(new DecodeSplit(2, 64, true));
        assertThat(CudaBackend.forcedDecodeSplit(3000, 256, 3)).isEqualTo(new DecodeSplit(3, 1024, true));
        assertThatThrownBy(() -> CudaBackend.forcedDecodeSplit(100, 128, 0)).hasMessageContaining("splits 0");
        assertThatThrownBy(() -> CudaBackend.forcedDecodeSplit(100, 128, 257)).hasMessageContaining("splits 257");
    }
}
