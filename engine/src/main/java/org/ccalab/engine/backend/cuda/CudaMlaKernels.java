package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.variant.MlaConfig;

/**
 * Names, instances and launch shapes of the MLA kernels (mla_kernels.cuh: prefill core mla_fwd, absorbed decode
 * mla_decode + mla_decode_combine, and the layer's small steps in attention/mla_layer.cuh). The constants and
 * rules mirror the CUDA namespaces mla, mla_decode and mla_layer and the Python launcher bench/ccalab_mla.py
 * (which the kernels were verified with): variant choice by the device's opt-in shared memory, the split rule,
 * shared-memory sizes. Everything here is static and tested without a GPU.
 */
final class CudaMlaKernels {
    // ---- prefill core (mla::BM, mla::NTHREADS)
    static final int FWD_BM = 128, FWD_THREADS = 256;
    // ---- absorbed decode (mla_decode::NTHREADS, HT, CGROUPS)
    static final int DECODE_THREADS = 256, DECODE_WARPS = 8, DECODE_HEADS_PER_BLOCK = 16, DECODE_DR = 64;
    static final int COMBINE_X = 16, COMBINE_GROUPS = 8, COMBINE_COLS = 64;
    /**
     * The ring decode (mla_ring::BN, MLA_RING_STAGES) and the least splits per head group for which its fused merge
     * beats split + combine (session 10, docs/perf-log.md, H100 L2-cold: 128 splits (B=1 H16) 16k 15.6 vs 16.8 us;
     * 64 (B=2) 23.7 vs 23.2; 16 (B=8) 71 vs 65).
     */
    static final int RING_ROWS = 32, RING_STAGES = 3, SPIN_MIN_SPLITS = 96;
    /** The driver reserves this much shared memory per block on top of the dynamic request (sm_80 / sm_90). */
    static final int SMEM_RESERVED_PER_BLOCK = 1024;
    // ---- layer steps (mla_layer::*)
    static final int LATENT_THREADS = 128, EXPAND_THREADS = 128;
    static final int ABSORB_COLS = 128, ABSORB_BATCH = 8, ABSORB_MAX_DN = 256;
    static final int UNABSORB_WARPS = 8, UNABSORB_BATCH = 8, MAX_ROPE_DIMS = 512;
    // ---- layer backward steps (mla_layer::UP_BWD_*, LATENT_BWD_*)
    static final int UP_BWD_THREADS = 256, UP_BWD_MAX_BLOCKS = 16384;
    static final int LATENT_BWD_WARPS = 4, LATENT_BWD_THREADS = LATENT_BWD_WARPS * 32, LATENT_BWD_ROWS = 32;

    static final String KV_LATENT = "mla_kv_latent", EXPAND_KV = "mla_expand_kv", ABSORB_Q = "mla_absorb_q",
            UNABSORB = "mla_unabsorb", KV_UP_BWD = "mla_kv_up_bwd", KV_LATENT_BWD = "mla_kv_latent_bwd";
    // ---- the prefill core at other (d_qk, d_v): operands padded to a flash kernel's head dim (mla_copy_cols_kernel)
    static final String COPY_COLS_BF16 = "mla_copy_cols_bf16", COPY_COLS_F32 = "mla_copy_cols_f32";
    static final int COPY_THREADS = 256, COPY_MAX_BLOCKS = 16384;
    /** The flash kernels' head dims a padded prefill core may run at (CudaKernels: forward, backward, residual). */
    static final List<Integer> PADDED_HEAD_DIMS = List.of(64, 128, 256);

    private CudaMlaKernels() {}

    /** One prefill-core instance: (d_qk, d_v) with {@code keysPerTile} keys per K/V tile; suffix of its name. */
    record FwdInstance(int qkDim, int vDim, int keysPerTile, String suffix) {
        /** Q tile + two K tiles + two V tiles, rows padded by 8 elements (mla::fwd_smem_bytes). */
        int smem() {
            return (FWD_BM * (qkDim + 8) + 2 * keysPerTile * (qkDim + 8) + 2 * keysPerTile * (vDim + 8)) * 2;
        }

        String name(boolean causal) {
            return "mla_fwd_qk" + qkDim + "_v" + vDim + (causal ? "_causal" : "") + suffix;
        }

        /** The instance that also writes O's rounding residual (CudaKernels.RESIDUAL_SUFFIX). */
        String name(boolean causal, boolean residual) {
            return name(causal) + (residual ? CudaKernels.RESIDUAL_SUFFIX : "");
        }
    }

    /** Every mla_fwd instance of mla_kernels.cuh; per (d_qk, d_v) the default first, then the smaller ones. */
    static final List<FwdInstance> FWD_INSTANCES = List.of(
            new FwdInstance(192, 128, 128, ""), new FwdInstance(192, 128, 64, "_n64"),
            new FwdInstance(96, 64, 64, ""));

    /**
     * The instance for (d_qk, d_v) on a device whose blocks may opt into {@code smemOptin} bytes: the default
     * where it fits (H100: the 128-key tile at d_qk 192, 218 KB), else the next smaller (A100: _n64, 134 KB);
     * as ccalab_mla.py's default_fwd_bn.
     */
    static FwdInstance fwdInstance(int qkDim, int vDim, int smemOptin) {
        FwdInstance f = exactFwdInstance(qkDim, vDim, smemOptin);
        if (f == null)
            throw new IllegalArgumentException("no mla_fwd kernel for d_qk=" + qkDim + ", d_v=" + vDim
                    + " (instances: d_qk 192 / d_v 128, d_qk 96 / d_v 64)");
        return f;
    }

    /**
     * The mla_fwd instance for (d_qk, d_v) that fits, null where (d_qk, d_v) has none (the prefill core then runs
     * padded: {@link #paddedHeadDim}); throws where it has one but none fits the device.
     */
    static FwdInstance exactFwdInstance(int qkDim, int vDim, int smemOptin) {
        boolean known = false;
        for (FwdInstance f : FWD_INSTANCES) {
            if (f.qkDim() != qkDim || f.vDim() != vDim) continue;
            known = true;
            if (f.smem() <= smemOptin) return f;
        }
        if (!known) return null;
        throw new IllegalArgumentException("no mla_fwd instance for d_qk=" + qkDim + ", d_v=" + vDim + " fits the device's "
                + smemOptin + " bytes of opt-in shared memory per block");
    }

    /**
     * The head dim a prefill core at (d_qk, d_v) without an mla_fwd / mla_bwd instance runs at (session 13): the
     * smallest flash head dim (64 / 128 / 256) that holds both, its operands zero-padded (zero columns of q and k add
     * nothing to the logits, those of v give output columns that are cut off; the scale stays d_qk^-1/2), or -1 where
     * neither fits 256 or a width is not a multiple of 8 (the copies move 16-byte chunks).
     */
    static int paddedHeadDim(int qkDim, int vDim) {
        if (qkDim % 8 != 0 || vDim % 8 != 0 || qkDim < 8 || vDim < 8) return -1;
        for (int d : PADDED_HEAD_DIMS)
            if (qkDim <= d && vDim <= d) return d;
        return -1;
    }

    /** Whether (d_qk, d_v) has mla_fwd / mla_bwd instances of its own (else the prefill core runs padded). */
    static boolean hasExactCore(int qkDim, int vDim) {
        return FWD_INSTANCES.stream().anyMatch(f -> f.qkDim() == qkDim && f.vDim() == vDim);
    }

    /**
     * The prefill core's backward (mla_bwd_qk<DQK>_v<DV>[_causal]: flash_bwd_wide_kernel of attention/flash_bwd.cuh):
     * 64 keys of one head per block, 8 warps (4 row groups x 2 column halves of dK/dV), {@code queryTile}-row query
     * tiles, P^T and dS^T staged through shared memory; Dv [B, H, T] = rowsum(dO o O) first
     * (flash_bwd_preprocess_hd<DV>). {@code wgmma} (session 8): its "_wgmma" twin on the sm_90a image
     * (attention/flash_bwd_wgmma_wide.cuh, d_qk 192 / d_v 128 only): same arguments and grid, 384 threads.
     */
    record BwdInstance(int qkDim, int vDim, int queryTile, boolean wgmma) {
        static final int KEYS_PER_BLOCK = 64, THREADS = 256, WGMMA_THREADS = 384;

        int keysPerBlock() {
            return KEYS_PER_BLOCK;
        }

        int threads() {
            return wgmma ? WGMMA_THREADS : THREADS;
        }

        /** wgmma: wgbwdw::Layout<192, 128>::SMEM_BYTES_SDQ, dQ staged (static_assert in flash_bwd_wgmma_wide.cuh). */
        int smem() {
            return wgmma ? 227_328 : CudaKernels.wideBackwardSmem(qkDim, vDim, KEYS_PER_BLOCK, queryTile, true);
        }

        String name(boolean causal) {
            return "mla_bwd_qk" + qkDim + "_v" + vDim + (causal ? "_causal" : "") + (wgmma ? "_wgmma" : "");
        }

        /**
         * Whether an ordered-add ("_det") twin exists (session 9): the wgmma kernel at 192 / 128, its dQ unstaged
         * (wgbwdw::Layout<192, 128>::SMEM_BYTES = {@link #deterministicSmem}), the semaphores one more argument.
         */
        boolean hasDeterministic() {
            return wgmma && qkDim == 192 && vDim == 128;
        }

        String deterministicName(boolean causal) {
            if (!hasDeterministic())
                throw new IllegalArgumentException("no deterministic mla_bwd kernel for " + name(causal));
            return name(causal) + CudaKernels.BWD_DETERMINISTIC_SUFFIX;
        }

        int deterministicSmem() {
            return 157_696;
        }

        /** The "_det" kernel's semaphores (ints, zeroed per launch): dQ [B][H][ceil(T/64)][2], dK / dV the same. */
        static long deterministicSemaphores(int batch, int tokens, int heads) {
            return 4L * batch * heads * ((tokens + KEYS_PER_BLOCK - 1) / KEYS_PER_BLOCK);
        }

        String preprocessName(boolean residual) {
            return CudaKernels.flashBackwardPreprocess(vDim, residual);
        }
    }

    /**
     * Every mla_bwd instance: mla_kernels.cuh's (145 KB and 85 KB of shared memory: A100 and H100 alike) and the
     * sm_90a one of hopper_kernels.cuh (222 KB: dQ staged).
     */
    static final List<BwdInstance> BWD_INSTANCES = List.of(new BwdInstance(192, 128, 64, false),
            new BwdInstance(96, 64, 64, false), new BwdInstance(192, 128, 64, true));

    /** The mma.sync instance for (d_qk, d_v). */
    static BwdInstance bwdInstance(int qkDim, int vDim) {
        return bwdInstance(qkDim, vDim, false);
    }

    /** The instance a backend runs: the wgmma one where it exists and {@code wgmma} (the sm_90a image), else mma.sync. */
    static BwdInstance bwdInstance(int qkDim, int vDim, boolean wgmma) {
        BwdInstance b = exactBwdInstance(qkDim, vDim, wgmma);
        if (b != null) return b;
        throw new IllegalArgumentException("no mla_bwd kernel for d_qk " + qkDim + ", d_v " + vDim
                + " (the CUDA instances: 192 / 128 and 96 / 64)");
    }

    /** As {@link #bwdInstance}, null where (d_qk, d_v) has no mla_bwd instance (the core then runs padded). */
    static BwdInstance exactBwdInstance(int qkDim, int vDim, boolean wgmma) {
        BwdInstance mma = null;
        for (BwdInstance b : BWD_INSTANCES)
            if (b.qkDim() == qkDim && b.vDim() == vDim) {
                if (b.wgmma() == wgmma) return b;
                if (!b.wgmma()) mma = b;
            }
        return mma;
    }

    /**
     * One absorbed-decode instance: latent width R (d_r 64) with {@code rowsPerTile} cache rows per tile; ring: the
     * ring split kernel (attention/mla_decode_ring.cuh, 3 stages of 32 rows, with a {@code _spin} twin that fuses
     * the combine), else the session-2 split kernel (attention/mla_decode.cuh) named with {@code suffix}. any: a kernel
     * compiled for the padded widths R and 64 that takes the rows' real widths as more arguments (session 13): the
     * ring r + d_r and r, the split kernel r + d_r (any r <= R and d_r <= 64); its combine takes r; its partials are
     * R wide.
     */
    record DecodeInstance(int latent, int rowsPerTile, String suffix, boolean ring, boolean any) {
        DecodeInstance(int latent, int rowsPerTile, String suffix, boolean ring) {
            this(latent, rowsPerTile, suffix, ring, false);
        }

        /** mla_ring::smem_bytes<R, 64, 3> or mla_decode::smem_bytes<R, 64, BN>. */
        int smem() {
            int dk = latent + DECODE_DR;
            if (ring)  // Qa rows + the ring (bf16, rows padded) + S halves (fp32) + P (bf16) + the rows' rescales
                return (DECODE_HEADS_PER_BLOCK * (dk + 8) + RING_STAGES * rowsPerTile * (dk + 8)) * 2
                        + 2 * DECODE_HEADS_PER_BLOCK * (rowsPerTile + 4) * 4 + DECODE_HEADS_PER_BLOCK * (rowsPerTile + 8) * 2
                        + DECODE_HEADS_PER_BLOCK * 4;
            return (DECODE_HEADS_PER_BLOCK * (dk + 8) + 2 * rowsPerTile * (dk + 8)) * 2
                    + (DECODE_WARPS * 8 / rowsPerTile) * DECODE_HEADS_PER_BLOCK * (rowsPerTile + 4) * 4;
        }

        String name() {
            return ring ? "mla_decode_ring_" + (any ? "any_r" : "r") + latent + "_rope" + DECODE_DR
                    : "mla_decode_" + (any ? "any_r" : "r") + latent + "_rope" + DECODE_DR + suffix;
        }

        /** The fused-merge twin (ring only): two more arguments, OLat and the counters; a co-resident grid only. */
        String spinName() {
            if (!ring) throw new IllegalArgumentException(name() + " has no fused merge");
            return name() + "_spin";
        }

        String combineName() {
            return "mla_decode_combine_" + (any ? "any_r" : "r") + latent;
        }
    }

    /**
     * Every mla_decode instance; per R the default first (the ring at 512 / 448), then the one for smaller GPUs; then
     * the padded instances for any other r <= 960 (smallest first: the rings up to 512, then the split kernel at 960).
     */
    static final List<DecodeInstance> DECODE_INSTANCES = List.of(
            new DecodeInstance(512, RING_ROWS, "", true), new DecodeInstance(512, 32, "_n32", false),
            new DecodeInstance(448, RING_ROWS, "", true), new DecodeInstance(448, 32, "_n32", false),
            new DecodeInstance(960, 32, "", false), new DecodeInstance(128, RING_ROWS, "", true, true),
            new DecodeInstance(256, RING_ROWS, "", true, true), new DecodeInstance(512, RING_ROWS, "", true, true),
            new DecodeInstance(960, 32, "", false, true));

    /** The widest latent a padded decode instance holds. */
    static final int MAX_ANY_LATENT = 960;

    /**
     * The decode instance for latent width r and rope width d_r that fits {@code smemOptin} (ccalab_mla.py's
     * default_decode_bn): the exact one (r 448 / 512 / 960, d_r 64) where it exists, else the smallest padded instance
     * that holds r <= 960 and d_r <= 64 (both multiples of 8: the rows move in 16-byte chunks; up to 512 a ring).
     */
    static DecodeInstance decodeInstance(int latent, int ropeDim, int smemOptin) {
        boolean known = false;
        if (ropeDim == DECODE_DR)
            for (DecodeInstance d : DECODE_INSTANCES) {
                if (d.any() || d.latent() != latent) continue;
                known = true;
                if (d.smem() <= smemOptin) return d;
            }
        if (!known) {
            if (latent % 8 != 0 || ropeDim % 8 != 0 || latent < 8 || ropeDim < 0 || ropeDim > DECODE_DR
                    || latent > MAX_ANY_LATENT)
                throw new IllegalArgumentException("no mla_decode kernel for kvLoraRank=" + latent + ", qkRopeHeadDim="
                        + ropeDim + " (exact instances: kvLoraRank 448 / 512 / 960 with qkRopeHeadDim 64; padded ones:"
                        + " kvLoraRank <= " + MAX_ANY_LATENT + " and qkRopeHeadDim <= 64, both multiples of 8)");
            for (DecodeInstance d : DECODE_INSTANCES)
                if (d.any() && d.latent() >= latent && d.smem() <= smemOptin) return d;
        }
        throw new IllegalArgumentException("no mla_decode instance for kvLoraRank=" + latent + " fits the device's "
                + smemOptin + " bytes of opt-in shared memory per block");
    }

    /** How decode splits the cache: {@code splits} chunks of {@code chunk} rows (a multiple of the tile). */
    record DecodeSplit(int splits, int chunk) {}

    /**
     * As many splits as fill the SMs in one wave at the blocks per SM the kernel's shared memory allows (1 for the
     * 512-wide ring, 2 at BN=32 with R <= 512 on an H100, 2-4 for the padded rings), never more than one tile each;
     * chunks a multiple of the tile. ccalab_mla.py's decode_splits, which the decode timings of the perf log were taken
     * with. Where one block per SM already gives a head group the fused merge's SPIN_MIN_SPLITS, a ring takes one block
     * per SM: the merge reads every split's partial, so twice the splits cost more than they stream (session 13, the
     * padded ring at r_kv 256, B=1 H16: 16k 12.9 -> 10.7 us, 32k 16.8 -> 14.1; batched, split + combine, keeps 2-4 per
     * SM: B=8 64k 126 us against 136 at one).
     */
    static DecodeSplit decodeSplit(int batch, int heads, int length, DecodeInstance inst, int multiprocessors,
                                   int smemPerMultiprocessor) {
        if (length < 1) throw new IllegalArgumentException("decode length " + length + " must be >= 1");
        int bn = inst.rowsPerTile();
        int perSm = Math.max(1, smemPerMultiprocessor / (inst.smem() + SMEM_RESERVED_PER_BLOCK));
        long blocks = (long) batch * ceil(heads, DECODE_HEADS_PER_BLOCK);
        if (inst.ring() && multiprocessors / blocks >= SPIN_MIN_SPLITS) perSm = 1;
        int n = (int) Math.max(1, Math.min((long) multiprocessors * perSm / blocks, ceil(length, bn)));
        int chunk = ceil(ceil(length, n), bn) * bn;
        return new DecodeSplit(ceil(length, chunk), chunk);
    }

    /** About {@code splits} splits (whole tiles; the last may be shorter, none empty): tests of the merges. */
    static DecodeSplit forcedDecodeSplit(int length, DecodeInstance inst, int splits) {
        if (length < 1 || splits < 1) throw new IllegalArgumentException("length " + length + ", splits " + splits);
        int chunk = ceil(ceil(length, splits), inst.rowsPerTile()) * inst.rowsPerTile();
        return new DecodeSplit(ceil(length, chunk), chunk);
    }

    /** Combine grid (H, B, R / 64) over blocks of 16 x 8 threads (R: the instance's, padded or not). */
    static int[] combineGrid(int batch, int heads, int latent) {
        return new int[] {heads, batch, latent / COMBINE_COLS};
    }

    static int[] absorbGrid(int batch, int heads, int latent) {
        return new int[] {ceil(latent, ABSORB_COLS), heads, ceil(batch, ABSORB_BATCH)};
    }

    static int[] unabsorbGrid(int batch, int heads, int vDim) {
        return new int[] {ceil(vDim, UNABSORB_WARPS), heads, ceil(batch, UNABSORB_BATCH)};
    }

    /** Grid-stride blocks of mla_kv_up_bwd over (rows x heads) x (DN + DV) / 8 chunks. */
    static int kvUpBackwardBlocks(long rowsTimesHeads, int nopeDim, int vDim) {
        long chunks = rowsTimesHeads * ((nopeDim + vDim) / 8);
        return (int) Math.max(1, Math.min(UP_BWD_MAX_BLOCKS, (chunks + UP_BWD_THREADS - 1) / UP_BWD_THREADS));
    }

    /** Blocks of mla_kv_latent_bwd = the latent gain's partial rows: a function of N only (deterministic sums). */
    static int latentBackwardBlocks(long rows) {
        return ceil(rows, LATENT_BWD_ROWS);
    }

    /** Per-warp fp32 accumulators of the latent gain's gradient (dynamic shared memory of mla_kv_latent_bwd). */
    static int latentBackwardSmem(int latent) {
        return LATENT_BWD_WARPS * latent * 4;
    }

    /**
     * Why the GPU cannot run this MLA config, or null when it can: the prefill core has instances for
     * (d_qk, d_v) = (192, 128) and (96, 64) and runs any other pair up to 256 padded on the flash kernels; decode has
     * instances for r_kv 448 / 512 / 960 with d_r 64 and padded ones for r_kv <= 960, d_r <= 64; the small kernels
     * move 16-byte chunks (every width a multiple of 8) and keep d_n <= 256 query values per token in shared memory.
     */
    static String unsupported(MlaConfig c) {
        if (!hasExactCore(c.qkHeadDim(), c.vHeadDim()) && paddedHeadDim(c.qkHeadDim(), c.vHeadDim()) < 0)
            return "no prefill core for qkNopeHeadDim + qkRopeHeadDim = " + c.qkHeadDim() + ", vHeadDim = " + c.vHeadDim()
                    + " (mla_fwd instances: 192 / 128 and 96 / 64; any other pair runs on the flash kernels padded to head"
                    + " dim 64 / 128 / 256, so both must be multiples of 8 and at most 256)";
        int r = c.kvLoraRank(), dr = c.qkRopeHeadDim();
        boolean exactDecode = dr == DECODE_DR && DECODE_INSTANCES.stream().anyMatch(d -> !d.any() && d.latent() == r);
        if (!exactDecode && (r % 8 != 0 || dr % 8 != 0 || r > MAX_ANY_LATENT || dr > DECODE_DR))
            return "no mla_decode kernel for kvLoraRank " + r + ", qkRopeHeadDim " + dr + " (exact instances: kvLoraRank"
                    + " 448 / 512 / 960 with qkRopeHeadDim 64; padded ones: kvLoraRank <= " + MAX_ANY_LATENT
                    + " and qkRopeHeadDim <= 64, both multiples of 8)";
        if (c.qkNopeHeadDim() % 8 != 0 || c.qkNopeHeadDim() > ABSORB_MAX_DN)
            return "qkNopeHeadDim " + c.qkNopeHeadDim() + " must be a multiple of 8 and at most " + ABSORB_MAX_DN;
        if (c.dModel() % 8 != 0) return "dModel " + c.dModel() + " must be a multiple of 8";
        if (c.hasQueryCompression() && c.qLoraRank() % 8 != 0)
            return "qLoraRank " + c.qLoraRank() + " must be a multiple of 8 (rmsnorm_fwd reads 16-byte chunks)";
        return null;
    }

    /** Every MLA kernel the backend may launch, and the training kernels the MLA layer borrows (RoPE, RMSNorm, cast). */
    static List<String> all() {
        List<String> names = new ArrayList<>();
        for (FwdInstance f : FWD_INSTANCES) {
            for (boolean residual : new boolean[] {false, true}) {
                names.add(f.name(true, residual));
                names.add(f.name(false, residual));
            }
        }
        for (BwdInstance b : BWD_INSTANCES) {
            names.add(b.name(true));
            names.add(b.name(false));
            if (b.hasDeterministic()) {
                names.add(b.deterministicName(true));
                names.add(b.deterministicName(false));
            }
        }
        for (DecodeInstance d : DECODE_INSTANCES) {
            names.add(d.name());
            if (d.ring()) names.add(d.spinName());
            if (!names.contains(d.combineName())) names.add(d.combineName());
        }
        names.addAll(List.of(KV_LATENT, EXPAND_KV, ABSORB_Q, UNABSORB, KV_UP_BWD, KV_LATENT_BWD, COPY_COLS_BF16, COPY_COLS_F32,
                CudaTrainingKernels.RMSNORM_FWD, CudaTrainingKernels.rope(CudaTrainingKernels.Dtype.BF16),
                CudaTrainingKernels.RMSNORM_DW_REDUCE, CudaTrainingKernels.rmsnormBackward(CudaTrainingKernels.Dtype.BF16),
                CudaTrainingKernels.rope(CudaTrainingKernels.Dtype.F32), CudaTrainingKernels.CAST_F32_BF16));
        return names;
    }

    static int ceil(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }
}
