// defines: decode_splitkv_kernel<D, G> + decode_combine_kernel<D> (v2, batched) and decode_kernel<D, G, NW, NST>
// (v3, few blocks' worth of KV heads) — one new query token over a KV cache, split-KV.
//
// Letters: B batch, L tokens in the cache, Tmax cache capacity, Hq query heads, Hkv KV heads, G = Hq / Hkv,
// S splits of the sequence (gridDim.x), NW warps per block, NST cp.async stages.
//   Q [B, Hq, D] bf16; Kc, Vc [B, Tmax, Hkv, D] bf16 (the prefill layout, so prefill fills it in place);
//   partO [B, Hq, S, D] fp32 (unnormalised), partML [B, Hq, S, 2] fp32 (running max in log2 units, sum);
//   O [B, Hq, D] bf16; v3 only: counters [B * Hkv] int32, zero before the first launch, left zero by each launch.
// Memory-bound: every K/V byte is read once per KV head (all G query heads of a group share the block that reads
// it). v2: 16-byte register loads, four keys in flight per row group, a second tiny kernel merges the S chunks
// (log-sum-exp). It reaches 105-129% of copy bandwidth once B x Hkv fills the SMs with many blocks, but at batch 1
// with 2-4 KV heads an SM has only ~16-32 KB in flight and every block runs a chain of dependent load rounds, and
// the combine kernel adds a launch and its own latency chain (34-57% of copy bandwidth).
// v3 streams each chunk through an NST-deep cp.async ring in shared memory (NST tiles of K and V issued before the
// first is read), loads q while they fly, and the last block of each (b, KV head) to finish (an atomic counter it
// resets) merges the S partials: one launch. Session 4: where the grid is co-resident every block merges a slice
// instead (SPIN, below). It wins at batch 1 with few KV heads and loses 5-20% where v2's many
// 4-warp blocks hide the G >= 4 ALU work better (decode lab, docs/perf-log.md "Decode v3"): CudaBackend.decodeSplit
// picks per shape.
#pragma once
#include "../common/mma.cuh"
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

namespace decode {
constexpr int NWARPS = 4, NTHREADS = NWARPS * 32, UNROLL = 4;
}

template <int D, int G>
__device__ __forceinline__ void decode_splitkv_kernel(float* __restrict__ partO, float* __restrict__ partML, const __nv_bfloat16* __restrict__ Q,
                      const __nv_bfloat16* __restrict__ Kc, const __nv_bfloat16* __restrict__ Vc, int L, int Tmax,
                      int Hkv, int chunk, float scale) {
    using namespace decode;
    constexpr int LPR = D / 8;          // lanes per key row (8 bf16 each)
    constexpr int RPW = 32 / LPR;       // key rows per warp per pass
    constexpr int RPB = RPW * NWARPS;   // key rows per block per pass
    const int split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, nSplit = gridDim.x;
    const int Hq = Hkv * G;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, sub = lane % LPR, grp = lane / LPR;
    const int start = split * chunk, end = min(L, start + chunk);

    float q[G][8];
    const float sl = scale * 1.4426950408889634f;
#pragma unroll
    for (int g = 0; g < G; g++) {
        uint4 raw = *reinterpret_cast<const uint4*>(Q + ((long)b * Hq + hk * G + g) * D + sub * 8);
        const __nv_bfloat16* e = reinterpret_cast<const __nv_bfloat16*>(&raw);
#pragma unroll
        for (int i = 0; i < 8; i++) q[g][i] = __bfloat162float(e[i]) * sl;
    }
    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
    }
    const long rowStride = (long)Hkv * D;
    const __nv_bfloat16* Kb = Kc + (long)b * Tmax * rowStride + hk * D + sub * 8;
    const __nv_bfloat16* Vb = Vc + (long)b * Tmax * rowStride + hk * D + sub * 8;

    // The trip count is uniform over the block so that every lane reaches the full-warp shuffles.
    for (int base = start; base < end; base += RPB * UNROLL) {
        uint4 kr[UNROLL], vr[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            int t = base + u * RPB + warp * RPW + grp;
            kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
            if (t < end) {
                kr[u] = __ldg(reinterpret_cast<const uint4*>(Kb + t * rowStride));
                vr[u] = __ldg(reinterpret_cast<const uint4*>(Vb + t * rowStride));
            }
        }
        // Scores of the UNROLL keys first, then one online-softmax update per head for all of them: one
        // rescale of the accumulators per UNROLL keys instead of per key (G >= 4 was ALU-bound in v1).
        float sc[UNROLL][G];
        bool valid[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            valid[u] = base + u * RPB + warp * RPW + grp < end;
            const __nv_bfloat16* ke = reinterpret_cast<const __nv_bfloat16*>(&kr[u]);
            float kf[8];
#pragma unroll
            for (int i = 0; i < 8; i++) kf[i] = __bfloat162float(ke[i]);
#pragma unroll
            for (int g = 0; g < G; g++) {
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < 8; i++) s += q[g][i] * kf[i];
#pragma unroll
                for (int off = LPR / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffff, s, off);
                sc[u][g] = valid[u] ? s : -INFINITY;
            }
        }
        float vf[UNROLL][8];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            const __nv_bfloat16* ve = reinterpret_cast<const __nv_bfloat16*>(&vr[u]);
#pragma unroll
            for (int i = 0; i < 8; i++) vf[u][i] = __bfloat162float(ve[i]);
        }
#pragma unroll
        for (int g = 0; g < G; g++) {
            float mx = m[g];
#pragma unroll
            for (int u = 0; u < UNROLL; u++) mx = fmaxf(mx, sc[u][g]);
            if (mx == -INFINITY) continue;  // nothing valid yet in this row group
            float c = exp2f(m[g] - mx), p[UNROLL], ps = 0.f;
#pragma unroll
            for (int u = 0; u < UNROLL; u++) { p[u] = exp2f(sc[u][g] - mx); ps += p[u]; }
            m[g] = mx;
            l[g] = l[g] * c + ps;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                float a = acc[g][i] * c;
#pragma unroll
                for (int u = 0; u < UNROLL; u++) a += p[u] * vf[u][i];
                acc[g][i] = a;
            }
        }
    }
    // Merge the row groups of this warp (lanes differing by multiples of LPR), then the warps via smem.
#pragma unroll
    for (int off = LPR; off < 32; off <<= 1) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            float mo = __shfl_xor_sync(0xffffffff, m[g], off), lo = __shfl_xor_sync(0xffffffff, l[g], off);
            float mn = fmaxf(m[g], mo);
            float ca = mn == -INFINITY ? 0.f : exp2f(m[g] - mn), cb = mn == -INFINITY ? 0.f : exp2f(mo - mn);
            l[g] = l[g] * ca + lo * cb;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                float ao = __shfl_xor_sync(0xffffffff, acc[g][i], off);
                acc[g][i] = acc[g][i] * ca + ao * cb;
            }
            m[g] = mn;
        }
    }
    __shared__ float sM[NWARPS][G], sL[NWARPS][G];
    __shared__ float sAcc[NWARPS][G][D];
    if (grp == 0) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (sub == 0) { sM[warp][g] = m[g]; sL[warp][g] = l[g]; }
#pragma unroll
            for (int i = 0; i < 8; i++) sAcc[warp][g][sub * 8 + i] = acc[g][i];
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < G * D; idx += NTHREADS) {
        int g = idx / D, d = idx % D;
        float mx = -INFINITY;
        for (int w = 0; w < NWARPS; w++) mx = fmaxf(mx, sM[w][g]);
        float a = 0.f, ls = 0.f;
        for (int w = 0; w < NWARPS; w++) {
            float c = mx == -INFINITY ? 0.f : exp2f(sM[w][g] - mx);
            a += sAcc[w][g][d] * c;
            ls += sL[w][g] * c;
        }
        long row = ((long)b * Hq + hk * G + g) * nSplit + split;
        partO[row * D + d] = a;
        if (d == 0) { partML[row * 2] = mx; partML[row * 2 + 1] = ls; }
    }
}

// grid (Hq, B), D threads: merge the S partial results of each head.
template <int D>
__device__ __forceinline__ void decode_combine_kernel(__nv_bfloat16* __restrict__ O, const float* __restrict__ partO,
                                      const float* __restrict__ partML, int Hq, int nSplit) {
    const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
    const long row0 = ((long)b * Hq + h) * nSplit;
    float mx = -INFINITY;
    for (int s = 0; s < nSplit; s++) mx = fmaxf(mx, partML[(row0 + s) * 2]);
    float a = 0.f, ls = 0.f;
    for (int s = 0; s < nSplit; s++) {
        float ms = partML[(row0 + s) * 2];
        float c = ms == -INFINITY ? 0.f : exp2f(ms - mx);
        a += partO[(row0 + s) * D + d] * c;
        ls += partML[(row0 + s) * 2 + 1] * c;
    }
    O[((long)b * Hq + h) * D + d] = __float2bfloat16(ls > 0.f ? a / ls : 0.f);
}

// ---------------------------------------------------------------- v3
namespace dec {
constexpr int UNROLL = 4;  // passes of RPB keys per tile: one online-softmax rescale per UNROLL keys
// Keys per tile: (32 / (D / 8)) rows per warp pass x NW warps x UNROLL passes (= 1024 NW / D).
template <int D, int NW> __host__ __device__ constexpr int tile_keys() { return (256 / D) * NW * UNROLL; }
// Where the shipped v3 / SPIN instances take decode_kernel's tensor-core path (MMA): 2-8 query heads per KV head
// (one m16 row block), every D (D = 256 with two warps per 8 keys, mma_halves). Session 9 (docs/perf-log.md): batch 1, L2-cold, D = 128 16k 16q/4kv 18.5 -> 17.0
// us, 8q/2kv 12.7 -> 11.4, 64k -2.3 to -3.5 us; D = 64 -1.1 to -2.7 us; G = 1 on it ran the same as without
// (15 of its 16 rows idle), so G = 1 keeps the CUDA-core loop.
template <int D, int G> __host__ __device__ constexpr bool tensor_cores() { return G >= 2 && G <= 8; }
// The tensor-core path's warps per key group: at D = 256 a tile's 32 keys are 4 per warp, less than one n8 block, so
// two warps share 8 keys and each accumulates half of O's columns (the block merge then has NW / 2 partial states).
template <int D, int NW> __host__ __device__ constexpr int mma_halves() { return tile_keys<D, NW>() / NW < 8 ? 2 : 1; }
constexpr int MAX_SPLITS = 256, MAX_CLUSTER = 16;  // the combine keeps 2 x G x S floats of the split maxima and sums in shared memory
__host__ __device__ constexpr int cmax(int a, int b) { return a > b ? a : b; }
// Column of element `col` of head row g in a [slot][G][D] state of the block merge: the 8-float blocks XOR-swizzled
// by the head (D >= 32), so that the tensor-core path's float2 stores (lanes of 4 heads at the same columns) hit 4
// different banks instead of one (4-way conflicts, Nsight Compute session 10), while runs of 8 stay contiguous for
// the merge's vector loads.
__device__ __forceinline__ int acc_col(int g, int col) { return col ^ ((g & 3) << 3); }
template <int VEC> __device__ __forceinline__ void acc_load(float (&x)[VEC], const float* p) {
    if constexpr (VEC == 4) {
        const float4 t = *reinterpret_cast<const float4*>(p);
        x[0] = t.x; x[1] = t.y; x[2] = t.z; x[3] = t.w;
    } else if constexpr (VEC == 2) {
        const float2 t = *reinterpret_cast<const float2*>(p);
        x[0] = t.x; x[1] = t.y;
    } else {
        x[0] = *p;
    }
}
template <int VEC> __device__ __forceinline__ void acc_store(float* p, const float (&x)[VEC]) {
    if constexpr (VEC == 4) *reinterpret_cast<float4*>(p) = make_float4(x[0], x[1], x[2], x[3]);
    else if constexpr (VEC == 2) *reinterpret_cast<float2*>(p) = make_float2(x[0], x[1]);
    else *p = x[0];
}
// Dynamic shared memory of a launch (CudaKernels.decodeSmem): the ring (K and V tiles), which the block's merge
// ([NW][G][D] + 2 [NW][G] floats, then the block's result [G][D] + 2 [G]) and the combine ([2][G][S] + [G]
// floats, [NT] float4) reuse; the cluster leader's weights and sums take G (CL + 2) floats more.
template <int D, int G, int NW, int NST> __host__ __device__ constexpr int smem_bytes() {
    return cmax(NST * tile_keys<D, NW>() * D * 2 * 2,
                cmax(((NW + 1) * (D + 2) + MAX_CLUSTER + 2) * G * 4, (2 * G * MAX_SPLITS + G) * 4 + 16 + NW * 32 * 16));
}
}

// CL > 1: launched in clusters of CL consecutive splits (__cluster_dims__(CL, 1, 1), S a multiple of CL); each
// cluster merges its CL block results through distributed shared memory into one partial, so the last block's
// combine reads S / CL partials instead of S (the combine of S = 64 partials of 4 heads was ~4 us at batch 1).
// SPIN (session 4, Idea A): instead of the last block merging all S partials alone, every block, once all S
// blocks of its (b, KV head) have written their partials, merges a slice of the G x D/4 float4 columns itself.
// SPIN = 1: a fence, an arrival counter every block spins on, a departure counter whose last block resets both.
// SPIN = 2 (shipped in sessions 4-10, now the labs'): thread 0 arrives with an acq_rel atomic; the last to arrive
// resets the counter and releases a per-group epoch (read at the kernel's start) that the others acquire: no fence,
// no departure, 0.3-0.4 us less than SPIN = 1. counters then hold 2 ints per (b, KV head): {arrivals, departures} or
// {arrivals, epoch}; zero before the first launch; SPIN = 2 leaves the epoch counting, so its counters are not
// shared with SPIN = 0 launches.
// SPIN = 3 (shipped since session 11): the same 2 ints as one 64-bit counter (common/mma.cuh group_arrive_share): the
// arrivals' shares sum to 2^32, the others watch the counter itself; no reset, no epoch: one round trip fewer
// (batch 1: 0.3-0.6 us less at D = 64 / 128).
// Deadlock-free ONLY where the whole grid is co-resident: the launcher checks the occupancy (CudaBackend
// .decodeSpinFits) and uses SPIN = 0 otherwise.
// PDL (session 4): launched as a programmatic dependent of the kernel that writes q and the new cache row L - 1:
// the tiles wholly before row L - 1 are issued before griddepcontrol.wait (the old cache was written by kernels
// that completed before that producer began), q and the tiles holding row L - 1 after it. Without a programmatic
// launch the wait returns at once. Lab only (kernels-dev/decode_floor.cu): on the session-4 H100 no dependent ever
// started before its primary ended, eager or in a graph (docs/perf-log.md "Session 4, dec"), so nothing ships it.
DEVI void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
DEVI void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
// Lab only (kernels-dev/decode_floor.cu defines DECODE_TRACE): thread 0 of each block stamps %globaltimer and
// clock64 at the kernel's milestones into dec_trace[block][16]; the shipped build compiles DTRACE to nothing.
#ifdef DECODE_TRACE
__device__ unsigned long long dec_trace[4096 * 16];
#define DTRACE(k)                                                                                           \
    do {                                                                                                    \
        if (threadIdx.x == 0) {                                                                             \
            unsigned long long t_;                                                                          \
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_));                                         \
            const long i_ = (blockIdx.x + (long)gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z)) * 16;  \
            dec_trace[i_ + 2 * (k)] = t_;                                                                   \
            dec_trace[i_ + 2 * (k) + 1] = clock64();                                                        \
        }                                                                                                   \
    } while (0)
#else
#define DTRACE(k) do {} while (0)
#endif
template <int D, int G, int NW, int NST, int CL = 1, int SPIN = 0, bool PDL = false, bool MMA = false>
__device__ __forceinline__ void decode_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ partO,
                                              float* __restrict__ partML, int* __restrict__ counters,
                                              const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ Kc,
                                              const __nv_bfloat16* __restrict__ Vc, int L, int Tmax, int Hkv, int chunk,
                                              float scale) {
    using namespace dec;
    static_assert(CL >= 1 && CL <= MAX_CLUSTER, "cluster size");
    constexpr int NT = NW * 32;
    constexpr int LPR = D / 8;         // lanes per key row (8 bf16 each)
    constexpr int RPW = 32 / LPR;      // key rows per warp per pass
    constexpr int RPB = RPW * NW;      // key rows per block per pass
    constexpr int TK = RPB * UNROLL;   // keys per tile
    constexpr int CPT = TK * LPR / NT; // 16-byte copies per thread per tile, per tensor
    static_assert(CPT * NT == TK * LPR, "tile copies must divide over the block");
    extern __shared__ __align__(16) unsigned char dsmem[];
    __nv_bfloat16* ring = reinterpret_cast<__nv_bfloat16*>(dsmem);  // [NST][K, V][TK][D]

    DTRACE(0);  // start
    const int split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, nSplit = gridDim.x;
    const int Hq = Hkv * G;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, sub = lane % LPR, grp = lane / LPR;
    const int start = split * chunk, end = min(L, start + chunk);
    // >= 1 where CL = 1 (the launcher makes S = ceil(L / chunk)); with clusters S is rounded up to a multiple of CL
    // and trailing splits may be empty (m = -inf, l = 0: weight 0 in every merge).
    const int nTiles = end > start ? (end - start + TK - 1) / TK : 0;
    const long rowStride = (long)Hkv * D;
    const __nv_bfloat16* Kb = Kc + (long)b * Tmax * rowStride + hk * D;
    const __nv_bfloat16* Vb = Vc + (long)b * Tmax * rowStride + hk * D;

    // Tile `tile` of this chunk into stage tile % NST; rows past the chunk end are zero-filled (src size 0).
    auto issue = [&](int tile) {
        __nv_bfloat16* ks = ring + (tile % NST) * 2 * TK * D;
        __nv_bfloat16* vs = ks + TK * D;
        const int t0 = start + tile * TK;
#pragma unroll
        for (int j = 0; j < CPT; j++) {
            const int c = tid + j * NT, r = c / LPR, col = c % LPR, t = t0 + r;
            const bool ok = t < end;
            const long off = (long)(ok ? t : start) * rowStride + col * 8;
            const int sc = MMA ? col ^ (r & 7) : col;  // the tensor-core path's swizzle
            cp_async_16(smem_u32(ks + r * D + sc * 8), Kb + off, ok ? 16 : 0);
            cp_async_16(smem_u32(vs + r * D + sc * 8), Vb + off, ok ? 16 : 0);
        }
    };
    // SPIN == 2: this group's release epoch, read while the first tiles fly (it moves only once every block of
    // the group, this one included, has arrived, so the value read here is this launch's).
    int epoch0 = 0;
    if constexpr (SPIN == 2) {
        if (tid == 0 && nSplit > 1) epoch0 = ld_relaxed_gpu(counters + 2 * (b * Hkv + hk) + 1);
    }
    int pre = 0;  // tiles issued before griddepcontrol.wait (PDL): only those wholly before row L - 1
    if constexpr (PDL) {
#pragma unroll
        for (int s = 0; s < NST - 1; s++) {
            if (s < nTiles && start + (s + 1) * TK <= L - 1 && pre == s) {
                issue(s);
                cp_async_commit();
                pre++;
            }
        }
        griddep_wait();
    }
#pragma unroll
    for (int s = 0; s < NST - 1; s++) {
        if (s < pre) continue;
        if (s < nTiles) issue(s);
        cp_async_commit();
    }

    float* sAcc = reinterpret_cast<float*>(dsmem);  // [NW][G][D], columns swizzled by acc_col
    float* sM = sAcc + NW * G * D;                  // [NW][G]
    float* sL = sM + NW * G;                        // [NW][G]
    if constexpr (MMA) {
        // Tensor-core path (session 9): per warp and tile, S [16, KPW] = Q K^T on m16n8k16 with the G heads as the
        // rows (zero above G), then O [16, D] += P V on m16n8k8 with P taken from S's accumulators (FA2's register
        // reuse). The ring is XOR-swizzled (chunk c of key row r at c ^ (r & 7)) so that ldmatrix reads conflict-free.
        static_assert(G <= 8, "the tensor-core decode: up to 8 heads per group (rows r0 < 8 of one m16 "
                      "block), D <= 128 (a warp takes TK / NW = 1024 / D keys of a tile: at least one n8 block)");
        constexpr int HALVES = mma_halves<D, NW>(), KPW = TK * HALVES / NW, NB = KPW / 8, KS = D / 16, DB = D / 8 / HALVES;
        const int kw = warp % (NW / HALVES), j0 = (warp / (NW / HALVES)) * DB;  // key group; first n8 block of O
        static_assert(KPW % 8 == 0 && KS % 2 == 0 && DB % 4 == 0, "warp tile");
        const int r0 = lane >> 2, c2 = (lane & 3) * 2;
        uint32_t qa[KS][2];  // the A fragment's rows r0 (< 8) at k c2 and c2 + 8; rows r0 + 8 are zero
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            qa[kk][0] = qa[kk][1] = 0u;
            if (r0 < G) {
                const __nv_bfloat16* qp = Q + ((long)b * Hq + hk * G + r0) * D + kk * 16 + c2;
                qa[kk][0] = __ldg(reinterpret_cast<const unsigned int*>(qp));
                qa[kk][1] = __ldg(reinterpret_cast<const unsigned int*>(qp + 8));
            }
        }
        const float sl = scale * 1.4426950408889634f;
        float o[DB][4];
#pragma unroll
        for (int j = 0; j < DB; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
        float mr = -INFINITY, lr = 0.f;  // row r0: running max (log2 units), this thread's part of the sum
        for (int it = 0; it < nTiles; it++) {
            if (it + NST - 1 < nTiles) issue(it + NST - 1);
            cp_async_commit();
            cp_async_wait<NST - 1>();
            __syncthreads();
            if (it == 0) DTRACE(1);
            const __nv_bfloat16* ks = ring + (it % NST) * 2 * TK * D;
            const __nv_bfloat16* vs = ks + TK * D;
            const int base = start + it * TK + kw * KPW;
            float sc[NB][4];
#pragma unroll
            for (int nb = 0; nb < NB; nb++) {
                sc[nb][0] = sc[nb][1] = sc[nb][2] = sc[nb][3] = 0.f;
                const int kr = kw * KPW + nb * 8 + (lane & 7);
#pragma unroll
                for (int kk = 0; kk < KS; kk += 2) {
                    uint32_t b0, b1, b2, b3;
                    ldmatrix_x4(b0, b1, b2, b3, smem_u32(ks + kr * D + (((2 * kk + (lane >> 3)) ^ (kr & 7)) * 8)));
                    const uint32_t a0[4] = {qa[kk][0], 0u, qa[kk][1], 0u}, a1[4] = {qa[kk + 1][0], 0u, qa[kk + 1][1], 0u};
                    mma_bf16_16816(sc[nb], a0, b0, b1);
                    mma_bf16_16816(sc[nb], a1, b2, b3);
                }
            }
            float mx = mr;
#pragma unroll
            for (int nb = 0; nb < NB; nb++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    sc[nb][e] = base + nb * 8 + c2 + e < end ? sc[nb][e] * sl : -INFINITY;
                    mx = fmaxf(mx, sc[nb][e]);
                }
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
            const float bm = mx == -INFINITY ? 0.f : mx, corr = exp2f(mr - bm);
            mr = mx;
            float ps = 0.f;
#pragma unroll
            for (int nb = 0; nb < NB; nb++) {
                sc[nb][0] = exp2f(sc[nb][0] - bm);
                sc[nb][1] = exp2f(sc[nb][1] - bm);
                ps += sc[nb][0] + sc[nb][1];
            }
            lr = lr * corr + ps;
#pragma unroll
            for (int j = 0; j < DB; j++) { o[j][0] *= corr; o[j][1] *= corr; }
#pragma unroll
            for (int nb = 0; nb < NB; nb++) {
                const uint32_t pa[2] = {pack_bf16(sc[nb][0], sc[nb][1]), 0u};
                const int vr = kw * KPW + nb * 8 + (lane & 7);
#pragma unroll
                for (int j = 0; j < DB; j += 4) {
                    uint32_t v0, v1, v2, v3;
                    ldmatrix_x4_trans(v0, v1, v2, v3, smem_u32(vs + vr * D + (((j0 + j + (lane >> 3)) ^ (vr & 7)) * 8)));
                    mma_bf16_1688(o[j], pa, v0);
                    mma_bf16_1688(o[j + 1], pa, v1);
                    mma_bf16_1688(o[j + 2], pa, v2);
                    mma_bf16_1688(o[j + 3], pa, v3);
                }
            }
            __syncthreads();  // every warp is done with this stage before the next iteration refills it
        }
        cp_async_wait<0>();  // only empty groups remain; the ring is reused below
        DTRACE(2);
        lr += __shfl_xor_sync(0xffffffff, lr, 1);
        lr += __shfl_xor_sync(0xffffffff, lr, 2);
        if (r0 < G) {
#pragma unroll
            for (int j = 0; j < DB; j++)
                *reinterpret_cast<float2*>(sAcc + (kw * G + r0) * D + acc_col(r0, (j0 + j) * 8 + c2)) =
                    make_float2(o[j][0], o[j][1]);
            // both halves of a key group computed the same m and l: the first writes them
            if ((lane & 3) == 0 && j0 == 0) { sM[kw * G + r0] = mr; sL[kw * G + r0] = lr; }
        }
    } else {
        // q while the first tiles are in flight.
        float q[G][8];
        const float sl = scale * 1.4426950408889634f;
    #pragma unroll
        for (int g = 0; g < G; g++) {
            uint4 raw = __ldg(reinterpret_cast<const uint4*>(Q + ((long)b * Hq + hk * G + g) * D + sub * 8));
            const __nv_bfloat16* e = reinterpret_cast<const __nv_bfloat16*>(&raw);
    #pragma unroll
            for (int i = 0; i < 8; i++) q[g][i] = __bfloat162float(e[i]) * sl;
        }
        float m[G], l[G], acc[G][8];
    #pragma unroll
        for (int g = 0; g < G; g++) {
            m[g] = -INFINITY; l[g] = 0.f;
    #pragma unroll
            for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
        }

        // NST - 1 tiles ahead of the one being read; the trip count is uniform over the block (full-warp shuffles).
        for (int it = 0; it < nTiles; it++) {
            if (it + NST - 1 < nTiles) issue(it + NST - 1);
            cp_async_commit();
            cp_async_wait<NST - 1>();
            __syncthreads();
            if (it == 0) DTRACE(1);  // the first tile is in shared memory
            const __nv_bfloat16* ks = ring + (it % NST) * 2 * TK * D;
            const __nv_bfloat16* vs = ks + TK * D;
            const int base = start + it * TK;
            // Scores of the UNROLL keys first, then one online-softmax update per head for all of them.
            float sc[UNROLL][G];
    #pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                const int r = u * RPB + warp * RPW + grp;
                const bool valid = base + r < end;
                uint4 kr = *reinterpret_cast<const uint4*>(ks + r * D + sub * 8);
                const __nv_bfloat16* ke = reinterpret_cast<const __nv_bfloat16*>(&kr);
                float kf[8];
    #pragma unroll
                for (int i = 0; i < 8; i++) kf[i] = __bfloat162float(ke[i]);
    #pragma unroll
                for (int g = 0; g < G; g++) {
                    float s = 0.f;
    #pragma unroll
                    for (int i = 0; i < 8; i++) s += q[g][i] * kf[i];
    #pragma unroll
                    for (int off = LPR / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffff, s, off);
                    sc[u][g] = valid ? s : -INFINITY;
                }
            }
            float vf[UNROLL][8];
    #pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                const int r = u * RPB + warp * RPW + grp;
                uint4 vr = *reinterpret_cast<const uint4*>(vs + r * D + sub * 8);
                const __nv_bfloat16* ve = reinterpret_cast<const __nv_bfloat16*>(&vr);
    #pragma unroll
                for (int i = 0; i < 8; i++) vf[u][i] = __bfloat162float(ve[i]);
            }
            __syncthreads();  // every warp is done with this stage before the next iteration refills it
    #pragma unroll
            for (int g = 0; g < G; g++) {
                float mx = m[g];
    #pragma unroll
                for (int u = 0; u < UNROLL; u++) mx = fmaxf(mx, sc[u][g]);
                if (mx == -INFINITY) continue;  // nothing valid yet in this row group
                float c = exp2f(m[g] - mx), p[UNROLL], ps = 0.f;
    #pragma unroll
                for (int u = 0; u < UNROLL; u++) { p[u] = exp2f(sc[u][g] - mx); ps += p[u]; }
                m[g] = mx;
                l[g] = l[g] * c + ps;
    #pragma unroll
                for (int i = 0; i < 8; i++) {
                    float a = acc[g][i] * c;
    #pragma unroll
                    for (int u = 0; u < UNROLL; u++) a += p[u] * vf[u][i];
                    acc[g][i] = a;
                }
            }
        }
        cp_async_wait<0>();  // only empty groups remain; the ring is reused below
        DTRACE(2);  // the last tile is consumed

        // Merge the row groups of this warp (lanes differing by multiples of LPR), then the warps via the ring.
    #pragma unroll
        for (int off = LPR; off < 32; off <<= 1) {
    #pragma unroll
            for (int g = 0; g < G; g++) {
                float mo = __shfl_xor_sync(0xffffffff, m[g], off), lo = __shfl_xor_sync(0xffffffff, l[g], off);
                float mn = fmaxf(m[g], mo);
                float ca = mn == -INFINITY ? 0.f : exp2f(m[g] - mn), cb = mn == -INFINITY ? 0.f : exp2f(mo - mn);
                l[g] = l[g] * ca + lo * cb;
    #pragma unroll
                for (int i = 0; i < 8; i++) {
                    float ao = __shfl_xor_sync(0xffffffff, acc[g][i], off);
                    acc[g][i] = acc[g][i] * ca + ao * cb;
                }
                m[g] = mn;
            }
        }
        if (grp == 0) {
    #pragma unroll
            for (int g = 0; g < G; g++) {
                if (sub == 0) { sM[warp * G + g] = m[g]; sL[warp * G + g] = l[g]; }
    #pragma unroll
                for (int i = 0; i < 8; i++) sAcc[(warp * G + g) * D + acc_col(g, sub * 8 + i)] = acc[g][i];
            }
        }
    }
    DTRACE(6);  // this thread's per-warp state is in shared memory (lab: where the epilogue's time goes)
    __syncthreads();
    DTRACE(7);  // every warp's is
    // This block's result per (g, d); CL > 1 keeps it in shared memory for the cluster merge.
    float* sRes = sL + NW * G;      // [G][D]
    float* sResM = sRes + G * D;    // [G]
    float* sResL = sResM + G;       // [G]
    const int nParts = nSplit / CL, part = split / CL;  // partials written to partO / partML
    (void)part;  // read by the cluster merge only
    constexpr int NSLOTS = MMA ? NW / mma_halves<D, NW>() : NW;  // per-warp (or per-key-group) partial states
    // Each thread merges VEC consecutive columns of one head: the slots' maxima, sums and weights once per VEC
    // elements, the states read as float2 / float4 (session 12; session 11's unrolled loop of one element per
    // thread and trip took 911 cycles at D = 256, 790 at 128, call 13). The same operations per element in the same
    // order, so the result is bit for bit the loop's (exp2(-inf) = 0 where a slot, or every slot, saw no key).
    constexpr int VEC = G * D >= 4 * NT ? 4 : G * D >= 2 * NT ? 2 : 1;
    constexpr int NV = G * D / VEC, MITER = (NV + NT - 1) / NT;
#pragma unroll
    for (int k = 0; k < MITER; k++) {
        const int v0 = tid + k * NT;
        if (NV % NT != 0 && v0 >= NV) break;
        const int e = v0 * VEC, g = e / D, d = e % D;
        float mx = -INFINITY;
#pragma unroll
        for (int w = 0; w < NSLOTS; w++) mx = fmaxf(mx, sM[w * G + g]);
        const float base = mx == -INFINITY ? 0.f : mx;
        float a[VEC], ls = 0.f;
#pragma unroll
        for (int v = 0; v < VEC; v++) a[v] = 0.f;
#pragma unroll
        for (int w = 0; w < NSLOTS; w++) {
            const float c = exp2f(sM[w * G + g] - base);
            float x[VEC];
            acc_load<VEC>(x, sAcc + (w * G + g) * D + acc_col(g, d));
#pragma unroll
            for (int v = 0; v < VEC; v++) a[v] += x[v] * c;
            ls += sL[w * G + g] * c;
        }
        const long head = (long)b * Hq + hk * G + g;
        if constexpr (CL > 1) {
#pragma unroll
            for (int v = 0; v < VEC; v++) sRes[e + v] = a[v];
            if (d == 0) { sResM[g] = mx; sResL[g] = ls; }
        } else if (nSplit == 1) {
#pragma unroll
            for (int v = 0; v < VEC; v++) O[head * D + d + v] = __float2bfloat16(ls > 0.f ? a[v] / ls : 0.f);
        } else {
            const long row = head * nSplit + split;
            acc_store<VEC>(partO + row * D + d, a);
            if (d == 0) { partML[row * 2] = mx; partML[row * 2 + 1] = ls; }
        }
    }
    if constexpr (CL > 1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
        __trap();  // clusters are sm_90+; the shipped instances are CL = 1
#else
        cg::cluster_group cluster = cg::this_cluster();
        cluster.sync();  // every block's result is in its shared memory
        const bool leader = cluster.block_rank() == 0;
        if (leader) {
            float* sW = sResL + G;  // [G][CL] weights, then [G] 1 / sum where nParts == 1
            float* sTot = sW + G * CL;
            if (tid < G) {
                const int g = tid;
                float mr[CL], mx = -INFINITY;
#pragma unroll
                for (int r = 0; r < CL; r++) { mr[r] = cluster.map_shared_rank(sResM, r)[g]; mx = fmaxf(mx, mr[r]); }
                float ls = 0.f;
#pragma unroll
                for (int r = 0; r < CL; r++) {
                    const float w = mx == -INFINITY ? 0.f : exp2f(mr[r] - mx);
                    sW[g * CL + r] = w;
                    ls += w * cluster.map_shared_rank(sResL, r)[g];
                }
                sTot[g] = ls;
                sTot[G + g] = mx;
            }
            __syncthreads();  // the leader's threads only: the other blocks of the cluster are at the next sync
            for (int idx = tid; idx < G * D; idx += NT) {
                const int g = idx / D, d = idx % D;
                float rv[CL];
#pragma unroll
                for (int r = 0; r < CL; r++) rv[r] = cluster.map_shared_rank(sRes, r)[idx];
                float a = 0.f;
#pragma unroll
                for (int r = 0; r < CL; r++) a += sW[g * CL + r] * rv[r];
                const long head = (long)b * Hq + hk * G + g;
                if (nParts == 1) {
                    O[head * D + d] = __float2bfloat16(sTot[g] > 0.f ? a / sTot[g] : 0.f);
                } else {
                    const long row = head * nParts + part;
                    partO[row * D + d] = a;
                    if (d == 0) { partML[row * 2] = sTot[G + g]; partML[row * 2 + 1] = sTot[g]; }
                }
            }
        }
        cluster.sync();  // the leader has read the others' shared memory: now they may exit
        if (!leader || nParts == 1) return;
#endif
    } else {
        if (nSplit == 1) return;
    }
    if constexpr (SPIN != 0 && CL == 1) {
        // Every block of this (b, KV head) waits until all S partials are written, then merges its slice.
        int* arrive = counters + 2 * (b * Hkv + hk);
        int* depart = arrive + 1;  // SPIN == 1: departures; SPIN == 2: the release epoch
        DTRACE(3);  // the partial is written
        if constexpr (SPIN == 1) {
            __threadfence();
            __syncthreads();
            if (tid == 0) {
                atomicAdd(arrive, 1);
                while (ld_acquire_gpu(arrive) < nSplit) __nanosleep(20);
            }
            __syncthreads();
            __threadfence();
        } else {
            // The block's partial stores happen-before thread 0's acq_rel arrival (bar.sync, then the release is
            // cumulative): common/mma.cuh's group_arrive_epoch on {arrive, depart = the epoch}. No fence, no
            // departure count: 2 round trips fewer. SPIN == 3: group_arrive_share on the same 8 bytes, no epoch.
            __syncthreads();
            if (tid == 0) {
                if constexpr (SPIN == 3)
                    group_arrive_share(reinterpret_cast<unsigned long long*>(arrive), split, nSplit);
                else
                    group_arrive_epoch(arrive, epoch0, nSplit);
            }
            __syncthreads();
        }
        DTRACE(4);  // every split of the group has arrived
        constexpr int C4 = G * D / 4, MAXS = MAX_SPLITS / 32;
        const long head0 = (long)b * Hq + hk * G;
        for (int c = split + warp * nSplit; c < C4; c += NW * nSplit) {
            const int g = c / (D / 4), d4 = c % (D / 4);
            const long r0 = (head0 + g) * nSplit;
            float ms[MAXS], ls[MAXS], mx = -INFINITY;
            float4 p[MAXS];
#pragma unroll
            for (int k = 0; k < MAXS; k++) {
                const int s = lane + 32 * k;
                ms[k] = -INFINITY; ls[k] = 0.f; p[k] = make_float4(0.f, 0.f, 0.f, 0.f);
                if (s < nSplit) {
                    const float2 ml = __ldcg(reinterpret_cast<const float2*>(partML + (r0 + s) * 2));
                    ms[k] = ml.x; ls[k] = ml.y;
                    p[k] = __ldcg(reinterpret_cast<const float4*>(partO + (r0 + s) * D) + d4);
                }
                mx = fmaxf(mx, ms[k]);
            }
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, off));
            float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
            float lsum = 0.f;
#pragma unroll
            for (int k = 0; k < MAXS; k++) {
                const float w = ms[k] == -INFINITY ? 0.f : exp2f(ms[k] - mx);
                lsum += w * ls[k];
                a.x += w * p[k].x; a.y += w * p[k].y; a.z += w * p[k].z; a.w += w * p[k].w;
            }
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) {
                lsum += __shfl_xor_sync(0xffffffff, lsum, off);
                a.x += __shfl_xor_sync(0xffffffff, a.x, off);
                a.y += __shfl_xor_sync(0xffffffff, a.y, off);
                a.z += __shfl_xor_sync(0xffffffff, a.z, off);
                a.w += __shfl_xor_sync(0xffffffff, a.w, off);
            }
            if (lane == 0) {
                const float inv = lsum > 0.f ? 1.f / lsum : 0.f;
                *reinterpret_cast<uint2*>(O + (head0 + g) * D + d4 * 4) =
                    make_uint2(pack_bf16(a.x * inv, a.y * inv), pack_bf16(a.z * inv, a.w * inv));
            }
        }
        if constexpr (SPIN == 1) {
            __syncthreads();
            DTRACE(5);  // the slice is merged
            if (tid == 0 && atomicAdd(depart, 1) == nSplit - 1) {  // every block has left its spin
                *arrive = 0;
                *depart = 0;
            }
        } else {
            DTRACE(5);
        }
        return;
    }

    // The last block of this (b, KV head) to get here merges the nParts partial results of its G heads.
    __shared__ int sLast;
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        int* ctr = counters + b * Hkv + hk;
        const int last = atomicAdd(ctr, 1) == nParts - 1;
        if (last) *ctr = 0;  // every block of this group has counted: ready for the next launch
        sLast = last;
    }
    __syncthreads();
    if (!sLast) return;
    __threadfence();

    float* sMs = reinterpret_cast<float*>(dsmem);  // [G][S] split maxima, then their weights
    float* sLs = sMs + G * nParts;                 // [G][S] split sums
    float* sInv = sLs + G * nParts;                // [G] 1 / total sum
    float4* red = reinterpret_cast<float4*>(dsmem + (((2 * G * nParts + G) * 4 + 15) & ~15));  // [NT]
    const long head0 = (long)b * Hq + hk * G;
    for (int idx = tid; idx < G * nParts; idx += NT) {
        const long row = head0 * nParts + idx;  // (head0 + g) * S + s with idx = g * S + s
        sMs[idx] = __ldcg(partML + row * 2);
        sLs[idx] = __ldcg(partML + row * 2 + 1);
    }
    __syncthreads();
    for (int g = warp; g < G; g += NW) {
        float mx = -INFINITY;
        for (int s = lane; s < nParts; s += 32) mx = fmaxf(mx, sMs[g * nParts + s]);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, off));
        float ls = 0.f;
        for (int s = lane; s < nParts; s += 32) {
            const float ms = sMs[g * nParts + s];
            const float w = ms == -INFINITY ? 0.f : exp2f(ms - mx);
            sMs[g * nParts + s] = w;
            ls += w * sLs[g * nParts + s];
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) ls += __shfl_xor_sync(0xffffffff, ls, off);
        if (lane == 0) sInv[g] = ls > 0.f ? 1.f / ls : 0.f;
    }
    __syncthreads();
    // G * D / 4 float4 columns; when fewer than NT, R thread rows split the S partials and add up via `red`.
    constexpr int C4 = G * D / 4, CW = C4 < NT ? C4 : NT, R = NT / CW, CPC = C4 / CW;
    const int cl = tid % CW, rr = tid / CW;
    float4 a[CPC];
#pragma unroll
    for (int k = 0; k < CPC; k++) a[k] = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 8
    for (int s = rr; s < nParts; s += R) {
#pragma unroll
        for (int k = 0; k < CPC; k++) {
            const int c = cl + k * CW, g = c / (D / 4), d4 = c % (D / 4);
            const float w = sMs[g * nParts + s];
            const float4 p = __ldcg(reinterpret_cast<const float4*>(partO + ((head0 + g) * nParts + s) * D) + d4);
            a[k].x += w * p.x; a[k].y += w * p.y; a[k].z += w * p.z; a[k].w += w * p.w;
        }
    }
    if constexpr (R > 1) {
        red[tid] = a[0];
        __syncthreads();
        if (rr != 0) return;
#pragma unroll
        for (int j = 1; j < R; j++) {
            const float4 o = red[j * CW + cl];
            a[0].x += o.x; a[0].y += o.y; a[0].z += o.z; a[0].w += o.w;
        }
    }
#pragma unroll
    for (int k = 0; k < CPC; k++) {
        const int c = cl + k * CW, g = c / (D / 4), d4 = c % (D / 4);
        const float inv = sInv[g];
        uint2 packed = make_uint2(pack_bf16(a[k].x * inv, a[k].y * inv), pack_bf16(a[k].z * inv, a[k].w * inv));
        *reinterpret_cast<uint2*>(O + (head0 + g) * D + d4 * 4) = packed;
    }
}
