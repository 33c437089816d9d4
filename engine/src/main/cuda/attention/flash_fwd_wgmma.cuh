// defines: flash_fwd_wgmma_kernel<CAUSAL> (D = 128), wgmma_debug_tile_kernel — Hopper (sm_90a) attention forward
// on wgmma ("FA3-lite"). Same contract as flash_fwd.cuh's flash_fwd_kernel:
//   Q, O [B, T, Hq, D] bf16;  K, V [B, T, Hkv, D] bf16;  LSE [B, Hq, T] fp32 natural log;  GQA head h reads KV head
//   h / (Hq / Hkv); causal aligns query t with key t; any T (ragged tails zero-filled and masked); KV heads
//   >= vShiftFrom read V at row t-1 (zeros at t = 0).
//
// Why: the mma.sync kernel (flash_fwd_hd128_causal_n128, ~300 TF/s at 16k on H100) is shared-memory-bandwidth
// bound: each of its 8 warps re-reads the whole K/V tile through ldmatrix. wgmma reads a B tile from shared memory
// once per warpgroup (64 query rows) instead of once per warp (16 rows): 4x fewer shared-memory bytes per FLOP.
//
// Design (one block = 128 query rows of one (batch, head); 256 threads = 2 consumer warpgroups x 64 rows):
// - Q tile [128 x 128] and a 3-stage ring of K/V tiles [128 keys x 128] in shared memory, each tile stored as two
//   64-column halves of 128-byte rows with the 128-byte swizzle (16-byte chunk c of row r at chunk c ^ (r & 7);
//   tiles 1024-byte aligned so the hardware's address-bit XOR matches): wgmma's canonical SW128 layout. Loaded by
//   cp.async from all 256 threads (v1; the "4t" instances copy with TMA from one thread, see TMA below);
//   fence.proxy.async after the copies land, before the barrier, makes them visible to the tensor cores.
// - S = Q K^T: 8 x wgmma m64n128k16, both operands from shared-memory descriptors (K-major; k-step = +32 bytes
//   inside the swizzled row, the next 64-column half at +16 KB; SBO = 1024 bytes = 8 rows).
// - O += P V: 8 x wgmma m64n128k16 with P as the register A operand (bf16 pairs packed from the S accumulators: the
//   accumulator and A fragment layouts coincide, as for mma.sync) and V straight from its row-major [keys, D] tile
//   as an MN-major B operand (imm-trans-b = 1; LBO = 16 KB between the two 64-wide D halves, SBO = 1024 bytes
//   between 8-key groups; k-step = 16 keys = +2 KB).
// - Overlap inside a warpgroup (FA3's intra-warpgroup pipelining): the wgmma for S(j+1) and for O += P(j) V(j) are
//   issued back to back; the softmax of S(j+1) (exp2, row max/sum) runs while O += P(j) V(j) is still on the tensor
//   cores; O is rescaled after that group retires. The two warpgroups interleave on top of that.
// - One barrier per key tile: the tile j+1 copies have landed (cp.async.wait_group 0 + fence.proxy.async) and every
//   thread has retired tile j-1's wgmmas, so the copy of tile j+2 may overwrite tile j-1's stage: one tile of lead
//   for the copies, 3 stages: 32 KB Q + 3 x 64 KB K/V + 1 KB alignment slack = 225 KB of the 227 KB opt-in limit.
// - Online softmax in base 2 with the scale folded into one FFMA; causal masking only on tiles that cross the
//   diagonal (with BM = BN, the last tile of the block) or the sequence end; longest-first causal block order.
// Builds only for sm_90a (wgmma); the other targets compile a __trap() so that loading the wrong image fails loudly.
//
// Versions (instances in hopper_kernels.cuh; measurements in docs/perf-log-wgmma.md):
//   v1 flash_fwd_wgmma_kernel: the design above, 256 threads.
//   v2 flash_fwd_wgmma2_kernel<C, false, false>: + producer warpgroup and mbarrier stages (384 threads).
//   v3 <C, true, false>: v2 + ping-pong between the consumer warpgroups.
//   v4 <C, false, true>: v2 + the softmax pinned before the P V wait + cheaper producer copies (476-497 TF/s at 16k
//      on H100; 500-513 with session 18's interior copies): shipped where TMA is off or loses (D 64's causal grid).
//   v5 <C, true, true>: v4 + ping-pong (measured 1-5% behind v4).
//   "4t" <C, false, true, WIN, PERSIST, true>: v4 with TMA copies (session 19): the one to ship at D 128 (605-618
//      TF/s at 16k causal in the lab, 607 beside cuDNN's 631 in side_by_side.py, 663 from Java).
#pragma once
#include "../common/mma.cuh"
#include "../common/wgmma.cuh"  // sm90:: descriptors, wgmma wrappers and fences, mbarriers

namespace wgfa {
using namespace sm90;
constexpr int BM = 128, BN = 128, D = 128, STAGES = 3, NTHREADS = 256;
constexpr int TILE_BYTES = 128 * D * 2;  // one 128-row x 128-column bf16 tile: 32 KB
constexpr int HALF_BYTES = 128 * 128;    // one 64-column half of it: 128 rows x 128 bytes
constexpr int SMEM_BYTES = TILE_BYTES * (1 + 2 * STAGES) + 1024;  // Q, K/V ring, slack to align the base to 1024

// Byte offset of 16-byte chunk c (0..15, i.e. columns 8c..8c+7) of row r inside a 128-row tile.
DEVI uint32_t tile_off(int r, int c) { return (c >> 3) * HALF_BYTES + r * 128 + (((c & 7) ^ (r & 7)) << 4); }

// Copies rows t0 - shift .. of a [rows, stride] bf16 matrix into a swizzled 128-row tile; rows outside [0, T) as
// zeros. 16 threads per 256-byte row: coalesced 16-byte copies.
DEVI void load_tile(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int shift, int T, int tid) {
#pragma unroll
    for (int k = 0; k < 128 * 16 / NTHREADS; k++) {
        const int i = tid + k * NTHREADS, r = i >> 4, c = i & 15, t = t0 + r - shift;
        const bool ok = t >= 0 && t < T;
        cp_async_16(dst + tile_off(r, c), ok ? g + (long)t * stride + c * 8 : g, ok ? 16 : 0);
    }
}

// S = Q K^T for this warpgroup's 64 rows: 8 k-steps of 16 over D = 128.
DEVI void issue_qk(float (&s)[64], uint32_t sQwg, uint32_t sK) {
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t off = (kk >> 2) * HALF_BYTES + (kk & 3) * 32;
        wgmma_m64n128k16_ss<0, 0>(s, make_desc(sQwg + off, 16, 1024), make_desc(sK + off, 16, 1024), kk > 0);
    }
    wg_commit();
}
// O += P V: 8 k-steps of 16 keys.
DEVI void issue_pv(float (&o)[64], const uint32_t (&p)[BN / 16][4], uint32_t sV) {
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) wgmma_m64n128k16_rs_tb(o, p[kk], make_desc(sV + kk * 16 * 128, HALF_BYTES, 1024));
    wg_commit();
}
DEVI void pack_p(uint32_t (&p)[BN / 16][4], const float (&s)[64]) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        p[kk][0] = pack_bf16(s[8 * kk + 0], s[8 * kk + 1]);
        p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
        p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
        p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
    }
}
}  // namespace wgfa

template <bool CAUSAL>
__device__ __forceinline__ void flash_fwd_wgmma_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ LSE,
                                                       const __nv_bfloat16* __restrict__ Q,
                                                       const __nv_bfloat16* __restrict__ K,
                                                       const __nv_bfloat16* __restrict__ V, int T, int Hq, int Hkv,
                                                       int vShiftFrom, float scale) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgfa;
    extern __shared__ __align__(1024) uint8_t wgfa_smem[];
    const uint32_t sbase = (smem_u32(wgfa_smem) + 1023u) & ~1023u;
    const uint32_t sQ = sbase;
    auto sK = [&](int st) { return sbase + TILE_BYTES * (1 + 2 * st); };
    auto sV = [&](int st) { return sbase + TILE_BYTES * (2 + 2 * st); };

    const int tile = gridDim.x - 1 - blockIdx.x;  // longest causal blocks first
    const int q0 = tile * BM, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, wg = tid >> 7, wwarp = (tid >> 5) & 3, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
    const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
    const int vShift = hk >= vShiftFrom ? 1 : 0;
    const int nTilesAll = (T + BN - 1) / BN;
    const int nTiles = CAUSAL ? min(nTilesAll, (q0 + BM + BN - 1) / BN) : nTilesAll;

    auto load_kv = [&](int j) {
        if (j < nTiles) {
            load_tile(sK(j % STAGES), Kb, kStride, j * BN, 0, T, tid);
            load_tile(sV(j % STAGES), Vb, kStride, j * BN, vShift, T, tid);
        }
        cp_async_commit();  // empty groups too: the wait counts below stay uniform
    };
    load_tile(sQ, Qb, qStride, q0, 0, T, tid);
    load_kv(0);
    load_kv(1);
    cp_async_wait<1>();
    fence_proxy_async();
    __syncthreads();

    const uint32_t sQwg = sQ + wg * 64 * 128;  // this warpgroup's 64 rows (8 KB into each half)
    const int wrow0 = q0 + wg * 64 + wwarp * 16;  // first query row of this warp
    const int rowA = wrow0 + (lane >> 2), rowB = rowA + 8;
    const float scaleLog2 = scale * 1.4426950408889634f;
    float s[64], o[64];
    uint32_t p[BN / 16][4];
    float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f}, corr[2];
#pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;

    // Tile j's scores in s (raw) -> probabilities exp2(s * scale*log2e - m) in place; running max / sum updated,
    // corr = the factor O must be rescaled by before P(j) V(j) is added.
    auto softmax = [&](int j) {
#pragma unroll
        for (int i = 0; i < 64; i++) fence_operand(s[i]);
        const int k0 = j * BN;
        const bool needMask = CAUSAL ? (k0 + BN - 1 > wrow0) : (k0 + BN > T);
        if (needMask) {
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
                const int c = k0 + nt * 8 + (lane & 3) * 2;
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int col = c + (e & 1), row = e < 2 ? rowA : rowB;
                    if (CAUSAL ? col > row : col >= T) s[nt * 4 + e] = -INFINITY;
                }
            }
        }
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt * 4 + 0], s[nt * 4 + 1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nt * 4 + 2], s[nt * 4 + 3]));
        }
        float base[2], sum[2] = {0.f, 0.f};
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
            mx[r] = fmaxf(mRow[r], mx[r] * scaleLog2);
            base[r] = mx[r] == -INFINITY ? 0.f : mx[r];
            corr[r] = fast_exp2(mRow[r] - base[r]);
            mRow[r] = mx[r];
        }
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            s[nt * 4 + 0] = fast_exp2(fmaf(s[nt * 4 + 0], scaleLog2, -base[0]));
            s[nt * 4 + 1] = fast_exp2(fmaf(s[nt * 4 + 1], scaleLog2, -base[0]));
            s[nt * 4 + 2] = fast_exp2(fmaf(s[nt * 4 + 2], scaleLog2, -base[1]));
            s[nt * 4 + 3] = fast_exp2(fmaf(s[nt * 4 + 3], scaleLog2, -base[1]));
            sum[0] += s[nt * 4 + 0] + s[nt * 4 + 1];
            sum[1] += s[nt * 4 + 2] + s[nt * 4 + 3];
        }
        lRow[0] = lRow[0] * corr[0] + sum[0];
        lRow[1] = lRow[1] * corr[1] + sum[1];
    };

    issue_qk(s, sQwg, sK(0));
    wg_wait<0>();
    softmax(0);
    // Steady state (straight-line, no conditional wgmma: ptxas then keeps the two groups in flight).
    for (int j = 0; j + 1 < nTiles; j++) {
        cp_async_wait<0>();   // tile j+1 has landed (this thread's copies) ...
        fence_proxy_async();  // ... and is visible to the tensor cores
        __syncthreads();      // everyone's copies; everyone retired tile j-1, whose stage the next copy reuses
        load_kv(j + 2);
        pack_p(p, s);
        issue_qk(s, sQwg, sK((j + 1) % STAGES));
        issue_pv(o, p, sV(j % STAGES));
        wg_wait<1>();  // S(j+1) done; P(j) V(j) still runs during this softmax
        softmax(j + 1);
        wg_wait<0>();
#pragma unroll
        for (int i = 0; i < 64; i++) fence_operand(o[i]);
#pragma unroll
        for (int i = 0; i < 64; i += 4) {
            o[i] *= corr[0]; o[i + 1] *= corr[0];
            o[i + 2] *= corr[1]; o[i + 3] *= corr[1];
        }
    }
    pack_p(p, s);
    issue_pv(o, p, sV((nTiles - 1) % STAGES));
    wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; i++) fence_operand(o[i]);

    __nv_bfloat16* Ob = O + (long)b * T * qStride + (long)h * D;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 1);
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 2);
    }
    const float inv0 = lRow[0] > 0.f ? 1.f / lRow[0] : 0.f, inv1 = lRow[1] > 0.f ? 1.f / lRow[1] : 0.f;
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) {
        const int c = dt * 8 + (lane & 3) * 2;
        if (rowA < T) *reinterpret_cast<uint32_t*>(Ob + rowA * qStride + c) = pack_bf16(o[dt * 4] * inv0, o[dt * 4 + 1] * inv0);
        if (rowB < T) *reinterpret_cast<uint32_t*>(Ob + rowB * qStride + c) = pack_bf16(o[dt * 4 + 2] * inv1, o[dt * 4 + 3] * inv1);
    }
    if ((lane & 3) == 0 && LSE != nullptr) {
        float* L = LSE + ((long)b * Hq + h) * T;
        if (rowA < T) L[rowA] = (mRow[0] + log2f(lRow[0])) * 0.6931471805599453f;
        if (rowB < T) L[rowB] = (mRow[1] + log2f(lRow[1])) * 0.6931471805599453f;
    }
#else
    __trap();  // wgmma needs the sm_90a image
#endif
}

// ---------------------------------------------------------------------------------------------------------------
// v2: a producer warpgroup. Block = 384 threads: warpgroup 0 copies Q and the K/V tiles with cp.async and hands
// each tile over through an mbarrier ("full": 128 producer arrivals; each producer thread waits for its own
// copies, then fence.proxy.async, then arrives = release) and gets the stage back through another ("empty": 256
// consumer arrivals after that tile's wgmmas retired); warpgroups 1-2 are the consumers (64 query rows each). No
// block-wide barrier in the loop: the two consumer warpgroups are free to drift apart, so one's softmax can run
// under the other's wgmmas (v1's per-tile __syncthreads kept them in lockstep: both softmaxes at once, tensor cores
// idle). Registers: the 384-thread cap is 168; setmaxnreg gives the producer 56 and the consumers 224 (per SM
// sub-partition one warp of each warpgroup: 56 + 2 x 224 <= 512 per thread slot; 40 / 232 spilled in v4). (A
// single producer warp, 288 threads, caps at 168: one sub-partition then holds 3 of the 9 warps; it spilled and
// serialized the wgmmas.)
namespace wgfa {
constexpr int NTHREADS2 = 384;
// The producer warpgroup's 128-row tile copy (2048 chunks over 128 threads).
DEVI void load_tile_wg(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int shift, int T, int ptid) {
#pragma unroll 4
    for (int k = 0; k < 128 * 16 / 128; k++) {
        const int i = ptid + k * 128, r = i >> 4, c = i & 15, t = t0 + r - shift;
        const bool ok = t >= 0 && t < T;
        cp_async_16(dst + tile_off(r, c), ok ? g + (long)t * stride + c * 8 : g, ok ? 16 : 0);
    }
}
// v4's copy: a thread keeps one 16-byte column chunk c and rows r0 + 8k, so the swizzled shared-memory offset
// ((c & 7) ^ (r & 7)) is the same for all its 16 rows: one add per copy instead of v2's per-copy index math (the
// ncu source view of v2 showed the producer's SEL/IMAD/SHF chains among the most-sampled instructions). Tiles wholly
// inside [0, T) skip the row checks and the zero-fill operand (session 18: the producer's instruction stream is on
// the kernel's path; call 7's A/B measured 1-9 % for a few more instructions per tile; call 8: this gained 3-10 % at
// D 128, 0-6 % at D 64).
// INTERIOR: the interior tiles' fast path (the forward's; session 18 call 8 measured the backward, which copies its
// resident K / V once per block, 1-3 % slower with it, so the backward keeps the checked copies).
template <bool INTERIOR = true>
DEVI void load_tile_wg_fast(uint32_t dst, const __nv_bfloat16* g, long stride, int t0, int shift, int T, int ptid) {
    const int r0 = ptid >> 4, c = ptid & 15;
    const uint32_t d0 = dst + tile_off(r0, c);
    const int tb = t0 + r0 - shift;
    const __nv_bfloat16* gp = g + (long)tb * stride + c * 8;
    const long step = 8 * stride;
    if (INTERIOR && t0 - shift >= 0 && t0 - shift + 128 <= T) {  // the whole tile inside the sequence: no row checks
#pragma unroll 4
        for (int k = 0; k < 16; k++) cp_async_16_all(d0 + k * 8 * 128, gp + k * step);
        return;
    }
#pragma unroll 4
    for (int k = 0; k < 16; k++) {
        const int t = tb + 8 * k;
        const bool ok = (unsigned)t < (unsigned)T;
        cp_async_16(d0 + k * 8 * 128, ok ? gp + k * step : g, ok ? 16 : 0);
    }
}
// The TMA instances' tensor maps (TMA): 4-D maps over Q [B, T, Hq, D] and K, V [B, T, Hkv, D] with 64-column x
// 128-row boxes and the 128-byte swizzle (CudaTensorMaps), one box per half of a tile; generic addresses of the
// kernel's __grid_constant__ parameters.
struct FwdMaps {
    const TmaMap *q, *k, *v;
};
// The (query tile, head) items a forward block computes (batch blockIdx.z). Not persistent: one item, from the grid
// (query tiles, Hq, B), longest causal tiles first (the hardware deals the blocks to SMs as they free up, head by
// head). Persistent (the "4p" instances): grid (P, 1, B), block x takes one item per round of P from the
// longest-first order over all heads (item i: query tile nQ - 1 - i / Hq, head i % Hq), the deal reversed every
// other round so that a static deal of decreasing causal lengths evens out across the blocks.
// Where it pays (session 18, docs/perf-log.md and perf-log-wgmma.md "Session 18"): short items, whose block start
// (the first Q and K/V copies, parameter loads, exit) a persistent block hides under the previous item: causal up to
// 8k (4k: 1.16-1.24x at D 64, 1.27x at D 128) and sliding windows up to 2048 (W 512: 1.2-1.3x at D 64). Long items
// lose (16k-64k causal 0.83-1.0x) for a reason not found: not the static deal (a dynamic one, dealt from an atomic
// counter in the grid's order, lost too), not the tile loop's code. CudaKernels.persistentForward picks.
template <bool PERSIST>
struct FwdWalk {
    int nQ, Hq;
    __device__ FwdWalk(int nQ_, int Hq_) : nQ(nQ_), Hq(Hq_) {}
    DEVI int item(int n) const {
        const int P = gridDim.x, x = blockIdx.x;
        return n * P + ((n & 1) ? P - 1 - x : x);
    }
    DEVI bool valid(int n) const { return PERSIST ? item(n) < nQ * Hq : n == 0; }
    DEVI int tile(int n) const { return PERSIST ? nQ - 1 - item(n) / Hq : (int)(gridDim.x - 1 - blockIdx.x); }
    DEVI int head(int n) const { return PERSIST ? item(n) % Hq : (int)blockIdx.y; }
};
// The TMA producer's walk (thread 0 of the producer warpgroup; both head dims' TMA instances): per K/V tile of each
// item, wait for the stage's release, raise its full barrier's transaction bytes and issue the copies: the item's Q
// (first tile only, after the previous item's last Q K^T: qEmpty) and the K tile at k0, the V tile at k0 - vShift,
// HALVES 64-column boxes each (16 KB apart). Stage st's K at sK0 + 2 st kvBytes, its V kvBytes after. (Shared, unlike
// the cp.async walk: one thread issues a few instructions per tile here, and it compiles to the same bytes as when it
// was written out per kernel.)
template <bool PERSIST, int STAGES, int HALVES, class FirstTile, class Tiles>
DEVI void produce_tma_walk(const FwdWalk<PERSIST>& walk, FirstTile first_tile, Tiles tiles, const FwdMaps& maps,
                           uint32_t fullBar, uint32_t emptyBar, uint32_t qEmptyBar, uint32_t sQ, uint32_t sK0,
                           uint32_t qBytes, uint32_t kvBytes, int Hq, int Hkv, int vShiftFrom, int b) {
    tma_prefetch_map(maps.q);
    tma_prefetch_map(maps.k);
    tma_prefetch_map(maps.v);
    int g = 0;
    for (int n = 0; walk.valid(n); n++) {
        const int q0 = walk.tile(n) * BM, h = walk.head(n), hk = h / (Hq / Hkv);
        const int j0 = first_tile(q0), nTiles = tiles(q0);
        const int vShift = hk >= vShiftFrom ? 1 : 0;
        for (int j = 0; j < nTiles; j++) {
            const int st = (g + j) % STAGES, k0 = (j0 + j) * BN;
            const uint32_t full = fullBar + 8 * st, sK = sK0 + st * 2 * kvBytes, sV = sK + kvBytes;
            if (g + j >= STAGES) mbar_wait(emptyBar + 8 * st, (((g + j) / STAGES) - 1) & 1);
            if (j == 0) {
                if (PERSIST && n > 0) mbar_wait(qEmptyBar, (n - 1) & 1);
                mbar_arrive_expect_tx(full, qBytes + 2 * kvBytes);
#pragma unroll
                for (int hf = 0; hf < HALVES; hf++) tma_load_4d(sQ + hf * HALF_BYTES, maps.q, full, 64 * hf, h, q0, b);
            } else {
                mbar_arrive_expect_tx(full, 2 * kvBytes);
            }
#pragma unroll
            for (int hf = 0; hf < HALVES; hf++) tma_load_4d(sK + hf * HALF_BYTES, maps.k, full, 64 * hf, hk, k0, b);
#pragma unroll
            for (int hf = 0; hf < HALVES; hf++) tma_load_4d(sV + hf * HALF_BYTES, maps.v, full, 64 * hf, hk, k0 - vShift, b);
        }
        g += nTiles;
    }
}
// PIN (v4+): the results pass through empty volatile asm at the end, meant to keep the softmax above the following
// wgmma.wait_group 0 (in v2's SASS, ncu's source view shows WARPGROUP.DEPBAR.LE gsb0, 0x0 and the empty-barrier
// arrive right after the first FMNMX: the softmax waited for P(j) V(j) instead of overlapping it). Found after
// measuring: the PTX already has the whole softmax between wait_group 1 and wait_group 0 in v2 and v4 alike, and
// empty asm emits no PTX, so this pin cannot reach ptxas, whose scheduler made the move; v4's gain is its copy
// change. Kept because it is free; the real fix (e.g. the arrive moved later, checked in the SASS) is still open.
// WIN (the "_swa" instances, causal only): a sliding window of `window` keys, query t sees keys t - window < s <= t
// (SoftmaxCore's window, ovq.md section 4); the tiles that cross its lower edge are masked as well.
template <bool CAUSAL, bool PIN = false, bool WIN = false>
DEVI void softmax_tile(float (&s)[64], float (&mRow)[2], float (&lRow)[2], float (&corr)[2], int k0, int wrow0,
                       int rowA, int rowB, int T, int lane, float scaleLog2, int window = 0) {
    static_assert(!WIN || CAUSAL, "a sliding window is causal");
#pragma unroll
    for (int i = 0; i < 64; i++) fence_operand(s[i]);
    const bool needMask = CAUSAL ? (k0 + BN - 1 > wrow0 || (WIN && k0 + window <= wrow0 + 15)) : (k0 + BN > T);
    if (needMask) {
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            const int c = k0 + nt * 8 + (lane & 3) * 2;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int col = c + (e & 1), row = e < 2 ? rowA : rowB;
                if (CAUSAL ? (col > row || (WIN && col <= row - window)) : col >= T) s[nt * 4 + e] = -INFINITY;
            }
        }
    }
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < BN / 8; nt++) {
        mx[0] = fmaxf(mx[0], fmaxf(s[nt * 4 + 0], s[nt * 4 + 1]));
        mx[1] = fmaxf(mx[1], fmaxf(s[nt * 4 + 2], s[nt * 4 + 3]));
    }
    float base[2], sum[2] = {0.f, 0.f};
#pragma unroll
    for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
        mx[r] = fmaxf(mRow[r], mx[r] * scaleLog2);
        base[r] = mx[r] == -INFINITY ? 0.f : mx[r];
        corr[r] = fast_exp2(mRow[r] - base[r]);
        mRow[r] = mx[r];
    }
#pragma unroll
    for (int nt = 0; nt < BN / 8; nt++) {
        s[nt * 4 + 0] = fast_exp2(fmaf(s[nt * 4 + 0], scaleLog2, -base[0]));
        s[nt * 4 + 1] = fast_exp2(fmaf(s[nt * 4 + 1], scaleLog2, -base[0]));
        s[nt * 4 + 2] = fast_exp2(fmaf(s[nt * 4 + 2], scaleLog2, -base[1]));
        s[nt * 4 + 3] = fast_exp2(fmaf(s[nt * 4 + 3], scaleLog2, -base[1]));
        sum[0] += s[nt * 4 + 0] + s[nt * 4 + 1];
        sum[1] += s[nt * 4 + 2] + s[nt * 4 + 3];
    }
    lRow[0] = lRow[0] * corr[0] + sum[0];
    lRow[1] = lRow[1] * corr[1] + sum[1];
    if (PIN) {
#pragma unroll
        for (int i = 0; i < 64; i++) fence_operand(s[i]);
        fence_operand(lRow[0]); fence_operand(lRow[1]);
        fence_operand(mRow[0]); fence_operand(mRow[1]);
        fence_operand(corr[0]); fence_operand(corr[1]);
    }
}
}  // namespace wgfa

// PINGPONG (v3): the two consumer warpgroups take turns issuing their wgmmas (FA3's warp scheduler barriers:
// named barriers 1 and 2, 256 threads each: a warpgroup waits on its own, issues, then arrives on the other's), so
// that one warpgroup's softmax runs while the other's products occupy the tensor cores.
// V4: PIN + load_tile_wg_fast.
// The softmax between the two waits does NOT run under P(j) V(j): ptxas schedules the wait (WARPGROUP.DEPBAR.LE
// gsb0, 0x0, no inputs) four FMNMX into the softmax block, before all 66 MUFU.EX2 (cuobjdump, session 7). Forcing it
// behind the softmax (a wait on both sides of a branch on the row sums) made the kernel 8-14 % slower, and the other
// ways tried (the stage release deferred, v6: 20 % slower; a wgmma.fence first; P packed into fresh registers first;
// a one-sided wait) were hoisted with it or serialized the wgmmas: docs/perf-log-wgmma.md, "Session 7".
// WIN (V4 only): sliding-window attention over the last `window` keys (softmax_tile); the block walks only the key
// tiles from its first row's window start, j0, to the diagonal.
// PERSIST (V4 only): persistent blocks (FwdWalk: grid (P, 1, B), each block walks several (query tile, head) items);
// the K/V ring and its barrier phases run on across items, and the next item's Q waits only for the last Q K^T of
// the current one (qEmpty), so its copies overlap the current item's last tile and epilogue.
// TMA (V4 only; the "4t" instances): one producer thread copies Q and the K/V tiles with TMA (cp.async.bulk.tensor,
// FwdMaps) instead of 128 threads with cp.async: a full barrier completes on one arrival plus the tiles' transaction
// bytes; rows outside [0, T) (a shifted V's row -1 included) land as TMA's zeros, so the bits are v4's. Registers 24
// producer / 224 consumer (session 19 call 2: 1.18-1.21x v4; with 240 for the consumers only 1.04-1.12x).
template <bool CAUSAL, bool PINGPONG = false, bool V4 = false, bool WIN = false, bool PERSIST = false, bool TMA = false>
__device__ __forceinline__ void flash_fwd_wgmma2_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ LSE,
                                                        const __nv_bfloat16* __restrict__ Q,
                                                        const __nv_bfloat16* __restrict__ K,
                                                        const __nv_bfloat16* __restrict__ V, int T, int Hq, int Hkv,
                                                        int vShiftFrom, float scale,
                                                        __nv_bfloat16* __restrict__ Olo = nullptr, int window = 0,
                                                        wgfa::FwdMaps maps = {}) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgfa;
    static_assert(!WIN || (CAUSAL && V4 && !PINGPONG), "the windowed instances are v4's, causal");
    static_assert(!TMA || (V4 && !PINGPONG), "the TMA instances are v4's");
    static_assert(!PERSIST || (V4 && !PINGPONG), "the persistent instances are v4's");
    extern __shared__ __align__(1024) uint8_t wgfa_smem[];
    __shared__ __align__(8) uint64_t bars[2 * STAGES + PERSIST];  // full[0..2], empty[0..2], qEmpty
    const uint32_t sbase = (smem_u32(wgfa_smem) + 1023u) & ~1023u;
    const uint32_t sQ = sbase;
    auto sK = [&](int st) { return sbase + TILE_BYTES * (1 + 2 * st); };
    auto sV = [&](int st) { return sbase + TILE_BYTES * (2 + 2 * st); };
    const uint32_t fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);
    const uint32_t qEmptyBar = PERSIST ? smem_u32(&bars[2 * STAGES]) : 0;  // (bars has it only if PERSIST)

    const int b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const int nTilesAll = (T + BN - 1) / BN;
    const FwdWalk<PERSIST> walk((T + BM - 1) / BM, Hq);
    // tiles j0 .. j0 + nTiles - 1 of item (tile, h); the loops count from 0 (g + j: ring stage and phase)
    auto first_tile = [&](int q0) { return WIN ? max(0, q0 - window + 1) / BN : 0; };
    auto tiles = [&](int q0) { return (CAUSAL ? min(nTilesAll, (q0 + BM + BN - 1) / BN) : nTilesAll) - first_tile(q0); };
    if (tid == 0) {
        for (int i = 0; i < STAGES; i++) {
            mbar_init(fullBar + 8 * i, TMA ? 1 : 128);
            mbar_init(emptyBar + 8 * i, 256);
        }
        if (PERSIST) mbar_init(qEmptyBar, 256);
    }
    __syncthreads();

    if (TMA && warp < 4) {  // producer warpgroup, one thread of it issuing TMA copies
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
        if (tid == 0)
            produce_tma_walk<PERSIST, STAGES, 2>(walk, first_tile, tiles, maps, fullBar, emptyBar, qEmptyBar, sQ, sK(0),
                                                 TILE_BYTES, TILE_BYTES, Hq, Hkv, vShiftFrom, b);
    } else if (warp < 4) {  // producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
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
                if (j == 0) {
                    if (PERSIST && n > 0) mbar_wait(qEmptyBar, (n - 1) & 1);  // the last item's last Q K^T retired
                    (V4 ? load_tile_wg_fast<> : load_tile_wg)(sQ, Qb, qStride, q0, 0, T, tid);
                }
                (V4 ? load_tile_wg_fast<> : load_tile_wg)(sK(st), Kb, kStride, (j0 + j) * BN, 0, T, tid);
                (V4 ? load_tile_wg_fast<> : load_tile_wg)(sV(st), Vb, kStride, (j0 + j) * BN, vShift, T, tid);
                cp_async_commit();
                cp_async_wait<0>();
                fence_proxy_async();
                mbar_arrive(fullBar + 8 * st);
            }
            g += nTiles;
        }
    } else {  // consumer warpgroups 1, 2
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int wg = (warp >> 2) - 1, wwarp = warp & 3;
    // turn-taking: wait for my turn / hand the turn to the other warpgroup (named barrier ids 1 + wg)
    auto my_turn = [&]() {
        if (PINGPONG) asm volatile("bar.sync %0, 256;\n" ::"r"(1 + wg) : "memory");
    };
    auto your_turn = [&]() {
        if (PINGPONG) asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - wg) : "memory");
    };
    if (wg == 1) your_turn();  // warpgroup 0 issues first
    const uint32_t sQwg = sQ + wg * 64 * 128;
    const float scaleLog2 = scale * 1.4426950408889634f;
    int g = 0;
    for (int n = 0; walk.valid(n); n++) {
    const int q0 = walk.tile(n) * BM, h = walk.head(n);
    const int j0 = first_tile(q0), nTiles = tiles(q0);
    const int wrow0 = q0 + wg * 64 + wwarp * 16;
    const int rowA = wrow0 + (lane >> 2), rowB = rowA + 8;
    float s[64], o[64];
    uint32_t p[BN / 16][4];
    float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f}, corr[2];
#pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;

    mbar_wait(fullBar + 8 * (g % STAGES), (g / STAGES) & 1);
    if (!TMA) fence_proxy_async();
    my_turn();
    issue_qk(s, sQwg, sK(g % STAGES));
    your_turn();
    wg_wait<0>();
    if (PERSIST && nTiles == 1) mbar_arrive(qEmptyBar);  // Q no longer read: the next item's may land
    softmax_tile<CAUSAL, V4, WIN>(s, mRow, lRow, corr, j0 * BN, wrow0, rowA, rowB, T, lane, scaleLog2, window);
    for (int j = 0; j + 1 < nTiles; j++) {
        const int st = (g + j) % STAGES, st1 = (g + j + 1) % STAGES;
        mbar_wait(fullBar + 8 * st1, ((g + j + 1) / STAGES) & 1);
        if (!TMA) fence_proxy_async();
        pack_p(p, s);
        my_turn();
        issue_qk(s, sQwg, sK(st1));
        issue_pv(o, p, sV(st));
        your_turn();
        wg_wait<1>();  // S(j+1) done; P(j) V(j) still runs during this softmax
        if (PERSIST && j + 2 == nTiles) mbar_arrive(qEmptyBar);
        softmax_tile<CAUSAL, V4, WIN>(s, mRow, lRow, corr, (j0 + j + 1) * BN, wrow0, rowA, rowB, T, lane, scaleLog2,
                                      window);
        wg_wait<0>();
#pragma unroll
        for (int i = 0; i < 64; i++) fence_operand(o[i]);
        mbar_arrive(emptyBar + 8 * st);  // K(j), V(j) no longer read by this warpgroup
#pragma unroll
        for (int i = 0; i < 64; i += 4) {
            o[i] *= corr[0]; o[i + 1] *= corr[0];
            o[i + 2] *= corr[1]; o[i + 3] *= corr[1];
        }
    }
    pack_p(p, s);
    my_turn();
    issue_pv(o, p, sV((g + nTiles - 1) % STAGES));
    if (wg == 0) your_turn();  // warpgroup 1's last turn is not handed back: no arrival left pending at exit
    wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; i++) fence_operand(o[i]);
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

// Debug: one 128 x 128 tile. S = Q K^T (fp32) and O = bf16(S) V (fp32), Q/K/V [128, 128] bf16 row-major; checks the
// descriptors of both products in isolation (bench/check_wgmma.py runs it first).
__device__ __forceinline__ void wgmma_debug_tile_kernel(float* S, float* Ot, const __nv_bfloat16* Q,
                                                        const __nv_bfloat16* K, const __nv_bfloat16* V) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wgfa;
    extern __shared__ __align__(1024) uint8_t wgfa_smem[];
    const uint32_t sbase = (smem_u32(wgfa_smem) + 1023u) & ~1023u;
    const int tid = threadIdx.x, wg = tid >> 7, wwarp = (tid >> 5) & 3, lane = tid & 31;
    load_tile(sbase, Q, 128, 0, 0, 128, tid);
    load_tile(sbase + TILE_BYTES, K, 128, 0, 0, 128, tid);
    load_tile(sbase + 2 * TILE_BYTES, V, 128, 0, 0, 128, tid);
    cp_async_commit();
    cp_async_wait<0>();
    fence_proxy_async();
    __syncthreads();
    float s[64], o[64];
    uint32_t p[BN / 16][4];
#pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    issue_qk(s, sbase + wg * 64 * 128, sbase + TILE_BYTES);
    wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; i++) fence_operand(s[i]);
    pack_p(p, s);
    issue_pv(o, p, sbase + 2 * TILE_BYTES);
    wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; i++) fence_operand(o[i]);
    const int rowA = wg * 64 + wwarp * 16 + (lane >> 2);
#pragma unroll
    for (int nt = 0; nt < 16; nt++) {
        const int c = nt * 8 + (lane & 3) * 2;
        S[rowA * 128 + c] = s[nt * 4];
        S[rowA * 128 + c + 1] = s[nt * 4 + 1];
        S[(rowA + 8) * 128 + c] = s[nt * 4 + 2];
        S[(rowA + 8) * 128 + c + 1] = s[nt * 4 + 3];
        Ot[rowA * 128 + c] = o[nt * 4];
        Ot[rowA * 128 + c + 1] = o[nt * 4 + 1];
        Ot[(rowA + 8) * 128 + c] = o[nt * 4 + 2];
        Ot[(rowA + 8) * 128 + c + 1] = o[nt * 4 + 3];
    }
#else
    __trap();
#endif
}
