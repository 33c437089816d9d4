// defines: flash_bwd_preprocess_kernel<D>, flash_bwd_kernel<D, CAUSAL> — FlashAttention-2-style backward.
//
// Layouts as the forward: Q, O, dO [B, T, Hq, D] bf16; K, V [B, T, Hkv, D] bf16; LSE [B, Hq, T] fp32 (forward's).
// Outputs are fp32 accumulators, zeroed by the caller: dQ [B, T, Hq, D], dK, dV [B, T, Hkv, D] (GQA: the G
// query heads of a group add into one KV head with atomics). Dv [B, Hq, T] = rowsum(dO * O), from the
// preprocess kernel (FA2 eq.: dS = P o (dP - Dv)).
// Each block loops over the query tiles that can see its K/V tile. Working transposed keeps every product in the
// forward's fragment patterns:
//   S^T = K Q^T, P^T = exp(S^T * scale - LSE), dV += P^T dO, dP^T = V dO^T, dS^T = P^T o (dP^T - Dv),
//   dK += dS^T Q, and dQ += dS K through dS^T staged in shared memory (atomicAdd into fp32 dQ).
// Versions and their measurements: docs/perf-log.md (v1 is kept in kernels-dev/flash_bwd_v1_bkv64.cuh).
#pragma once
#include "../common/mma.cuh"

// Every flash backward instance (flash_bwd_hd* in ccalab_kernels.cu, the wgmma ones in hopper_kernels.cuh) takes this
// parameter list and passes these names on to its kernel template.
#define FLASH_BWD_PARAMS                                                                                     \
    float *dQ, float *dK, float *dV, const __nv_bfloat16 *Q, const __nv_bfloat16 *K, const __nv_bfloat16 *V, \
        const __nv_bfloat16 *dO, const float *LSE, const float *Dv, int T, int Hq, int Hkv, float scale
#define FLASH_BWD_ARGS dQ, dK, dV, Q, K, V, dO, LSE, Dv, T, Hq, Hkv, scale

// Dv [B, Hq, T] = rowsum(dO * O); one warp per (b, t, h) row of the [B, T, Hq, D] layout. Olo (optional): O's
// rounding residual from the forward (store_bf16x2_split), O = O + Olo then: Dv to ~16 significant bits of O.
template <int D>
__device__ __forceinline__ void flash_bwd_preprocess_kernel(float* __restrict__ Dv, const __nv_bfloat16* __restrict__ O,
                                                            const __nv_bfloat16* __restrict__ dO, int B, int T, int Hq,
                                                            const __nv_bfloat16* __restrict__ Olo = nullptr) {
    const long row = (long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (row >= (long)B * T * Hq) return;
    const __nv_bfloat16* o = O + row * D;
    const __nv_bfloat16* g = dO + row * D;
    float s = 0.f;
    if (Olo == nullptr) {
        for (int i = lane; i < D; i += 32) s += __bfloat162float(o[i]) * __bfloat162float(g[i]);
    } else {
        const __nv_bfloat16* ol = Olo + row * D;
        for (int i = lane; i < D; i += 32) s += (__bfloat162float(o[i]) + __bfloat162float(ol[i])) * __bfloat162float(g[i]);
    }
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffff, s, off);
    if (lane == 0) {
        long t = (row / Hq) % T, h = row % Hq, bb = row / ((long)Hq * T);
        Dv[(bb * Hq + h) * T + t] = s;
    }
}

// v2: one block = one 128-row K/V tile of one query head, 8 warps x 16 KV rows, over 64-row query tiles.
// Against v1 (64-row K/V tiles, 4 warps, single-buffered): each Q/dO tile loaded from memory and each dQ atomic
// now serves twice the keys (half the dQ atomics and Q/dO traffic per FLOP); Q/dO/LSE/Dv of the next query tile
// load (cp.async) while the current one computes; dQ is split over 8 warps as 4 row groups x 2 column halves, so
// its accumulator is 32 registers instead of 64 (v1 spilled); dQ/dK/dV atomics are float2 on sm_90; the causal
// mask and the sequence-end checks run only on the tiles that need them.
namespace flash_bwd {
constexpr int BKV = 128, BQ = 64, NWARPS = 8, NTHREADS = 32 * NWARPS;
template <int D>
constexpr int smem_bytes() { return (2 * BKV * D + 4 * BQ * D + BKV * BQ) * 2 + 4 * BQ * 4; }

// Deterministic mode (the "_det" instances: the wgmma backwards, and since session 17 this file's mma.sync
// one): the fp32 adds into one dQ tile (and, with grouped heads, into one dK / dV
// block) happen in a fixed order across blocks, so that two runs give the same bits. sem counts the contributors
// that have added so far; the contributor of rank r waits for sem == r (its leader thread spins, then the named
// barrier ID of the N adding threads), adds, and after the same barrier its leader publishes r + 1 with a release
// store behind a fence (the other threads' adds are ordered before it through the barrier).
// The order follows the blocks' own timeline, and a block only ever waits on blocks launched before it (resident or
// done: no deadlock however few fit at once): the K/V blocks are launched last first (blockIdx.x 0 takes the last
// one, det_kv_block), and a dQ tile takes its contributors from the highest K/V block down (dq_rank). Causal, K/V
// block x starts at query tile 2x, so block x + 1 passed any tile two tiles before block x gets there: the waits
// are mostly already satisfied. (Ascending ranks with the usual launch order ran at 0.37-0.42x the plain kernel:
// every block waited for block 0; walking the tiles top down, 0.58-0.65x: the blocks met at every tile in lockstep;
// this order alone 0.58-0.64x, with DqTurn's deferred hand-over 0.61-0.72x: docs/perf-log.md, session 7.)
// dK / dV: the query heads of a group in head order (lower heads launch first).
template <int ID, int N>
DEVI void named_sync() { asm volatile("bar.sync %0, %1;\n" ::"n"(ID), "n"(N) : "memory"); }
template <int ID, int N>
DEVI void ordered_begin(const int* sem, int rank, bool leader) {
    if (leader)
        while (ld_acquire_gpu(sem) != rank) {}
    named_sync<ID, N>();
}
// The dQ tiles' hand-over, deferred by one tile (the leader thread keeps the pending release): publishing tile i's
// rank right after its adds made the leader's fence wait for those adds to reach L2 on every tile (~35 % of the
// kernel with the spin); one tile later they have landed. Publish the pending tile (the adds of every adding thread
// precede this through the consumers' per-tile barrier), then wait for this tile's turn. Safe from deadlock: a block
// only waits on blocks above it, which never wait on it.
struct DqTurn {
    int* pending = nullptr;
    int pendingRank = 0;
    DEVI void publish() {
        if (pending != nullptr) {
            __threadfence();
            st_release_gpu(pending, pendingRank + 1);
            pending = nullptr;
        }
    }
    DEVI void take(int* sem, int rank) {
        publish();
        while (ld_acquire_gpu(sem) != rank) {}
        pending = sem;
        pendingRank = rank;
    }
};
template <int ID, int N>
DEVI void ordered_end(int* sem, int rank, bool leader) {
    named_sync<ID, N>();
    if (leader) {
        __threadfence();
        st_release_gpu(sem, rank + 1);
    }
}
// The K/V block this block takes: the usual blockIdx.x, or (DET) the last one first.
template <bool DET>
DEVI int det_kv_block() { return DET ? gridDim.x - 1 - blockIdx.x : blockIdx.x; }
// Rank of K/V block x among the contributors to query tile qTile: the blocks above it that also reach the tile
// (causal: those with 2 x' <= qTile) add first.
template <bool CAUSAL>
DEVI int dq_rank(int x, int qTile) { return (CAUSAL ? min((int)gridDim.x - 1, qTile / 2) : (int)gridDim.x - 1) - x; }
// The semaphores of one launch, ints zeroed by the caller: dQ [B][Hq][nQ][2] (one per consumer warpgroup) then
// dK / dV [B][Hkv][nKV][2]; nQ = ceil(T / 64), nKV = ceil(T / 128).
DEVI int* dq_sem(int* sem, int b, int Hq, int h, int T, int qTile, int wg) {
    return sem + ((((long)b * Hq + h) * ((T + BQ - 1) / BQ) + qTile) * 2 + wg);
}
DEVI int* dkv_sem(int* sem, int B, int b, int Hq, int Hkv, int hk, int T, int kvBlock, int wg) {
    return sem + 2L * B * Hq * ((T + BQ - 1) / BQ) + ((((long)b * Hkv + hk) * ((T + BKV - 1) / BKV) + kvBlock) * 2 + wg);
}
}  // namespace flash_bwd

DEVI void atomic_add2(float* p, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    atomicAdd(reinterpret_cast<float2*>(p), make_float2(a, b));
#else
    atomicAdd(p, a);
    atomicAdd(p + 1, b);
#endif
}

// WIN (causal, the "_swa" instances): sliding-window attention over the last `window` keys (query t sees keys
// t - window < s <= t); a block walks the query tiles from its diagonal to the last query that sees one of its keys.
// DET (the "_det" instances, session 17): the fp32 adds in a fixed order across blocks (the ordering above: the K/V
// blocks launched last first, a dQ tile's adds from the highest block down, dK / dV in head order within a group),
// sem as dq_sem / dkv_sem lay it out (slot 0 of each pair).
template <int D, bool CAUSAL, bool WIN = false, bool DET = false>
__device__ __forceinline__ void flash_bwd_kernel(float* __restrict__ dQ, float* __restrict__ dK, float* __restrict__ dV,
                                                    const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K,
                                                    const __nv_bfloat16* __restrict__ V, const __nv_bfloat16* __restrict__ dO,
                                                    const float* __restrict__ LSE, const float* __restrict__ Dv, int T, int Hq,
                                                    int Hkv, float scale, int window = 0, int* sem = nullptr) {
    using namespace flash_bwd;
    static_assert(!WIN || CAUSAL, "a sliding window is causal");
    constexpr int CH = D / 8;
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Ks = smem;                 // [BKV, D]
    __nv_bfloat16* Vs = Ks + BKV * D;         // [BKV, D]
    __nv_bfloat16* Qs = Vs + BKV * D;         // [2][BQ, D]
    __nv_bfloat16* dOs = Qs + 2 * BQ * D;     // [2][BQ, D]
    __nv_bfloat16* dSs = dOs + 2 * BQ * D;    // [BKV, BQ] dS^T
    float* Ls = reinterpret_cast<float*>(dSs + BKV * BQ);  // [2][BQ] LSE * log2(e)
    float* Ds = Ls + 2 * BQ;                               // [2][BQ] Dv

    const int xb = det_kv_block<DET>(), kv0 = xb * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* dOb = dO + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
    const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
    const float* Lb = LSE + ((long)b * Hq + h) * T;
    const float* Db = Dv + ((long)b * Hq + h) * T;
    float* dQb = dQ + (long)b * T * qStride + (long)h * D;
    const float LOG2E = 1.4426950408889634f, sl = scale * LOG2E;

    for (int i = tid; i < BKV * CH; i += NTHREADS) {
        int r = i / CH, c = i % CH, t = kv0 + r;
        cp_async_16(smem_u32(Ks + swz<D>(r, c)), t < T ? Kb + t * kStride + c * 8 : Kb, t < T ? 16 : 0);
        cp_async_16(smem_u32(Vs + swz<D>(r, c)), t < T ? Vb + t * kStride + c * 8 : Vb, t < T ? 16 : 0);
    }
    auto loadQTile = [&](int q0, int st) {
        __nv_bfloat16* qs = Qs + st * BQ * D;
        __nv_bfloat16* dos = dOs + st * BQ * D;
        for (int i = tid; i < BQ * CH; i += NTHREADS) {
            int r = i / CH, c = i % CH, t = q0 + r;
            cp_async_16(smem_u32(qs + swz<D>(r, c)), t < T ? Qb + t * qStride + c * 8 : Qb, t < T ? 16 : 0);
            cp_async_16(smem_u32(dos + swz<D>(r, c)), t < T ? dOb + t * qStride + c * 8 : dOb, t < T ? 16 : 0);
        }
        for (int i = tid; i < BQ; i += NTHREADS) {
            int t = q0 + i;
            Ls[st * BQ + i] = t < T ? Lb[t] * LOG2E : INFINITY;  // rows past T get P = 0
            Ds[st * BQ + i] = t < T ? Db[t] : 0.f;
        }
    };

    const int nQ = WIN ? min((T + BQ - 1) / BQ, (kv0 + BKV - 2 + window) / BQ + 1) : (T + BQ - 1) / BQ;
    const int qStart = CAUSAL ? kv0 / BQ : 0;
    if (qStart < nQ) loadQTile(qStart * BQ, 0);
    cp_async_commit();

    float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;

    const int kvRowA = kv0 + warp * 16 + (lane >> 2), kvRowB = kvRowA + 8;
    // dQ split: warp -> 16 query rows (warp & 3) x half of D (warp >> 2)
    const int dqRow = (warp & 3) * 16, dqCol = (warp >> 2) * (D / 2);
    [[maybe_unused]] DqTurn turn;  // DET: thread 0's pending dQ hand-over (published after the next tile's first barrier)
    for (int qi = qStart; qi < nQ; qi++) {
        const int q0 = qi * BQ, st = (qi - qStart) & 1;
        cp_async_wait<0>();
        __syncthreads();  // this tile landed; every warp is done with the previous tile (its stage and dS^T)
        if (qi + 1 < nQ) loadQTile(q0 + BQ, st ^ 1);
        cp_async_commit();
        const __nv_bfloat16* qs = Qs + st * BQ * D;
        const __nv_bfloat16* dos = dOs + st * BQ * D;
        const float* ls = Ls + st * BQ;
        const float* ds = Ds + st * BQ;

        // S^T (16 kv x 64 q per warp) = K Q^T ; dP^T = V dO^T
        float sT[BQ / 8][4], dpT[BQ / 8][4];
#pragma unroll
        for (int n = 0; n < BQ / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) sT[n][e] = dpT[n][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t ka[4], va[4];
            ldmatrix_x4(ka[0], ka[1], ka[2], ka[3], smem_u32(Ks + swz<D>(warp * 16 + (lane & 15), 2 * kk + (lane >> 4))));
            ldmatrix_x4(va[0], va[1], va[2], va[3], smem_u32(Vs + swz<D>(warp * 16 + (lane & 15), 2 * kk + (lane >> 4))));
#pragma unroll
            for (int np = 0; np < BQ / 16; np++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * np + (lane & 7) + ((lane >> 4) << 3), ch = 2 * kk + ((lane >> 3) & 1);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(qs + swz<D>(row, ch)));
                mma_bf16_16816(sT[2 * np], ka, b0, b1);
                mma_bf16_16816(sT[2 * np + 1], ka, b2, b3);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(dos + swz<D>(row, ch)));
                mma_bf16_16816(dpT[2 * np], va, b0, b1);
                mma_bf16_16816(dpT[2 * np + 1], va, b2, b3);
            }
        }
        // P^T and dS^T in place; the mask only where the tile crosses the diagonal or the sequence end
        const bool edge = (CAUSAL && q0 < kv0 + BKV) || q0 + BQ > T || kv0 + BKV > T || (WIN && q0 + BQ - 1 - kv0 >= window);
        if (edge) {
#pragma unroll
            for (int n = 0; n < BQ / 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int qc = n * 8 + (lane & 3) * 2 + (e & 1), kvr = e < 2 ? kvRowA : kvRowB, q = q0 + qc;
                    bool masked = (CAUSAL && q < kvr) || (WIN && q - kvr >= window) || kvr >= T;
                    float p = masked ? 0.f : exp2f(sT[n][e] * sl - ls[qc]);
                    sT[n][e] = p;
                    dpT[n][e] = p * (dpT[n][e] - ds[qc]);
                }
        } else {
#pragma unroll
            for (int n = 0; n < BQ / 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int qc = n * 8 + (lane & 3) * 2 + (e & 1);
                    float p = exp2f(sT[n][e] * sl - ls[qc]);
                    sT[n][e] = p;
                    dpT[n][e] = p * (dpT[n][e] - ds[qc]);
                }
        }
        // dV += P^T dO ; dK += dS^T Q   (k = q rows)
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++) {
            uint32_t pa[4] = {pack_bf16(sT[2 * kk][0], sT[2 * kk][1]), pack_bf16(sT[2 * kk][2], sT[2 * kk][3]),
                              pack_bf16(sT[2 * kk + 1][0], sT[2 * kk + 1][1]), pack_bf16(sT[2 * kk + 1][2], sT[2 * kk + 1][3])};
            uint32_t sa[4] = {pack_bf16(dpT[2 * kk][0], dpT[2 * kk][1]), pack_bf16(dpT[2 * kk][2], dpT[2 * kk][3]),
                              pack_bf16(dpT[2 * kk + 1][0], dpT[2 * kk + 1][1]), pack_bf16(dpT[2 * kk + 1][2], dpT[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), ch = 2 * dp + (lane >> 4);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(dos + swz<D>(row, ch)));
                mma_bf16_16816(dv[2 * dp], pa, b0, b1);
                mma_bf16_16816(dv[2 * dp + 1], pa, b2, b3);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(qs + swz<D>(row, ch)));
                mma_bf16_16816(dk[2 * dp], sa, b0, b1);
                mma_bf16_16816(dk[2 * dp + 1], sa, b2, b3);
            }
        }
        // dS^T to shared memory (bf16, [kv][q], swizzled like a D=64 row)
#pragma unroll
        for (int n = 0; n < BQ / 8; n++) {
            int qc = n * 8 + (lane & 3) * 2, ra = warp * 16 + (lane >> 2), rb = ra + 8;
            *reinterpret_cast<uint32_t*>(dSs + swz<BQ>(ra, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][0], dpT[n][1]);
            *reinterpret_cast<uint32_t*>(dSs + swz<BQ>(rb, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][2], dpT[n][3]);
        }
        // DET: thread 0 waits for this block's turn at tile qi (publishing its previous tile's: every warp's adds to it
        // precede the loop's first barrier), and the barrier below holds the block until then
        if (DET && tid == 0) turn.take(dq_sem(sem, b, Hq, h, T, qi, 0), dq_rank<CAUSAL>(xb, qi));
        __syncthreads();
        // dQ[dqRow..+16, dqCol..+D/2] += dS K = (dS^T)^T K over the 128 keys of the tile
        float dq[D / 16][4];
#pragma unroll
        for (int i = 0; i < D / 16; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < BKV / 16; kk++) {
            uint32_t a[4];
            int kvr = 16 * kk + (lane & 7) + ((lane >> 4) << 3), qc = dqRow + (((lane >> 3) & 1) << 3);
            ldmatrix_x4_trans(a[0], a[1], a[2], a[3], smem_u32(dSs + swz<BQ>(kvr, qc >> 3)));
#pragma unroll
            for (int dp = 0; dp < D / 32; dp++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), ch = dqCol / 8 + 2 * dp + (lane >> 4);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(Ks + swz<D>(row, ch)));
                mma_bf16_16816(dq[2 * dp], a, b0, b1);
                mma_bf16_16816(dq[2 * dp + 1], a, b2, b3);
            }
        }
        const int qa = q0 + dqRow + (lane >> 2), qb = qa + 8;
#pragma unroll
        for (int dt = 0; dt < D / 16; dt++) {
            int c = dqCol + dt * 8 + (lane & 3) * 2;
            if (qa < T) atomic_add2(dQb + qa * qStride + c, dq[dt][0] * scale, dq[dt][1] * scale);
            if (qb < T) atomic_add2(dQb + qb * qStride + c, dq[dt][2] * scale, dq[dt][3] * scale);
        }
    }
    float* dKb = dK + (long)b * T * kStride + (long)hk * D;
    float* dVb = dV + (long)b * T * kStride + (long)hk * D;
    [[maybe_unused]] int* semKV = DET ? dkv_sem(sem, gridDim.z, b, Hq, Hkv, hk, T, xb, 0) : nullptr;
    const int G = Hq / Hkv;
    if constexpr (DET) {
        __syncthreads();  // every warp's dQ adds of the last tile are done
        if (tid == 0) turn.publish();
        ordered_begin<0, NTHREADS>(semKV, h % G, tid == 0);
    }
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) {
        int c = dt * 8 + (lane & 3) * 2;
        if (kvRowA < T) {
            atomic_add2(dKb + kvRowA * kStride + c, dk[dt][0] * scale, dk[dt][1] * scale);
            atomic_add2(dVb + kvRowA * kStride + c, dv[dt][0], dv[dt][1]);
        }
        if (kvRowB < T) {
            atomic_add2(dKb + kvRowB * kStride + c, dk[dt][2] * scale, dk[dt][3] * scale);
            atomic_add2(dVb + kvRowB * kStride + c, dv[dt][2], dv[dt][3]);
        }
    }
    if constexpr (DET) ordered_end<0, NTHREADS>(semKV, h % G, tid == 0);
}

// ---------------------------------------------------------------------------------------------------------------
// flash_bwd_wide_kernel<DQK, DV, CAUSAL, BKV, CS>: the same algorithm for head dims the v2 layout cannot hold in
// registers (D = 256) and for q/k and v widths that differ (the MLA prefill core: 192/128, 96/64).
// Q, K [.., DQK]; V, O, dO [.., DV]; dQ, dK fp32 [.., DQK]; dV fp32 [.., DV]; LSE, Dv as above (Dv = rowsum over DV).
// Block: BKV keys of one query head, NW = (BKV / 16) x CS warps. Warp w takes the 16 KV rows (w % (BKV / 16)) and
// the column part (w / (BKV / 16)) of CS of dK and dV, so its accumulators are (DQK + DV) / (2 CS) registers
// (D=256, CS=2: 128, as v2's at D=128). The CS warps of a row group recompute the same S^T and dP^T (the price of
// keeping P^T and dS^T in registers: 7/5 of the MMA work at CS=2); one of them writes dS^T for the dQ product.
// Shared-memory rows (dS^T's too) are padded by one 16-byte chunk (as mla_fwd.cuh: DQK/8 = 12 is not a multiple
// of the XOR swizzle's 8). BQ query rows per tile: 32 at D=256 (64 spills: S^T and dP^T are BQ/2 registers each).
namespace flash_bwd_wide {
template <int DIM> __host__ __device__ constexpr int stride() { return DIM + 8; }
// STAGE adds the P^T tile [BKV, BQ + 8] bf16.
template <int DQK, int DV, int BKV, int BQ, bool STAGE = false> __host__ __device__ constexpr int smem_bytes() {
    return (BKV * stride<DQK>() + BKV * stride<DV>() + 2 * BQ * stride<DQK>() + 2 * BQ * stride<DV>() +
            (STAGE ? 2 : 1) * BKV * stride<BQ>()) * 2 + 4 * BQ * 4;
}
template <int DIM> DEVI int pidx(int row, int chunk) { return row * stride<DIM>() + chunk * 8; }
}  // namespace flash_bwd_wide

// STAGE (lab): the CS warps of a row group compute S^T and dP^T for their own BQ / CS query columns only and
// exchange P^T and dS^T through shared memory (FA2's way) instead of each recomputing all BQ columns.
template <int DQK, int DV, bool CAUSAL, int BKV, int CS, int BQ, bool STAGE = false, int QCH_ = 0>
__device__ __forceinline__ void flash_bwd_wide_kernel(float* __restrict__ dQ, float* __restrict__ dK,
                                                      float* __restrict__ dV, const __nv_bfloat16* __restrict__ Q,
                                                      const __nv_bfloat16* __restrict__ K,
                                                      const __nv_bfloat16* __restrict__ V,
                                                      const __nv_bfloat16* __restrict__ dO, const float* __restrict__ LSE,
                                                      const float* __restrict__ Dv, int T, int Hq, int Hkv, float scale) {
    using namespace flash_bwd_wide;
    constexpr int NWR = BKV / 16, NW = NWR * CS, NT = NW * 32;
    constexpr int CQK = DQK / 8, CV = DV / 8;                  // 16-byte chunks per row
    constexpr int KC = DQK / CS, VC = DV / CS;                 // dK / dV columns per warp
    constexpr int QR = BQ / 16, QW = NW / QR, QC = DQK / QW;  // dQ: QR row groups x QW column parts of QC
    static_assert(NW % QR == 0 && KC % 16 == 0 && VC % 16 == 0 && QC % 16 == 0 && BQ % 16 == 0, "warp tiling");
    static_assert(DQK % 16 == 0 && DV % 16 == 0, "MMA k-steps");
    constexpr int QCH = QCH_ > 0 ? QCH_ : QC;  // dQ columns per accumulation pass
    static_assert(QC % QCH == 0 && QCH % 16 == 0, "dQ passes");
    constexpr int QH = STAGE ? BQ / CS : BQ;  // query columns of S^T / dP^T per warp
    static_assert(QH % 16 == 0, "S^T column tiles");
    constexpr int SQ = stride<DQK>(), SV = stride<DV>();
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Ks = smem;                  // [BKV, SQ]
    __nv_bfloat16* Vs = Ks + BKV * SQ;         // [BKV, SV]
    __nv_bfloat16* Qs = Vs + BKV * SV;         // [2][BQ, SQ]
    __nv_bfloat16* dOs = Qs + 2 * BQ * SQ;     // [2][BQ, SV]
    __nv_bfloat16* dSs = dOs + 2 * BQ * SV;    // [BKV, BQ + 8] dS^T
    __nv_bfloat16* Ps = dSs + BKV * stride<BQ>();  // [BKV, BQ + 8] P^T (STAGE only)
    float* Ls = reinterpret_cast<float*>(Ps + (STAGE ? BKV * stride<BQ>() : 0));  // [2][BQ] LSE * log2(e)
    float* Ds = Ls + 2 * BQ;                               // [2][BQ] Dv

    const int kv0 = blockIdx.x * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int rg = warp % NWR, cs = warp / NWR, qoff = STAGE ? cs * QH : 0;
    const long qStride = (long)Hq * DQK, oStride = (long)Hq * DV, kStride = (long)Hkv * DQK, vStride = (long)Hkv * DV;
    const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * DQK;
    const __nv_bfloat16* dOb = dO + (long)b * T * oStride + (long)h * DV;
    const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * DQK;
    const __nv_bfloat16* Vb = V + (long)b * T * vStride + (long)hk * DV;
    const float* Lb = LSE + ((long)b * Hq + h) * T;
    const float* Db = Dv + ((long)b * Hq + h) * T;
    float* dQb = dQ + (long)b * T * qStride + (long)h * DQK;
    const float LOG2E = 1.4426950408889634f, sl = scale * LOG2E;

    for (int i = tid; i < BKV * CQK; i += NT) {
        int r = i / CQK, c = i % CQK, t = kv0 + r;
        cp_async_16(smem_u32(Ks + pidx<DQK>(r, c)), t < T ? Kb + t * kStride + c * 8 : Kb, t < T ? 16 : 0);
    }
    for (int i = tid; i < BKV * CV; i += NT) {
        int r = i / CV, c = i % CV, t = kv0 + r;
        cp_async_16(smem_u32(Vs + pidx<DV>(r, c)), t < T ? Vb + t * vStride + c * 8 : Vb, t < T ? 16 : 0);
    }
    auto loadQTile = [&](int q0, int st) {
        __nv_bfloat16* qs = Qs + st * BQ * SQ;
        __nv_bfloat16* dos = dOs + st * BQ * SV;
        for (int i = tid; i < BQ * CQK; i += NT) {
            int r = i / CQK, c = i % CQK, t = q0 + r;
            cp_async_16(smem_u32(qs + pidx<DQK>(r, c)), t < T ? Qb + t * qStride + c * 8 : Qb, t < T ? 16 : 0);
        }
        for (int i = tid; i < BQ * CV; i += NT) {
            int r = i / CV, c = i % CV, t = q0 + r;
            cp_async_16(smem_u32(dos + pidx<DV>(r, c)), t < T ? dOb + t * oStride + c * 8 : dOb, t < T ? 16 : 0);
        }
        for (int i = tid; i < BQ; i += NT) {
            int t = q0 + i;
            Ls[st * BQ + i] = t < T ? Lb[t] * LOG2E : INFINITY;  // rows past T get P = 0
            Ds[st * BQ + i] = t < T ? Db[t] : 0.f;
        }
    };

    const int nQ = (T + BQ - 1) / BQ;
    const int qStart = CAUSAL ? kv0 / BQ : 0;
    if (qStart < nQ) loadQTile(qStart * BQ, 0);
    cp_async_commit();

    float dk[KC / 8][4], dv[VC / 8][4];
#pragma unroll
    for (int i = 0; i < KC / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[i][e] = 0.f;
#pragma unroll
    for (int i = 0; i < VC / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dv[i][e] = 0.f;

    const int kvRowA = kv0 + rg * 16 + (lane >> 2), kvRowB = kvRowA + 8;
    const int dqRow = (warp % QR) * 16, dqCol = (warp / QR) * QC;
    for (int qi = qStart; qi < nQ; qi++) {
        const int q0 = qi * BQ, st = (qi - qStart) & 1;
        cp_async_wait<0>();
        __syncthreads();  // this tile landed; every warp is done with the previous tile (its stage and dS^T)
        if (qi + 1 < nQ) loadQTile(q0 + BQ, st ^ 1);
        cp_async_commit();
        const __nv_bfloat16* qs = Qs + st * BQ * SQ;
        const __nv_bfloat16* dos = dOs + st * BQ * SV;
        const float* ls = Ls + st * BQ;
        const float* ds = Ds + st * BQ;

        // S^T (16 kv x BQ q per warp) = K Q^T over DQK; dP^T = V dO^T over DV
        float sT[QH / 8][4], dpT[QH / 8][4];
#pragma unroll
        for (int n = 0; n < QH / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) sT[n][e] = dpT[n][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < DQK / 16; kk++) {
            uint32_t ka[4];
            ldmatrix_x4(ka[0], ka[1], ka[2], ka[3], smem_u32(Ks + pidx<DQK>(rg * 16 + (lane & 15), 2 * kk + (lane >> 4))));
#pragma unroll
            for (int np = 0; np < QH / 16; np++) {
                uint32_t b0, b1, b2, b3;
                int row = qoff + 16 * np + (lane & 7) + ((lane >> 4) << 3), ch = 2 * kk + ((lane >> 3) & 1);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(qs + pidx<DQK>(row, ch)));
                mma_bf16_16816(sT[2 * np], ka, b0, b1);
                mma_bf16_16816(sT[2 * np + 1], ka, b2, b3);
            }
        }
#pragma unroll
        for (int kk = 0; kk < DV / 16; kk++) {
            uint32_t va[4];
            ldmatrix_x4(va[0], va[1], va[2], va[3], smem_u32(Vs + pidx<DV>(rg * 16 + (lane & 15), 2 * kk + (lane >> 4))));
#pragma unroll
            for (int np = 0; np < QH / 16; np++) {
                uint32_t b0, b1, b2, b3;
                int row = qoff + 16 * np + (lane & 7) + ((lane >> 4) << 3), ch = 2 * kk + ((lane >> 3) & 1);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(dos + pidx<DV>(row, ch)));
                mma_bf16_16816(dpT[2 * np], va, b0, b1);
                mma_bf16_16816(dpT[2 * np + 1], va, b2, b3);
            }
        }
        const bool edge = (CAUSAL && q0 < kv0 + BKV) || q0 + BQ > T || kv0 + BKV > T;
#pragma unroll
        for (int n = 0; n < QH / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int qc = qoff + n * 8 + (lane & 3) * 2 + (e & 1), kvr = e < 2 ? kvRowA : kvRowB, q = q0 + qc;
                bool masked = edge && ((CAUSAL && q < kvr) || kvr >= T);
                float p = masked ? 0.f : exp2f(sT[n][e] * sl - ls[qc]);
                sT[n][e] = p;
                dpT[n][e] = p * (dpT[n][e] - ds[qc]);
            }
        if constexpr (STAGE) {  // this warp's P^T and dS^T columns to shared memory; the row group reads all of them
#pragma unroll
            for (int n = 0; n < QH / 8; n++) {
                int qc = qoff + n * 8 + (lane & 3) * 2, ra = rg * 16 + (lane >> 2), rb = ra + 8;
                *reinterpret_cast<uint32_t*>(Ps + pidx<BQ>(ra, qc >> 3) + (qc & 7)) = pack_bf16(sT[n][0], sT[n][1]);
                *reinterpret_cast<uint32_t*>(Ps + pidx<BQ>(rb, qc >> 3) + (qc & 7)) = pack_bf16(sT[n][2], sT[n][3]);
                *reinterpret_cast<uint32_t*>(dSs + pidx<BQ>(ra, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][0], dpT[n][1]);
                *reinterpret_cast<uint32_t*>(dSs + pidx<BQ>(rb, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][2], dpT[n][3]);
            }
            __syncthreads();
        }
        // dV[:, this warp's columns] += P^T dO ; dK[:, columns] += dS^T Q   (k = q rows)
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++) {
            uint32_t pa[4], sa[4];
            if constexpr (STAGE) {
                ldmatrix_x4(pa[0], pa[1], pa[2], pa[3], smem_u32(Ps + pidx<BQ>(rg * 16 + (lane & 15), 2 * kk + (lane >> 4))));
                ldmatrix_x4(sa[0], sa[1], sa[2], sa[3], smem_u32(dSs + pidx<BQ>(rg * 16 + (lane & 15), 2 * kk + (lane >> 4))));
            } else {
                pa[0] = pack_bf16(sT[2 * kk][0], sT[2 * kk][1]); pa[1] = pack_bf16(sT[2 * kk][2], sT[2 * kk][3]);
                pa[2] = pack_bf16(sT[2 * kk + 1][0], sT[2 * kk + 1][1]); pa[3] = pack_bf16(sT[2 * kk + 1][2], sT[2 * kk + 1][3]);
                sa[0] = pack_bf16(dpT[2 * kk][0], dpT[2 * kk][1]); sa[1] = pack_bf16(dpT[2 * kk][2], dpT[2 * kk][3]);
                sa[2] = pack_bf16(dpT[2 * kk + 1][0], dpT[2 * kk + 1][1]); sa[3] = pack_bf16(dpT[2 * kk + 1][2], dpT[2 * kk + 1][3]);
            }
            const int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3);
#pragma unroll
            for (int dp = 0; dp < VC / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(dos + pidx<DV>(row, cs * (VC / 8) + 2 * dp + (lane >> 4))));
                mma_bf16_16816(dv[2 * dp], pa, b0, b1);
                mma_bf16_16816(dv[2 * dp + 1], pa, b2, b3);
            }
#pragma unroll
            for (int dp = 0; dp < KC / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(qs + pidx<DQK>(row, cs * (KC / 8) + 2 * dp + (lane >> 4))));
                mma_bf16_16816(dk[2 * dp], sa, b0, b1);
                mma_bf16_16816(dk[2 * dp + 1], sa, b2, b3);
            }
        }
        // dS^T to shared memory (bf16, [kv][q]), once per row group (STAGE wrote it above)
        if (!STAGE && cs == 0) {
#pragma unroll
            for (int n = 0; n < BQ / 8; n++) {
                int qc = n * 8 + (lane & 3) * 2, ra = rg * 16 + (lane >> 2), rb = ra + 8;
                *reinterpret_cast<uint32_t*>(dSs + pidx<BQ>(ra, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][0], dpT[n][1]);
                *reinterpret_cast<uint32_t*>(dSs + pidx<BQ>(rb, qc >> 3) + (qc & 7)) = pack_bf16(dpT[n][2], dpT[n][3]);
            }
        }
        __syncthreads();
        // dQ[dqRow..+16, dqCol..+QC] += dS K = (dS^T)^T K over the BKV keys of the tile, QCH columns at a time
        // (QCH < QC holds fewer dQ accumulators live beside dK and dV: the MLA 192/128 instance spilled without)
        const int qa = q0 + dqRow + (lane >> 2), qb = qa + 8;
#pragma unroll
        for (int c0 = 0; c0 < QC; c0 += QCH) {
            float dq[QCH / 8][4];
#pragma unroll
            for (int i = 0; i < QCH / 8; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
            for (int kk = 0; kk < BKV / 16; kk++) {
                uint32_t a[4];
                int kvr = 16 * kk + (lane & 7) + ((lane >> 4) << 3), qc = dqRow + (((lane >> 3) & 1) << 3);
                ldmatrix_x4_trans(a[0], a[1], a[2], a[3], smem_u32(dSs + pidx<BQ>(kvr, qc >> 3)));
#pragma unroll
                for (int dp = 0; dp < QCH / 16; dp++) {
                    uint32_t b0, b1, b2, b3;
                    int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), ch = (dqCol + c0) / 8 + 2 * dp + (lane >> 4);
                    ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(Ks + pidx<DQK>(row, ch)));
                    mma_bf16_16816(dq[2 * dp], a, b0, b1);
                    mma_bf16_16816(dq[2 * dp + 1], a, b2, b3);
                }
            }
#pragma unroll
            for (int dt = 0; dt < QCH / 8; dt++) {
                int c = dqCol + c0 + dt * 8 + (lane & 3) * 2;
                if (qa < T) atomic_add2(dQb + qa * qStride + c, dq[dt][0] * scale, dq[dt][1] * scale);
                if (qb < T) atomic_add2(dQb + qb * qStride + c, dq[dt][2] * scale, dq[dt][3] * scale);
            }
        }
    }
    float* dKb = dK + (long)b * T * kStride + (long)hk * DQK;
    float* dVb = dV + (long)b * T * vStride + (long)hk * DV;
#pragma unroll
    for (int dt = 0; dt < KC / 8; dt++) {
        int c = cs * KC + dt * 8 + (lane & 3) * 2;
        if (kvRowA < T) atomic_add2(dKb + kvRowA * kStride + c, dk[dt][0] * scale, dk[dt][1] * scale);
        if (kvRowB < T) atomic_add2(dKb + kvRowB * kStride + c, dk[dt][2] * scale, dk[dt][3] * scale);
    }
#pragma unroll
    for (int dt = 0; dt < VC / 8; dt++) {
        int c = cs * VC + dt * 8 + (lane & 3) * 2;
        if (kvRowA < T) atomic_add2(dVb + kvRowA * vStride + c, dv[dt][0], dv[dt][1]);
        if (kvRowB < T) atomic_add2(dVb + kvRowB * vStride + c, dv[dt][2], dv[dt][3]);
    }
}
