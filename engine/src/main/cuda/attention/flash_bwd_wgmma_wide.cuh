// defines: flash_bwd_wgmma_wide_kernel<DQK, DV, CAUSAL> — the Hopper (sm_90a) wgmma attention backward for wide heads:
// D = 256 (DQK = DV = 256) and MLA's prefill core (DQK 192 = 128 no-RoPE + 64 RoPE, DV 128). Same contract as
// flash_bwd_wide_kernel (flash_bwd.cuh: flash_bwd_hd256[_causal], mla_bwd_qk192_v128[_causal]), a drop-in: Q [B, T,
// Hq, DQK], dO [B, T, Hq, DV] bf16; K [B, T, Hkv, DQK], V [B, T, Hkv, DV] bf16; LSE [B, Hq, T] fp32 natural log; Dv
// [B, Hq, T] = rowsum(dO * O); outputs dQ, dK, dV fp32 accumulators zeroed by the caller and added to with atomics.
// Grid ((T + 63) / 64, Hq, B), 384 threads, Layout<DQK, DV>::SMEM_BYTES of dynamic shared memory.
//
// Why a third layout: at D = 128 each consumer warpgroup owns 64 of the block's 128 keys and keeps their dK and dV
// rows in registers (2 x 64 accumulators). At D = 256 those rows alone would take 256 registers, so the block holds
// 64 keys and the two consumer warpgroups split the work differently (FA3's split for wide heads):
// - S^T = K Q^T and dP^T = V dO^T: each warpgroup takes 32 of the 64 query columns of the tile (wgmma m64n32k16
//   over DQK / DV: 16 accumulators each), forms its P^T and dS^T (fp32, as the other kernels) and writes both as
//   bf16 into [64 keys][64 q] swizzled tiles (double-buffered: a warpgroup may write tile i + 1's before the other's
//   tile-i wgmmas have retired);
// - after a 256-thread barrier, each warpgroup takes a share of the output columns for the three GEMMs over the
//   whole tile (Split): dV[:, cols] += P^T dO[:, cols], dK[:, cols] += dS^T Q[:, cols] (A = P^T / dS^T from shared
//   memory, K-major; B = the dO / Q tile MN-major) and dQ[:, cols] = dS K[:, cols] (both operands MN-major), in
//   64-column panels (m64n64k16 / m64n128k16). D = 256: each warpgroup one half of every output (64 + 64
//   accumulators of dK and dV kept, dQ's 64 added per tile). MLA: dK and dQ have 3 panels, dV 2: warpgroup 0 takes
//   dK and dQ panels 0-1, warpgroup 1 dV, dK panel 2 and dQ panel 2 (256 columns of GEMM each).
//   dQ: at D = 256 float2 atomics straight from the accumulators (no shared memory is left for D = 128's staged
//   float4 atomics: K, V, 2 stages of Q and dO are 192 KB); MLA stages it (SDQ, below).
// Blocks of 64 keys double the dQ atomics per FLOP against D = 128's 128-key blocks, as flash_bwd_wide and FA2's
// D = 256 backward do. Builds only for sm_90a; others compile a __trap().
#pragma once
#include "flash_bwd_wgmma.cuh"  // wgbwd:: probs_t, dscores_t, store_ds_t, load_lse_dv, pack_a, consumer_sync

namespace wgbwdw {
using namespace sm90;
constexpr int BKV = 64, BQ = 64, STAGES = 2, NTHREADS = 384;
constexpr int PANEL = 64 * 128;      // one 64-column panel of a 64-row tile: 64 rows x 128 bytes = 8 KB
constexpr int PT_BYTES = BKV * 128;  // P^T or dS^T: 64 key rows x 64 q bf16 = 8 KB
template <int DQK, int DV>
struct Layout {
    static constexpr int PQ = DQK / 64, PV = DV / 64;  // panels of a q/k row and of a v row
    static constexpr int QT = PQ * PANEL, VT = PV * PANEL;  // a 64-row Q or K tile, dO or V tile
    static constexpr int OFF_V = QT, OFF_Q = QT + VT, OFF_DO = OFF_Q + STAGES * QT, OFF_P = OFF_DO + STAGES * VT,
                         OFF_L = OFF_P + 4 * PT_BYTES, OFF_DV = OFF_L + STAGES * BQ * 4;
    static constexpr int SMEM_BYTES = OFF_DV + STAGES * BQ * 4 + 1024;  // + slack to align the base to 1024
    static_assert(DQK % 64 == 0 && DV % 64 == 0 && SMEM_BYTES <= 232448, "64-column panels, 227 KB opt-in limit");
    // SDQ: + per consumer warpgroup a [64][DQ_LD] fp32 dQ staging tile (up to two panels, rows padded by 8 floats)
    static constexpr int DQ_LD = 2 * 64 + 8, OFF_DQ = OFF_DV + STAGES * BQ * 4;
    static constexpr int SMEM_BYTES_SDQ = OFF_DQ + 2 * BQ * DQ_LD * 4 + 1024;
};
// the launch sizes CudaKernels.BwdVariant.smem(256), CudaMlaKernels (SDQ) and bench/ccalab_cuda.py / ccalab_mla.py pass
static_assert(Layout<256, 256>::SMEM_BYTES == 231424 && Layout<192, 128>::SMEM_BYTES == 157696 &&
                  Layout<192, 128>::SMEM_BYTES_SDQ == 227328 && Layout<192, 128>::SMEM_BYTES_SDQ <= 232448,
              "update the launchers' shared memory");

// The output panels (first, count: 0-2) a consumer warpgroup accumulates: D = 256 (and any DQK = DV) halves.
template <int DQK, int DV, int WG>
struct Split {
    static constexpr int V0 = WG * DV / 128, VN = DV / 128, K0 = WG * DQK / 128, KN = DQK / 128, Q0 = K0, QN = KN;
};
// MLA 192 / 128: 3 + 3 + 2 panels of dK, dQ, dV: 4 per warpgroup.
template <int WG>
struct Split<192, 128, WG> {
    static constexpr int V0 = 0, VN = WG == 1 ? 2 : 0, K0 = WG == 1 ? 2 : 0, KN = WG == 1 ? 1 : 2, Q0 = K0, QN = KN;
};
// Whether both warpgroups run one code path (same panel counts; the offsets then come from the warpgroup index).
template <int DQK, int DV>
struct Uniform {
    static constexpr bool value = Split<DQK, DV, 0>::VN == Split<DQK, DV, 1>::VN &&
                                  Split<DQK, DV, 0>::KN == Split<DQK, DV, 1>::KN &&
                                  Split<DQK, DV, 0>::QN == Split<DQK, DV, 1>::QN;
};
template <int V>
struct IntC {
    static constexpr int value = V;
};

// Rows t0 .. t0 + 63 of a [rows, stride] bf16 matrix (P 64-column panels) into a tile of swizzled panels; rows outside
// [0, T) as zeros. The producer's 128 threads copy 16-byte chunks, consecutive threads along a row (coalesced).
template <int P>
DEVI void load_tile(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int T, int ptid) {
    constexpr int CPR = P * 8;  // chunks per row
#pragma unroll 4
    for (int k = 0; k < BKV * CPR / 128; k++) {
        const int i = ptid + 128 * k, r = i / CPR, c = i % CPR, t = t0 + r;
        const bool ok = (unsigned)t < (unsigned)T;
        cp_async_16(dst + (c >> 3) * PANEL + r * 128 + (((c & 7) ^ (r & 7)) << 4), ok ? g + (long)t * stride + c * 8 : g,
                    ok ? 16 : 0);
    }
}
// S^T (or dP^T) [64 keys x this warpgroup's 32 q]: A = the K (or V) tile, B = 32 rows of the Q (or dO) tile, both
// K-major; k-steps of 16 over the P panels (+32 bytes inside a panel's swizzled rows, the next panel at +8 KB).
template <int P>
DEVI void issue_st(float (&s)[16], uint32_t loA, uint32_t loB) {
#pragma unroll
    for (int kk = 0; kk < P * 4; kk++) {
        const uint32_t off = ((kk >> 2) * PANEL + (kk & 3) * 32) >> 4;
        wgmma_m64n32k16_ss<0, 0>(s, desc_of(loA + off), desc_of(loB + off), kk > 0);
    }
}
// One k-step of an N-panel accumulator (N = 1: m64n64k16, 2: m64n128k16), both operands from shared memory.
template <int N, int TA, int TB>
DEVI void mma_panels(float (&acc)[32 * N], uint64_t a, uint64_t b, int accumulate) {
    static_assert(N == 1 || N == 2, "one or two 64-column panels");
    if constexpr (N == 2) wgmma_m64n128k16_ss<TA, TB>(acc, a, b, accumulate);
    else wgmma_m64n64k16_ss<TA, TB>(acc, a, b, accumulate);
}
// acc[64 keys x N panels] += A-tile[64 keys x 64 q] (P^T or dS^T: shared, K-major, +32 bytes per 16 q) * tile[64 q x
// those panels] (MN-major: LBO = one panel, +2 KB per 16 rows).
template <int N>
DEVI void issue_acc(float (&acc)[32 * N], uint32_t loA, uint32_t loT) {
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) mma_panels<N, 0, 1>(acc, desc_of(loA + kk * 2), desc_of(loT + kk * (2048 >> 4)), 1);
}
// dQ[64 q x N panels] = dS[64 q x 64 keys] K[64 keys x those panels]: dS^T [keys][q] as A and K [keys][DQK] as B,
// both MN-major; 4 k-steps of 16 keys (+2 KB each in both).
template <int N>
DEVI void issue_dq(float (&dq)[32 * N], uint32_t loDS, uint32_t loK) {
#pragma unroll
    for (int kk = 0; kk < BKV / 16; kk++)
        mma_panels<N, 1, 1>(dq, desc_of(loDS + kk * (2048 >> 4)), desc_of(loK + kk * (2048 >> 4)), kk > 0);
}
// Rows ra, rb (< T only) of an N-panel accumulator (columns 8n + cq, +1) times f, float2 atomics into p [rows, stride].
template <int N>
DEVI void add_rows(float* p, const float (&acc)[32 * N], long stride, int ra, int rb, int cq, int T, float f) {
    float* pa = p + (long)ra * stride + cq;
    float* pb = p + (long)rb * stride + cq;
#pragma unroll
    for (int n = 0; n < 8 * N; n++) {
        if (ra < T) atomic_add2(pa + n * 8, acc[4 * n] * f, acc[4 * n + 1] * f);
        if (rb < T) atomic_add2(pb + n * 8, acc[4 * n + 2] * f, acc[4 * n + 3] * f);
    }
}
// DET (session 9; D = 128's ordered adds, wgbwd::DqTurn / ordered_begin, with 64-key blocks): K/V block x walks the
// query tiles from x (causal) or 0, so the contributors to query tile t are the blocks x <= t (causal) or all, and
// the highest adds first. The semaphores: dQ [B][Hq][ceil(T / 64)][2] (one per consumer warpgroup: their dQ panels
// are disjoint), then dK / dV [B][Hkv][ceil(T / 64)][2].
template <bool CAUSAL>
DEVI int dq_rank(int x, int qTile) { return (CAUSAL ? min((int)gridDim.x - 1, qTile) : (int)gridDim.x - 1) - x; }
DEVI int* dkv_sem(int* sem, int B, int b, int Hq, int Hkv, int hk, int T, int kvBlock, int wg) {
    return sem + 2L * B * Hq * ((T + BQ - 1) / BQ) + ((((long)b * Hkv + hk) * ((T + BKV - 1) / BKV) + kvBlock) * 2 + wg);
}
// bar.sync on this warpgroup's own barrier (2 + wg, 128 threads)
DEVI void wg_sync(int wg) { asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory"); }
}  // namespace wgbwdw

// SDQ (where the shared memory allows: MLA): dQ is staged (scaled, fp32) in shared memory after each tile, and the
// warpgroup adds it with coalesced float4 atomics once the next tile's S^T / dP^T are issued, so the adds run under
// them (D = 128's v2 step; at D = 256 no shared memory is left for it). MLA 16k causal: 265 TF/s vs 230 without.
template <int DQK, int DV, bool CAUSAL, bool SDQ = false, bool DET = false>
__device__ __forceinline__ void flash_bwd_wgmma_wide_kernel(float* __restrict__ dQ, float* __restrict__ dK,
                                                            float* __restrict__ dV, const __nv_bfloat16* __restrict__ Q,
                                                            const __nv_bfloat16* __restrict__ K,
                                                            const __nv_bfloat16* __restrict__ V,
                                                            const __nv_bfloat16* __restrict__ dO,
                                                            const float* __restrict__ LSE, const float* __restrict__ Dv,
                                                            int T, int Hq, int Hkv, float scale, int* sem = nullptr) {
    static_assert(!(DET && SDQ), "the deterministic adds are built on the unstaged dQ");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgbwdw;
    using L = Layout<DQK, DV>;
    using wgfa::fence_operand;
    extern __shared__ __align__(1024) uint8_t wgbwdw_smem[];
    __shared__ __align__(8) uint64_t bars[2 * STAGES];  // full[STAGES], empty[STAGES]
    const uint32_t sbase = (smem_u32(wgbwdw_smem) + 1023u) & ~1023u;
    uint8_t* gbase = wgbwdw_smem + (sbase - smem_u32(wgbwdw_smem));  // the same bytes, generic address
    const uint32_t sK = sbase, sV = sbase + L::OFF_V;
    auto sQ = [&](int st) { return sbase + L::OFF_Q + st * L::QT; };
    auto sdO = [&](int st) { return sbase + L::OFF_DO + st * L::VT; };
    // [buffer][P^T, dS^T] tiles of [64 keys][64 q]
    auto pOff = [&](int buf, int which) { return L::OFF_P + (2 * buf + which) * PT_BYTES; };
    float* sL = reinterpret_cast<float*>(gbase + L::OFF_L);    // [STAGES][64] LSE * log2 e (+inf past T)
    float* sDv = reinterpret_cast<float*>(gbase + L::OFF_DV);  // [STAGES][64] Dv (0 past T)
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);

    const int xb = wgbwd::det_kv_block<DET>(), kv0 = xb * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * DQK, kStride = (long)Hkv * DQK, oStride = (long)Hq * DV, vStride = (long)Hkv * DV;
    const wgbwd::QueryWalk<CAUSAL> walk(kv0, T);
    const int qStart = walk.qStart, nIter = walk.nIter;
    auto tileQ0 = [&](int i) { return walk.q0(i); };  // query tile i of this block's walk
    if (tid == 0) wgbwd::init_ring_barriers<STAGES>(fullBar, emptyBar);
    __syncthreads();

    if (warp < 4) {  // producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * DQK;
        const __nv_bfloat16* dOb = dO + (long)b * T * oStride + (long)h * DV;
        const float* Lb = LSE + ((long)b * Hq + h) * T;
        const float* Db = Dv + ((long)b * Hq + h) * T;
        wgbwd::produce<STAGES>(nIter, qStart, fullBar, emptyBar, sL, sDv, Lb, Db, T, tid, [&] {
            load_tile<L::PQ>(sK, K + (long)b * T * kStride + (long)hk * DQK, kStride, kv0, T, tid);
            load_tile<L::PV>(sV, V + (long)b * T * vStride + (long)hk * DV, vStride, kv0, T, tid);
        }, [&](int st, int q0) {
            load_tile<L::PQ>(sQ(st), Qb, qStride, q0, T, tid);
            load_tile<L::PV>(sdO(st), dOb, oStride, q0, T, tid);
        });
        return;
    }
    // consumer warpgroups 1, 2
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    const int wg = (warp >> 2) - 1, wwarp = warp & 3;
    const int rA = wwarp * 16 + (lane >> 2), rB = rA + 8;  // key rows in the tile (all 64 keys per warpgroup)
    const int kA = kv0 + rA, kB = kv0 + rB;
    const int cq = (lane & 3) * 2;  // first column of a pair
    const int qc = wg * 32;         // this warpgroup's query columns in S^T / dP^T
    const float sl = scale * 1.4426950408889634f;
    // descriptor low words (sm90::desc_lo) of the S^T / dP^T operands; stage st's are at + st * (tile bytes >> 4)
    const uint32_t loK = desc_lo(sK, 16), loV = desc_lo(sV, 16), loQ0 = desc_lo(sQ(0) + qc * 128, 16),
                   loDO0 = desc_lo(sdO(0) + qc * 128, 16);

    // The tile loop of warpgroup WG's share (Split<DQK, DV, WG>: VN, KN, QN panels from v0, k0, q0).
    auto consume = [&](auto wgTag, int v0, int k0, int q0p) {
        using S = Split<DQK, DV, decltype(wgTag)::value>;
        constexpr int VN = S::VN, KN = S::KN, QN = S::QN, VA = VN > 0 ? VN : 1;
        float dv[32 * VA], dk[32 * KN], dq[32 * QN], s[16], dp[16];
        uint32_t pa[2][4], sa[2][4];
#pragma unroll
        for (int i = 0; i < 32 * VA; i++) dv[i] = 0.f;
#pragma unroll
        for (int i = 0; i < 32 * KN; i++) dk[i] = 0.f;
        const uint32_t loQt0 = desc_lo(sQ(0) + k0 * PANEL, PANEL), loDOt0 = desc_lo(sdO(0) + v0 * PANEL, PANEL),
                       loKt = desc_lo(sK + q0p * PANEL, PANEL);
        float* dQb = dQ + (long)b * T * qStride + (long)h * DQK + q0p * 64;
        float* stg = reinterpret_cast<float*>(gbase + L::OFF_DQ) + wg * BQ * L::DQ_LD;  // SDQ: this warpgroup's dQ
        [[maybe_unused]] wgbwd::DqTurn turn;  // DET: this warpgroup leader's pending dQ hand-over
        // SDQ: tile q0's staged dQ, float4 atomics: a row of QN * 16 float4 per QN * 16 threads (coalesced), after
        // a barrier of this warpgroup's 128 threads (its staging is complete)
        auto dq_staged_atomics = [&](int q0) {
            constexpr int F4 = QN * 16, RP = 128 / F4;
            const int wtid = tid & 127, r0 = wtid / F4, c4 = (wtid % F4) * 4;
            asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory");
#pragma unroll 4
            for (int k = 0; k < BQ / RP; k++) {
                const int r = r0 + k * RP;
                if (q0 + r < T)
                    atomicAdd(reinterpret_cast<float4*>(dQb + (long)(q0 + r) * qStride + c4),
                              *reinterpret_cast<const float4*>(stg + r * L::DQ_LD + c4));
            }
        };
        for (int i = 0; i < nIter; i++) {
            const int st = i % STAGES, q0 = tileQ0(i), buf = i & 1;
            wgfa::mbar_wait(fullBar + 8 * st, (i / STAGES) & 1);
            wgfa::wg_fence();
            issue_st<L::PQ>(s, loK, loQ0 + st * (L::QT >> 4));
            wgfa::wg_commit();
            issue_st<L::PV>(dp, loV, loDO0 + st * (L::VT >> 4));
            wgfa::wg_commit();
            // the previous tile's dQ under this tile's S^T, dP^T (its staging is rewritten only after the
            // consumer barrier below, which every reader passes after its atomics)
            if (SDQ && i > 0) dq_staged_atomics(tileQ0(i - 1));
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
            if constexpr (VN > 0) issue_acc<VA>(dv, desc_lo(sbase + pOff(buf, 0), 16), loDOt0 + st * (L::VT >> 4));
            issue_acc<KN>(dk, desc_lo(sbase + pOff(buf, 1), 16), loQt0 + st * (L::QT >> 4));
            issue_dq<QN>(dq, desc_lo(sbase + pOff(buf, 1), PT_BYTES), loKt);
            wgfa::wg_commit();
            wgfa::wg_wait<0>();  // dV, dK, dQ of this tile done
#pragma unroll
            for (int j = 0; j < 32 * QN; j++) fence_operand(dq[j]);
            wgfa::mbar_arrive(emptyBar + 8 * st);  // Q, dO, LSE, Dv of this stage no longer read
            // dQ rows q0 + 16 wwarp + lane / 4 (+8), scaled: staged (SDQ) or added now. (Kept in registers and
            // added under the next tile's S^T, or S^T and dP^T, dQ made ptxas serialize the wgmmas at D = 256
            // (C7512) and spill, even with 240 registers for the consumers. float4 atomics by a lane-pair shuffle
            // measured 1 % slower there: the L2 is busy with bytes (76 %: these adds and the Q / dO tiles).)
            if constexpr (DET) {  // this warpgroup's dQ panels of tile q0 in the blocks' order
                if ((tid & 127) == 0) turn.take(wgbwd::dq_sem(sem, b, Hq, h, T, q0 / BQ, wg), dq_rank<CAUSAL>(xb, q0 / BQ));
                wg_sync(wg);
            }
            if constexpr (SDQ) {
#pragma unroll
                for (int n = 0; n < 8 * QN; n++) {
                    *reinterpret_cast<float2*>(stg + rA * L::DQ_LD + n * 8 + cq) = make_float2(dq[4 * n] * scale, dq[4 * n + 1] * scale);
                    *reinterpret_cast<float2*>(stg + rB * L::DQ_LD + n * 8 + cq) = make_float2(dq[4 * n + 2] * scale, dq[4 * n + 3] * scale);
                }
            } else {
                add_rows<QN>(dQb, dq, qStride, q0 + rA, q0 + rB, cq, T, scale);
            }
        }
        if constexpr (SDQ) dq_staged_atomics(tileQ0(nIter - 1));  // the last tile's
        if constexpr (DET) {  // the last tile's hand-over, once every thread of the warpgroup has added
            wg_sync(wg);
            if ((tid & 127) == 0) turn.publish();
        }
#pragma unroll
        for (int j = 0; j < 32 * KN; j++) fence_operand(dk[j]);
        const int G = Hq / Hkv;
        const bool ordered = DET && G > 1;  // the G query heads of a group add into this K / V block in head order
        int* semKV = ordered ? dkv_sem(sem, gridDim.z, b, Hq, Hkv, hk, T, xb, wg) : nullptr;
        const bool leader = (tid & 127) == 0;
        if (ordered) {
            if (wg == 0) wgbwd::ordered_begin<2, 128>(semKV, h % G, leader);
            else wgbwd::ordered_begin<3, 128>(semKV, h % G, leader);
        }
        add_rows<KN>(dK + (long)b * T * kStride + (long)hk * DQK + k0 * 64, dk, kStride, kA, kB, cq, T, scale);
        if constexpr (VN > 0) {
#pragma unroll
            for (int j = 0; j < 32 * VN; j++) fence_operand(dv[j]);
            add_rows<VA>(dV + (long)b * T * vStride + (long)hk * DV + v0 * 64, dv, vStride, kA, kB, cq, T, 1.f);
        }
        if (ordered) {
            if (wg == 0) wgbwd::ordered_end<2, 128>(semKV, h % G, leader);
            else wgbwd::ordered_end<3, 128>(semKV, h % G, leader);
        }
    };
    using S0 = Split<DQK, DV, 0>;
    using S1 = Split<DQK, DV, 1>;
    if constexpr (Uniform<DQK, DV>::value) {
        consume(IntC<0>{}, wg ? S1::V0 : S0::V0, wg ? S1::K0 : S0::K0, wg ? S1::Q0 : S0::Q0);
    } else if (wg == 0) {
        consume(IntC<0>{}, S0::V0, S0::K0, S0::Q0);
    } else {
        consume(IntC<1>{}, S1::V0, S1::K0, S1::Q0);
    }
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}
