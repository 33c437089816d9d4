// defines: flash_bwd_wgmma256_kernel<CAUSAL> — the Hopper (sm_90a) wgmma attention backward at head dim D = 256.
// Same contract as flash_bwd_hd256[_causal] (flash_bwd_wide_kernel in flash_bwd.cuh), a drop-in: Q, dO [B, T, Hq,
// 256] bf16; K, V [B, T, Hkv, 256] bf16; LSE [B, Hq, T] fp32 natural log; Dv [B, Hq, T] = rowsum(dO * O); outputs
// dQ, dK, dV fp32 accumulators zeroed by the caller and added to with atomics. Grid ((T + 63) / 64, Hq, B), 384
// threads, SMEM_BYTES of dynamic shared memory.
//
// Why a third layout: at D = 128 each consumer warpgroup owns 64 of the block's 128 keys and keeps their dK and dV
// rows in registers (2 x 64 accumulators). At D = 256 those rows alone would take 256 registers, so the block holds
// 64 keys and the two consumer warpgroups split the work differently (FA3's split for wide heads):
// - S^T = K Q^T and dP^T = V dO^T: each warpgroup takes 32 of the 64 query columns of the tile (wgmma m64n32k16
//   over D: 16 accumulators each), forms its P^T and dS^T (fp32, as the other kernels) and writes both as bf16 into
//   [64 keys][64 q] swizzled tiles (double-buffered: a warpgroup may write tile i + 1's before the other's tile-i
//   wgmmas have retired);
// - after a 256-thread barrier, each warpgroup takes one 128-column half of D for the three GEMMs over the whole
//   tile: dV[:, half] += P^T dO[:, half], dK[:, half] += dS^T Q[:, half] (A = P^T / dS^T from shared memory,
//   K-major; B = the dO / Q tile MN-major; m64n128k16) and dQ[:, half] = dS K[:, half] (both operands MN-major).
//   dK and dV stay in registers (64 + 64 accumulators); dQ's 64 are added with float2 atomics straight from the
//   accumulators (no shared memory is left for D = 128's staged float4 atomics: K, V, 2 stages of Q and dO are
//   192 KB).
// Blocks of 64 keys double the dQ atomics per FLOP against D = 128's 128-key blocks, as flash_bwd_wide and FA2's
// D = 256 backward do. Builds only for sm_90a; others compile a __trap().
#pragma once
#include "flash_bwd_wgmma.cuh"  // wgbwd:: probs_t, dscores_t, store_ds_t, load_lse_dv, add_dk_dv, pack_a, consumer_sync

namespace wgbwd256 {
using namespace sm90;
constexpr int BKV = 64, BQ = 64, D = 256, PANELS = D / 64, STAGES = 2, NTHREADS = 384;
constexpr int PANEL = 64 * 128;             // one 64-column panel of a 64-row tile: 64 rows x 128 bytes = 8 KB
constexpr int TILE = PANELS * PANEL;        // a 64 x 256 bf16 tile: 32 KB
constexpr int PT_BYTES = BKV * 128;         // P^T or dS^T: 64 key rows x 64 q bf16 = 8 KB
constexpr int OFF_V = TILE, OFF_Q = 2 * TILE, OFF_DO = OFF_Q + STAGES * TILE, OFF_P = OFF_DO + STAGES * TILE,
              OFF_L = OFF_P + 4 * PT_BYTES, OFF_DV = OFF_L + STAGES * BQ * 4;
constexpr int SMEM_BYTES = OFF_DV + STAGES * BQ * 4 + 1024;  // + slack to align the base to 1024
// the launch size CudaKernels.BwdVariant.smem(256) and bench/ccalab_cuda.py pass; under the 227 KB opt-in limit
static_assert(SMEM_BYTES == 231424 && SMEM_BYTES <= 232448, "update the launchers' shared memory");

// Rows t0 .. t0 + 63 of a [rows, stride] bf16 matrix (256 columns) into a tile of 4 swizzled 64-column panels; rows
// outside [0, T) as zeros. The producer's 128 threads: a warp copies one 512-byte row (thread c: chunk c & 7 of
// panel c >> 3), rows r0 + 4k.
DEVI void load_tile(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int T, int ptid) {
    const int r0 = ptid >> 5, c = ptid & 31;
    const uint32_t d0 = dst + (c >> 3) * PANEL;
    const __nv_bfloat16* gp = g + (long)(t0 + r0) * stride + c * 8;
#pragma unroll 4
    for (int k = 0; k < BKV / 4; k++) {
        const int r = r0 + 4 * k, t = t0 + r;
        const bool ok = (unsigned)t < (unsigned)T;
        cp_async_16(d0 + r * 128 + (((c & 7) ^ (r & 7)) << 4), ok ? gp + 4L * k * stride : g, ok ? 16 : 0);
    }
}
// S^T (or dP^T) [64 keys x this warpgroup's 32 q]: A = the K (or V) tile, B = 32 rows of the Q (or dO) tile, both
// K-major; 16 k-steps of 16 over D (+32 bytes inside a panel's swizzled rows, the next panel at +8 KB).
DEVI void issue_st(float (&s)[16], uint32_t loA, uint32_t loB) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t off = ((kk >> 2) * PANEL + (kk & 3) * 32) >> 4;
        wgmma_m64n32k16_ss<0, 0>(s, desc_of(loA + off), desc_of(loB + off), kk > 0);
    }
}
// acc[64 keys x 128] += A^T-tile[64 keys x 64 q] (P^T or dS^T: shared, K-major, +32 bytes per 16 q) * tile[64 q x
// this warpgroup's 128 columns] (MN-major: LBO = one panel, +2 KB per 16 rows).
DEVI void issue_acc(float (&acc)[64], uint32_t loA, uint32_t loT) {
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++)
        wgmma_m64n128k16_ss<0, 1>(acc, desc_of(loA + kk * 2), desc_of(loT + kk * (2048 >> 4)), 1);
}
// dQ[64 q x this warpgroup's 128 columns] = dS[64 q x 64 keys] K[64 keys x 128]: dS^T [keys][q] as A and K [keys][D]
// as B, both MN-major; 4 k-steps of 16 keys (+2 KB each in both).
DEVI void issue_dq(float (&dq)[64], uint32_t loDS, uint32_t loK) {
#pragma unroll
    for (int kk = 0; kk < BKV / 16; kk++)
        wgmma_m64n128k16_ss<1, 1>(dq, desc_of(loDS + kk * (2048 >> 4)), desc_of(loK + kk * (2048 >> 4)), kk > 0);
}

}  // namespace wgbwd256

template <bool CAUSAL>
__device__ __forceinline__ void flash_bwd_wgmma256_kernel(float* __restrict__ dQ, float* __restrict__ dK,
                                                          float* __restrict__ dV, const __nv_bfloat16* __restrict__ Q,
                                                          const __nv_bfloat16* __restrict__ K,
                                                          const __nv_bfloat16* __restrict__ V,
                                                          const __nv_bfloat16* __restrict__ dO,
                                                          const float* __restrict__ LSE, const float* __restrict__ Dv,
                                                          int T, int Hq, int Hkv, float scale) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgbwd256;
    using wgfa::fence_operand;
    extern __shared__ __align__(1024) uint8_t wgbwd256_smem[];
    __shared__ __align__(8) uint64_t bars[2 * STAGES];  // full[STAGES], empty[STAGES]
    const uint32_t sbase = (smem_u32(wgbwd256_smem) + 1023u) & ~1023u;
    uint8_t* gbase = wgbwd256_smem + (sbase - smem_u32(wgbwd256_smem));  // the same bytes, generic address
    const uint32_t sK = sbase, sV = sbase + OFF_V;
    auto sQ = [&](int st) { return sbase + OFF_Q + st * TILE; };
    auto sdO = [&](int st) { return sbase + OFF_DO + st * TILE; };
    // [buffer][P^T, dS^T] tiles of [64 keys][64 q]
    auto pOff = [&](int buf, int which) { return OFF_P + (2 * buf + which) * PT_BYTES; };
    float* sL = reinterpret_cast<float*>(gbase + OFF_L);    // [STAGES][64] LSE * log2 e (+inf past T)
    float* sDv = reinterpret_cast<float*>(gbase + OFF_DV);  // [STAGES][64] Dv (0 past T)
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);

    const int kv0 = blockIdx.x * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const int nQ = (T + BQ - 1) / BQ;
    const int qStart = CAUSAL ? kv0 / BQ : 0;
    const int nIter = nQ - qStart;  // >= 1: kv0 < T
    auto tileQ0 = [&](int i) { return (qStart + i) * BQ; };  // query tile i of this block's walk
    if (tid == 0) {
        for (int i = 0; i < STAGES; i++) {
            wgfa::mbar_init(fullBar + 8 * i, 128);
            wgfa::mbar_init(emptyBar + 8 * i, 256);
        }
    }
    __syncthreads();

    if (warp < 4) {  // producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
        const __nv_bfloat16* dOb = dO + (long)b * T * qStride + (long)h * D;
        const float* Lb = LSE + ((long)b * Hq + h) * T;
        const float* Db = Dv + ((long)b * Hq + h) * T;
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i);
            if (i >= STAGES) wgfa::mbar_wait(emptyBar + 8 * st, ((i / STAGES) - 1) & 1);
            if (i == 0) {
                load_tile(sK, K + (long)b * T * kStride + (long)hk * D, kStride, kv0, T, tid);
                load_tile(sV, V + (long)b * T * kStride + (long)hk * D, kStride, kv0, T, tid);
            }
            load_tile(sQ(st), Qb, qStride, q0, T, tid);
            load_tile(sdO(st), dOb, qStride, q0, T, tid);
            wgbwd::load_lse_dv(sL + st * BQ, sDv + st * BQ, Lb, Db, q0, T, tid);
            cp_async_commit();
            cp_async_wait<0>();
            wgfa::fence_proxy_async();
            wgfa::mbar_arrive(fullBar + 8 * st);  // release: the copies and the LSE / Dv stores
        }
    } else {  // consumer warpgroups 1, 2
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int wg = (warp >> 2) - 1, wwarp = warp & 3;
        const int rA = wwarp * 16 + (lane >> 2), rB = rA + 8;  // key rows in the tile (all 64 keys per warpgroup)
        const int kA = kv0 + rA, kB = kv0 + rB;
        const int cq = (lane & 3) * 2;  // first column of a pair
        const int qc = wg * 32;         // this warpgroup's query columns in S^T / dP^T
        const float sl = scale * 1.4426950408889634f;
        float* dQb = dQ + (long)b * T * qStride + (long)h * D + wg * 128;

        float dk[64], dv[64], s[16], dp[16], dq[64];
        uint32_t pa[2][4], sa[2][4];
#pragma unroll
        for (int i = 0; i < 64; i++) dk[i] = dv[i] = 0.f;

        // descriptor low words (sm90::desc_lo); stage st's operands are at + st * (TILE >> 4)
        const uint32_t loK = desc_lo(sK, 16), loV = desc_lo(sV, 16), loQ0 = desc_lo(sQ(0) + qc * 128, 16),
                       loDO0 = desc_lo(sdO(0) + qc * 128, 16), loQt0 = desc_lo(sQ(0) + wg * 2 * PANEL, PANEL),
                       loDOt0 = desc_lo(sdO(0) + wg * 2 * PANEL, PANEL), loKt = desc_lo(sK + wg * 2 * PANEL, PANEL);
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i), buf = i & 1;
            wgfa::mbar_wait(fullBar + 8 * st, (i / STAGES) & 1);
            wgfa::wg_fence();
            issue_st(s, loK, loQ0 + st * (TILE >> 4));
            wgfa::wg_commit();
            issue_st(dp, loV, loDO0 + st * (TILE >> 4));
            wgfa::wg_commit();
            wgfa::wg_wait<1>();  // S^T done (dP^T may still run)
#pragma unroll
            for (int j = 0; j < 16; j++) fence_operand(s[j]);
            const bool needMask = (CAUSAL && q0 + qc < kv0 + BKV - 1) || kv0 + BKV > T;
            wgbwd::probs_t<CAUSAL, 4>(s, sL + st * BQ + qc, needMask, q0 + qc, kA, kB, cq, sl, T);
            wgfa::wg_wait<0>();  // dP^T done
#pragma unroll
            for (int j = 0; j < 16; j++) fence_operand(dp[j]);
            wgbwd::dscores_t<4>(dp, s, sDv + st * BQ + qc, cq);
            wgbwd::pack_a<4>(pa, s);
            wgbwd::pack_a<4>(sa, dp);
            // this warpgroup's 32 columns of P^T and dS^T (buffer buf: its readers, tile i - 2's wgmmas, retired
            // before either warpgroup passed tile i - 1's barrier)
            wgbwd::store_ds_t<4>(gbase + pOff(buf, 0), pa, rA, rB, cq, qc / 8);
            wgbwd::store_ds_t<4>(gbase + pOff(buf, 1), sa, rA, rB, cq, qc / 8);
            wgfa::fence_proxy_async();
            wgbwd::consumer_sync();  // both warpgroups' columns are in
            wgfa::wg_fence();
            issue_acc(dv, desc_lo(sbase + pOff(buf, 0), 16), loDOt0 + st * (TILE >> 4));
            issue_acc(dk, desc_lo(sbase + pOff(buf, 1), 16), loQt0 + st * (TILE >> 4));
            issue_dq(dq, desc_lo(sbase + pOff(buf, 1), PT_BYTES), loKt);
            wgfa::wg_commit();
            wgfa::wg_wait<0>();  // dV, dK, dQ of this tile done
#pragma unroll
            for (int j = 0; j < 64; j++) fence_operand(dq[j]);
            wgfa::mbar_arrive(emptyBar + 8 * st);  // Q, dO, LSE, Dv of this stage no longer read
            // dQ rows q0 + 16 wwarp + lane / 4 (+8), columns 128 wg + 8n + cq: float2 atomics, scaled. (Issued under
            // the next tile's S^T, or S^T and dP^T, dQ's 64 registers made ptxas serialize the wgmmas (C7512) and
            // spill, even with 240 registers for the consumers. float4 atomics by a lane-pair shuffle measured 1 %
            // slower: the L2 is busy with bytes (76 %: these adds and the Q / dO tiles), not operations.)
            const int qa = q0 + rA, qb = q0 + rB;
            float* pA = dQb + (long)qa * qStride + cq;
            float* pB = pA + 8 * qStride;
#pragma unroll
            for (int n = 0; n < 16; n++) {
                if (qa < T) atomic_add2(pA + n * 8, dq[4 * n] * scale, dq[4 * n + 1] * scale);
                if (qb < T) atomic_add2(pB + n * 8, dq[4 * n + 2] * scale, dq[4 * n + 3] * scale);
            }
        }
#pragma unroll
        for (int j = 0; j < 64; j++) { fence_operand(dk[j]); fence_operand(dv[j]); }
        wgbwd::add_dk_dv<16>(dK + (long)b * T * kStride + (long)hk * D + wg * 128,
                             dV + (long)b * T * kStride + (long)hk * D + wg * 128, dk, dv, kStride, kA, kB, cq, T, scale);
    }
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}
