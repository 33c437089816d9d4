// defines: flash_bwd_wgmma64_kernel<CAUSAL, STAGES> — the Hopper (sm_90a) wgmma attention backward at head dim
// D = 64. Same contract as flash_bwd_hd64[_causal] (flash_bwd.cuh), a drop-in: Q, dO [B, T, Hq, 64] bf16; K, V
// [B, T, Hkv, 64] bf16; LSE [B, Hq, T] fp32 natural log; Dv [B, Hq, T] = rowsum(dO * O); outputs dQ, dK, dV fp32
// accumulators zeroed by the caller and added to with atomics. Grid ((T + 127) / 128, Hq, B), 384 threads.
//
// The D = 128 kernel's design (attention/flash_bwd_wgmma.cuh, v4: a producer warpgroup, two consumer warpgroups of
// 64 keys each over 64-row query tiles, S^T / dP^T from shared operands, dV / dK from register operands, dQ staged
// and its float4 atomics issued under the next tile's S^T / dP^T), with what D = 64 changes:
// - a 64-column bf16 row is one 128-byte swizzled panel (as the D = 64 forward, flash_fwd_wgmma_hd64.cuh): K, V
//   tiles are 16 KB, Q / dO tiles 8 KB, every k-step over D is +32 bytes inside the row, no second half;
// - dV, dK: m64n64k16 (32 accumulators each instead of 64);
// - dQ: at D = 128 each warpgroup took one 64-column half of D over all 128 keys, after a barrier for the other's
//   dS^T rows. At D = 64 there is no half to split, so each warpgroup forms the partial dQ over its own 64 keys
//   (dS^T rows and K rows it owns: no wait for the other warpgroup before the wgmma), stages it, and the two
//   partials are summed in the atomics: one float4 atomic per 4 dQ elements per 128 keys, as at D = 128 (the
//   atomic traffic per FLOP stays the same; adding both partials separately would double it).
// Per query tile: S^T, dP^T issued; the previous tile's dQ atomics (after a 256-thread barrier: both partials
// staged); P^T, dS^T; dV, dK issued; dS^T rows to shared memory; a 256-thread barrier (every thread's reads of the
// staging are done before it is rewritten); the dQ partial issued and waited for; staged.
// STAGES: the Q / dO / LSE / Dv ring depth. DET: the adds in a fixed order (wgbwd::ordered_begin; sem as
// wgbwd::dq_sem / dkv_sem lay it out, dQ's second slot unused). Builds only for sm_90a; others compile a __trap().
#pragma once
#include "flash_bwd_wgmma.cuh"       // wgbwd:: probs_t, dscores_t, store_ds_t, stage_dq, load_lse_dv, add_dk_dv, pack_a
#include "flash_fwd_wgmma_hd64.cuh"  // wgfa64::load_rows (128-byte-row tile copies)

namespace wgbwd64 {
using namespace sm90;
constexpr int BKV = 128, BQ = 64, D = 64, ROWB = 128, NTHREADS = 384;
constexpr int KV_BYTES = BKV * ROWB;  // one K or V tile: 16 KB
constexpr int Q_BYTES = BQ * ROWB;    // one Q or dO tile: 8 KB
constexpr int DS_BYTES = BKV * ROWB;  // dS^T: 128 key rows x 64 q (bf16) = 16 KB
constexpr int DQ_LD = wgbwd::DQ_LD;  // staging rows: 64 floats + 8 of padding (wgbwd::stage_dq writes them)
template <int STAGES>
struct Cfg {
    static constexpr int OFF_V = KV_BYTES, OFF_Q = 2 * KV_BYTES, OFF_DO = OFF_Q + STAGES * Q_BYTES,
                         OFF_DS = OFF_DO + STAGES * Q_BYTES, OFF_L = OFF_DS + DS_BYTES,
                         OFF_DV = OFF_L + STAGES * BQ * 4, OFF_DQ = OFF_DV + STAGES * BQ * 4;
    // + [2 warpgroups][64][DQ_LD] fp32 staging and slack to align the base to 1024
    static constexpr int SMEM_BYTES = OFF_DQ + 2 * BQ * DQ_LD * 4 + 1024;
};
// the launch sizes CudaKernels.BwdVariant.smem(64) and bench/ccalab_cuda.py pass
static_assert(Cfg<2>::SMEM_BYTES == 120832 && Cfg<3>::SMEM_BYTES == 137728, "update the launchers' shared memory");

// S^T (or dP^T) for this warpgroup's 64 keys: A = its K (or V) rows, B = the Q (or dO) tile, both K-major; 4 k-steps
// of 16 over D (+32 bytes inside the swizzled rows; lo: sm90::desc_lo(address, 16)).
DEVI void issue_st(float (&s)[32], uint32_t loA, uint32_t loB) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) wgmma_m64n64k16_ss<0, 0>(s, desc_of(loA + kk * 2), desc_of(loB + kk * 2), kk > 0);
}
// acc[64 keys x 64] += A (registers: P^T or dS^T over k = 64 query rows) * tile[64 q x 64] (MN-major; +2 KB per
// 16 rows).
DEVI void issue_acc(float (&acc)[32], const uint32_t (&a)[BQ / 16][4], uint32_t loT) {
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) wgmma_m64n64k16_rs_tb(acc, a[kk], desc_of(loT + kk * (2048 >> 4)));
}
// Partial dQ[64 q x 64] = dS[64 q x this warpgroup's 64 keys] K[those keys x 64]: dS^T [keys][q] as A and K [keys][D]
// as B, both MN-major; 4 k-steps of 16 keys (+2 KB each in both).
DEVI void issue_dq(float (&dq)[32], uint32_t loDS, uint32_t loK) {
#pragma unroll
    for (int kk = 0; kk < 64 / 16; kk++)
        wgmma_m64n64k16_ss<1, 1>(dq, desc_of(loDS + kk * (2048 >> 4)), desc_of(loK + kk * (2048 >> 4)), kk > 0);
}
DEVI void atomics_sync() { asm volatile("bar.sync 2, 256;\n" ::: "memory"); }
}  // namespace wgbwd64

// WIN: sliding-window attention over the last `window` keys (wgbwd::QueryWalk, probs_t).
// TMA: the Q / dO tiles and the resident K / V copied by TMA (wgbwd::produce_tma), registers 24 producer / 232
// consumer (1) or 24 / 240 (2: the "t" instances; session 19 calls 8 and 10: 1.03-1.07x the cp.async kernel, 1
// 1.00-1.08x).
template <bool CAUSAL, int STAGES, bool DET = false, bool WIN = false, int TMA = 0>
__device__ __forceinline__ void flash_bwd_wgmma64_kernel(float* __restrict__ dQ, float* __restrict__ dK,
                                                         float* __restrict__ dV, const __nv_bfloat16* __restrict__ Q,
                                                         const __nv_bfloat16* __restrict__ K,
                                                         const __nv_bfloat16* __restrict__ V,
                                                         const __nv_bfloat16* __restrict__ dO,
                                                         const float* __restrict__ LSE, const float* __restrict__ Dv,
                                                         int T, int Hq, int Hkv, float scale, int* sem = nullptr,
                                                         int window = 0, wgbwd::BwdMaps maps = {}) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgbwd64;
    using C = Cfg<STAGES>;
    static_assert(C::OFF_Q % 1024 == 0 && C::OFF_DO % 1024 == 0 && Q_BYTES % 1024 == 0, "TMA's swizzled tiles");
    using wgfa::fence_operand;
    extern __shared__ __align__(1024) uint8_t wgbwd64_smem[];
    __shared__ __align__(8) uint64_t bars[2 * STAGES];  // full[STAGES], empty[STAGES]
    const uint32_t sbase = (smem_u32(wgbwd64_smem) + 1023u) & ~1023u;
    uint8_t* gbase = wgbwd64_smem + (sbase - smem_u32(wgbwd64_smem));  // the same bytes, generic address
    const uint32_t sK = sbase, sV = sbase + C::OFF_V;
    auto sQ = [&](int st) { return sbase + C::OFF_Q + st * Q_BYTES; };
    auto sdO = [&](int st) { return sbase + C::OFF_DO + st * Q_BYTES; };
    float* sL = reinterpret_cast<float*>(gbase + C::OFF_L);    // [STAGES][64] LSE * log2 e (+inf past T)
    float* sDv = reinterpret_cast<float*>(gbase + C::OFF_DV);  // [STAGES][64] Dv (0 past T)
    float* sDQ = reinterpret_cast<float*>(gbase + C::OFF_DQ);  // [2 warpgroups][64][DQ_LD] partial dQ, scaled
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);

    const int xb = wgbwd::det_kv_block<DET>(), kv0 = xb * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const wgbwd::QueryWalk<CAUSAL, WIN> walk(kv0, T, window);
    const int qStart = walk.qStart, nIter = walk.nIter;
    auto tileQ0 = [&](int i) { return walk.q0(i); };  // query tile i of this block's walk
    if (tid == 0) wgbwd::init_ring_barriers<STAGES>(fullBar, emptyBar, TMA ? 1 + BQ : 128);
    __syncthreads();

    if (TMA && warp < 4) {  // producer warpgroup: one thread's TMA copies, 64 threads' LSE / Dv
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
        wgbwd::produce_tma<STAGES, 1>(nIter, qStart, fullBar, emptyBar, sL, sDv, LSE + ((long)b * Hq + h) * T,
                                      Dv + ((long)b * Hq + h) * T, T, tid, maps, sK, sV, sQ(0), sdO(0), Q_BYTES, kv0,
                                      h, hk, b);
    } else if (warp < 4) {  // producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
        const __nv_bfloat16* dOb = dO + (long)b * T * qStride + (long)h * D;
        const float* Lb = LSE + ((long)b * Hq + h) * T;
        const float* Db = Dv + ((long)b * Hq + h) * T;
        wgbwd::produce<STAGES>(nIter, qStart, fullBar, emptyBar, sL, sDv, Lb, Db, T, tid, [&] {
            wgfa64::load_rows<BKV, 2, false>(sK, K + (long)b * T * kStride + (long)hk * D, kStride, kv0, 0, T, tid);
            wgfa64::load_rows<BKV, 2, false>(sV, V + (long)b * T * kStride + (long)hk * D, kStride, kv0, 0, T, tid);
        }, [&](int st, int q0) {
            wgfa64::load_rows<BQ, 2, false>(sQ(st), Qb, qStride, q0, 0, T, tid);
            wgfa64::load_rows<BQ, 2, false>(sdO(st), dOb, qStride, q0, 0, T, tid);
        });
    } else {  // consumer warpgroups 1, 2
        if (TMA == 2) asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
        else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int wg = (warp >> 2) - 1, wwarp = warp & 3, ctid = tid - 128;
        const int rA = wg * 64 + wwarp * 16 + (lane >> 2), rB = rA + 8;  // key rows in the tile
        const int kA = kv0 + rA, kB = kv0 + rB;
        const int cq = (lane & 3) * 2;  // first query column of a pair
        const float sl = scale * 1.4426950408889634f;
        float* dQb = dQ + (long)b * T * qStride + (long)h * D;

        float dk[32], dv[32], s[32], dp[32], dq[32];
        uint32_t pa[BQ / 16][4], sa[BQ / 16][4];
#pragma unroll
        for (int i = 0; i < 32; i++) dk[i] = dv[i] = 0.f;

        // descriptor low words (sm90::desc_lo): this warpgroup's K / V rows, stage 0's Q / dO tiles, its dS^T rows
        const uint32_t wgRows = wg * 64 * ROWB;
        const uint32_t loK = desc_lo(sK + wgRows, 16), loV = desc_lo(sV + wgRows, 16), loQ0 = desc_lo(sQ(0), 16),
                       loDO0 = desc_lo(sdO(0), 16), loDS = desc_lo(sbase + C::OFF_DS + wgRows, DS_BYTES),
                       loKt = desc_lo(sK + wgRows, KV_BYTES);
        float* stg = sDQ + wg * BQ * DQ_LD;  // this warpgroup's partial dQ
        // tile q0's dQ: the sum of both staged partials, float4 atomics; thread ctid takes rows ctid / 16 + 16k,
        // columns 4 (ctid & 15) (a row of 16 float4 per 16 threads: coalesced)
        wgbwd::DqTurn turn;  // DET: the leader's pending dQ hand-over
        auto dq_atomics = [&](int q0) {
            if (DET && ctid == 0) turn.take(wgbwd::dq_sem(sem, b, Hq, h, T, q0 / BQ, 0), wgbwd::dq_rank<CAUSAL>(xb, q0 / BQ));
            atomics_sync();  // both partials are staged (DET: and it is this block's turn)
            const int r0 = ctid >> 4, c4 = (ctid & 15) * 4;
            const float* s0 = sDQ + r0 * DQ_LD + c4;
            float* p = dQb + (long)(q0 + r0) * qStride + c4;
#pragma unroll
            for (int k = 0; k < BQ / 16; k++) {
                if (q0 + BQ <= T || q0 + r0 + 16 * k < T) {
                    const float4 a = *reinterpret_cast<const float4*>(s0 + k * 16 * DQ_LD);
                    const float4 c = *reinterpret_cast<const float4*>(s0 + BQ * DQ_LD + k * 16 * DQ_LD);
                    atomicAdd(reinterpret_cast<float4*>(p + k * 16 * qStride),
                              make_float4(a.x + c.x, a.y + c.y, a.z + c.z, a.w + c.w));
                }
            }
        };
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i);
            wgfa::mbar_wait(fullBar + 8 * st, (i / STAGES) & 1);
            wgfa::wg_fence();
            issue_st(s, loK, loQ0 + st * (Q_BYTES >> 4));
            wgfa::wg_commit();
            issue_st(dp, loV, loDO0 + st * (Q_BYTES >> 4));
            wgfa::wg_commit();
            if (i > 0) dq_atomics(tileQ0(i - 1));  // under this tile's S^T, dP^T
            wgfa::wg_wait<1>();              // S^T done (dP^T may still run)
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(s[j]);
            const bool needMask = (CAUSAL && q0 < kv0 + wg * 64 + 63) || kv0 + BKV > T
                                  || walk.past_window(q0, kv0 + wg * 64, window);
            wgbwd::probs_t<CAUSAL, 8, WIN>(s, sL + st * BQ, needMask, q0, kA, kB, cq, sl, T, window);
            wgfa::wg_wait<0>();  // dP^T done
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(dp[j]);
            wgbwd::dscores_t(dp, s, sDv + st * BQ, cq);
            wgbwd::pack_a(pa, s);
            wgbwd::pack_a(sa, dp);
            wgfa::wg_fence();
            issue_acc(dv, pa, desc_lo(sdO(st), Q_BYTES));
            issue_acc(dk, sa, desc_lo(sQ(st), Q_BYTES));
            wgfa::wg_commit();
            // the dS^T rows of this warpgroup (only it reads them: its dQ wgmma of the previous tile has retired)
            wgbwd::store_ds_t(gbase + C::OFF_DS, sa, rA, rB, cq);
            wgfa::fence_proxy_async();
            // (this warpgroup's dS^T rows are in, and both warpgroups' reads of the staging are done)
            wgbwd::consumer_sync();
            wgfa::wg_fence();
            issue_dq(dq, loDS, loKt);
            wgfa::wg_commit();
            wgfa::wg_wait<0>();  // dV, dK, dQ of this tile done
#pragma unroll
            for (int j = 0; j < 32; j++) fence_operand(dq[j]);
            wgfa::mbar_arrive(emptyBar + 8 * st);  // Q, dO, LSE, Dv of this stage no longer read
            wgbwd::stage_dq(stg, dq, wwarp, lane, cq, scale);
        }
        dq_atomics(tileQ0(nIter - 1));  // the last tile's
        if constexpr (DET) {  // its hand-over, once every consumer thread has added
            atomics_sync();
            if (ctid == 0) turn.publish();
        }
#pragma unroll
        for (int j = 0; j < 32; j++) { fence_operand(dk[j]); fence_operand(dv[j]); }
        float* dKb = dK + (long)b * T * kStride + (long)hk * D;
        float* dVb = dV + (long)b * T * kStride + (long)hk * D;
        const int G = Hq / Hkv;
        if (DET && G > 1) {  // the G query heads of a group add into this K / V block in head order
            int* semKV = wgbwd::dkv_sem(sem, gridDim.z, b, Hq, Hkv, hk, T, xb, wg);
            const bool leader = (ctid & 127) == 0;
            if (wg == 0) wgbwd::ordered_begin<3, 128>(semKV, h % G, leader);
            else wgbwd::ordered_begin<4, 128>(semKV, h % G, leader);
            wgbwd::add_dk_dv<8>(dKb, dVb, dk, dv, kStride, kA, kB, cq, T, scale);
            if (wg == 0) wgbwd::ordered_end<3, 128>(semKV, h % G, leader);
            else wgbwd::ordered_end<4, 128>(semKV, h % G, leader);
        } else {
            wgbwd::add_dk_dv<8>(dKb, dVb, dk, dv, kStride, kA, kB, cq, T, scale);
        }
    }
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}
