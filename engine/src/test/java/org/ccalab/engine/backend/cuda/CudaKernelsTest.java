package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.ccalab.engine.backend.cuda.CudaKernels.FlashVariant;
import org.junit.jupiter.api.Test;

/** The kernel names and layouts the backend asks the fatbin for, per head dim (no GPU needed). */
class CudaKernelsTest {
    @Test
    void eachHeadDimGetsTheLayoutThatExistsForIt() {
        for (boolean hopper : new boolean[] {false, true}) {
            assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, 256), hopper)).isEqualTo(FlashVariant.M1);
            for (int d : CudaKernels.HEAD_DIMS)
                assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, d), hopper).exists(d)).isTrue();
        }
        // D = 64 and 128: the wgmma kernels where the sm_90a image runs, else mma.sync (32-row warps at 64,
        // the 128-key layout at 128)
        assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, 64), false)).isEqualTo(FlashVariant.M2);
        assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, 64), true)).isEqualTo(FlashVariant.WGMMA);
        assertThat(FlashVariant.WGMMA.smem(64)).isEqualTo(148_480);
        assertThat(FlashVariant.WGMMA.exists(256)).isFalse();
        assertThat(CudaKernels.all()).contains("flash_fwd_hd64_causal_wgmma4", "flash_fwd_hd64_wgmma4",
                "flash_fwd_hd64_causal_wgmma4_lo", "flash_fwd_hd64_wgmma4_lo");
        assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, 128), false)).isEqualTo(FlashVariant.N128);
        assertThat(CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, 128), true)).isEqualTo(FlashVariant.WGMMA);
        assertThat(FlashVariant.WGMMA.threads()).isEqualTo(384);
        assertThat(FlashVariant.WGMMA.smem(128)).isEqualTo(230_400).isLessThanOrEqualTo(227 * 1024);
        assertThat(CudaKernels.all()).contains("flash_fwd_hd128_causal" + CudaKernels.WGMMA_SUFFIX,
                "flash_fwd_hd128" + CudaKernels.WGMMA_SUFFIX, CudaKernels.ARCH_PROBE);
        // 192 KB at D = 256: the Q tile and double-buffered K/V tiles of 64 keys, within Hopper's 227 KB
        assertThat(FlashVariant.M1.smem(256)).isEqualTo(196_608).isLessThanOrEqualTo(227 * 1024);
    }

    /**
     * Training (CudaCcaLayer, GpuLanguageModel, CudaMla with a residual buffer) launches the "_lo" forward of the
     * backend's variant and the preprocess that reads O's residual: each exists, by name, in the CUDA instances.
     */
    @Test
    void everyBackendForwardHasAnORoundingResidualInstance() throws java.io.IOException {
        String src = java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("ccalab_kernels.cu"))
                + java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("hopper_kernels.cuh"))
                + java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("mla_kernels.cuh"));
        for (int d : CudaKernels.HEAD_DIMS) {
            for (boolean hopper : new boolean[] {false, true}) {
                FlashVariant v = CudaKernels.flashVariant(new AttentionShape(1, 16, 4, 4, d), hopper);
                assertThat(CudaKernels.hasResidual(d, v)).isTrue();
                for (boolean causal : new boolean[] {true, false}) {
                    String name = CudaKernels.flashForward(d, causal, v, true);
                    assertThat(name).isEqualTo(CudaKernels.flashForward(d, causal, v) + "_lo");
                    assertThat(CudaKernels.all()).contains(name);
                    assertThat(src).contains(" " + name + ")");
                }
            }
            assertThat(CudaKernels.all()).contains(CudaKernels.flashBackwardPreprocess(d, true));
            assertThat(src).contains("FLASH_BWD_PRE_LO(" + d + ")");
        }
        assertThat(CudaKernels.flashForward(128, true, FlashVariant.WGMMA, true)).isEqualTo("flash_fwd_hd128_causal_wgmma4_lo");
        assertThat(CudaKernels.flashBackwardPreprocess(64, true)).isEqualTo("flash_bwd_preprocess_lo_hd64");
        assertThat(CudaKernels.flashBackwardPreprocess(64, false)).isEqualTo("flash_bwd_preprocess_hd64");
        assertThat(CudaKernels.hasResidual(128, FlashVariant.M2)).isFalse();
        assertThat(CudaKernels.hasResidual(64, FlashVariant.M1)).isFalse();
        for (CudaMlaKernels.FwdInstance f : CudaMlaKernels.FWD_INSTANCES)
            for (boolean causal : new boolean[] {true, false}) {
                assertThat(CudaMlaKernels.all()).contains(f.name(causal, true));
                assertThat(src).contains(" " + f.name(causal, true) + ")");
            }
    }

    @Test
    void theBackwardTakesTheWgmmaKernelAtHeadDims64128And256OnTheSm90aImageOnly() {
        assertThat(CudaKernels.backwardVariant(128, true)).isEqualTo(CudaKernels.BwdVariant.WGMMA);
        assertThat(CudaKernels.backwardVariant(128, false)).isEqualTo(CudaKernels.BwdVariant.MMA);
        assertThat(CudaKernels.backwardVariant(64, true)).isEqualTo(CudaKernels.BwdVariant.WGMMA);
        assertThat(CudaKernels.backwardVariant(64, false)).isEqualTo(CudaKernels.BwdVariant.MMA);
        assertThat(CudaKernels.backwardVariant(256, true)).isEqualTo(CudaKernels.BwdVariant.WGMMA);
        assertThat(CudaKernels.backwardVariant(256, false)).isEqualTo(CudaKernels.BwdVariant.MMA);
        assertThat(CudaKernels.flashBackward(128, true, CudaKernels.BwdVariant.WGMMA))
                .isEqualTo("flash_bwd_hd128_causal" + CudaKernels.BWD_WGMMA_SUFFIX);
        assertThat(CudaKernels.flashBackward(128, false, CudaKernels.BwdVariant.MMA)).isEqualTo("flash_bwd_hd128");
        assertThat(CudaKernels.all()).contains("flash_bwd_hd128_causal" + CudaKernels.BWD_WGMMA_SUFFIX,
                        "flash_bwd_hd128" + CudaKernels.BWD_WGMMA_SUFFIX,
                        "flash_bwd_hd64_causal" + CudaKernels.BWD_WGMMA_SUFFIX, "flash_bwd_hd64" + CudaKernels.BWD_WGMMA_SUFFIX,
                        "flash_bwd_hd256_causal" + CudaKernels.BWD_WGMMA_SUFFIX, "flash_bwd_hd256" + CudaKernels.BWD_WGMMA_SUFFIX);
        // wgbwd64::Cfg<2>::SMEM_BYTES and wgbwd256::SMEM_BYTES (static_asserts in attention/flash_bwd_wgmma_hd64.cuh,
        // _hd256.cuh); D = 256 keeps flash_bwd_wide's 64-key grid, within Hopper's 227 KB opt-in limit
        assertThat(CudaKernels.BwdVariant.WGMMA.smem(64)).isEqualTo(120_832);
        assertThat(CudaKernels.BwdVariant.WGMMA.smem(256)).isEqualTo(231_424).isLessThanOrEqualTo(227 * 1024);
        assertThat(CudaKernels.flashBackwardKvTile(256)).isEqualTo(64);
        // the deterministic instances: wgmma at D = 64, 128 and 256, one semaphore slot pair per dQ tile and K/V block
        assertThat(CudaKernels.flashBackward(64, true, CudaKernels.BwdVariant.WGMMA, true))
                .isEqualTo("flash_bwd_hd64_causal_wgmma4_det");
        assertThat(CudaKernels.flashBackward(256, false, CudaKernels.BwdVariant.WGMMA, true))
                .isEqualTo("flash_bwd_hd256_wgmma4_det");
        assertThat(CudaKernels.all()).contains("flash_bwd_hd128_causal_wgmma4_det", "flash_bwd_hd128_wgmma4_det",
                "flash_bwd_hd64_causal_wgmma4_det", "flash_bwd_hd64_wgmma4_det", "flash_bwd_hd256_causal_wgmma4_det",
                "flash_bwd_hd256_wgmma4_det");
        // and (session 17) mma.sync at D = 64 and 128
        assertThat(CudaKernels.hasDeterministicBackward(128, CudaKernels.BwdVariant.MMA)).isTrue();
        assertThat(CudaKernels.hasDeterministicBackward(64, CudaKernels.BwdVariant.MMA)).isTrue();
        assertThat(CudaKernels.flashBackward(64, true, CudaKernels.BwdVariant.MMA, true)).isEqualTo("flash_bwd_hd64_causal_det");
        assertThat(CudaKernels.all()).contains("flash_bwd_hd64_causal_det", "flash_bwd_hd64_det", "flash_bwd_hd128_causal_det",
                "flash_bwd_hd128_det", "flash_bwd_hd64_causal_det_swa", "flash_bwd_hd128_causal_det_swa");
        assertThat(CudaKernels.hasDeterministicBackward(256, CudaKernels.BwdVariant.WGMMA)).isTrue();
        assertThat(CudaKernels.hasDeterministicBackward(256, CudaKernels.BwdVariant.MMA)).isFalse();
        assertThatThrownBy(() -> CudaKernels.flashBackward(256, true, CudaKernels.BwdVariant.MMA, true))
                .isInstanceOf(IllegalArgumentException.class);
        // B 2, T 1000: 16 query tiles of 64, 8 K/V blocks of 128; Hq 8, Hkv 2
        assertThat(CudaKernels.deterministicSemaphores(new AttentionShape(2, 1000, 8, 2, 64)))
                .isEqualTo(2L * 2 * (8 * 16 + 2 * 8));
        // D = 256: 64-key blocks, so 16 K/V blocks
        assertThat(CudaKernels.deterministicSemaphores(new AttentionShape(2, 1000, 8, 2, 256)))
                .isEqualTo(2L * 2 * (8 * 16 + 2 * 16));
        assertThat(CudaKernels.BwdVariant.WGMMA.threads()).isEqualTo(384);
        // wgbwd::SMEM_BYTES, within Hopper's 227 KB opt-in limit; the mma.sync kernel keeps its own layout
        assertThat(CudaKernels.BwdVariant.WGMMA.smem(128)).isEqualTo(202_752).isLessThanOrEqualTo(227 * 1024);
        assertThat(CudaKernels.BwdVariant.MMA.smem(128)).isEqualTo(CudaKernels.flashBackwardSmem(128));
        assertThat(CudaKernels.BwdVariant.MMA.threads()).isEqualTo(CudaKernels.BWD_THREADS);
    }

    /**
     * The persistent forward (session 18): its causal / windowed, plain / "_lo" instances at D = 64 and 128 are asked
     * for and exist in the Hopper instances; the rule takes them for short items only (causal up to 8k tokens with K/V
     * within 40 MB, windows up to 2048) with at least two items per SM, and deals (P, 1, B) blocks.
     */
    @Test
    void thePersistentForwardRunsShortCausalItemsOnly() throws java.io.IOException {
        String src = java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("hopper_kernels.cuh"));
        for (int d : new int[] {64, 128})
            for (boolean residual : new boolean[] {false, true}) {
                String plain = CudaKernels.flashForward(d, true, FlashVariant.WGMMA, residual, true);
                String windowed = CudaKernels.flashForwardWindowed(d, FlashVariant.WGMMA, residual, true);
                assertThat(CudaKernels.all()).contains(plain, windowed);
                assertThat(src).containsPattern("\\b" + plain + "\\b").containsPattern("\\b" + windowed + "\\b");
            }
        assertThat(CudaKernels.flashForward(64, true, FlashVariant.WGMMA, true, true)).isEqualTo("flash_fwd_hd64_causal_wgmma4p_lo");
        assertThat(CudaKernels.flashForwardWindowed(128, FlashVariant.WGMMA, false, true))
                .isEqualTo("flash_fwd_hd128_causal_wgmma4p_swa");
        assertThatThrownBy(() -> CudaKernels.flashForward(128, false, FlashVariant.WGMMA, false, true))
                .hasMessageContaining("causal only");
        assertThatThrownBy(() -> CudaKernels.flashForward(128, true, FlashVariant.N128, false, true))
                .hasMessageContaining("no persistent forward");
        assertThatThrownBy(() -> CudaKernels.flashForward(256, true, FlashVariant.M1, false, true))
                .hasMessageContaining("no persistent forward");

        int sms = 132;
        var w = FlashVariant.WGMMA;
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 16, 16, 128), w, true, 0, sms)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 8192, 16, 4, 64), w, true, 0, sms)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 16384, 16, 16, 128), w, true, 0, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 65536, 16, 16, 64), w, true, 512, sms)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 65536, 16, 16, 64), w, true, 4096, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 16, 16, 128), w, false, 0, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 16, 16, 128), FlashVariant.N128, true, 0, sms))
                .isFalse();
        // 2 heads x 32 query tiles = 64 items: under two per SM, nothing to overlap
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 2, 2, 64), w, true, 0, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(8, 1024, 16, 16, 64), w, true, 0, sms)).isTrue();
        // K and V over 40 MB (8 x 16 heads x 2048 x 64: 67 MB; 16 heads x 8192 x 128: 67 MB): the grid's kernel
        assertThat(CudaKernels.persistentForward(new AttentionShape(8, 2048, 16, 16, 64), w, true, 0, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 8192, 16, 16, 128), w, true, 0, sms)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 8192, 16, 4, 128), w, true, 0, sms)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(8, 4096, 16, 16, 64), w, true, 512, sms)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(200, 2048, 16, 16, 64), w, true, 0, sms)).isFalse();

        assertThat(CudaKernels.persistentGrid(new AttentionShape(1, 4096, 16, 16, 128), sms)).containsExactly(132, 1, 1);
        assertThat(CudaKernels.persistentGrid(new AttentionShape(8, 2048, 16, 16, 64), sms)).containsExactly(16, 1, 8);
        assertThat(CudaKernels.persistentGrid(new AttentionShape(1, 300, 2, 2, 64), sms)).containsExactly(6, 1, 1);
        assertThat(CudaKernels.persistentMode("on")).isEqualTo("on");
        assertThatThrownBy(() -> CudaKernels.persistentMode("yes")).hasMessageContaining("auto, on or off");
    }

    /**
     * The TMA forwards (session 19): every Hopper forward instance has a "t" twin (grid and persistent, plain, "_lo",
     * "_swa", D = 64 and 128) in the kernel list and in hopper_kernels.cuh; the rule sends D = 128 to it always and
     * D = 64 only when persistent or not causal; with TMA the persistent walk takes every causal D = 64 shape and, at
     * D = 128, K/V within 40 MB up to 16k tokens or one sequence up to 8k (calls 5-6), batches beyond that the grid.
     */
    @Test
    void theTmaKernelsHaveEveryInstanceAndTheForwardsTheirOwnWalkRule() throws java.io.IOException {
        String src = java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("hopper_kernels.cuh"));
        var w = FlashVariant.WGMMA;
        for (int d : new int[] {64, 128})
            for (boolean residual : new boolean[] {false, true})
                for (boolean persistent : new boolean[] {false, true}) {
                    List<String> names = new java.util.ArrayList<>(List.of(
                            CudaKernels.flashForward(d, true, w, residual, persistent, true),
                            CudaKernels.flashForwardWindowed(d, w, residual, persistent, true)));
                    if (!persistent) names.add(CudaKernels.flashForward(d, false, w, residual, false, true));
                    for (String name : names) {
                        assertThat(CudaKernels.all()).contains(name);
                        assertThat(src).containsPattern("\\b" + name + "\\b");
                    }
                }
        assertThat(CudaKernels.flashForward(128, true, w, true, true, true)).isEqualTo("flash_fwd_hd128_causal_wgmma4tp_lo");
        assertThat(CudaKernels.flashForwardWindowed(64, w, false, false, true)).isEqualTo("flash_fwd_hd64_causal_wgmma4t_swa");
        assertThat(CudaKernels.flashForward(128, false, w, false, false, true)).isEqualTo("flash_fwd_hd128_wgmma4t");
        assertThatThrownBy(() -> CudaKernels.flashForward(128, true, FlashVariant.N128, false, false, true))
                .hasMessageContaining("no TMA forward");
        assertThatThrownBy(() -> CudaKernels.flashForward(256, true, FlashVariant.M1, false, false, true))
                .hasMessageContaining("no TMA forward");

        assertThat(CudaKernels.tmaForward(128, w, true, false)).isTrue();
        assertThat(CudaKernels.tmaForward(64, w, true, false)).isFalse();
        assertThat(CudaKernels.tmaForward(64, w, true, true)).isTrue();
        assertThat(CudaKernels.tmaForward(64, w, false, false)).isTrue();
        assertThat(CudaKernels.tmaForward(128, FlashVariant.N128, true, false)).isFalse();

        int sms = 132;
        // D = 64: every causal shape with two items per SM, long or batched
        for (AttentionShape s : List.of(new AttentionShape(1, 65536, 16, 16, 64), new AttentionShape(8, 2048, 16, 16, 64),
                new AttentionShape(1, 16384, 16, 4, 64)))
            assertThat(CudaKernels.persistentForward(s, w, true, 0, sms, true)).as(s.toString()).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 65536, 16, 16, 64), w, true, 4096, sms, true)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 2, 2, 64), w, true, 0, sms, true)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 4096, 16, 16, 64), w, false, 0, sms, true)).isFalse();
        // D = 128: K/V within 40 MB up to 16k (16k x 4 KV heads: 34 MB), or one sequence up to 8k (16 heads: 67 MB)
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 16384, 16, 4, 128), w, true, 0, sms, true)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 8192, 16, 16, 128), w, true, 0, sms, true)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 16384, 16, 8, 128), w, true, 0, sms, true)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 32768, 16, 2, 128), w, true, 0, sms, true)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(8, 1024, 16, 16, 128), w, true, 0, sms, true)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(2, 8192, 16, 16, 128), w, true, 0, sms, true)).isFalse();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 65536, 16, 16, 128), w, true, 512, sms, true)).isTrue();
        assertThat(CudaKernels.persistentForward(new AttentionShape(1, 65536, 16, 16, 128), w, true, 4096, sms, true)).isFalse();

        // the plain wgmma backward's TMA twins (D = 64, 128), none for D = 256 or mma.sync
        for (int d : new int[] {64, 128})
            for (boolean causal : new boolean[] {false, true}) {
                String name = CudaKernels.flashBackwardTma(d, causal, CudaKernels.BwdVariant.WGMMA);
                assertThat(CudaKernels.all()).contains(name);
                assertThat(src).containsPattern("\\b" + name + "\\b");
            }
        assertThat(CudaKernels.flashBackwardTma(128, true, CudaKernels.BwdVariant.WGMMA)).isEqualTo("flash_bwd_hd128_causal_wgmma4t");
        assertThatThrownBy(() -> CudaKernels.flashBackwardTma(256, true, CudaKernels.BwdVariant.WGMMA))
                .hasMessageContaining("no TMA backward");
        assertThatThrownBy(() -> CudaKernels.flashBackwardTma(128, true, CudaKernels.BwdVariant.MMA))
                .hasMessageContaining("no TMA backward");

        assertThat(CudaKernels.tmaMode("off")).isEqualTo("off");
        assertThatThrownBy(() -> CudaKernels.tmaMode("true")).hasMessageContaining("ccalab.flash.tma must be auto, on or off");
    }

    @Test
    void theWgmmaSwitchesFollowTheProbeUnlessForced() {
        for (String p : new String[] {"ccalab.flash.forward", "ccalab.flash.backward"}) {
            assertThat(CudaKernels.useWgmma(p, "auto", 900, true)).isTrue();
            assertThat(CudaKernels.useWgmma(p, "auto", 800, false)).isFalse();
            assertThat(CudaKernels.useWgmma(p, "mma", 900, true)).isFalse();
            assertThat(CudaKernels.useWgmma(p, "mma", 800, false)).isFalse();
            assertThat(CudaKernels.useWgmma(p, "wgmma", 900, true)).isTrue();
            assertThatThrownBy(() -> CudaKernels.useWgmma(p, "wgmma", 900, false))
                    .isInstanceOf(CudaUnavailableException.class).hasMessageContaining(p + "=wgmma")
                    .hasMessageContaining("compute_900");
            assertThatThrownBy(() -> CudaKernels.useWgmma(p, "fast", 900, true))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(p + " must be auto, mma or wgmma");
        }
    }

    @Test
    void headDim256HasForwardDecodeBackwardAndTheCcaPrologue() {
        assertThat(CudaKernels.all()).contains("flash_fwd_hd256_causal", "flash_fwd_hd256", "decode_splitkv_hd256_g4",
                "decode_combine_hd256", "decode_hd256_g4", "flash_bwd_hd128_causal", "cca_prologue_hd128",
                "flash_bwd_hd256_causal", "flash_bwd_hd256", "flash_bwd_preprocess_hd256", "cca_prologue_hd256",
                "cca_prologue_fma_hd256", "cca_decode_step_hd256");
        assertThat(CudaKernels.all()).noneMatch(n -> n.equals("flash_fwd_hd256_causal_m2") || n.equals("flash_fwd_hd256_causal_n128"));
        for (int d : CudaKernels.HEAD_DIMS) {
            assertThat(new AttentionShape(1, 16, 4, 4, d).hasBackward()).isTrue();
            assertThat(new AttentionShape(1, 16, 4, 4, d).hasCcaPrologue()).isTrue();
        }
        assertThat(CudaKernels.PROLOGUE_HEAD_DIMS).containsExactly(64, 128, 256);
        assertThat(CudaCcaLayer.head(256)).isEqualTo("cca_bwd_head_hd256");
        // cca_prologue.cuh's layout at D = 256 and the largest halo (k0 = k1 = 16): z halo bf16 94 x 256, stage-1
        // rows 79 x 260, a W chunk 32 x 264, 64 factors, 128 RoPE frequencies (double): within sm_80's 163 KB
        // opt-in as well as Hopper's 227 KB; the FMA fallback's [TT + P, D] + [TT + k1 - 1, D] + [TT] floats
        assertThat(CudaKernels.ccaSmem(CudaKernels.Prologue.TENSOR_CORE, 256, 16, 16)).isEqualTo(165_360)
                .isLessThanOrEqualTo(163 * 1024);
        assertThat(CudaKernels.ccaSmem(CudaKernels.Prologue.TENSOR_CORE, 256, 4, 4)).isEqualTo(140_592);
        assertThat(CudaKernels.ccaSmem(CudaKernels.Prologue.FMA, 256, 16, 16)).isEqualTo(111_744);
        // the 32-token blocks: halo 34 x 128 bf16, stage-1 rows 33 x 132, the same W chunk, 32 factors, 64 frequencies
        assertThat(CudaKernels.ccaSmem(CudaKernels.Prologue.TENSOR_CORE, 128, 2, 2, 32))
                .isEqualTo(34 * 128 * 2 + (33 * 132 + 32 * 136 + 32 + 128) * 4);
        // D = 256: 64-key blocks, 64-row query tiles, P^T staged, rows padded by 8 (flash_bwd_wide::smem_bytes<256,
        // 256, 64, 64, true>): within Hopper's 227 KB, as the D = 256 forward
        assertThat(CudaKernels.flashBackwardKvTile(256)).isEqualTo(64);
        assertThat(CudaKernels.flashBackwardKvTile(128)).isEqualTo(128);
        assertThat(CudaKernels.flashBackwardSmem(256)).isEqualTo(222_208).isLessThanOrEqualTo(227 * 1024);
        // the MLA core's backward instances (mla_kernels.cuh): A100's 163 KB opt-in holds both
        assertThat(CudaMlaKernels.bwdInstance(192, 128).smem()).isEqualTo(148_480).isLessThanOrEqualTo(163 * 1024);
        assertThat(CudaMlaKernels.bwdInstance(96, 64).smem()).isEqualTo(87_040);
        assertThat(CudaMlaKernels.bwdInstance(192, 128).threads()).isEqualTo(256);
        // the sm_90a twin of 192 / 128 (wgbwdw::Layout<192, 128>::SMEM_BYTES_SDQ, within Hopper's 227 KB); 96 / 64 has
        // none and stays mma.sync
        CudaMlaKernels.BwdInstance wg = CudaMlaKernels.bwdInstance(192, 128, true);
        assertThat(wg.name(true)).isEqualTo("mla_bwd_qk192_v128_causal_wgmma");
        assertThat(wg.threads()).isEqualTo(384);
        assertThat(wg.smem()).isEqualTo(227_328).isLessThanOrEqualTo(227 * 1024);
        assertThat(wg.keysPerBlock()).isEqualTo(64);
        assertThat(CudaMlaKernels.bwdInstance(96, 64, true)).isEqualTo(CudaMlaKernels.bwdInstance(96, 64));
        assertThat(CudaMlaKernels.bwdInstance(192, 128, false).wgmma()).isFalse();
        assertThat(CudaMlaKernels.all()).contains("mla_bwd_qk192_v128_causal", "mla_bwd_qk96_v64");
        assertThatThrownBy(() -> CudaMlaKernels.bwdInstance(128, 128)).hasMessageContaining("no mla_bwd kernel");
    }

    @Test
    void otherHeadDimsAreRefusedByName() {
        assertThatThrownBy(() -> new AttentionShape(1, 16, 4, 4, 96)).hasMessageContaining("headDim 96")
                .hasMessageContaining("64, 128 or 256");
    }

    /** Short sequences take the 32-token prologue blocks: those where 64-token blocks leave an SM with fewer than two. */
    @Test
    void shortSequencesTakeThe32TokenPrologueBlocks() throws java.io.IOException {
        var tc = CudaKernels.Prologue.TENSOR_CORE;
        // CCA-4x d128 (8 head groups) on 132 SMs: 64-token blocks 8 x 8 = 64 at T = 512, 32 x 8 = 256 at 2k, 2048 at 16k
        assertThat(CudaKernels.ccaTokensPerBlock(tc, 512, 8, 1, 132)).isEqualTo(32);
        assertThat(CudaKernels.ccaTokensPerBlock(tc, 2048, 8, 1, 132)).isEqualTo(32);
        assertThat(CudaKernels.ccaTokensPerBlock(tc, 2112, 8, 1, 132)).isEqualTo(64);  // 33 x 8 = 264 = 2 x 132
        assertThat(CudaKernels.ccaTokensPerBlock(tc, 16384, 8, 1, 132)).isEqualTo(64);
        assertThat(CudaKernels.ccaTokensPerBlock(tc, 2048, 8, 2, 132)).isEqualTo(64);
        assertThat(CudaKernels.ccaTokensPerBlock(CudaKernels.Prologue.FMA, 512, 8, 1, 132)).isEqualTo(32);
        assertThat(CudaKernels.ccaPrologue(tc, 128, 32)).isEqualTo("cca_prologue_hd128_t32");
        assertThat(CudaKernels.ccaPrologue(tc, 128, 64)).isEqualTo("cca_prologue_hd128");
        assertThat(CudaKernels.ccaPrologue(CudaKernels.Prologue.FMA, 128, 32)).isEqualTo("cca_prologue_fma_hd128");
        String src = java.nio.file.Files.readString(CudaMlaKernelsTest.CUDA.resolve("ccalab_kernels.cu"));
        for (int d : CudaKernels.PROLOGUE_HEAD_DIMS) {
            assertThat(CudaKernels.all()).contains("cca_prologue_hd" + d + "_t32");
            assertThat(src).contains("CCA_PROLOGUE(" + d + ", cca::TT_SHORT, cca_prologue_hd" + d + "_t32)");
        }
    }
}
