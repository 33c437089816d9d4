// defines: flash_fwd_wgmma64_kernel<CAUSAL, NWG, STAGES> — the Hopper (sm_90a) wgmma attention forward v4
// (attention/flash_fwd_wgmma.cuh, flash_fwd_wgmma2_kernel<C, false, true>) at head dim D = 64. Same contract as
// flash_fwd_hd64*: Q, O [B, T, Hq, 64] bf16; K, V [B, T, Hkv, 64] bf16; LSE [B, Hq, T] fp32 natural log; GQA head h
// reads KV head h / (Hq / Hkv); causal aligns query t with key t; any T; KV heads >= vShiftFrom read V at row t-1;
// Olo (optional): O's rounding residual bf16(O - bf16(O)) (the training "_lo" instance).
//
// What changes from D = 128 (the rest is v4: a producer warpgroup copying with cp.async and handing stages over
// through full / empty mbarriers, consumer warpgroups of 64 query rows issuing S(j+1) = Q K^T and O += P(j) V(j)
// back to back and running the softmax of S(j+1) under P(j) V(j)):
// - a 64-column bf16 row is exactly one 128-byte swizzled panel: tiles are [rows x 128 bytes] with 16-byte chunk c
//   of row r at chunk c ^ (r & 7) (the SW128 canonical layout), no second half;
// - S = Q K^T: 4 k-steps of m64n128k16 (BN = 128 keys); O += P V: 8 k-steps of m64n64k16 (P from registers, V an
//   MN-major operand whose N = 64 is one swizzle atom wide, so its LBO is never used);
// - a K/V stage is 32 KB instead of 64 KB: STAGES stages fit (4 = 144 KB with NWG = 2);
// - NWG consumer warpgroups: BM = 64 * NWG query rows per block (2: 128 rows as at D = 128; 3: 192 rows, FA3's
//   tile at D = 64, registers 32 producer / 160 consumer).
// The D = 128 kernels are untouched (this file shares only wgfa::softmax_tile / pack_p, BN = 128 for both).
#pragma once
#include "flash_fwd_wgmma.cuh"

namespace wgfa64 {
using namespace sm90;
constexpr int D = 64, BN = 128, ROWB = 128;  // ROWB: bytes per tile row (one swizzle panel)
constexpr int KV_BYTES = BN * ROWB;           // one K or V tile: 16 KB
template <int NWG, int STAGES>
struct Cfg {
    static constexpr int BM = 64 * NWG, NTHREADS = 128 * (NWG + 1);
    static constexpr int Q_BYTES = BM * ROWB;
    static constexpr int SMEM_BYTES = Q_BYTES + 2 * KV_BYTES * STAGES + 1024;  // + slack to align the base to 1024
};

// The producer warpgroup's copy of ROWS rows (a multiple of 16): a thread keeps one 16-byte chunk c and rows
// r0 + 16k, so the swizzled offset ((c ^ (r & 7)) << 4) is the same for all of them (v4's cheap copy); tiles wholly
// inside [0, T) without the row checks where INTERIOR (the forward; wgfa::load_tile_wg_fast). UNROLL: 4
// with 56 producer registers (NWG = 2); 2 with 32 (NWG = 3: unrolled by 4 it spilled 8 bytes).
template <int ROWS, int UNROLL, bool INTERIOR = true>
DEVI void load_rows(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int shift, int T, int ptid) {
    const int r0 = ptid >> 3, c = ptid & 7;
    const uint32_t d0 = dst + r0 * ROWB + ((c ^ (r0 & 7)) << 4);
    const int tb = t0 + r0 - shift;
    const __nv_bfloat16* gp = g + (long)tb * stride + c * 8;
    const long step = 16 * stride;
    if (INTERIOR && t0 - shift >= 0 && t0 - shift + ROWS <= T) {  // the whole tile inside the sequence: no row checks
#pragma unroll UNROLL
        for (int k = 0; k < ROWS / 16; k++) cp_async_16_all(d0 + k * 16 * ROWB, gp + k * step);
        return;
    }
#pragma unroll UNROLL
    for (int k = 0; k < ROWS / 16; k++) {
        const int t = tb + 16 * k;
        const bool ok = (unsigned)t < (unsigned)T;
        cp_async_16(d0 + k * 16 * ROWB, ok ? gp + k * step : g, ok ? 16 : 0);
    }
}
// S = Q K^T for this warpgroup's 64 rows: 4 k-steps of 16 over D = 64 (+32 bytes inside the swizzled row).
DEVI void issue_qk(float (&s)[64], uint32_t sQwg, uint32_t sK) {
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        wgmma_m64n128k16_ss<0, 0>(s, make_desc(sQwg + kk * 32, 16, 1024), make_desc(sK + kk * 32, 16, 1024), kk > 0);
    wg_commit();
}
// O += P V: 8 k-steps of 16 keys (+2 KB each); SBO = 1024 bytes between 8-key groups.
DEVI void issue_pv(float (&o)[32], const uint32_t (&p)[BN / 16][4], uint32_t sV) {
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) wgmma_m64n64k16_rs_tb(o, p[kk], make_desc(sV + kk * 16 * ROWB, KV_BYTES, 1024));
    wg_commit();
}
}  // namespace wgfa64

// WIN: sliding-window attention over the last `window` keys, as flash_fwd_wgmma2_kernel's.
// PERSIST: persistent blocks (wgfa::FwdWalk: grid (P, 1, B), each block walks several (query tile, head) items);
// the K/V ring and its barrier phases run on across items, the next item's Q waits only for the last Q K^T of the
// current one (qEmpty), so its copies overlap the current item's last tile and epilogue.
// TMA (NWG = 2): one producer thread copies with TMA (wgfa::FwdMaps; one 64-column box is a whole row here), as the
// D = 128 kernel's TMA instances do.
template <bool CAUSAL, int NWG, int STAGES, bool WIN = false, bool PERSIST = false, bool TMA = false>
__device__ __forceinline__ void flash_fwd_wgmma64_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ LSE,
                                                         const __nv_bfloat16* __restrict__ Q,
                                                         const __nv_bfloat16* __restrict__ K,
                                                         const __nv_bfloat16* __restrict__ V, int T, int Hq, int Hkv,
                                                         int vShiftFrom, float scale,
                                                         __nv_bfloat16* __restrict__ Olo = nullptr, int window = 0,
                                                         wgfa::FwdMaps maps = {}) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgfa64;
    static_assert(!WIN || CAUSAL, "a sliding window is causal");
    static_assert(!TMA || NWG == 2, "the TMA instances: 128-row blocks (the maps' boxes)");
    using C = Cfg<NWG, STAGES>;
    constexpr int BM = C::BM;
    extern __shared__ __align__(1024) uint8_t wgfa_smem[];
    __shared__ __align__(8) uint64_t bars[2 * STAGES + PERSIST];  // full[0..STAGES), empty[0..STAGES), qEmpty
    const uint32_t sbase = (smem_u32(wgfa_smem) + 1023u) & ~1023u;
    const uint32_t sQ = sbase;
    auto sK = [&](int st) { return sbase + C::Q_BYTES + KV_BYTES * (2 * st); };
    auto sV = [&](int st) { return sbase + C::Q_BYTES + KV_BYTES * (2 * st + 1); };
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);
    const uint32_t qEmptyBar = PERSIST ? smem_u32(&bars[2 * STAGES]) : 0;  // (bars has it only if PERSIST)

    const int b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const int nTilesAll = (T + BN - 1) / BN;
    const wgfa::FwdWalk<PERSIST> walk((T + BM - 1) / BM, Hq);
    // tiles j0 .. j0 + nTiles - 1 of item (tile, h); the loops count from 0 (g + j: ring stage and phase)
    auto first_tile = [&](int q0) { return WIN ? max(0, q0 - window + 1) / BN : 0; };
    auto tiles = [&](int q0) { return (CAUSAL ? min(nTilesAll, (q0 + BM + BN - 1) / BN) : nTilesAll) - first_tile(q0); };
    if (tid == 0) {
        for (int i = 0; i < STAGES; i++) {
            mbar_init(fullBar + 8 * i, TMA ? 1 : 128);
            mbar_init(emptyBar + 8 * i, 128 * NWG);
        }
        if (PERSIST) mbar_init(qEmptyBar, 128 * NWG);
    }
    __syncthreads();

    if (TMA && warp < 4) {  // producer warpgroup, one thread of it issuing TMA copies
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
        if (tid == 0)
            wgfa::produce_tma_walk<PERSIST, STAGES, 1>(walk, first_tile, tiles, maps, fullBar, emptyBar, qEmptyBar, sQ,
                                                       sK(0), C::Q_BYTES, KV_BYTES, Hq, Hkv, vShiftFrom, b);
    } else if (warp < 4) {  // producer warpgroup
        if (NWG == 2) asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
        else asm volatile("setmaxnreg.dec.sync.aligned.u32 32;\n" ::: "memory");
        // (This walk is written out in both head dims' kernels on purpose: shared through lambdas, with the item's
        // pointers recomputed per tile, every forward ran 1-9 % slower; session 18 call 7.)
        int g = 0;  // K/V tiles walked by this block before the current item
        for (int n = 0; walk.valid(n); n++) {
            const int q0 = walk.tile(n) * BM, h = walk.head(n), hk = h / (Hq / Hkv);
            const int j0 = first_tile(q0), nTiles = tiles(q0);
            const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
            const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
            const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
            const int vShift = hk >= vShiftFrom ? 1 : 0;
            for (int j = 0; j < nTiles; j++) {
                const int st = (g + j) % STAGES;
                if (g + j >= STAGES) mbar_wait(emptyBar + 8 * st, (((g + j) / STAGES) - 1) & 1);
                constexpr int U = NWG == 2 ? 4 : 2;
                if (j == 0) {
                    if (PERSIST && n > 0) mbar_wait(qEmptyBar, (n - 1) & 1);  // the last item's last Q K^T retired
                    load_rows<BM, U>(sQ, Qb, qStride, q0, 0, T, tid);
                }
                load_rows<BN, U>(sK(st), Kb, kStride, (j0 + j) * BN, 0, T, tid);
                load_rows<BN, U>(sV(st), Vb, kStride, (j0 + j) * BN, vShift, T, tid);
                cp_async_commit();
                cp_async_wait<0>();
                fence_proxy_async();
                mbar_arrive(fullBar + 8 * st);
            }
            g += nTiles;
        }
    } else {  // consumer warpgroups
    if (NWG == 2) asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n" ::: "memory");
    const int wg = (warp >> 2) - 1, wwarp = warp & 3;
    const uint32_t sQwg = sQ + wg * 64 * ROWB;
    const float scaleLog2 = scale * 1.4426950408889634f;
    int g = 0;
    for (int n = 0; walk.valid(n); n++) {
    const int q0 = walk.tile(n) * BM, h = walk.head(n);
    const int j0 = first_tile(q0), nTiles = tiles(q0);
    const int wrow0 = q0 + wg * 64 + wwarp * 16;
    const int rowA = wrow0 + (lane >> 2), rowB = rowA + 8;
    float s[64], o[32];
    uint32_t p[BN / 16][4];
    float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f}, corr[2];
#pragma unroll
    for (int i = 0; i < 32; i++) o[i] = 0.f;

    mbar_wait(fullBar + 8 * (g % STAGES), (g / STAGES) & 1);
    if (!TMA) fence_proxy_async();
    issue_qk(s, sQwg, sK(g % STAGES));
    wg_wait<0>();
    if (PERSIST && nTiles == 1) mbar_arrive(qEmptyBar);  // Q no longer read: the next item's may land
    wgfa::softmax_tile<CAUSAL, true, WIN>(s, mRow, lRow, corr, j0 * BN, wrow0, rowA, rowB, T, lane, scaleLog2, window);
    for (int j = 0; j + 1 < nTiles; j++) {
        const int st = (g + j) % STAGES, st1 = (g + j + 1) % STAGES;
        mbar_wait(fullBar + 8 * st1, ((g + j + 1) / STAGES) & 1);
        if (!TMA) fence_proxy_async();
        wgfa::pack_p(p, s);
        issue_qk(s, sQwg, sK(st1));
        issue_pv(o, p, sV(st));
        wg_wait<1>();  // S(j+1) done; P(j) V(j) still runs during this softmax
        if (PERSIST && j + 2 == nTiles) mbar_arrive(qEmptyBar);
        wgfa::softmax_tile<CAUSAL, true, WIN>(s, mRow, lRow, corr, (j0 + j + 1) * BN, wrow0, rowA, rowB, T, lane,
                                              scaleLog2, window);
        wg_wait<0>();
#pragma unroll
        for (int i = 0; i < 32; i++) fence_operand(o[i]);
        mbar_arrive(emptyBar + 8 * st);  // K(j), V(j) no longer read by this warpgroup
#pragma unroll
        for (int i = 0; i < 32; i += 4) {
            o[i] *= corr[0]; o[i + 1] *= corr[0];
            o[i + 2] *= corr[1]; o[i + 3] *= corr[1];
        }
    }
    wgfa::pack_p(p, s);
    issue_pv(o, p, sV((g + nTiles - 1) % STAGES));
    wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 32; i++) fence_operand(o[i]);
    if (PERSIST) mbar_arrive(emptyBar + 8 * ((g + nTiles - 1) % STAGES));  // the ring runs on into the next item
    g += nTiles;

    __nv_bfloat16* Ob = O + (long)b * T * qStride + (long)h * D;
    __nv_bfloat16* Olb = Olo != nullptr ? Olo + (long)b * T * qStride + (long)h * D : nullptr;  // O's residual
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 1);
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 2);
    }
    const float inv0 = lRow[0] > 0.f ? 1.f / lRow[0] : 0.f, inv1 = lRow[1] > 0.f ? 1.f / lRow[1] : 0.f;
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) {
        const int c = dt * 8 + (lane & 3) * 2;
        if (rowA < T) store_bf16x2_split(Ob, Olb, rowA * qStride + c, o[dt * 4] * inv0, o[dt * 4 + 1] * inv0);
        if (rowB < T) store_bf16x2_split(Ob, Olb, rowB * qStride + c, o[dt * 4 + 2] * inv1, o[dt * 4 + 3] * inv1);
    }
    if ((lane & 3) == 0 && LSE != nullptr) {
        float* L = LSE + ((long)b * Hq + h) * T;
        if (rowA < T) L[rowA] = (mRow[0] + log2f(lRow[0])) * 0.6931471805599453f;
        if (rowB < T) L[rowB] = (mRow[1] + log2f(lRow[1])) * 0.6931471805599453f;
    }
    }  // items
    }  // consumers
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}
