package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ccalab.common.variant.MlaConfig;
import org.junit.jupiter.api.Test;

/**
 * The MLA kernels' host-side rules without a GPU: instance choice by shared memory, the split rule and the
 * shared-memory sizes against bench/ccalab_mla.py (the launcher the kernels were verified with; expected values
 * computed with its functions at the H100's 132 SMs, 228 KB per SM, 227 KB opt-in, and the A100's 108 / 164 /
 * 163 KB), the names and tile sizes against the instances in mla_kernels.cuh, and config support.
 */
class CudaMlaKernelsTest {
    static final int H100_SMS = 132, H100_SMEM_SM = 228 * 1024, H100_OPTIN = 227 * 1024;
    static final int A100_OPTIN = 163 * 1024, SM86_OPTIN = 99 * 1024;
    static final Path CUDA = Path.of("src/main/cuda");

    @Test
    void sharedMemorySizesAreThePythonLaunchersOnes() {
        assertThat(CudaMlaKernels.FWD_INSTANCES).extracting(CudaMlaKernels.FwdInstance::smem)
                .containsExactly(223232, 137216, 71680);
        assertThat(CudaMlaKernels.DECODE_INSTANCES).extracting(CudaMlaKernels.DecodeInstance::smem)
                .containsExactly(136768, 98048, 122432, 87808, 169728, 50752, 79424, 136768, 169728);
    }

    @Test
    void theDefaultInstanceIsTakenWhereItFitsElseTheSmallerOne() {
        assertThat(CudaMlaKernels.fwdInstance(192, 128, H100_OPTIN).name(true)).isEqualTo("mla_fwd_qk192_v128_causal");
        assertThat(CudaMlaKernels.fwdInstance(192, 128, A100_OPTIN).name(true)).isEqualTo("mla_fwd_qk192_v128_causal_n64");
        assertThat(CudaMlaKernels.fwdInstance(96, 64, A100_OPTIN).name(false)).isEqualTo("mla_fwd_qk96_v64");
        assertThat(CudaMlaKernels.decodeInstance(512, 64, H100_OPTIN).name()).isEqualTo("mla_decode_ring_r512_rope64");
        assertThat(CudaMlaKernels.decodeInstance(512, 64, H100_OPTIN).spinName()).isEqualTo("mla_decode_ring_r512_rope64_spin");
        assertThat(CudaMlaKernels.decodeInstance(512, 64, A100_OPTIN).name()).isEqualTo("mla_decode_ring_r512_rope64");
        assertThat(CudaMlaKernels.decodeInstance(512, 64, SM86_OPTIN).name()).isEqualTo("mla_decode_r512_rope64_n32");
        assertThat(CudaMlaKernels.decodeInstance(448, 64, A100_OPTIN).combineName()).isEqualTo("mla_decode_combine_r448");
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(448, 64, SM86_OPTIN).spinName()).hasMessageContaining("no fused merge");
        assertThat(CudaMlaKernels.decodeInstance(960, 64, H100_OPTIN).name()).isEqualTo("mla_decode_r960_rope64");
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(960, 64, A100_OPTIN)).hasMessageContaining("shared memory");
        assertThatThrownBy(() -> CudaMlaKernels.fwdInstance(192, 128, 100_000)).hasMessageContaining("shared memory");
        assertThatThrownBy(() -> CudaMlaKernels.fwdInstance(128, 128, H100_OPTIN)).hasMessageContaining("d_qk=128");
        assertThat(CudaMlaKernels.exactFwdInstance(128, 64, H100_OPTIN)).isNull();
        assertThat(CudaMlaKernels.exactBwdInstance(128, 64, true)).isNull();
        // other latent / rope widths: the smallest padded ring that holds them (its partials and combine at that width)
        assertThat(CudaMlaKernels.decodeInstance(256, 64, H100_OPTIN).name()).isEqualTo("mla_decode_ring_any_r256_rope64");
        assertThat(CudaMlaKernels.decodeInstance(200, 32, H100_OPTIN).spinName()).isEqualTo("mla_decode_ring_any_r256_rope64_spin");
        assertThat(CudaMlaKernels.decodeInstance(128, 0, H100_OPTIN).combineName()).isEqualTo("mla_decode_combine_any_r128");
        assertThat(CudaMlaKernels.decodeInstance(512, 32, H100_OPTIN).name()).isEqualTo("mla_decode_ring_any_r512_rope64");
        assertThat(CudaMlaKernels.decodeInstance(448, 64, H100_OPTIN).any()).isFalse();
        assertThat(CudaMlaKernels.decodeInstance(64, 64, SM86_OPTIN).name()).isEqualTo("mla_decode_ring_any_r128_rope64");
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(512, 32, SM86_OPTIN)).hasMessageContaining("shared memory");
        // above 512: the split kernel at 960, padded (dk as its one more argument)
        assertThat(CudaMlaKernels.decodeInstance(640, 64, H100_OPTIN).name()).isEqualTo("mla_decode_any_r960_rope64");
        assertThat(CudaMlaKernels.decodeInstance(960, 32, H100_OPTIN).combineName()).isEqualTo("mla_decode_combine_any_r960");
        assertThat(CudaMlaKernels.decodeInstance(960, 64, H100_OPTIN).any()).isFalse();
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(1024, 64, H100_OPTIN)).hasMessageContaining("kvLoraRank=1024");
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(512, 72, H100_OPTIN)).hasMessageContaining("qkRopeHeadDim=72");
        assertThatThrownBy(() -> CudaMlaKernels.decodeInstance(100, 64, H100_OPTIN)).hasMessageContaining("multiples of 8");
    }

    @Test
    void aPrefillCoreWithoutAnInstanceRunsPaddedToTheSmallestFlashHeadDim() {
        assertThat(CudaMlaKernels.paddedHeadDim(128, 64)).isEqualTo(128);
        assertThat(CudaMlaKernels.paddedHeadDim(56, 40)).isEqualTo(64);
        assertThat(CudaMlaKernels.paddedHeadDim(96, 64)).isEqualTo(128);
        assertThat(CudaMlaKernels.paddedHeadDim(192, 64)).isEqualTo(256);
        assertThat(CudaMlaKernels.paddedHeadDim(256, 256)).isEqualTo(256);
        assertThat(CudaMlaKernels.paddedHeadDim(264, 64)).isEqualTo(-1);
        assertThat(CudaMlaKernels.paddedHeadDim(60, 64)).isEqualTo(-1);  // 16-byte row chunks
        assertThat(CudaMlaKernels.hasExactCore(96, 64)).isTrue();
        assertThat(CudaMlaKernels.hasExactCore(128, 64)).isFalse();
        assertThat(CudaMlaKernels.PADDED_HEAD_DIMS).allSatisfy(d -> assertThat(new AttentionShape(1, 1, 1, 1, d)).isNotNull());
    }

    @Test
    void theSplitRuleIsThePythonLaunchersDecodeSplits() {
        // {B, H, L, R} -> {splits, chunk}: ccalab_mla.MlaKernels.decode_splits at the H100's limits
        int[][] cases = {{1, 16, 4096, 512, 128, 32}, {8, 16, 16384, 512, 16, 1024}, {32, 16, 65536, 512, 4, 16384},
                         {1, 16, 1, 512, 1, 32}, {2, 20, 555, 512, 18, 32}, {1, 16, 5000, 960, 79, 64},
                         {3, 16, 1000, 448, 32, 32}, {64, 16, 4096, 512, 2, 2048}};
        for (int[] c : cases) {
            var inst = CudaMlaKernels.decodeInstance(c[3], 64, H100_OPTIN);
            var sp = CudaMlaKernels.decodeSplit(c[0], c[1], c[2], inst, H100_SMS, H100_SMEM_SM);
            assertThat(new int[] {sp.splits(), sp.chunk()}).as("B%d H%d L%d R%d", c[0], c[1], c[2], c[3])
                    .containsExactly(c[4], c[5]);
            // every row covered once: the last split is non-empty and none runs past L
            assertThat((long) (sp.splits() - 1) * sp.chunk()).isLessThan(c[2]);
            assertThat((long) sp.splits() * sp.chunk()).isGreaterThanOrEqualTo(c[2]);
            assertThat(sp.chunk() % inst.rowsPerTile()).isZero();
        }
        // a padded ring (r_kv 256: 79 KB, two per SM) takes one block per SM where that already fuses the merge
        // (batch 1 at 16 heads), two where split + combine runs (batch 8)
        var any256 = CudaMlaKernels.decodeInstance(256, 64, H100_OPTIN);
        assertThat(CudaMlaKernels.decodeSplit(1, 16, 16384, any256, H100_SMS, H100_SMEM_SM)).isEqualTo(new CudaMlaKernels.DecodeSplit(128, 128));
        assertThat(CudaMlaKernels.decodeSplit(8, 16, 65536, any256, H100_SMS, H100_SMEM_SM)).isEqualTo(new CudaMlaKernels.DecodeSplit(33, 2016));
        // the _n32 instance (a GPU with 99 KB per block) at the A100's 108 SMs and 164 KB per SM: two blocks per SM
        var n32 = CudaMlaKernels.decodeInstance(512, 64, SM86_OPTIN);
        assertThat(CudaMlaKernels.decodeSplit(1, 16, 4096, n32, 108, 164 * 1024)).isEqualTo(new CudaMlaKernels.DecodeSplit(64, 64));
        assertThatThrownBy(() -> CudaMlaKernels.decodeSplit(1, 16, 0, n32, 108, 164 * 1024)).hasMessageContaining("length 0");
        // forced split counts (the merge tests): whole tiles, none empty
        var ring = CudaMlaKernels.decodeInstance(512, 64, H100_OPTIN);
        assertThat(CudaMlaKernels.forcedDecodeSplit(16384, ring, 132)).isEqualTo(new CudaMlaKernels.DecodeSplit(128, 128));
        assertThat(CudaMlaKernels.forcedDecodeSplit(1000, ring, 7)).isEqualTo(new CudaMlaKernels.DecodeSplit(7, 160));
        assertThat(CudaMlaKernels.forcedDecodeSplit(33, ring, 64)).isEqualTo(new CudaMlaKernels.DecodeSplit(2, 32));
    }

    @Test
    void gridsCoverEveryOutput() {
        assertThat(CudaMlaKernels.combineGrid(3, 16, 960)).containsExactly(16, 3, 15);
        assertThat(CudaMlaKernels.absorbGrid(9, 16, 448)).containsExactly(4, 16, 2);
        assertThat(CudaMlaKernels.unabsorbGrid(8, 4, 64)).containsExactly(8, 4, 1);
    }

    /** Every name the backend checks at open is an instance of the CUDA sources, with the same tile sizes. */
    @Test
    void namesAndTilesMatchTheCudaInstances() throws IOException {
        String mla = Files.readString(CUDA.resolve("mla_kernels.cuh"));
        Map<String, Integer> fwdTiles = new HashMap<>();
        Matcher f = Pattern.compile("MLA_FWD\\((\\d+), (\\d+), (true|false), (\\d+), (true|false), (\\w+)\\)").matcher(mla);
        while (f.find()) fwdTiles.put(f.group(6), Integer.parseInt(f.group(4)));
        for (var inst : CudaMlaKernels.FWD_INSTANCES)
            for (boolean causal : new boolean[] {true, false})
                assertThat(fwdTiles).as(inst.name(causal)).containsEntry(inst.name(causal), inst.keysPerTile());
        Map<String, Integer> decodeTiles = new HashMap<>();
        Matcher d = Pattern.compile("MLA_DECODE\\((\\d+), (\\d+), (\\d+), (\\w*)\\)").matcher(mla);
        while (d.find())
            decodeTiles.put("mla_decode_r" + d.group(1) + "_rope" + d.group(2) + d.group(4), Integer.parseInt(d.group(3)));
        for (var inst : CudaMlaKernels.DECODE_INSTANCES) {
            String any = inst.any() ? "_ANY" : "";
            if (inst.ring()) assertThat(mla).contains("MLA_DECODE_RING" + any + "(" + inst.latent() + ", " + CudaMlaKernels.DECODE_DR + ")");
            else if (inst.any())
                assertThat(mla).contains("MLA_DECODE_ANY(" + inst.latent() + ", " + CudaMlaKernels.DECODE_DR + ", " + inst.rowsPerTile() + ")");
            else assertThat(decodeTiles).as(inst.name()).containsEntry(inst.name(), inst.rowsPerTile());
            assertThat(mla).contains("MLA_DECODE_COMBINE" + any + "(" + inst.latent() + ")");
        }
        assertThat(mla).contains("mla_decode_ring_any_r##RP##_rope##DRP(", "mla_decode_ring_any_r##RP##_rope##DRP##_spin(",
                "mla_decode_combine_any_r##RP(", "mla_decode_any_r##RP##_rope##DRP(", "mla_copy_cols_bf16(", "mla_copy_cols_f32(");
        assertThat(mla).contains("MLA_RING_STAGES = " + CudaMlaKernels.RING_STAGES + ";",
                "mla_decode_ring_r##R##_rope##DR(", "mla_decode_ring_r##R##_rope##DR##_spin(");
        for (String k : new String[] {CudaMlaKernels.KV_LATENT, CudaMlaKernels.EXPAND_KV, CudaMlaKernels.ABSORB_Q,
                                      CudaMlaKernels.UNABSORB, CudaMlaKernels.KV_UP_BWD, CudaMlaKernels.KV_LATENT_BWD})
            assertThat(mla).contains("\n" + k + "(");
        String training = Files.readString(CUDA.resolve("training_kernels.cuh"));
        assertThat(training).contains("\nrope_bf16(", "\nrmsnorm_fwd(");
        assertThat(CudaKernels.all()).containsAll(CudaMlaKernels.all());
    }

    @Test
    void theDeterministicBackwardIsTheWgmmaKernelsOrderedAddTwinAt192x128Only() throws IOException {
        var wgmma = CudaMlaKernels.bwdInstance(192, 128, true);
        assertThat(wgmma.hasDeterministic()).isTrue();
        assertThat(wgmma.deterministicName(true)).isEqualTo("mla_bwd_qk192_v128_causal_wgmma_det");
        assertThat(CudaMlaKernels.bwdInstance(192, 128, false).hasDeterministic()).isFalse();
        assertThat(CudaMlaKernels.bwdInstance(96, 64, true).hasDeterministic()).isFalse();
        assertThatThrownBy(() -> CudaMlaKernels.bwdInstance(96, 64, true).deterministicName(false))
                .isInstanceOf(IllegalArgumentException.class);
        String hopper = Files.readString(CUDA.resolve("hopper_kernels.cuh"));
        assertThat(hopper).contains("MLA_BWD_WGMMA_DET(true, mla_bwd_qk192_v128_causal_wgmma_det)",
                "MLA_BWD_WGMMA_DET(false, mla_bwd_qk192_v128_wgmma_det)");
        // its dQ is not staged: wgbwdw::Layout<192, 128>::SMEM_BYTES (static_assert in flash_bwd_wgmma_wide.cuh)
        assertThat(Files.readString(CUDA.resolve("attention/flash_bwd_wgmma_wide.cuh")))
                .contains("Layout<192, 128>::SMEM_BYTES == " + wgmma.deterministicSmem());
        assertThat(CudaMlaKernels.all()).contains("mla_bwd_qk192_v128_causal_wgmma_det", "mla_bwd_qk192_v128_wgmma_det");
        // B 2, T 1000 (16 blocks of 64), H 4: dQ and dK / dV slot pairs
        assertThat(CudaMlaKernels.BwdInstance.deterministicSemaphores(2, 1000, 4)).isEqualTo(2L * 2 * 4 * 16 * 2);
    }

    /** The Java constants are the CUDA namespaces' (a mismatch would launch wrong grids or shared memory). */
    @Test
    void launchConstantsMatchTheCudaNamespaces() throws IOException {
        String layer = Files.readString(CUDA.resolve("attention/mla_layer.cuh"));
        assertThat(layer).contains("LATENT_THREADS = " + CudaMlaKernels.LATENT_THREADS,
                "EXPAND_THREADS = " + CudaMlaKernels.EXPAND_THREADS, "ABSORB_COLS = " + CudaMlaKernels.ABSORB_COLS,
                "ABSORB_BATCH = " + CudaMlaKernels.ABSORB_BATCH, "ABSORB_MAX_DN = " + CudaMlaKernels.ABSORB_MAX_DN,
                "UNABSORB_WARPS = " + CudaMlaKernels.UNABSORB_WARPS, "UNABSORB_BATCH = " + CudaMlaKernels.UNABSORB_BATCH,
                "MAX_HALF_ROPE = " + CudaMlaKernels.MAX_ROPE_DIMS / 2, "UP_BWD_THREADS = " + CudaMlaKernels.UP_BWD_THREADS,
                "UP_BWD_MAX_BLOCKS = " + CudaMlaKernels.UP_BWD_MAX_BLOCKS, "LATENT_BWD_WARPS = " + CudaMlaKernels.LATENT_BWD_WARPS,
                "LATENT_BWD_THREADS = LATENT_BWD_WARPS * 32", "LATENT_BWD_ROWS = " + CudaMlaKernels.LATENT_BWD_ROWS);
        String decode = Files.readString(CUDA.resolve("attention/mla_decode.cuh"));
        assertThat(decode).contains("NWARPS = " + CudaMlaKernels.DECODE_WARPS, "HT = " + CudaMlaKernels.DECODE_HEADS_PER_BLOCK,
                "CGROUPS = " + CudaMlaKernels.COMBINE_GROUPS);
        assertThat(Files.readString(CUDA.resolve("attention/mla_decode_ring.cuh"))).contains("NWARPS = " + CudaMlaKernels.DECODE_WARPS
                + ", NTHREADS = NWARPS * 32, HT = " + CudaMlaKernels.DECODE_HEADS_PER_BLOCK + ", BN = " + CudaMlaKernels.RING_ROWS + ",");
        String fwd = Files.readString(CUDA.resolve("attention/mla_fwd.cuh"));
        assertThat(fwd).contains("BM = " + CudaMlaKernels.FWD_BM, "NWARPS = 8, NTHREADS = NWARPS * 32");
        assertThat(CudaMlaKernels.FWD_THREADS).isEqualTo(8 * 32);
    }

    @Test
    void layerBackwardLaunchShapes() {
        // one warp per row, 32 rows per block: the gain's partial count depends on N only
        assertThat(CudaMlaKernels.latentBackwardBlocks(1)).isEqualTo(1);
        assertThat(CudaMlaKernels.latentBackwardBlocks(32)).isEqualTo(1);
        assertThat(CudaMlaKernels.latentBackwardBlocks(33)).isEqualTo(2);
        assertThat(CudaMlaKernels.latentBackwardBlocks(16384)).isEqualTo(512);
        assertThat(CudaMlaKernels.latentBackwardSmem(512)).isEqualTo(4 * 512 * 4);
        // 2 rows x 4 heads x (32 + 64) / 8 = 96 chunks: one block; V2-Lite at 16k: capped grid-stride
        assertThat(CudaMlaKernels.kvUpBackwardBlocks(8, 32, 64)).isEqualTo(1);
        assertThat(CudaMlaKernels.kvUpBackwardBlocks(16384L * 16, 128, 128)).isEqualTo(CudaMlaKernels.UP_BWD_MAX_BLOCKS);
        assertThat(CudaMlaKernels.kvUpBackwardBlocks(1000, 128, 128)).isEqualTo(125);
    }

    @Test
    void configsWithoutKernelsAreNamed() {
        assertThat(CudaMlaKernels.unsupported(MlaConfig.kvMatched(2048, 16, 512))).isNull();
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(512, 4, 256, 448, 32, 64, 64, 1e4, 1e-6))).isNull();
        // session 13: head dim 64 (d_qk 128 / d_v 64) runs its core padded, r_kv 256 and d_r 32 their decode padded
        assertThat(CudaMlaKernels.unsupported(MlaConfig.kvMatched(2048, 16, 256))).isNull();
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(2048, 16, 0, 512, 160, 32, 128, 1e4, 1e-6))).isNull();
        assertThat(CudaMlaKernels.unsupported(MlaConfig.kvMatched(2048, 32, 512))).isNull();
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(256, 4, 0, 96, 48, 16, 40, 1e4, 1e-6))).isNull();
        assertThat(CudaMlaKernels.unsupported(MlaConfig.kvMatched(2048, 16, 640))).isNull();
        assertThat(CudaMlaKernels.unsupported(MlaConfig.kvMatched(2048, 16, 1024))).contains("kvLoraRank 1024");
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(2048, 16, 0, 512, 128, 72, 128, 1e4, 1e-6)))
                .contains("qkRopeHeadDim 72");
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(2048, 16, 0, 512, 256, 64, 64, 1e4, 1e-6)))
                .contains("qkRopeHeadDim = 320, vHeadDim = 64");
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(2048, 16, 0, 512, 64, 64, 60, 1e4, 1e-6)))
                .contains("vHeadDim = 60").contains("multiples of 8");
        assertThat(CudaMlaKernels.unsupported(new MlaConfig(2048, 16, 100, 512, 128, 64, 128, 1e4, 1e-6)))
                .contains("qLoraRank 100");
    }
}
