// defines: flash_bwd_wgmma_kernel<CAUSAL, VERSION, DET> (D = 128) — Hopper (sm_90a) attention backward on wgmma;
// DET (v4 only): the deterministic instances (wgbwd::DqTurn, ordered_begin / ordered_end).
// Shipped: VERSION 4 (flash_bwd_hd128[_causal]_wgmma4); v1-v5 and their measurements: docs/perf-log-wgmma.md.
// Same contract as flash_bwd.cuh's flash_bwd_kernel (a drop-in: same arguments, grid, outputs):
//   Q, dO [B, T, Hq, D] bf16; K, V [B, T, Hkv, D] bf16; LSE [B, Hq, T] fp32 (the forward's, natural log);
//   Dv [B, Hq, T] = rowsum(dO * O) from flash_bwd_preprocess_kernel; outputs dQ [B, T, Hq, D], dK, dV [B, T, Hkv, D]
//   fp32 accumulators zeroed by the caller and added to with atomics (GQA: the G query heads of a group add into
//   one KV head). Grid ((T + 127) / 128, Hq, B): one block per 128-key K/V tile and query head.
//
// Design (FA3's backward, simplified; helpers from flash_fwd_wgmma.cuh):
// - 384 threads: warpgroup 0 is the producer (cp.async; setmaxnreg 40), warpgroups 1-2 the consumers (232
//   registers), each owning 64 of the block's 128 keys. K and V stay resident in shared memory (128 x 128,
//   128-byte swizzled halves as the forward's tiles); 64-row query tiles of Q and dO (+ LSE * log2 e and Dv) stream
//   through a 2-stage ring handed over by mbarriers (full: 128 producer arrivals; empty: 256 consumer arrivals).
// - Per query tile, per consumer warpgroup (M = its 64 keys):
//     S^T  = K Q^T      wgmma m64n64k16, A = K rows (shared, K-major), B = Q tile (shared, K-major)
//     dP^T = V dO^T     the same with V and dO
//     P^T  = exp2(S^T * scale*log2e - LSE*log2e); dS^T = P^T o (dP^T - Dv)     (registers; masks only on edges)
//     dV  += P^T dO     wgmma m64n128k16, A = P^T from registers (bf16 pairs of the accumulators, as the forward's P),
//                       B = the dO tile read MN-major (imm-trans-b: LBO = 8 KB between its 64-column halves)
//     dK  += dS^T Q     the same with dS^T and Q
//     dS^T -> shared memory (bf16 [128 keys][64 q], 128-byte swizzle; double-buffered), fence.proxy.async, a
//     named barrier over the 256 consumer threads, then
//     dQ[:, half] = dS K[:, half]  wgmma m64n64k16, both operands MN-major (imm-trans-a, imm-trans-b): warpgroup
//                       c takes D columns 64c..64c+63 over all 128 keys; float2 atomics into fp32 dQ (scaled).
// - v1 (VERSION 1): dQ waited for, then float2 atomics straight from the accumulators, then the next tile.
// - v2 (VERSION 2): dQ staged (scaled, fp32) in shared memory, the next query tile's S^T / dP^T wgmmas issued,
//   then coalesced float4 atomics from the staging buffer while those run on the tensor cores. (Keeping dQ in
//   registers across the next tile's issue spilled: dK + dV + S^T + dP^T + dQ = 224 of the 232 registers.)
// - v3 (VERSION 3): v2 with the atomics replaced by bulk reduce-adds (cp.reduce.async.bulk .add.f32, no tensor map
//   needed): 64 threads per warpgroup hand one 256-byte staging row each to the copy engine, which adds it into
//   dQ in L2; the staging is rewritten only after cp.async.bulk.wait_group.read. Measured 5-13% behind v2 (its
//   SASS issues the bulk op in a per-lane ELECT loop).
// - v4 (VERSION 4): v2 with a cheaper instruction stream (ncu on v2: the consumer warps issue ~1100 instructions
//   per query tile, ~8 of them per wgmma for its two descriptors, plus per-row address math for the atomics):
//   descriptors = a low word computed once + constant k-step offsets, one row address per tile for the staged
//   atomics and their row checks only on the tile past T. Measured +0-7% over v2 (shipped). (Instantiating the consumer body per warpgroup, so that
//   wg is a compile-time constant, spilled 56-132 bytes: dropped.)
// - v5 (VERSION 5): v4 without the lockstep: tile i's dQ (all of D, m64n128, both operands MN-major) is computed by
//   warpgroup i & 1 alone once the other's dS^T rows arrive on an mbarrier (dsReady), followed by float2 atomics
//   from its accumulators; the other warpgroup does not wait and runs on into tile i + 1. The dS^T buffer (i & 1)
//   comes back to both writers through a second mbarrier (dsFree) when the owner's dQ wgmma has retired.
//   Measured 2-4% behind v4 at 16k: the owner of tile i + 1 then waits for the other warpgroup's dS^T(i + 1).
// - Causal: query tiles entirely above the diagonal are skipped (the loop starts at kv0 / 64); the mask runs only
//   on tiles that cross the diagonal or contain keys past T (query rows past T get LSE = +inf: P = 0).
// Builds only for sm_90a; other targets compile a __trap().
#pragma once
#include "flash_bwd.cuh"        // flash_bwd_preprocess_kernel (Dv), atomic_add2
#include "flash_fwd_wgmma.cuh"  // wgfa:: swizzled 128-row tile loads; sm90:: (common/wgmma.cuh) descriptors, wgmma, mbarriers

namespace wgbwd {
using namespace sm90;
constexpr int BKV = 128, BQ = 64, D = 128, STAGES = 2, NTHREADS = 384;
constexpr int KV_BYTES = BKV * D * 2;        // one K or V tile: 32 KB (two 16 KB halves of 128 rows x 128 bytes)
constexpr int Q_BYTES = BQ * D * 2;          // one Q or dO tile: 16 KB (two 8 KB halves of 64 rows x 128 bytes)
constexpr int Q_HALF = BQ * 128;             // 8 KB
constexpr int DS_BYTES = BKV * BQ * 2;       // dS^T tile: 128 key rows x 128 bytes (64 q) = 16 KB
constexpr int OFF_V = KV_BYTES, OFF_Q = 2 * KV_BYTES, OFF_DO = OFF_Q + STAGES * Q_BYTES,
              OFF_DS = OFF_DO + STAGES * Q_BYTES, OFF_L = OFF_DS + 2 * DS_BYTES, OFF_DV = OFF_L + STAGES * BQ * 4;
constexpr int DQ_LD = 72;  // v2's dQ staging rows: 64 floats + 8 of padding (float2 stores: 2-way conflicts at most)
constexpr int OFF_DQ = OFF_DV + STAGES * BQ * 4;  // v2: [2 warpgroups][64][DQ_LD] fp32
constexpr int SMEM_BYTES = OFF_DQ + 2 * BQ * DQ_LD * 4 + 1024;  // + slack to align the base to 1024: 202752 bytes

// Byte offset of 16-byte chunk c (0..15) of row r inside a 64-row tile (two 64-column halves, 128-byte swizzle).
DEVI uint32_t qtile_off(int r, int c) { return (c >> 3) * Q_HALF + r * 128 + (((c & 7) ^ (r & 7)) << 4); }

// The producer's 64-row tile copy: a thread keeps column chunk c and rows r0 + 8k (same swizzle for all 8).
DEVI void load_qtile(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int T, int ptid) {
    const int r0 = ptid >> 4, c = ptid & 15;
    const uint32_t d0 = dst + qtile_off(r0, c);
    const int tb = t0 + r0;
    const __nv_bfloat16* gp = g + (long)tb * stride + c * 8;
    const long step = 8 * stride;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const int t = tb + 8 * k;
        const bool ok = (unsigned)t < (unsigned)T;
        cp_async_16(d0 + k * 8 * 128, ok ? gp + k * step : g, ok ? 16 : 0);
    }
}

// S^T (or dP^T) for this warpgroup's 64 keys: A = K (or V) rows of the resident tile, B = the Q (or dO) tile.
DEVI void issue_st(float (&s)[32], uint32_t sKwg, uint32_t sQt) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t offA = (kk >> 2) * (KV_BYTES / 2) + (kk & 3) * 32, offB = (kk >> 2) * Q_HALF + (kk & 3) * 32;
        wgmma_m64n64k16_ss<0, 0>(s, wgfa::make_desc(sKwg + offA, 16, 1024), wgfa::make_desc(sQt + offB, 16, 1024),
                                 kk > 0);
    }
}
// acc[64 keys x 128] += A (registers: P^T or dS^T, k = 64 query rows) * tile[64 q x 128] (MN-major).
DEVI void issue_acc(float (&acc)[64], const uint32_t (&a)[BQ / 16][4], uint32_t sT) {
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) wgfa::wgmma_m64n128k16_rs_tb(acc, a[kk], wgfa::make_desc(sT + kk * 16 * 128, Q_HALF, 1024));
}
// dQ[64 q x 64 (this warpgroup's D half)] = dS[64 q x 128 keys] K[128 keys x half]: dS^T [keys][q] read MN-major
// as A, K [keys][D] read MN-major as B; 8 k-steps of 16 keys (+2 KB each in both).
DEVI void issue_dq(float (&dq)[32], uint32_t sDS, uint32_t sKhalf) {
#pragma unroll
    for (int kk = 0; kk < BKV / 16; kk++)
        wgmma_m64n64k16_ss<1, 1>(dq, wgfa::make_desc(sDS + kk * 2048, DS_BYTES, 1024),
                                 wgfa::make_desc(sKhalf + kk * 2048, KV_BYTES / 2, 1024), kk > 0);
}
// NN: 8-column groups of the accumulator tile (8: 64 query columns; the D = 256 kernel's warpgroups hold 4).
template <int NN = 8>
DEVI void pack_a(uint32_t (&p)[NN / 2][4], const float (&s)[4 * NN]) {
#pragma unroll
    for (int kk = 0; kk < NN / 2; kk++) {
        p[kk][0] = pack_bf16(s[8 * kk + 0], s[8 * kk + 1]);
        p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
        p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
        p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
    }
}
DEVI void consumer_sync() { asm volatile("bar.sync 1, 256;\n" ::: "memory"); }

// P^T = exp2(S^T * scale log2 e - LSE log2 e) in place for this thread's accumulators of a [64 keys x 64 q] tile
// (keys kA, kB = kA + 8; query columns q0 + 8n + cq, +1); needMask: zero the entries above the causal diagonal and
// the keys past T (only tiles that cross the diagonal or T need it). ls: the stage's LSE * log2 e. WIN: also the
// entries outside a sliding window of `window` keys (q - k >= window; the caller's needMask covers that edge too).
template <bool CAUSAL, int NN = 8, bool WIN = false>
DEVI void probs_t(float (&s)[4 * NN], const float* ls, bool needMask, int q0, int kA, int kB, int cq, float sl, int T,
                  int window = 0) {
#pragma unroll
    for (int n = 0; n < NN; n++) {
        const float2 l = *reinterpret_cast<const float2*>(ls + n * 8 + cq);
        s[4 * n + 0] = fast_exp2(fmaf(s[4 * n + 0], sl, -l.x));
        s[4 * n + 1] = fast_exp2(fmaf(s[4 * n + 1], sl, -l.y));
        s[4 * n + 2] = fast_exp2(fmaf(s[4 * n + 2], sl, -l.x));
        s[4 * n + 3] = fast_exp2(fmaf(s[4 * n + 3], sl, -l.y));
    }
    if (needMask) {
#pragma unroll
        for (int n = 0; n < NN; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int q = q0 + n * 8 + cq + (e & 1), k = e < 2 ? kA : kB;
                if ((CAUSAL && q < k) || (WIN && q - k >= window) || k >= T) s[4 * n + e] = 0.f;
            }
    }
}
// dS^T = P^T o (dP^T - Dv) in place in dp (ds: the stage's Dv, same column layout as probs_t).
template <int NN = 8>
DEVI void dscores_t(float (&dp)[4 * NN], const float (&p)[4 * NN], const float* ds, int cq) {
#pragma unroll
    for (int n = 0; n < NN; n++) {
        const float2 d = *reinterpret_cast<const float2*>(ds + n * 8 + cq);
        dp[4 * n + 0] = p[4 * n + 0] * (dp[4 * n + 0] - d.x);
        dp[4 * n + 1] = p[4 * n + 1] * (dp[4 * n + 1] - d.y);
        dp[4 * n + 2] = p[4 * n + 2] * (dp[4 * n + 2] - d.x);
        dp[4 * n + 3] = p[4 * n + 3] * (dp[4 * n + 3] - d.y);
    }
}
// dS^T (bf16 pairs from pack_a) to a [keys][64 q] shared tile of 128-byte swizzled rows: key rows rA, rB, query
// columns 8 (c0 + n) + cq, +1 (c0: the first 8-column group this thread's accumulators hold).
template <int NN = 8>
DEVI void store_ds_t(uint8_t* dsT, const uint32_t (&sa)[NN / 2][4], int rA, int rB, int cq, int c0 = 0) {
#pragma unroll
    for (int n = 0; n < NN; n++) {
        *reinterpret_cast<uint32_t*>(dsT + rA * 128 + (((c0 + n) ^ (rA & 7)) << 4) + cq * 2) = sa[n >> 1][(n & 1) * 2];
        *reinterpret_cast<uint32_t*>(dsT + rB * 128 + (((c0 + n) ^ (rB & 7)) << 4) + cq * 2) = sa[n >> 1][(n & 1) * 2 + 1];
    }
}
// dQ (scaled) into a [64][DQ_LD] fp32 staging buffer: this thread's accumulator rows 16 wwarp + lane / 4 (+8),
// columns 8n + cq, +1 (the m64n64 layout).
DEVI void stage_dq(float* stg, const float (&dq)[32], int wwarp, int lane, int cq, float scale) {
    const int ra = wwarp * 16 + (lane >> 2), rb = ra + 8;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        *reinterpret_cast<float2*>(stg + ra * DQ_LD + n * 8 + cq) = make_float2(dq[4 * n] * scale, dq[4 * n + 1] * scale);
        *reinterpret_cast<float2*>(stg + rb * DQ_LD + n * 8 + cq) = make_float2(dq[4 * n + 2] * scale, dq[4 * n + 3] * scale);
    }
}
// The producer's per-stage LSE * log2 e (+inf past T: P = 0 there) and Dv (0 past T) for query rows q0 .. q0 + 63.
DEVI void load_lse_dv(float* sL, float* sDv, const float* Lb, const float* Db, int q0, int T, int tid) {
    if (tid < BQ) {
        const int t = q0 + tid;
        sL[tid] = t < T ? Lb[t] * 1.4426950408889634f : INFINITY;
        sDv[tid] = t < T ? Db[t] : 0.f;
    }
}
// The query tiles a K/V block starting at key kv0 walks: causal blocks start at the diagonal tile; q0(i) is the first
// row of the i-th (nIter >= 1: kv0 < T). WIN: a sliding window of `window` keys ends the walk at the tile of the last
// query that sees one of the block's keys, kv0 + BKV - 2 + window.
template <bool CAUSAL, bool WIN = false>
struct QueryWalk {
    static_assert(!WIN || CAUSAL, "a sliding window is causal");
    int qStart, nIter;
    DEVI QueryWalk(int kv0, int T, int window = 0)
        : qStart(CAUSAL ? kv0 / BQ : 0),
          nIter((WIN ? min((T + BQ - 1) / BQ, (kv0 + BKV - 2 + window) / BQ + 1) : (T + BQ - 1) / BQ) - qStart) {}
    DEVI int q0(int i) const { return (qStart + i) * BQ; }
    // whether query tile q0 reaches past the window of the warpgroup's first key k0 (its probs need the mask)
    DEVI static bool past_window(int q0, int k0, int window) { return WIN && q0 + BQ - 1 - k0 >= window; }
};
// The Q / dO ring's barriers, initialised by thread 0: full (128 producer arrivals; the TMA producer's 1 + BQ),
// empty (256 consumer arrivals).
template <int STAGES>
DEVI void init_ring_barriers(uint32_t fullBar, uint32_t emptyBar, int fullArrivals = 128) {
    for (int i = 0; i < STAGES; i++) {
        wgfa::mbar_init(fullBar + 8 * i, fullArrivals);
        wgfa::mbar_init(emptyBar + 8 * i, 256);
    }
}
// The producer warpgroup's loop (every wgmma backward kernel): per query tile i of the block's walk (tile qStart + i),
// wait until the consumers have freed stage i % STAGES, copy (load_kv() first: the resident K / V tiles; then
// load_q(st, q0): the Q and dO tiles; then LSE * log2 e and Dv), and release the stage's full barrier once this
// thread's copies have landed.
template <int STAGES, class LoadKV, class LoadQ>
DEVI void produce(int nIter, int qStart, uint32_t fullBar, uint32_t emptyBar, float* sL, float* sDv, const float* Lb,
                  const float* Db, int T, int ptid, LoadKV load_kv, LoadQ load_q) {
    for (int i = 0; i < nIter; i++) {
        const int st = i % STAGES, q0 = (qStart + i) * BQ;
        if (i >= STAGES) wgfa::mbar_wait(emptyBar + 8 * st, ((i / STAGES) - 1) & 1);
        if (i == 0) load_kv();
        load_q(st, q0);
        load_lse_dv(sL + st * BQ, sDv + st * BQ, Lb, Db, q0, T, ptid);
        cp_async_commit();
        cp_async_wait<0>();
        wgfa::fence_proxy_async();
        wgfa::mbar_arrive(fullBar + 8 * st);  // release: the copies and the LSE / Dv stores
    }
}
// The TMA instances' tensor maps: Q and dO with 64-row boxes (a query tile), K and V with 128-row boxes (the block's
// resident tile); 64-column boxes, the 128-byte swizzle (CudaTensorMaps).
struct BwdMaps {
    const TmaMap *q, *k, *v, *dO;
    const TmaMap* dQ;  // TMA == 3: fp32 dQ [B, T, Hq, D], 32-column x 64-row boxes, 128-byte swizzle (the reduce-adds)
};
// TMA == 3's dQ staging (one per consumer warpgroup, 16 KB): its 64 columns as two boxes of [64 rows][32 fp32] with
// the 128-byte swizzle (16-byte chunk k of row r at chunk k ^ (r & 7)); this thread's m64n64 accumulators, scaled.
DEVI void stage_dq_tma(uint8_t* stg, const float (&dq)[32], int wwarp, int lane, int cq, float scale) {
    const int ra = wwarp * 16 + (lane >> 2), rb = ra + 8;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        const int box = (n >> 2) * 8192, chunk = (n & 3) * 2 + (cq >> 2), within = (cq & 3) * 4;
        *reinterpret_cast<float2*>(stg + box + ra * 128 + ((chunk ^ (ra & 7)) << 4) + within) =
            make_float2(dq[4 * n] * scale, dq[4 * n + 1] * scale);
        *reinterpret_cast<float2*>(stg + box + rb * 128 + ((chunk ^ (rb & 7)) << 4) + within) =
            make_float2(dq[4 * n + 2] * scale, dq[4 * n + 3] * scale);
    }
}
// The TMA producer (the TMA instances; HALVES = D / 64 boxes per tile row): producer thread 0 copies the resident K / V
// tiles with the first stage and each stage's Q / dO tiles with TMA (one arrival with their transaction bytes);
// threads 32 .. 32 + BQ - 1 store the stage's LSE * log2 e and Dv (BQ more arrivals: the full barrier's 1 + BQ).
// Tiles at 1024-byte aligned offsets (the swizzle), Q / dO stages qStageBytes apart, halves BKV * 128 (K / V) and
// BQ * 128 (Q / dO) bytes apart, as the cp.async producer's layout.
template <int STAGES, int HALVES>
DEVI void produce_tma(int nIter, int qStart, uint32_t fullBar, uint32_t emptyBar, float* sL, float* sDv,
                      const float* Lb, const float* Db, int T, int ptid, const BwdMaps& maps, uint32_t sK, uint32_t sV,
                      uint32_t sQ0, uint32_t sdO0, uint32_t qStageBytes, int kv0, int h, int hk, int b) {
    constexpr uint32_t KV_HALF = BKV * 128, QT_HALF = BQ * 128;
    if (ptid == 0) {
        wgfa::tma_prefetch_map(maps.q);
        wgfa::tma_prefetch_map(maps.dO);
        wgfa::tma_prefetch_map(maps.k);
        wgfa::tma_prefetch_map(maps.v);
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = (qStart + i) * BQ;
            const uint32_t full = fullBar + 8 * st;
            if (i >= STAGES) wgfa::mbar_wait(emptyBar + 8 * st, ((i / STAGES) - 1) & 1);
            wgfa::mbar_arrive_expect_tx(full, HALVES * (2 * QT_HALF + (i == 0 ? 2 * KV_HALF : 0)));
            if (i == 0) {
#pragma unroll
                for (int hf = 0; hf < HALVES; hf++) {
                    wgfa::tma_load_4d(sK + hf * KV_HALF, maps.k, full, 64 * hf, hk, kv0, b);
                    wgfa::tma_load_4d(sV + hf * KV_HALF, maps.v, full, 64 * hf, hk, kv0, b);
                }
            }
#pragma unroll
            for (int hf = 0; hf < HALVES; hf++) {
                wgfa::tma_load_4d(sQ0 + st * qStageBytes + hf * QT_HALF, maps.q, full, 64 * hf, h, q0, b);
                wgfa::tma_load_4d(sdO0 + st * qStageBytes + hf * QT_HALF, maps.dO, full, 64 * hf, h, q0, b);
            }
        }
    } else if (ptid >= 32 && ptid < 32 + BQ) {
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = (qStart + i) * BQ;
            if (i >= STAGES) wgfa::mbar_wait(emptyBar + 8 * st, ((i / STAGES) - 1) & 1);
            load_lse_dv(sL + st * BQ, sDv + st * BQ, Lb, Db, q0, T, ptid - 32);
            wgfa::mbar_arrive(fullBar + 8 * st);  // release: the LSE / Dv stores
        }
    }
}
// Deterministic mode's ordering (named_sync, ordered_begin / ordered_end, DqTurn, det_kv_block, dq_rank, dq_sem,
// dkv_sem): flash_bwd.cuh's, shared with the mma.sync backward since session 17 (the same 128-key K/V blocks over
// 64-row query tiles).
using flash_bwd::DqTurn;
using flash_bwd::det_kv_block;
using flash_bwd::dkv_sem;
using flash_bwd::dq_rank;
using flash_bwd::dq_sem;
using flash_bwd::named_sync;
using flash_bwd::ordered_begin;
using flash_bwd::ordered_end;

// The block's dK (scaled) and dV rows kA, kB (keys past T dropped) added into the fp32 outputs; NT 8-column groups.
template <int NT>
DEVI void add_dk_dv(float* dKb, float* dVb, const float (&dk)[4 * NT], const float (&dv)[4 * NT], long kStride, int kA,
                    int kB, int cq, int T, float scale) {
#pragma unroll
    for (int n = 0; n < NT; n++) {
        const int c = n * 8 + cq;
        if (kA < T) {
            atomic_add2(dKb + (long)kA * kStride + c, dk[4 * n] * scale, dk[4 * n + 1] * scale);
            atomic_add2(dVb + (long)kA * kStride + c, dv[4 * n], dv[4 * n + 1]);
        }
        if (kB < T) {
            atomic_add2(dKb + (long)kB * kStride + c, dk[4 * n + 2] * scale, dk[4 * n + 3] * scale);
            atomic_add2(dVb + (long)kB * kStride + c, dv[4 * n + 2], dv[4 * n + 3]);
        }
    }
}

// v4: descriptors from a precomputed low word (sm90::desc_lo: start address >> 4 | LBO >> 4 << 16) plus compile-time
// k-step offsets; the high word (SBO = 1024, 128-byte swizzle: sm90::desc_of) is the same for every operand here. Shared
// addresses stay below 256 KB, so the start-address field (14 bits) never carries into LBO.
DEVI void issue_st4(float (&s)[32], uint32_t loA, uint32_t loB) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        wgmma_m64n64k16_ss<0, 0>(s, desc_of(loA + (((kk >> 2) * (KV_BYTES / 2) + (kk & 3) * 32) >> 4)),
                                 desc_of(loB + (((kk >> 2) * Q_HALF + (kk & 3) * 32) >> 4)), kk > 0);
}
DEVI void issue_acc4(float (&acc)[64], const uint32_t (&a)[BQ / 16][4], uint32_t loT) {
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) wgfa::wgmma_m64n128k16_rs_tb(acc, a[kk], desc_of(loT + kk * (2048 >> 4)));
}
DEVI void issue_dq4(float (&dq)[32], uint32_t loDS, uint32_t loK) {
#pragma unroll
    for (int kk = 0; kk < BKV / 16; kk++)
        wgmma_m64n64k16_ss<1, 1>(dq, desc_of(loDS + kk * (2048 >> 4)), desc_of(loK + kk * (2048 >> 4)), kk > 0);
}
}  // namespace wgbwd

// WIN (v4 only): sliding-window attention over the last `window` keys (QueryWalk, probs_t).
// TMA (v4 only): the Q / dO tiles and the resident K / V copied by TMA (wgbwd::produce_tma), registers 24 producer /
// 232 consumer (1), 24 / 240 (2); 3 (the "t" instances): 1 + a dQ writer thread in the producer warpgroup: each
// consumer warpgroup stages its dQ rows of a tile (stage_dq_tma) and hands them over on an mbarrier, the writer
// reduce-adds them into dQ with two TMA bulk tensor ops and hands the staging back once read, so the consumers issue
// no dQ atomics (session 19 call 10: 1.11-1.12x v4 at MHA causal 4k-32k, 1.02-1.03x grouped or full; 1 alone
// 0.96-1.05x, call 8).
template <bool CAUSAL, int VERSION, bool DET = false, bool WIN = false, int TMA = 0>
__device__ __forceinline__ void flash_bwd_wgmma_kernel(float* __restrict__ dQ, float* __restrict__ dK,
                                                       float* __restrict__ dV, const __nv_bfloat16* __restrict__ Q,
                                                       const __nv_bfloat16* __restrict__ K,
                                                       const __nv_bfloat16* __restrict__ V,
                                                       const __nv_bfloat16* __restrict__ dO,
                                                       const float* __restrict__ LSE, const float* __restrict__ Dv,
                                                       int T, int Hq, int Hkv, float scale, int* sem = nullptr,
                                                       int window = 0, wgbwd::BwdMaps maps = {}) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgbwd;
    static_assert(!TMA || VERSION == 4, "the TMA instances are v4's");
    static_assert(TMA != 3 || !DET, "the dQ writer's reduce-adds have no fixed order: not deterministic");
    static_assert(OFF_Q % 1024 == 0 && OFF_DO % 1024 == 0 && Q_BYTES % 1024 == 0, "TMA's swizzled tiles");
    static_assert(!DET || VERSION == 4, "the deterministic adds are built on v4");
    static_assert(!WIN || VERSION == 4, "the windowed instances are v4's");
    using wgfa::fence_operand;
    constexpr bool OVERLAP = VERSION >= 2, BULK = VERSION == 3;
    extern __shared__ __align__(1024) uint8_t wgbwd_smem[];
    // full[STAGES], empty[STAGES], v5: dsReady[2], dsFree[2]; TMA 3: dqFull[2], dqEmpty[2]
    __shared__ __align__(8) uint64_t bars[2 * STAGES + 4 + (TMA == 3 ? 4 : 0)];
    const uint32_t sbase = (smem_u32(wgbwd_smem) + 1023u) & ~1023u;
    uint8_t* gbase = wgbwd_smem + (sbase - smem_u32(wgbwd_smem));  // the same bytes, generic address
    const uint32_t sK = sbase, sV = sbase + OFF_V;
    auto sQ = [&](int st) { return sbase + OFF_Q + st * Q_BYTES; };
    auto sdO = [&](int st) { return sbase + OFF_DO + st * Q_BYTES; };
    auto sDS = [&](int b) { return sbase + OFF_DS + b * DS_BYTES; };
    float* sL = reinterpret_cast<float*>(gbase + OFF_L);    // [STAGES][64] LSE * log2 e (+inf past T)
    float* sDv = reinterpret_cast<float*>(gbase + OFF_DV);  // [STAGES][64] Dv (0 past T)
    float* sDQ = reinterpret_cast<float*>(gbase + OFF_DQ);  // v2: per warpgroup [64][DQ_LD] dQ staging
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);
    const uint32_t dsReadyBar = smem_u32(&bars[2 * STAGES]), dsFreeBar = smem_u32(&bars[2 * STAGES + 2]);
    const uint32_t dqFullBar = TMA == 3 ? smem_u32(&bars[2 * STAGES + 4]) : 0;
    const uint32_t dqEmptyBar = dqFullBar + 16;

    const int xb = det_kv_block<DET>(), kv0 = xb * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const QueryWalk<CAUSAL, WIN> walk(kv0, T, window);
    const int qStart = walk.qStart, nIter = walk.nIter;
    auto tileQ0 = [&](int i) { return walk.q0(i); };  // query tile i of this block's walk
    if (tid == 0) {
        init_ring_barriers<STAGES>(fullBar, emptyBar, TMA ? 1 + BQ : 128);
        if (TMA == 3) {
            for (int i = 0; i < 2; i++) {
                wgfa::mbar_init(dqFullBar + 8 * i, 128);  // a consumer warpgroup's dQ rows are staged
                wgfa::mbar_init(dqEmptyBar + 8 * i, 1);   // the writer's reduce-adds have read them
            }
        }
        for (int i = 0; i < 2; i++) {  // v5
            wgfa::mbar_init(dsReadyBar + 8 * i, 256);  // both warpgroups' dS^T rows of a tile are in
            wgfa::mbar_init(dsFreeBar + 8 * i, 128);   // the tile's dQ owner has read the dS^T buffer
        }
    }
    __syncthreads();

    if (TMA && warp < 4) {  // producer warpgroup: one thread's TMA copies, 64 threads' LSE / Dv
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
        produce_tma<STAGES, 2>(nIter, qStart, fullBar, emptyBar, sL, sDv, LSE + ((long)b * Hq + h) * T,
                               Dv + ((long)b * Hq + h) * T, T, tid, maps, sK, sV, sQ(0), sdO(0), Q_BYTES, kv0, h, hk, b);
        if (TMA == 3 && tid == 96) {  // the dQ writer
            wgfa::tma_prefetch_map(maps.dQ);
            for (int i = 0; i < nIter; i++) {
                const int q0 = tileQ0(i);
#pragma unroll
                for (int w = 0; w < 2; w++) {
                    wgfa::mbar_wait(dqFullBar + 8 * w, i & 1);
                    const uint32_t src = smem_u32(sDQ) + w * 16384;
                    wgfa::tma_reduce_add_4d(maps.dQ, src, 64 * w, h, q0, b);
                    wgfa::tma_reduce_add_4d(maps.dQ, src + 8192, 64 * w + 32, h, q0, b);
                    wgfa::bulk_commit();
                }
#pragma unroll
                for (int w = 0; w < 2; w++) {  // (groups complete in order: wait for warpgroup 0's, then both)
                    if (w == 0) wgfa::bulk_wait_read<1>();
                    else wgfa::bulk_wait_read<0>();
                    wgfa::mbar_arrive(dqEmptyBar + 8 * w);
                }
            }
            wgfa::bulk_wait<0>();  // the adds done before the block's shared memory goes
        }
    } else if (warp < 4) {  // producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
        const __nv_bfloat16* dOb = dO + (long)b * T * qStride + (long)h * D;
        const float* Lb = LSE + ((long)b * Hq + h) * T;
        const float* Db = Dv + ((long)b * Hq + h) * T;
        produce<STAGES>(nIter, qStart, fullBar, emptyBar, sL, sDv, Lb, Db, T, tid, [&] {
            const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
            const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
            wgfa::load_tile_wg_fast<false>(sK, Kb, kStride, kv0, 0, T, tid);
            wgfa::load_tile_wg_fast<false>(sV, Vb, kStride, kv0, 0, T, tid);
        }, [&](int st, int q0) {
            load_qtile(sQ(st), Qb, qStride, q0, T, tid);
            load_qtile(sdO(st), dOb, qStride, q0, T, tid);
        });
    } else {  // consumer warpgroups 1, 2
        if (TMA == 2) asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
        else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int wg = (warp >> 2) - 1, wwarp = warp & 3;
        const uint32_t sKwg = sK + wg * 64 * 128, sVwg = sV + wg * 64 * 128;  // this warpgroup's 64 key rows
        const int rA = wg * 64 + wwarp * 16 + (lane >> 2), rB = rA + 8;     // key rows in the tile
        const int kA = kv0 + rA, kB = kv0 + rB;
        const int cq = (lane & 3) * 2;                                      // first query column of a pair
        const float sl = scale * 1.4426950408889634f;
        float* dQb = dQ + (long)b * T * qStride + (long)h * D;

        float dk[64], dv[64], s[32], dp[32], dq[32];
        uint32_t pa[BQ / 16][4], sa[BQ / 16][4];
#pragma unroll
        for (int i = 0; i < 64; i++) dk[i] = dv[i] = 0.f;

        // v4: the descriptors' low words, computed once
        const uint32_t loK = desc_lo(sKwg, 16), loV = desc_lo(sVwg, 16), loQ0 = desc_lo(sQ(0), 16),
                       loDO0 = desc_lo(sdO(0), 16), loQt0 = desc_lo(sQ(0), Q_HALF), loDOt0 = desc_lo(sdO(0), Q_HALF),
                       loDS0 = desc_lo(sDS(0), DS_BYTES), loKh = desc_lo(sK + wg * (KV_BYTES / 2), KV_BYTES / 2);
        auto issue_s_dp = [&](int st) {
            wgfa::wg_fence();
            if constexpr (VERSION >= 4) {
                issue_st4(s, loK, loQ0 + st * (Q_BYTES >> 4));
                wgfa::wg_commit();
                issue_st4(dp, loV, loDO0 + st * (Q_BYTES >> 4));
            } else {
                issue_st(s, sKwg, sQ(st));
                wgfa::wg_commit();
                issue_st(dp, sVwg, sdO(st));
            }
            wgfa::wg_commit();
        };
        // dQ rows q0 + 16 wwarp + lane/4 (+8), columns 64 wg + 8n + cq: float2 atomics, scaled
        auto dq_atomics = [&](int q0) {
            const int qa = q0 + wwarp * 16 + (lane >> 2), qb = qa + 8;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const int c = wg * 64 + n * 8 + cq;
                if (qa < T) atomic_add2(dQb + (long)qa * qStride + c, dq[4 * n] * scale, dq[4 * n + 1] * scale);
                if (qb < T) atomic_add2(dQb + (long)qb * qStride + c, dq[4 * n + 2] * scale, dq[4 * n + 3] * scale);
            }
        };

        float* stg = sDQ + wg * BQ * DQ_LD;  // v2: this warpgroup's dQ staging buffer
        // v2: the previous tile's dQ from the staging buffer, coalesced float4 atomics (64 rows x 16 per warpgroup)
        DqTurn turn;  // DET: this warpgroup leader's pending dQ hand-over
        auto dq_atomics_staged = [&](int q0) {
            const int wtid = tid & 127;
            int* semQ = DET ? dq_sem(sem, b, Hq, h, T, q0 / BQ, wg) : nullptr;
            if (DET && wtid == 0) turn.take(semQ, dq_rank<CAUSAL>(xb, q0 / BQ));
            if (wg == 0) asm volatile("bar.sync 2, 128;\n" ::: "memory");  // this warpgroup's staging is in
            else asm volatile("bar.sync 3, 128;\n" ::: "memory");
            if constexpr (BULK) {  // v3: one bulk reduce-add of a 256-byte row per thread of the first two warps
                if (wtid < BQ && q0 + wtid < T) {
                    asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], 256;\n"
                                 ::"l"(dQb + (long)(q0 + wtid) * qStride + wg * 64), "r"(smem_u32(stg + wtid * DQ_LD))
                                 : "memory");
                    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
                }
            } else if constexpr (VERSION >= 4) {  // one row address per tile (rows wtid / 16 + 8k), row checks on the tile past T only
                const float* stgRd = stg + (wtid >> 4) * DQ_LD + (wtid & 15) * 4;
                float* p = dQb + (long)(q0 + (wtid >> 4)) * qStride + wg * 64 + (wtid & 15) * 4;
                if (q0 + BQ <= T) {
#pragma unroll
                    for (int k = 0; k < 8; k++)
                        atomicAdd(reinterpret_cast<float4*>(p + k * 8 * qStride),
                                  *reinterpret_cast<const float4*>(stgRd + k * 8 * DQ_LD));
                } else {
#pragma unroll
                    for (int k = 0; k < 8; k++)
                        if (q0 + (wtid >> 4) + 8 * k < T)
                            atomicAdd(reinterpret_cast<float4*>(p + k * 8 * qStride),
                                      *reinterpret_cast<const float4*>(stgRd + k * 8 * DQ_LD));
                }
            } else {
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    const int j = wtid + 128 * k, r = j >> 4, c4 = (j & 15) * 4;
                    if (q0 + r < T)
                        atomicAdd(reinterpret_cast<float4*>(dQb + (long)(q0 + r) * qStride + wg * 64 + c4),
                                  *reinterpret_cast<const float4*>(stg + r * DQ_LD + c4));
                }
            }
        };
        // v3: the staging rows a thread handed to the bulk engine must have been read before they are rewritten
        auto bulk_read_wait = [&]() {
            if (BULK) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
        };
        if constexpr (VERSION == 5) {
        // v5: tile i's dQ is owned by warpgroup i & 1 (dQ over all of D: m64n128, 64 accumulators); the other
        // warpgroup hands its dS^T rows over through dsReady and runs on into the next tile. dsFree returns the
        // dS^T buffer (i & 1) to both writers two tiles later.
        float dq5[64];
        const uint32_t loKfull = desc_lo(sK, KV_BYTES / 2);
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i), buf = i & 1, use = i >> 1;
            const bool owner = buf == wg;
            wgfa::mbar_wait(fullBar + 8 * st, (i / STAGES) & 1);
            issue_s_dp(st);
            wgfa::wg_wait<1>();  // S^T done (dP^T may still run)
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(s[j]);
            const float* ls = sL + st * BQ;
            const float* ds = sDv + st * BQ;
            const bool needMask = (CAUSAL && q0 < kv0 + wg * 64 + 63) || kv0 + BKV > T
                                  || walk.past_window(q0, kv0 + wg * 64, window);
            probs_t<CAUSAL, 8, WIN>(s, ls, needMask, q0, kA, kB, cq, sl, T, window);
            wgfa::wg_wait<0>();  // dP^T done
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(dp[j]);
            dscores_t(dp, s, ds, cq);
            pack_a(pa, s);
            pack_a(sa, dp);
            wgfa::wg_fence();
            issue_acc4(dv, pa, loDOt0 + st * (Q_BYTES >> 4));
            issue_acc4(dk, sa, loQt0 + st * (Q_BYTES >> 4));
            wgfa::wg_commit();
            if (use > 0) wgfa::mbar_wait(dsFreeBar + 8 * buf, (use - 1) & 1);  // tile i-2's owner has read it
            store_ds_t(gbase + OFF_DS + buf * DS_BYTES, sa, rA, rB, cq);
            wgfa::fence_proxy_async();
            wgfa::mbar_arrive(dsReadyBar + 8 * buf);
            wgfa::wg_wait<0>();  // dV, dK done: P^T / dS^T registers free, Q / dO of this stage no longer read
#pragma unroll
            for (int j = 0; j < 64; j++) { fence_operand(dk[j]); fence_operand(dv[j]); }
            wgfa::mbar_arrive(emptyBar + 8 * st);
            if (owner) {
                wgfa::mbar_wait(dsReadyBar + 8 * buf, use & 1);  // the other warpgroup's dS^T rows
                wgfa::wg_fence();
#pragma unroll
                for (int kk = 0; kk < BKV / 16; kk++)
                    wgmma_m64n128k16_ss<1, 1>(dq5, desc_of(loDS0 + buf * (DS_BYTES >> 4) + kk * (2048 >> 4)),
                                           desc_of(loKfull + kk * (2048 >> 4)), kk > 0);
                wgfa::wg_commit();
                wgfa::wg_wait<0>();
#pragma unroll
                for (int j = 0; j < 64; j++) fence_operand(dq5[j]);
                wgfa::mbar_arrive(dsFreeBar + 8 * buf);
                const int qa = q0 + wwarp * 16 + (lane >> 2), qb = qa + 8;
                float* pa_ = dQb + (long)qa * qStride + cq;
                float* pb_ = pa_ + 8 * qStride;
#pragma unroll
                for (int n = 0; n < 16; n++) {
                    if (qa < T) atomic_add2(pa_ + n * 8, dq5[4 * n] * scale, dq5[4 * n + 1] * scale);
                    if (qb < T) atomic_add2(pb_ + n * 8, dq5[4 * n + 2] * scale, dq5[4 * n + 3] * scale);
                }
            }
        }
        } else {
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i);
            wgfa::mbar_wait(fullBar + 8 * st, (i / STAGES) & 1);
            issue_s_dp(st);
            if (OVERLAP && TMA != 3 && i > 0) dq_atomics_staged(tileQ0(i - 1));  // under this tile's S^T, dP^T
            wgfa::wg_wait<1>();  // S^T done (dP^T may still run)
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(s[j]);
            const float* ls = sL + st * BQ;
            const float* ds = sDv + st * BQ;
            const bool needMask = (CAUSAL && q0 < kv0 + wg * 64 + 63) || kv0 + BKV > T
                                  || walk.past_window(q0, kv0 + wg * 64, window);
            probs_t<CAUSAL, 8, WIN>(s, ls, needMask, q0, kA, kB, cq, sl, T, window);
            wgfa::wg_wait<0>();  // dP^T done
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(dp[j]);
            dscores_t(dp, s, ds, cq);
            pack_a(pa, s);
            pack_a(sa, dp);
            wgfa::wg_fence();
            if constexpr (VERSION >= 4) {
                issue_acc4(dv, pa, loDOt0 + st * (Q_BYTES >> 4));
                issue_acc4(dk, sa, loQt0 + st * (Q_BYTES >> 4));
            } else {
                issue_acc(dv, pa, sdO(st));
                issue_acc(dk, sa, sQ(st));
            }
            wgfa::wg_commit();
            // dS^T (bf16) to shared memory: key row r, query columns 8n + cq, +1 (128-byte swizzle of 16-byte chunks)
            store_ds_t(gbase + OFF_DS + (i & 1) * DS_BYTES, sa, rA, rB, cq);
            wgfa::fence_proxy_async();
            bulk_read_wait();
            consumer_sync();  // both warpgroups' dS^T rows are in; the buffer's previous dQ readers have retired
            wgfa::wg_fence();
            if constexpr (VERSION >= 4) issue_dq4(dq, loDS0 + (i & 1) * (DS_BYTES >> 4), loKh);
            else issue_dq(dq, sDS(i & 1), sK + wg * (KV_BYTES / 2));
            wgfa::wg_commit();
            if (OVERLAP) {
                wgfa::wg_wait<0>();  // dV, dK, dQ of this tile done
#pragma unroll
                for (int j = 0; j < 32; j++) fence_operand(dq[j]);
                wgfa::mbar_arrive(emptyBar + 8 * st);  // Q, dO, LSE, Dv of this stage no longer read
                // dQ (scaled) to the staging buffer: rows 16 wwarp + lane/4 (+8), columns 8n + cq. Its previous
                // contents were read before consumer_sync above; the next tile's atomics read it after its issue.
                if constexpr (TMA == 3) {  // to the writer: wait for the staging's previous reduce-adds to have read it
                    if (i > 0) wgfa::mbar_wait(dqEmptyBar + 8 * wg, (i - 1) & 1);
                    stage_dq_tma(gbase + OFF_DQ + wg * 16384, dq, wwarp, lane, cq, scale);
                    wgfa::fence_proxy_async();  // the bulk engine (async proxy) reads the staging
                    wgfa::mbar_arrive(dqFullBar + 8 * wg);
                } else {
                    stage_dq(stg, dq, wwarp, lane, cq, scale);
                }
                if (BULK) wgfa::fence_proxy_async();  // the bulk engine (async proxy) reads the staging
            } else {
                wgfa::wg_wait<0>();
#pragma unroll
                for (int j = 0; j < 32; j++) fence_operand(dq[j]);
                wgfa::mbar_arrive(emptyBar + 8 * st);  // Q, dO, LSE, Dv of this stage no longer read
                dq_atomics(q0);
            }
        }
        if (OVERLAP && TMA != 3) dq_atomics_staged(tileQ0(nIter - 1));  // the last tile's
        if constexpr (DET) {  // the last tile's hand-over, once every thread of the warpgroup has added
            if (wg == 0) named_sync<2, 128>();
            else named_sync<3, 128>();
            if ((tid & 127) == 0) turn.publish();
        }
        if (BULK) asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");  // done before the block exits
        }  // VERSION != 5
#pragma unroll
        for (int j = 0; j < 64; j++) { fence_operand(dk[j]); fence_operand(dv[j]); }
        float* dKb = dK + (long)b * T * kStride + (long)hk * D;
        float* dVb = dV + (long)b * T * kStride + (long)hk * D;
        const int G = Hq / Hkv;
        if (DET && G > 1) {  // the G query heads of a group add into this K / V block in head order
            int* semKV = dkv_sem(sem, gridDim.z, b, Hq, Hkv, hk, T, xb, wg);
            const bool leader = (tid & 127) == 0;
            if (wg == 0) ordered_begin<2, 128>(semKV, h % G, leader);
            else ordered_begin<3, 128>(semKV, h % G, leader);
            add_dk_dv<16>(dKb, dVb, dk, dv, kStride, kA, kB, cq, T, scale);
            if (wg == 0) ordered_end<2, 128>(semKV, h % G, leader);
            else ordered_end<3, 128>(semKV, h % G, leader);
        } else {
            add_dk_dv<16>(dKb, dVb, dk, dv, kStride, kA, kB, cq, T, scale);
        }
    }
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}
