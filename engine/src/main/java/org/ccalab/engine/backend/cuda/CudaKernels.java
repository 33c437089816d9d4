package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Names and launch shapes of the kernels in ccalab_kernels.cu. The constants must match the CUDA side
 * (flash::BM/BN/NTHREADS, decode::NTHREADS, cca::TT/NTHREADS and the shared-memory layouts); GPU tests catch a mismatch as wrong results.
 */
final class CudaKernels {
    static final int FLASH_BM = 128, FLASH_BN = 64, FLASH_THREADS = 256;
    static final int DECODE_THREADS = 128;
    static final int CCA_TT = 64, CCA_THREADS = 256;
    static final int[] HEAD_DIMS = {64, 128, 256};
    /** Head dims with a flash backward (D = 256: flash_bwd_wide). */
    static final int[] BWD_HEAD_DIMS = {64, 128, 256};
    /**
     * Head dims with a CCA prologue (TF32 and FMA), its backward head kernel and decode step. D = 256: the TF32
     * prologue takes 165,360 bytes of shared memory at k0 = k1 = 16 (within sm_80's 163 KB opt-in as well as
     * Hopper's 227 KB), the decode step 48,160 static bytes.
     */
    static final int[] PROLOGUE_HEAD_DIMS = {64, 128, 256};
    static final int[] DECODE_GROUPS = {1, 2, 4, 8};

    private CudaKernels() {}

    /**
     * A forward kernel's layout: 16-row MMA tiles per warp (1: 8 warps of 16 rows; 2: 4 warps of 32, each K/V
     * fragment used twice) and keys per K/V tile. The name suffix matches ccalab_kernels.cu.
     */
    enum FlashVariant {
        M1(1, FLASH_BN, ""), M2(2, FLASH_BN, "_m2"), N128(1, 128, "_n128"),
        /**
         * Hopper only (sm_90a image; other images trap): wgmma with both operands in shared memory, a producer
         * warpgroup filling a K/V ring through mbarriers, two consumer warpgroups of 64 rows, 384 threads.
         * D = 128: attention/flash_fwd_wgmma.cuh, version 4 (476-497 TF/s at 16k, 1.49-1.53x FA2,
         * docs/perf-log-wgmma.md), 225 KB of shared memory: the Q tile, 3 K/V stages and alignment slack; its TMA
         * twin ({@link #TMA_SUFFIX}, session 19) 607-663 TF/s.
         * D = 64: attention/flash_fwd_wgmma_hd64.cuh, the same design with 4 K/V stages of 32 KB, 145 KB
         * (392-404 TF/s at 16k, 1.5-1.6x the mma.sync m2 kernel: perf-log-wgmma.md, "Session 4, d64").
         */
        WGMMA(1, 128, WGMMA_SUFFIX);

        final int rowTiles, keysPerTile;
        final String suffix;

        FlashVariant(int rowTiles, int keysPerTile, String suffix) {
            this.rowTiles = rowTiles;
            this.keysPerTile = keysPerTile;
            this.suffix = suffix;
        }

        int threads() {
            return this == WGMMA ? 384 : FLASH_THREADS / rowTiles;
        }

        /** Q tile plus double-buffered K and V tiles, bf16 (WGMMA: see its comment). */
        int smem(int headDim) {
            if (this == WGMMA) return headDim == 64 ? WGMMA64_SMEM : 32768 * 7 + 1024;
            return (FLASH_BM * headDim + 4 * keysPerTile * headDim) * 2;
        }

        /**
         * Only D = 128 has the 128-key instance (its 160 KB of shared memory would not pay off at D = 64); D = 256
         * has only M1 (192 KB of shared memory; Q is re-read from shared memory there) and no wgmma forward.
         */
        boolean exists(int headDim) {
            return switch (this) {
                case M1 -> true;
                case M2 -> headDim <= 128;
                case N128 -> headDim == 128;
                case WGMMA -> headDim == 64 || headDim == 128;
            };
        }
    }

    /** wgfa64::Cfg<2, 4>::SMEM_BYTES (hopper_kernels.cuh): the Q tile, 4 K/V stages of 32 KB, barriers, slack. */
    static final int WGMMA64_SMEM = 148_480;

    static String flashForward(int headDim, boolean causal, FlashVariant v) {
        return "flash_fwd_hd" + headDim + (causal ? "_causal" : "") + v.suffix;
    }

    /**
     * Suffix of the training forwards that also write O's rounding residual Olo = bf16(O - bf16(O)) (one more
     * [B, T, Hq, D] bf16 argument after scale) for the backward's Dv = rowsum(dO o (O + Olo)): bf16's rounding of O
     * alone dominates the q/k gradients where the softmax is near one-hot (docs/perf-log.md, "Session 4, prec").
     * Instances: each head dim's backend variant (M2 at 64, N128 and WGMMA at 128, M1 at 256).
     */
    static final String RESIDUAL_SUFFIX = "_lo";

    static boolean hasResidual(int headDim, FlashVariant v) {
        return switch (headDim) {
            case 64 -> v == FlashVariant.M2 || v == FlashVariant.WGMMA;
            case 128 -> v == FlashVariant.N128 || v == FlashVariant.WGMMA;
            case 256 -> v == FlashVariant.M1;
            default -> false;
        };
    }

    static String flashForward(int headDim, boolean causal, FlashVariant v, boolean residual) {
        return flashForward(headDim, causal, v, residual, false);
    }

    /** {@code persistent}: the persistent twin ({@link #PERSISTENT_SUFFIX}, causal WGMMA only). */
    static String flashForward(int headDim, boolean causal, FlashVariant v, boolean residual, boolean persistent) {
        return flashForward(headDim, causal, v, residual, persistent, false);
    }

    /** {@code tma}: the TMA-copy twin ({@link #TMA_SUFFIX}, WGMMA only; three tensor maps appended to the arguments). */
    static String flashForward(int headDim, boolean causal, FlashVariant v, boolean residual, boolean persistent,
                               boolean tma) {
        if (persistent && !hasPersistentForward(headDim, v, causal))
            throw new IllegalArgumentException("no persistent forward for headDim " + headDim + " variant " + v
                    + (causal ? "" : " (causal only)"));
        if (tma && !hasTmaForward(headDim, v))
            throw new IllegalArgumentException("no TMA forward for headDim " + headDim + " variant " + v);
        return flashForward(headDim, causal, v) + (tma ? TMA_SUFFIX : "") + (persistent ? PERSISTENT_SUFFIX : "")
                + (residual ? RESIDUAL_SUFFIX : "");
    }

    /**
     * The TMA forwards ("4t", attention/flash_fwd_wgmma*.cuh TMA): v4 with Q and the K/V tiles copied by one producer
     * thread through TMA (cp.async.bulk.tensor, maps from {@link CudaTensorMaps}) instead of 128 threads' cp.async;
     * every instance of the Hopper forward (grid and persistent, "_lo", "_swa") at D = 64 and 128, the same bits.
     * Session 19 (H100, docs/perf-log.md "Session 19"): D = 128 1.12-1.33x v4 everywhere (causal 16k 606-618 TF/s);
     * D = 64 persistent 1.06-1.30x v4, but the grid's causal 0.92-1.0x (a TMA block's start costs more, and D = 64
     * blocks are short), so D = 64 takes TMA persistent, or for the full forward; its causal grid stays on cp.async.
     */
    static final String TMA_SUFFIX = "t";

    static boolean hasTmaForward(int headDim, FlashVariant v) {
        return v == FlashVariant.WGMMA && (headDim == 64 || headDim == 128);
    }

    /** Where the TMA twin runs when allowed: D = 128 always; D = 64 when persistent or not causal. */
    static boolean tmaForward(int headDim, FlashVariant v, boolean causal, boolean persistent) {
        return hasTmaForward(headDim, v) && (headDim == 128 || persistent || !causal);
    }

    /** ccalab.flash.tma's value checked: auto (the rule), on (wherever an instance exists) or off (cp.async only). */
    static String tmaMode(String mode) {
        return switch (mode) {
            case "auto", "on", "off" -> mode;
            default -> throw new IllegalArgumentException("ccalab.flash.tma must be auto, on or off, was " + mode);
        };
    }

    /**
     * The persistent forward (Hopper v4 "4p", attention/flash_fwd_wgmma.cuh FwdWalk): grid (P, 1, B), P blocks per
     * batch entry (one per SM) each walking (query tile, head) items, the K/V ring running on across them so that an
     * item's first copies overlap the previous item's last tile. Causal and sliding-window instances, plain and "_lo",
     * at D = 64 and 128; the same arithmetic per item as v4, so the same bits (persist_lab.py, CudaPersistentForwardGpuTest).
     */
    static final String PERSISTENT_SUFFIX = "p";
    /**
     * Where the persistent walk pays (session 18, H100, 16 heads, docs/perf-log.md "Session 18", calls 4 and 9): items
     * of a few key tiles, whose block start it hides. Causal 4k 1.16-1.24x (D 64) / 1.27x (D 128), 8k 1.0-1.13x, batch
     * 8 x 1024 at D 64 1.10-1.17x; windows of 512 1.05-1.3x, of 2048 0.97-1.09x. Long items lose, for a reason not found
     * (causal 16k-64k 0.83-1.0x; windows of 4096 0.89-1.05x; not the static deal: a dynamic one lost too), and so does
     * the full (not causal) forward (0.89-0.96x at D 64): no instances. The walk reads every head's K/V at once (the grid's blocks go head by
     * head), so a causal forward whose K/V outgrow the L2 loses too (batch 8 x 2048: 0.81x at D 128, 0.94x at D 64):
     * {@link #PERSISTENT_MAX_KV_BYTES}, 40 MB of the H100's 50 MB L2.
     */
    static final int PERSISTENT_MAX_TOKENS = 8192, PERSISTENT_MAX_WINDOW = 2048;
    static final long PERSISTENT_MAX_KV_BYTES = 40L << 20;

    static boolean hasPersistentForward(int headDim, FlashVariant v, boolean causal) {
        return causal && v == FlashVariant.WGMMA && (headDim == 64 || headDim == 128);
    }

    /**
     * The rule: causal up to {@link #PERSISTENT_MAX_TOKENS} tokens with K and V within {@link #PERSISTENT_MAX_KV_BYTES},
     * or a window (0 < window < tokens) up to {@link #PERSISTENT_MAX_WINDOW}, and at least two items per block (fewer
     * leave nothing to overlap).
     */
    static boolean persistentForward(AttentionShape s, FlashVariant v, boolean causal, int window, int multiprocessors) {
        return persistentForward(s, v, causal, window, multiprocessors, false);
    }

    /**
     * With TMA copies ({@code tma}: the "4tp" twins) the walk pays more widely (session 19, calls 5-6): at D = 64 at
     * every measured shape (1.06-1.30x v4 up to 64k tokens, batch 8 x 2048, windows of 2048-4096); at D = 128 for
     * windows up to {@link #PERSISTENT_MAX_WINDOW} and for causal forwards whose K and V fit
     * {@link #PERSISTENT_MAX_KV_BYTES} up to {@link #TMA_PERSISTENT_MAX_TOKENS} tokens (16k grouped 16/4: 1.22x
     * against the grid's 1.17x) or that are one sequence up to {@link #PERSISTENT_MAX_TOKENS} (8k: 1.41x against
     * 1.33x); batches with more K/V lose (8 x 1024: 0.94x against 1.16x; 8 x 2048: 0.86x against 1.18x).
     */
    static boolean persistentForward(AttentionShape s, FlashVariant v, boolean causal, int window, int multiprocessors,
                                     boolean tma) {
        if (!hasPersistentForward(s.headDim(), v, causal) || s.batch() > multiprocessors) return false;
        boolean fitsL2 = s.kvElements() * 4 <= PERSISTENT_MAX_KV_BYTES;
        boolean shortItems;
        if (tma && s.headDim() == 64) shortItems = true;
        else if (window > 0) shortItems = window <= PERSISTENT_MAX_WINDOW;
        else if (tma) shortItems = fitsL2 ? s.tokens() <= TMA_PERSISTENT_MAX_TOKENS
                : s.batch() == 1 && s.tokens() <= PERSISTENT_MAX_TOKENS;
        else shortItems = s.tokens() <= PERSISTENT_MAX_TOKENS && fitsL2;
        long items = (long) s.batch() * s.qHeads() * ((s.tokens() + FLASH_BM - 1) / FLASH_BM);
        return shortItems && items >= 2L * multiprocessors;
    }

    static final int TMA_PERSISTENT_MAX_TOKENS = 16384;

    /** The persistent grid: (P, 1, B), P = min(items per batch entry, SMs / B) blocks. */
    static int[] persistentGrid(AttentionShape s, int multiprocessors) {
        long perEntry = (long) s.qHeads() * ((s.tokens() + FLASH_BM - 1) / FLASH_BM);
        return new int[] {(int) Math.min(perEntry, Math.max(1, multiprocessors / s.batch())), 1, s.batch()};
    }

    /**
     * D = 128: 8 warps of 16 rows over 128-key tiles (run 13, docs/perf-log.md: 283-300 TF against 256-271 for
     * the 64-key layouts at every measured shape from 1k to 64k; half the barriers and O rescales per key).
     * D = 64: 4 warps of 32 rows over 64-key tiles (run 3: +25% over 8 warps of 16). D = 256: the only
     * instance, 8 warps of 16 rows over 64-key tiles. {@code hopper}: the device runs the sm_90a image (the
     * backend probes it when it opens), so D = 64 and D = 128 take the wgmma kernels (D = 64 since session 6).
     */
    static FlashVariant flashVariant(AttentionShape s, boolean hopper) {
        return switch (s.headDim()) {
            case 128 -> hopper ? FlashVariant.WGMMA : FlashVariant.N128;
            case 64 -> hopper ? FlashVariant.WGMMA : FlashVariant.M2;
            default -> FlashVariant.M1;
        };
    }

    /**
     * Backward v2 (docs/perf-log.md): one block per 128-key K/V tile and query head, 8 warps, over 64-row query
     * tiles loaded double-buffered.
     */
    static final int BWD_KV_TILE = 128, BWD_Q_TILE = 64, BWD_THREADS = 256, BWD_PRE_THREADS = 256;

    static String flashBackward(int headDim, boolean causal) {
        return "flash_bwd_hd" + headDim + (causal ? "_causal" : "");
    }

    /**
     * The backward kernels: MMA, the mma.sync v2 above (D = 64 and 128, any device) and flash_bwd_wide at D = 256;
     * WGMMA, the Hopper ones (attention/flash_bwd_wgmma.cuh at D = 128, flash_bwd_wgmma_hd64.cuh at D = 64 since
     * session 7, flash_bwd_wgmma_hd256.cuh at D = 256 since session 8; sm_90a image only: other images trap): same
     * arguments, grid and outputs as the MMA kernel of their head dim, 384 threads (a producer warpgroup and two
     * consumer warpgroups) and their own shared memory.
     */
    enum BwdVariant {
        MMA, WGMMA;

        int threads() {
            return this == WGMMA ? 384 : BWD_THREADS;
        }

        /**
         * WGMMA: K, V, 2 stages of Q / dO / LSE / Dv, the dS^T tile(s) (2 at D = 128, 1 at D = 64, where each
         * warpgroup reads only its own rows), the dQ staging and 1 KB alignment slack (wgbwd::SMEM_BYTES,
         * wgbwd64::Cfg<2>::SMEM_BYTES); D = 256: 64-key K, V tiles, 2 stages of Q / dO / LSE / Dv, two buffers of
         * P^T and dS^T, no dQ staging (wgbwd256::SMEM_BYTES).
         */
        int smem(int headDim) {
            if (this == MMA) return flashBackwardSmem(headDim);
            return switch (headDim) {
                case 64 -> 120_832;
                case 256 -> 231_424;
                default -> 202_752;
            };
        }

        boolean exists(int headDim) {
            return this == MMA || headDim == 128 || headDim == 64 || headDim == 256;
        }
    }

    /** The shipped wgmma backward version (docs/perf-log-wgmma.md, "Backward"). */
    static final String BWD_WGMMA_SUFFIX = "_wgmma4";

    static String flashBackward(int headDim, boolean causal, BwdVariant v) {
        return flashBackward(headDim, causal) + (v == BwdVariant.WGMMA ? BWD_WGMMA_SUFFIX : "");
    }

    /**
     * The plain wgmma backward's TMA twins ({@link #TMA_SUFFIX}, session 19; hopper_kernels.cuh FLASH_BWD_TMA): Q / dO
     * tiles and the resident K / V copied by TMA; at D = 128 a dQ writer thread reduce-adds each tile's dQ with TMA
     * instead of the consumers' atomics (1.02-1.12x v4; MHA causal 16k 504 TF), at D = 64 the consumers get 240
     * registers (1.03-1.07x). Five tensor maps appended: Q, K, V, dO (bf16) and dQ (fp32). The deterministic and
     * windowed backwards have none.
     */
    static boolean hasTmaBackward(int headDim, BwdVariant v) {
        return v == BwdVariant.WGMMA && (headDim == 64 || headDim == 128);
    }

    static String flashBackwardTma(int headDim, boolean causal, BwdVariant v) {
        if (!hasTmaBackward(headDim, v))
            throw new IllegalArgumentException("no TMA backward for headDim " + headDim + " on " + v);
        return flashBackward(headDim, causal, v) + TMA_SUFFIX;
    }

    /**
     * The deterministic backward (session 7, {@code ccalab.flash.deterministic}): the wgmma kernels with every fp32 add
     * into dQ (and, with grouped heads, into dK / dV) in a fixed order across blocks, ordered by semaphores, so two
     * runs on the same inputs give the same bits. wgmma at D = 64, 128 and (session 9) 256, mma.sync (any device) at
     * D = 64 and 128 since session 17; one more argument, the semaphores.
     */
    static final String BWD_DETERMINISTIC_SUFFIX = "_det";

    static boolean hasDeterministicBackward(int headDim, BwdVariant v) {
        return v == BwdVariant.WGMMA ? v.exists(headDim) : headDim == 64 || headDim == 128;
    }

    static String flashBackward(int headDim, boolean causal, BwdVariant v, boolean deterministic) {
        if (deterministic && !hasDeterministicBackward(headDim, v))
            throw new IllegalArgumentException("no deterministic backward for headDim " + headDim + " on " + v);
        return flashBackward(headDim, causal, v) + (deterministic ? BWD_DETERMINISTIC_SUFFIX : "");
    }

    /**
     * The deterministic backward's semaphores (ints, zeroed per launch): dQ [B][Hq][ceil(T/64)][2], then dK / dV
     * [B][Hkv][ceil(T / kv block)][2] with the kernel's K/V block (128 keys; 64 at D = 256).
     */
    static long deterministicSemaphores(AttentionShape s) {
        int kvTile = flashBackwardKvTile(s.headDim());
        long nQ = (s.tokens() + BWD_Q_TILE - 1) / BWD_Q_TILE, nKv = (s.tokens() + kvTile - 1) / kvTile;
        return 2L * s.batch() * (s.qHeads() * nQ + s.kvHeads() * nKv);
    }

    /** D = 64, 128 and 256 take the wgmma backward where the device runs the sm_90a image ({@code hopper}); else mma.sync. */
    static BwdVariant backwardVariant(int headDim, boolean hopper) {
        return hopper && BwdVariant.WGMMA.exists(headDim) ? BwdVariant.WGMMA : BwdVariant.MMA;
    }

    /**
     * Whether a pass uses the wgmma kernels, from its switch ({@code ccalab.flash.forward} or
     * {@code ccalab.flash.backward}): auto (where the driver loaded the sm_90a image, {@code sm90a}), mma (never),
     * wgmma (required: fails if the driver runs another image, {@code arch} names it).
     */
    static boolean useWgmma(String property, String mode, int arch, boolean sm90a) {
        return switch (mode) {
            case "auto" -> sm90a;
            case "mma" -> false;
            case "wgmma" -> {
                if (!sm90a)
                    throw new CudaUnavailableException(property + "=wgmma, but the driver runs the compute_" + arch
                            + " image of the fatbin, not sm_90a");
                yield true;
            }
            default -> throw new IllegalArgumentException(property + " must be auto, mma or wgmma, was " + mode);
        };
    }

    /** ccalab.flash.persistent's value checked: auto, on or off (CudaBackend.persistentForward). */
    static String persistentMode(String mode) {
        return switch (mode) {
            case "auto", "on", "off" -> mode;
            default -> throw new IllegalArgumentException("ccalab.flash.persistent must be auto, on or off, was " + mode);
        };
    }

    /**
     * Suffix of the sliding-window instances (the OVQ hybrid's SWA blocks, ovq.md section 4): query t sees keys
     * t - W < s <= t, W one more int argument, last. Causal only; at head dims 64 and 128 the forward variants the
     * backend runs (those with an O-residual instance: M2 / WGMMA at 64, N128 / WGMMA at 128), plain and "_lo", and
     * the backward, plain and "_det".
     */
    static final String WINDOW_SUFFIX = "_swa";
    static final int[] WINDOW_HEAD_DIMS = {64, 128};

    static boolean hasWindow(int headDim, FlashVariant v) {
        return hasWindow(headDim) && hasResidual(headDim, v);
    }

    static boolean hasWindow(int headDim) {
        return headDim == 64 || headDim == 128;
    }

    static String flashForwardWindowed(int headDim, FlashVariant v, boolean residual) {
        return flashForwardWindowed(headDim, v, residual, false);
    }

    static String flashForwardWindowed(int headDim, FlashVariant v, boolean residual, boolean persistent) {
        return flashForwardWindowed(headDim, v, residual, persistent, false);
    }

    static String flashForwardWindowed(int headDim, FlashVariant v, boolean residual, boolean persistent, boolean tma) {
        if (!hasWindow(headDim, v))
            throw new IllegalArgumentException("no sliding-window forward for headDim " + headDim + " variant " + v);
        return flashForward(headDim, true, v, residual, persistent, tma) + WINDOW_SUFFIX;
    }

    static String flashBackwardWindowed(int headDim, BwdVariant v, boolean deterministic) {
        if (!hasWindow(headDim))
            throw new IllegalArgumentException("no sliding-window backward for headDim " + headDim);
        return flashBackward(headDim, true, v, deterministic) + WINDOW_SUFFIX;
    }

    static String flashBackwardPreprocess(int headDim) {
        return "flash_bwd_preprocess_hd" + headDim;
    }

    /** The preprocess that forms Dv from O + Olo (the residual a {@link #RESIDUAL_SUFFIX} forward wrote). */
    static String flashBackwardPreprocess(int headDim, boolean residual) {
        return residual ? "flash_bwd_preprocess_lo_hd" + headDim : flashBackwardPreprocess(headDim);
    }

    /** K, V tiles, two stages of Q and dO tiles (bf16), the dS^T tile (bf16), two stages of LSE and Dv (fp32). */
    static int flashBackwardSmem(int headDim) {
        if (headDim == 256) return wideBackwardSmem(256, 256, BWD256_KV_TILE, BWD256_Q_TILE, true);
        return (2 * BWD_KV_TILE * headDim + 4 * BWD_Q_TILE * headDim + BWD_KV_TILE * BWD_Q_TILE) * 2 + 4 * BWD_Q_TILE * 4;
    }

    /**
     * D = 256 runs flash_bwd_wide_kernel (attention/flash_bwd.cuh): 64-key blocks of 8 warps (4 row groups x 2
     * column halves of dK/dV), 64-row query tiles, P^T and dS^T staged through shared memory.
     */
    static final int BWD256_KV_TILE = 64, BWD256_Q_TILE = 64;

    /** Keys per backward block (the grid's x extent is ceil(T / this)), the same for both variants of a head dim. */
    static int flashBackwardKvTile(int headDim) {
        return headDim == 256 ? BWD256_KV_TILE : BWD_KV_TILE;
    }

    /**
     * flash_bwd_wide::smem_bytes: K and V tiles, two stages of Q and dO tiles, dS^T and, staged, P^T (rows padded
     * by 8 elements), two stages of LSE and Dv.
     */
    static int wideBackwardSmem(int qkDim, int vDim, int kvTile, int qTile, boolean staged) {
        return (kvTile * (qkDim + 8) + kvTile * (vDim + 8) + 2 * qTile * (qkDim + 8) + 2 * qTile * (vDim + 8)
                + (staged ? 2 : 1) * kvTile * (qTile + 8)) * 2 + 4 * qTile * 4;
    }

    static String decodeSplit(int headDim, int group) {
        return "decode_splitkv_hd" + headDim + "_g" + group;
    }

    static String decodeCombine(int headDim) {
        return "decode_combine_hd" + headDim;
    }

    /**
     * Decode v3 (one launch, combine fused): DECODE_V3_WARPS warps, DECODE_V3_STAGES cp.async stages, clusters of
     * DECODE_V3_CLUSTER splits (the instances' __cluster_dims__; 1 = none: clusters of 8 merging through
     * distributed shared memory lost 20-45 points of bandwidth in the decode lab).
     */
    static final int DECODE_V3_WARPS = 8, DECODE_V3_STAGES = 2, DECODE_V3_CLUSTER = 1, DECODE_V3_MAX_SPLITS = 256;

    static String decode(int headDim, int group) {
        return "decode_hd" + headDim + "_g" + group;
    }

    /** Decode v3 with the SPIN merge (every block merges a slice once all splits arrived; co-resident grids only). */
    static String decodeSpin(int headDim, int group) {
        return decode(headDim, group) + "_spin";
    }

    /** Keys per v3 tile: (256 / D) rows per warp pass x warps x 4 passes. */
    static int decodeTileKeys(int headDim) {
        return 256 / headDim * DECODE_V3_WARPS * 4;
    }

    /**
     * decode.cuh's dec::smem_bytes: the K/V ring, or the block merge with the cluster merge's weights, or the
     * combine, whichever is largest.
     */
    static int decodeSmem(int headDim, int group) {
        int ring = DECODE_V3_STAGES * decodeTileKeys(headDim) * headDim * 4;
        int merge = ((DECODE_V3_WARPS + 1) * (headDim + 2) + 16 + 2) * group * 4;
        int combine = (2 * group * DECODE_V3_MAX_SPLITS + group) * 4 + 16 + DECODE_V3_WARPS * 32 * 16;
        return Math.max(ring, Math.max(merge, combine));
    }

    /** The two prologue implementations: v1 FP32 FMAs (32 tokens x D threads) and v2 TF32 tensor cores. */
    enum Prologue {
        FMA, TENSOR_CORE;

        static Prologue fromProperty() {
            // v3 TF32 (256 threads, bf16 halo) measured 0.35 ms against the FMA version's 0.58 at 16k (run 4).
            String v = System.getProperty("ccalab.cca.prologue", "tc");
            return switch (v) {
                case "fma" -> FMA;
                case "tc" -> TENSOR_CORE;
                default -> throw new IllegalArgumentException("ccalab.cca.prologue must be fma or tc, was " + v);
            };
        }
    }

    static String ccaPrologue(Prologue impl, int headDim) {
        return (impl == Prologue.FMA ? "cca_prologue_fma_hd" : "cca_prologue_hd") + headDim;
    }

    /** The launched instance: TENSOR_CORE at {@link #CCA_TT_SHORT} tokens per block is the "_t32" one. */
    static String ccaPrologue(Prologue impl, int headDim, int tokensPerBlock) {
        return ccaPrologue(impl, headDim) + (impl == Prologue.TENSOR_CORE && tokensPerBlock == CCA_TT_SHORT ? "_t32" : "");
    }

    static int ccaTokensPerBlock(Prologue impl) {
        return impl == Prologue.FMA ? 32 : CCA_TT;
    }

    /** TENSOR_CORE's short blocks (cca::TT_SHORT: 2 row tiles x 4 column quarters of 8 warps). */
    static final int CCA_TT_SHORT = 32;

    /**
     * Tokens per block for a launch: TENSOR_CORE takes 32-token blocks where 64-token ones would not give every SM
     * two blocks (short T: at T = 512, CCA-4x d128 ran 64 blocks on 132 SMs, each a latency chain alone on its SM;
     * docs/perf-log.md, "Session 6"), 64 elsewhere (each block re-reads its head's W1, so fewer, taller blocks move
     * less); FMA always 32.
     */
    static int ccaTokensPerBlock(Prologue impl, int tokens, int headGroups, int batch, int multiprocessors) {
        if (impl == Prologue.FMA) return 32;
        long tallBlocks = (long) ((tokens + CCA_TT - 1) / CCA_TT) * headGroups * batch;
        return tallBlocks < 2L * multiprocessors ? CCA_TT_SHORT : CCA_TT;
    }

    static int ccaThreads(Prologue impl, int headDim) {
        return impl == Prologue.FMA ? headDim : CCA_THREADS;
    }

    static int ccaSmem(Prologue impl, int headDim, int k0, int k1) {
        return ccaSmem(impl, headDim, k0, k1, ccaTokensPerBlock(impl));
    }

    static int ccaSmem(Prologue impl, int headDim, int k0, int k1, int tokensPerBlock) {
        int p = k0 - 1 + k1 - 1;
        if (impl == Prologue.FMA) return ((32 + p) * headDim + (32 + k1 - 1) * headDim + 32) * 4;
        // z halo (bf16), stage-1 rows (padded), one W chunk of 32 rows (padded), per-token factors, RoPE
        // frequencies (double)
        int tt = tokensPerBlock;
        return (tt + p) * headDim * 2 + ((tt + k1 - 1) * (headDim + 4) + 32 * (headDim + 8) + tt + headDim) * 4;
    }

    static final String VALUE_SHIFT = "value_shift_kernel";

    /** The shipped wgmma forward version (docs/perf-log-wgmma.md). */
    static final String WGMMA_SUFFIX = "_wgmma4";

    /** Writes {__CUDA_ARCH__, 1 if the loaded image is sm_90a} into two ints: whether WGMMA may be launched. */
    static final String ARCH_PROBE = "wgmma_arch_probe";

    /** One CCA/CCGQA decode token: D threads per head group (attention/cca_decode.cuh). */
    static String ccaDecodeStep(int headDim) {
        return "cca_decode_step_hd" + headDim;
    }

    /** Every kernel the backend may launch; checked against the fatbin when the backend opens. */
    static List<String> all() {
        List<String> names = new ArrayList<>();
        for (int d : HEAD_DIMS) {
            for (FlashVariant v : FlashVariant.values()) {
                if (!v.exists(d)) continue;
                for (boolean residual : hasResidual(d, v) ? new boolean[] {false, true} : new boolean[] {false})
                    for (boolean tma : hasTmaForward(d, v) ? new boolean[] {false, true} : new boolean[] {false}) {
                        names.add(flashForward(d, true, v, residual, false, tma));
                        names.add(flashForward(d, false, v, residual, false, tma));
                        if (hasPersistentForward(d, v, true)) names.add(flashForward(d, true, v, residual, true, tma));
                    }
            }
            for (int g : DECODE_GROUPS) {
                names.add(decodeSplit(d, g));
                names.add(decode(d, g));
                names.add(decodeSpin(d, g));
            }
            names.add(decodeCombine(d));
        }
        for (int d : BWD_HEAD_DIMS) {
            names.add(flashBackward(d, true));
            names.add(flashBackward(d, false));
            names.add(flashBackwardPreprocess(d));
            names.add(flashBackwardPreprocess(d, true));
            if (BwdVariant.WGMMA.exists(d)) {
                names.add(flashBackward(d, true, BwdVariant.WGMMA));
                names.add(flashBackward(d, false, BwdVariant.WGMMA));
            }
            if (hasTmaBackward(d, BwdVariant.WGMMA)) {
                names.add(flashBackwardTma(d, true, BwdVariant.WGMMA));
                names.add(flashBackwardTma(d, false, BwdVariant.WGMMA));
            }
            for (BwdVariant v : BwdVariant.values())
                if (hasDeterministicBackward(d, v)) {
                    names.add(flashBackward(d, true, v, true));
                    names.add(flashBackward(d, false, v, true));
                }
        }
        for (int d : WINDOW_HEAD_DIMS) {
            for (FlashVariant v : FlashVariant.values()) {
                if (!hasWindow(d, v)) continue;
                for (boolean persistent : hasPersistentForward(d, v, true) ? new boolean[] {false, true} : new boolean[] {false})
                    for (boolean tma : hasTmaForward(d, v) ? new boolean[] {false, true} : new boolean[] {false}) {
                        names.add(flashForwardWindowed(d, v, false, persistent, tma));
                        names.add(flashForwardWindowed(d, v, true, persistent, tma));
                    }
            }
            names.add(flashBackwardWindowed(d, BwdVariant.MMA, false));
            names.add(flashBackwardWindowed(d, BwdVariant.MMA, true));
            names.add(flashBackwardWindowed(d, BwdVariant.WGMMA, false));
            names.add(flashBackwardWindowed(d, BwdVariant.WGMMA, true));
        }
        for (int d : PROLOGUE_HEAD_DIMS) {
            for (Prologue impl : Prologue.values()) names.add(ccaPrologue(impl, d));
            names.add(ccaPrologue(Prologue.TENSOR_CORE, d, CCA_TT_SHORT));
            names.add(ccaDecodeStep(d));
        }
        names.add(VALUE_SHIFT);
        names.add(ARCH_PROBE);
        names.addAll(CudaMlaKernels.all());
        names.addAll(CudaOvq.all());
        return names;
    }
}
