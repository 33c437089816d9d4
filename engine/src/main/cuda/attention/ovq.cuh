// defines: ovq_run_kernel<D, C> (OVQ-attention, ovq.md sections 4-5: the chunked read and the dictionary fold) and
// ovq_l2norm_kernel<D> (the per-head L2 norm of q and k).
//
// Letters: B batch, T new tokens of this call, H heads, D head dim, L chunk length (<= MAX_L), NMAX dictionary cap,
// n active rows, C blocks per (b, head) = one thread-block cluster, RT rows per staged tile.
//   Q, K, V, O [B, T, H, D] bf16 (q and k already L2-normalised); beta [H] fp32.
//   State per (b, head), in global memory (fp32 as the spec keeps it): mu, val [B*H, NMAX, D] (val = U_j for NEWTON,
//   nu_j for CONSTANT), cnt [B*H, NMAX], meta [B*H, 4] = {n, folded chunks, open-chunk tokens, 0},
//   bufK, bufV [B*H, L, D] bf16 (the open chunk's raw k, v). A zero meta is the empty state.
//   targets [nTargets] int: the dictionary size the fold of chunk f grows towards, targets[min(f, nTargets - 1)]
//   (OvqSpec.dictionaryTarget((f + 1) L), tabulated by the host so that device and CPU grow the same dictionary).
// Prefill and decode are one kernel: T tokens run through the state in segments that end at chunk boundaries;
// every token reads the dictionary folded so far plus its own chunk up to itself, and a completed chunk is folded
// (assign, grow by farthest point, re-assign, count-weighted write). Decode is T = 1.
//
// Work split: dictionary row j belongs to block rank j % C of the (b, head)'s cluster and only that block reads or
// writes it, so the state needs no inter-block ordering. Each block reads its rows (tiles of RT staged in shared
// memory: an online softmax over tiles, any NMAX) into a partial (max, sum, numerator) per token and, when the
// chunk completes, its rows' nearest centroid per chunk key; the blocks exchange both through distributed shared
// memory (one cluster barrier), block rank x % C finishes token x (adding the exact intra-chunk term), and every
// block runs the grow and the re-assignment itself on the same data in the same order, so all agree on the new
// rows without a second exchange. Logits, softmax and the state are fp32 FMA (no tensor cores): the fold's
// discrete choices must be the float64 reference's wherever its margins exceed fp32 rounding.
// Ties: a larger score wins, equal scores go to the lower row (the reference's ascending strict argmax); the
// farthest-point pick goes to the lower token.
#pragma once
#include "../common/mma.cuh"
#include <cooperative_groups.h>

namespace ovq {
namespace cg = cooperative_groups;
constexpr int NT = 256, NW = NT / 32, MAX_L = 64, RT = 64;
static_assert(NT == 4 * MAX_L, "the fold's four threads per chunk token");
constexpr int F_EUCLIDEAN = 1, F_NEWTON = 2, F_STATE_ONLY = 4, F_RENORMALIZE = 8;
constexpr float NORM_EPS = 1e-12f;

// Phase clocks for bench/ovq_phase_lab.cu only (never defined in the product build): thread 0 of one block adds the
// cycles since the previous mark to phase i of the chunks that run at the dictionary's cap, and every such chunk's
// whole time to phase 15 (growing chunks to phase 14), so that the per-chunk chain can be taken apart.
#ifdef OVQ_PHASE_CLOCK
__device__ unsigned long long ovq_phase_cycles[16];
#define OVQ_PHASE(i) do { if (prof) { const long long now_ = clock64(); ph[i] += now_ - phLast; phLast = now_; } } while (0)
#else
#define OVQ_PHASE(i) do {} while (0)
#endif

// Shared memory, in floats (bf16 arrays counted in floats of 2): the layout ovq_run_kernel carves, and the bytes
// CudaOvq asks for (ovq::smem_bytes<D>() there as OVQ_SMEM_* constants).
template <int D> __host__ __device__ constexpr int ds() { return D + 4; }  // staged row stride: 16-byte rows, 4 banks apart
constexpr int SS = RT + 4;                             // score row stride
// Two blocks fit on an SM (<= 113 KB each): with one, a cluster of 8 needs 8 free SMs of one GPC and the H100 holds
// only 15 such clusters (ncu, call 2), so 16 heads ran in two waves.
template <int D>
__host__ __device__ constexpr int union_floats() {  // staged rows + scores, later the partial numerators
    return RT * ds<D>() + MAX_L * SS > MAX_L * D ? RT * ds<D>() + MAX_L * SS : MAX_L * D;
}
template <int D>
__host__ __device__ constexpr int smem_floats() {
    return union_floats<D>()                   // staged rows [RT][ds] and scores [MAX_L][SS]; then partials [MAX_L][D]
           + 3 * RT                            // the staged rows' counts, |mu|^2, 1/|mu|
           + 3 * MAX_L * D / 2                 // q, k, v of the chunk (bf16)
           + MAX_L * 13                        // per-token max, sum, rescale, |k|^2, assign/grow arrays, the slot table
           + NW * MAX_L;                       // per-warp weights of the intra-chunk term
}
template <int D> __host__ __device__ constexpr int smem_bytes() { return smem_floats<D>() * 4; }

DEVI float warp_sum0(float v) {  // the sum as lane 0 forms it, broadcast: every lane (and block) gets the same bits
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}
DEVI float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// (score, row) lexicographic: larger score, then lower row; row -1 (none) loses to any real row.
DEVI void better(float& s, int& j, float s2, int j2) {
    if (j2 < 0) return;
    if (j < 0 || s2 > s || (s2 == s && j2 < j)) { s = s2; j = j2; }
}
DEVI float bf(const __nv_bfloat16* p, int i) { return __bfloat162float(p[i]); }

// x . row over D for one warp: lanes over dims, lane 0's sum broadcast.
template <int D>
DEVI float warp_dot(const __nv_bfloat16* x, const __nv_bfloat16* y, int lane) {
    float s = 0.f;
#pragma unroll
    for (int i = lane; i < D; i += 32) s = fmaf(bf(x, i), bf(y, i), s);
    return warp_sum0(s);
}

// Four threads per token (lanes 4x .. 4x + 3 of a group): x . y (or |x - y|^2) over the rows x and y of the bf16
// chunk, each thread a quarter of the dims, pairs rotated by the row so that 8 rows in a warp hit 8 bank groups; the
// quarters are combined by two xor shuffles, whose sums are bit-identical in all four lanes (a + b == b + a).
template <int D>
DEVI float quarter_dot(const __nv_bfloat16* sK, int x, int y, int p, bool distance) {
    constexpr int PAIRS = D / 8;  // bf16 pairs per quarter
    const __nv_bfloat162* kx = reinterpret_cast<const __nv_bfloat162*>(sK + min(x, MAX_L - 1) * D) + p * PAIRS;
    const __nv_bfloat162* ky = reinterpret_cast<const __nv_bfloat162*>(sK + y * D) + p * PAIRS;
    float a = 0.f;
#pragma unroll
    for (int j = 0; j < PAIRS; j++) {
        const int jj = (j + x) % PAIRS;
        const float2 u = __bfloat1622float2(kx[jj]), v = __bfloat1622float2(ky[jj]);
        if (distance) {
            const float d0 = u.x - v.x, d1 = u.y - v.y;
            a = fmaf(d0, d0, fmaf(d1, d1, a));
        } else {
            a = fmaf(u.x, v.x, fmaf(u.y, v.y, a));
        }
    }
    a += __shfl_xor_sync(0xffffffffu, a, 1);
    a += __shfl_xor_sync(0xffffffffu, a, 2);
    return a;
}

// The tile's scores in registers: acc[a][k] = X[x0 + xb + a] . M[tx + 16 k] with xb = 4 (tid >> 4), tx = tid & 15,
// so that a token's 64 rows lie in the 16 lanes of one half-warp and its reductions over rows are four xor shuffles
// (session 15: the scores' round trip through shared memory and a warp per token cost ~60 % of the chunk's chain).
// Tokens past nx repeat the last one (every lane computes, the shuffles need whole half-warps); rows past the tile
// are garbage, masked by the consumers. Each dot sums its dims in order, one FMA per dim.
template <int D>
DEVI void tile_scores(float (&acc)[4][RT / 16], const __nv_bfloat16* sX, int x0, int nx, const float* sM, int tid) {
    const int ty = tid >> 4, tx = tid & 15, xb = ty * 4;
    constexpr int RPT = RT / 16;  // rows per thread
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int k = 0; k < RPT; k++) acc[a][k] = 0.f;
    for (int i = 0; i < D; i += 4) {
        float xv[4][4];
#pragma unroll
        for (int a = 0; a < 4; a++) {
            const int x = min(xb + a, nx - 1);
            const uint2 raw = *reinterpret_cast<const uint2*>(sX + (x0 + x) * D + i);
            const __nv_bfloat16* e = reinterpret_cast<const __nv_bfloat16*>(&raw);
#pragma unroll
            for (int c = 0; c < 4; c++) xv[a][c] = __bfloat162float(e[c]);
        }
#pragma unroll
        for (int k = 0; k < RPT; k++) {
            const float4 m = *reinterpret_cast<const float4*>(sM + (tx + 16 * k) * ds<D>() + i);
#pragma unroll
            for (int a = 0; a < 4; a++)
                acc[a][k] = fmaf(xv[a][3], m.w, fmaf(xv[a][2], m.z, fmaf(xv[a][1], m.y, fmaf(xv[a][0], m.x, acc[a][k]))));
        }
    }
}

// (score, row) over the 16 lanes of a half-warp, and the min of near: every lane ends with the same winner.
DEVI void half_warp_best(float& top, int& arg, float& near) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) {
        better(top, arg, __shfl_xor_sync(0xffffffffu, top, o), __shfl_xor_sync(0xffffffffu, arg, o));
        near = fminf(near, __shfl_xor_sync(0xffffffffu, near, o));
    }
}
DEVI float half_warp_max(float v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
DEVI float half_warp_sum(float v) {  // lane tx == 0's sum is the one used
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int D, int C, int NT_ = NT>
DEVI void stage_rows(float* sM, const float* g, int r0, int nr, int rank, int tid) {
    // rows r0 + r (global row (r0 + r) C + rank) into sM: every load of the thread issued before its stores
    constexpr int PER = RT * D / 4 / NT_;
    float4 v[PER];
#pragma unroll
    for (int k = 0; k < PER; k++) {
        const int e = tid + k * NT_, r = e / (D / 4), c = e % (D / 4);
        if (r < nr) v[k] = *reinterpret_cast<const float4*>(g + ((long)(r0 + r) * C + rank) * D + c * 4);
    }
#pragma unroll
    for (int k = 0; k < PER; k++) {
        const int e = tid + k * NT_, r = e / (D / 4), c = e % (D / 4);
        if (r < nr) *reinterpret_cast<float4*>(sM + r * ds<D>() + c * 4) = v[k];
    }
}

// Block-wide max / sum of one value per thread, the same bits in every thread: warps reduce, then warp 0's lanes
// over the NW warp results in a fixed order (red: NW floats of scratch).
DEVI float block_reduce(float v, bool isMax, float* red, int tid) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float w = __shfl_down_sync(0xffffffffu, v, o);
        v = isMax ? fmaxf(v, w) : v + w;
    }
    __syncthreads();  // red may still be read from the previous call
    if ((tid & 31) == 0) red[tid >> 5] = v;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < NW; w++) r = isMax ? fmaxf(r, red[w]) : r + red[w];
    return r;
}

// The decode step's partial read over this block's `own` rows (global row r C + rank), for the one query q:
// sPm[0] = max logit, sPl[0] = sum e^{z - max} c, sPacc[0][0..D) = the numerator. Latency-bound (a block reads its
// 128 rows once), so each thread keeps a batch of loads in flight before it uses one (ncu, calls 6 and 9).
template <int D, int C>
DEVI void decode_partial(const __nv_bfloat16* q, const float* gMu, const float* gVal, const float* gCnt, int own, int rank,
                         float bt, bool newton, bool renorm, float* sW, float* sPacc, float* sPm, float* sPl, float* red,
                         int tid) {
    // Logits: a thread takes 4 dims of every G-th row (TPR threads per row, 256 contiguous bytes per row and warp
    // instruction), a batch of B rows' loads in flight, the row's sums across its TPR threads by xor shuffles (every
    // thread of the row ends with the same bits).
    constexpr int TPR = D / 4, G = NT / TPR, B = 8;  // threads per row, rows per pass, float4 loads per batch
    const int c4 = tid % TPR, g = tid / TPR;
    const float4 qv = make_float4(bf(q, 4 * c4), bf(q, 4 * c4 + 1), bf(q, 4 * c4 + 2), bf(q, 4 * c4 + 3));
    float zmax = -INFINITY;
    for (int r0 = g; r0 - g < own; r0 += G * B) {  // uniform trip count: the shuffles need whole rows
        float4 m[B];
        float cn[B];
#pragma unroll
        for (int k = 0; k < B; k++) {
            const long j = (long)min(r0 + k * G, own - 1) * C + rank;
            m[k] = reinterpret_cast<const float4*>(gMu + j * D)[c4];
            cn[k] = gCnt[j];
        }
#pragma unroll
        for (int k = 0; k < B; k++) {
            float dot = fmaf(qv.w, m[k].w, fmaf(qv.z, m[k].z, fmaf(qv.y, m[k].y, qv.x * m[k].x)));
            float mm = fmaf(m[k].w, m[k].w, fmaf(m[k].z, m[k].z, fmaf(m[k].y, m[k].y, m[k].x * m[k].x)));
#pragma unroll
            for (int o = 1; o < TPR; o <<= 1) {
                dot += __shfl_xor_sync(0xffffffffu, dot, o);
                if (renorm) mm += __shfl_xor_sync(0xffffffffu, mm, o);
            }
            const int r = r0 + k * G;
            const float z = bt * dot * (renorm ? rsqrtf(mm + NORM_EPS) : 1.f);
            if (r < own) {
                if (c4 == 0) {
                    sW[r] = z;
                    sW[MAX_L * SS / 2 + r] = cn[k];
                }
                zmax = fmaxf(zmax, z);
            }
        }
    }
    const float M = block_reduce(zmax, true, red, tid);
    float l = 0.f;
    for (int r = tid; r < own; r += NT) {
        const float c = sW[MAX_L * SS / 2 + r], p = __expf(sW[r] - M);
        l = fmaf(p, c, l);
        sW[r] = newton ? p : p * c;
    }
    const float L = block_reduce(l, false, red, tid);  // also orders the weights' stores before P V
    // P V, the same mapping: loads unconditional (rows clamped, their weights zero past own) so that ptxas issues a
    // batch of them before the first FMA.
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int r0 = g; r0 < own; r0 += G * B) {
        float4 v[B];
        float w[B];
#pragma unroll
        for (int k = 0; k < B; k++) {
            const int r = r0 + k * G;
            v[k] = reinterpret_cast<const float4*>(gVal + ((long)min(r, own - 1) * C + rank) * D)[c4];
            w[k] = r < own ? sW[r] : 0.f;
        }
#pragma unroll
        for (int k = 0; k < B; k++) {
            a.x = fmaf(w[k], v[k].x, a.x);
            a.y = fmaf(w[k], v[k].y, a.y);
            a.z = fmaf(w[k], v[k].z, a.z);
            a.w = fmaf(w[k], v[k].w, a.w);
        }
    }
    __syncthreads();  // every weight read: sW's space is free
    reinterpret_cast<float4*>(sW + g * D)[c4] = a;
    __syncthreads();
    if (tid < D) {
        float s = sW[tid];
        for (int k = 1; k < G; k++) s += sW[k * D + tid];
        sPacc[tid] = s;
    }
    if (tid == 0) {
        sPm[0] = own > 0 ? M : -INFINITY;
        sPl[0] = own > 0 ? L : 0.f;
    }
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
template <int D, int C>
__device__ __forceinline__ void ovq_run_kernel(__nv_bfloat16* __restrict__ O, const __nv_bfloat16* __restrict__ Q,
                                               const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V,
                                               const float* __restrict__ beta, float* __restrict__ mu,
                                               float* __restrict__ val, float* __restrict__ cnt, int* __restrict__ meta,
                                               __nv_bfloat16* __restrict__ bufK, __nv_bfloat16* __restrict__ bufV,
                                               const int* __restrict__ targets, int nTargets, int T, int H, int NMAX,
                                               int L, int flags, float eta) {
    static_assert(D % 32 == 0 && D <= 128, "head dim");
    constexpr int DPT = D / 16;  // dims per thread in the tiled P V
    cg::cluster_group cluster = cg::this_cluster();
    const int rank = blockIdx.x, h = blockIdx.y, b = blockIdx.z, bh = b * H + h;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const bool euclid = flags & F_EUCLIDEAN, newton = flags & F_NEWTON, stateOnly = flags & F_STATE_ONLY,
               renorm = flags & F_RENORMALIZE;
    const float bt = beta[h];
#ifdef OVQ_PHASE_CLOCK
    long long ph[16] = {}, phLast = 0, chunkStart = 0;
    bool prof = false;
#endif

    extern __shared__ __align__(16) float smem[];
    {
        unsigned dyn;
        asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(dyn));
        if (dyn < (unsigned)smem_bytes<D>() || L > MAX_L || L < 1) __trap();  // the launcher's layout is not this one
    }
    float* sM = smem;                          // [RT][ds] staged mu, then val, rows of this block
    float* sS = sM + RT * ds<D>();             // [MAX_L][SS] scores, then weights; the fold's scratch
    float* sPacc = smem;                       // [MAX_L][D] partial numerators (segment-relative tokens), after the tiles
    float* sC = smem + union_floats<D>();      // [RT] counts of the staged rows
    float* sMm = sC + RT;                      // [RT] |mu|^2
    float* sRinv = sMm + RT;                   // [RT] 1 / sqrt(|mu|^2 + eps)
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(sRinv + RT);  // [MAX_L][D], by position in the chunk
    __nv_bfloat16* sK = sQ + MAX_L * D;
    __nv_bfloat16* sV = sK + MAX_L * D;
    float* sPm = reinterpret_cast<float*>(sV + MAX_L * D);  // [MAX_L] running max (log units, beta applied)
    float* sPl = sPm + MAX_L;                  // [MAX_L] running sum of e^{z - m} c
    float* sScale = sPl + MAX_L;               // [MAX_L] this tile's rescale of the numerator
    float* sTop = sScale + MAX_L;              // [MAX_L] best assign score over this block's rows
    int* sArg = reinterpret_cast<int*>(sTop + MAX_L);  // [MAX_L] its row (-1: none)
    float* sNear = reinterpret_cast<float*>(sArg + MAX_L);  // [MAX_L] squared distance to the nearest row
    float* sBest = sNear + MAX_L;              // [MAX_L] merged over the cluster, then re-assigned
    int* sA = reinterpret_cast<int*>(sBest + MAX_L);  // [MAX_L] merged row
    float* sFar = reinterpret_cast<float*>(sA + MAX_L);  // [MAX_L] farthest-point score
    int* sFounder = reinterpret_cast<int*>(sFar + MAX_L);  // [MAX_L] 1 for founding tokens
    int* sPick = sFounder + MAX_L;             // [MAX_L] founding token of new row nOld + f
    int* sSlot = sPick + MAX_L;                // [MAX_L] rows of this block the write touches (first token)
    float* sKk = reinterpret_cast<float*>(sSlot + MAX_L);  // [MAX_L] |k_x|^2 of the chunk's keys (a fold only)
    float* sZ = sKk + MAX_L;                   // [NW][MAX_L] intra-chunk logits
    __shared__ int sNslots, sPickNow;

    int* st = meta + 4 * bh;
    int n = st[0], folded = st[1], buffered = st[2];
    float* gMu = mu + (long)bh * NMAX * D;
    float* gVal = val + (long)bh * NMAX * D;
    float* gCnt = cnt + (long)bh * NMAX;
    __nv_bfloat16* gBufK = bufK + (long)bh * L * D;
    __nv_bfloat16* gBufV = bufV + (long)bh * L * D;
    for (int e = tid; e < buffered * D / 8; e += NT) {  // the open chunk from earlier calls
        reinterpret_cast<uint4*>(sK)[e] = reinterpret_cast<const uint4*>(gBufK)[e];
        reinterpret_cast<uint4*>(sV)[e] = reinterpret_cast<const uint4*>(gBufV)[e];
    }

    for (int t = 0; t < T;) {
        const int seg = min(T - t, L - buffered), xs = buffered;
        const bool fold = xs + seg == L;
#ifdef OVQ_PHASE_CLOCK
        prof = tid == 0 && rank == 0 && h == 0 && b == 0 && fold && seg == L && n >= NMAX;
        phLast = chunkStart = clock64();
#endif
        const long rowStride = (long)H * D;
        for (int e = tid; e < seg * D / 8; e += NT) {
            const int x = e / (D / 8), c = e % (D / 8);
            const long g = ((long)b * T + t + x) * rowStride + (long)h * D + c * 8;
            reinterpret_cast<uint4*>(sQ + (xs + x) * D)[c] = *reinterpret_cast<const uint4*>(Q + g);
            reinterpret_cast<uint4*>(sK + (xs + x) * D)[c] = *reinterpret_cast<const uint4*>(K + g);
            reinterpret_cast<uint4*>(sV + (xs + x) * D)[c] = *reinterpret_cast<const uint4*>(V + g);
        }
        for (int x = tid; x < MAX_L; x += NT) {
            sPm[x] = -INFINITY; sPl[x] = 0.f;
            sTop[x] = -INFINITY; sArg[x] = -1; sNear[x] = INFINITY;
        }
        float acc[4][DPT];
#pragma unroll
        for (int a = 0; a < 4; a++)
#pragma unroll
            for (int c = 0; c < DPT; c++) acc[a][c] = 0.f;
        const bool small = seg * D <= NT;  // a thread per (token, dim) in P V
        const int own = n > rank ? (n - rank + C - 1) / C : 0;  // rows rank, rank + C, ... below n
        if (tid == 0) sNslots = 0;
        __syncthreads();
        if (fold) {  // |k_x|^2 once per chunk (every thread: the shuffles need whole warps)
            const int x = tid >> 2;
            const float kk = quarter_dot<D>(sK, x, x, tid & 3, false);
            if ((tid & 3) == 0) sKk[x] = kk;
        }
        OVQ_PHASE(0);

        // A decode step that folds nothing (one token, the chunk still open): the block's rows straight from global
        // memory, a thread per row, then P V with the rows' loads in flight together; no staging, four barriers.
        const bool direct = seg == 1 && !fold && own <= MAX_L * SS / 2;
        if (direct) decode_partial<D, C>(sQ + xs * D, gMu, gVal, gCnt, own, rank, bt, newton, renorm, sS, sPacc, sPm, sPl, sZ, tid);
        for (int r0 = 0; !direct && r0 < own; r0 += RT) {
            const int nr = min(RT, own - r0);
            stage_rows<D, C>(sM, gMu, r0, nr, rank, tid);
            for (int r = tid; r < nr; r += NT) sC[r] = gCnt[(long)(r0 + r) * C + rank];
            __syncthreads();
            for (int r = tid; r < nr; r += NT) {
                float s = 0.f;
                for (int i = 0; i < D; i++) s = fmaf(sM[r * ds<D>() + i], sM[r * ds<D>() + i], s);
                sMm[r] = s;
                sRinv[r] = rsqrtf(s + NORM_EPS);
            }
            OVQ_PHASE(1);
            const int ty = tid >> 4, tx = tid & 15, xb = ty * 4;
            float sc[4][RT / 16];
            if (fold) {  // assign: this block's nearest row for every key of the chunk, from the registers
                tile_scores<D>(sc, sK, 0, L, sM, tid);
                __syncthreads();  // |mu|^2 and sKk written
#pragma unroll
                for (int a = 0; a < 4; a++) {
                    const int x = xb + a;
                    const float kk = sKk[min(x, L - 1)];
                    float top = -INFINITY, near = INFINITY;
                    int arg = -1;
#pragma unroll
                    for (int k = 0; k < RT / 16; k++) {
                        const int r = tx + 16 * k;
                        if (r < nr) {
                            const float dot = sc[a][k];
                            better(top, arg, euclid ? dot - 0.5f * sMm[r] : dot, (r0 + r) * C + rank);
                            near = fminf(near, kk - 2.f * dot + sMm[r]);
                        }
                    }
                    half_warp_best(top, arg, near);
                    if (tx == 0 && x < L) {
                        better(sTop[x], sArg[x], top, arg);
                        sNear[x] = fminf(sNear[x], near);
                    }
                }
            }
            OVQ_PHASE(2);
            // read: this block's rows for the segment's queries, one online-softmax step per tile, from the registers
            tile_scores<D>(sc, sQ, xs, seg, sM, tid);
            __syncthreads();  // |mu|^2 written (no fold); the previous tile's P V has read sS
#pragma unroll
            for (int a = 0; a < 4; a++) {
                const int x = xb + a;
                float z[RT / 16], tmax = -INFINITY;
#pragma unroll
                for (int k = 0; k < RT / 16; k++) {
                    const int r = tx + 16 * k;
                    z[k] = r < nr ? bt * sc[a][k] * (renorm ? sRinv[r] : 1.f) : -INFINITY;
                    tmax = fmaxf(tmax, z[k]);
                }
                tmax = half_warp_max(tmax);
                const float mOld = sPm[x], mNew = fmaxf(mOld, tmax);
                const float scale = mOld == -INFINITY ? 0.f : __expf(mOld - mNew);
                float l = 0.f;
#pragma unroll
                for (int k = 0; k < RT / 16; k++) {
                    const int r = tx + 16 * k;
                    if (r < nr) {
                        const float p = __expf(z[k] - mNew), pc = p * sC[r];
                        l += pc;
                        if (x < seg) sS[x * SS + r] = newton ? p : pc;
                    }
                }
                l = half_warp_sum(l);
                if (tx == 0 && x < seg) {
                    sPm[x] = mNew;
                    sPl[x] = sPl[x] * scale + l;
                    sScale[x] = scale;
                }
            }
            __syncthreads();
            OVQ_PHASE(3);
            stage_rows<D, C>(sM, gVal, r0, nr, rank, tid);  // the same rows' values over mu
            __syncthreads();
            OVQ_PHASE(4);
            if (small) {
                const int x = tid / D, i = tid % D;
                if (x < seg) {
                    float a = acc[0][0] * sScale[x];
                    for (int r = 0; r < nr; r++) a = fmaf(sS[x * SS + r], sM[r * ds<D>() + i], a);
                    acc[0][0] = a;
                }
            } else {
                const int ty = tid >> 4, tx = tid & 15, xb = ty * 4;
                if (xb < seg) {
#pragma unroll
                    for (int a = 0; a < 4; a++) {
                        const float sc = sScale[min(xb + a, seg - 1)];
#pragma unroll
                        for (int c = 0; c < DPT; c++) acc[a][c] *= sc;
                    }
                    for (int r = 0; r < nr; r++) {
                        float w[4];
#pragma unroll
                        for (int a = 0; a < 4; a++) w[a] = sS[min(xb + a, seg - 1) * SS + r];
#pragma unroll
                        for (int c = 0; c < DPT; c += 4) {
                            const float4 v4 = *reinterpret_cast<const float4*>(sM + r * ds<D>() + tx * DPT + c);
#pragma unroll
                            for (int a = 0; a < 4; a++) {
                                acc[a][c] = fmaf(w[a], v4.x, acc[a][c]);
                                acc[a][c + 1] = fmaf(w[a], v4.y, acc[a][c + 1]);
                                acc[a][c + 2] = fmaf(w[a], v4.z, acc[a][c + 2]);
                                acc[a][c + 3] = fmaf(w[a], v4.w, acc[a][c + 3]);
                            }
                        }
                    }
                }
            }
            __syncthreads();
            OVQ_PHASE(5);
        }
        if (direct) {
            // decode_partial wrote sPm, sPl and sPacc[0]
        } else if (small) {
            const int x = tid / D, i = tid % D;
            if (x < seg) sPacc[x * D + i] = acc[0][0];
        } else {
            const int ty = tid >> 4, tx = tid & 15, xb = ty * 4;
#pragma unroll
            for (int a = 0; a < 4; a++)
                if (xb + a < seg)
#pragma unroll
                    for (int c = 0; c < DPT; c++) sPacc[(xb + a) * D + tx * DPT + c] = acc[a][c];
        }
        cluster.sync();
        OVQ_PHASE(6);

        // finish the tokens x % C == rank: the cluster's partials plus the chunk's own keys up to x
        for (int x = rank + C * warp; x < seg; x += C * NW) {
            const int xc = xs + x;  // position in the chunk
            float mq[C], lq[C];
#pragma unroll
            for (int q = 0; q < C; q++) {  // independent remote loads, issued together
                mq[q] = cluster.map_shared_rank(sPm, q)[x];
                lq[q] = cluster.map_shared_rank(sPl, q)[x];
            }
            float M = -INFINITY;
#pragma unroll
            for (int q = 0; q < C; q++) M = fmaxf(M, mq[q]);
            // intra-chunk logits, a key per lane: row s read from column (j + lane): conflict-free
            const int terms = stateOnly ? 0 : xc + 1;
            float zl[MAX_L / 32];
#pragma unroll
            for (int c = 0; c < MAX_L / 32; c++) {
                const int s = lane + 32 * c;
                zl[c] = -INFINITY;
                if (s < terms) {
                    const __nv_bfloat162* kr = reinterpret_cast<const __nv_bfloat162*>(sK + s * D);
                    const __nv_bfloat162* qr = reinterpret_cast<const __nv_bfloat162*>(sQ + xc * D);
                    float a = 0.f;
#pragma unroll 8
                    for (int j = 0; j < D / 2; j++) {
                        const int jj = (j + lane) % (D / 2);
                        const float2 kv = __bfloat1622float2(kr[jj]), qv = __bfloat1622float2(qr[jj]);
                        a = fmaf(kv.x, qv.x, fmaf(kv.y, qv.y, a));
                    }
                    zl[c] = bt * a;
                }
                M = fmaxf(M, warp_max(zl[c]));
            }
            float den = 0.f, num[D / 32];
#pragma unroll
            for (int c = 0; c < D / 32; c++) num[c] = 0.f;
            float* z = sZ + warp * MAX_L;
            if (M != -INFINITY) {
#pragma unroll
                for (int q = 0; q < C; q++) {
                    const float w = mq[q] == -INFINITY ? 0.f : __expf(mq[q] - M);
                    den = fmaf(w, lq[q], den);
                    const float* pa = cluster.map_shared_rank(sPacc, q) + x * D;
#pragma unroll
                    for (int c = 0; c < D / 32; c++) num[c] = fmaf(w, pa[lane + 32 * c], num[c]);
                }
                float dl = 0.f;
#pragma unroll
                for (int c = 0; c < MAX_L / 32; c++) {
                    const int s = lane + 32 * c;
                    if (s < terms) {
                        const float w = __expf(zl[c] - M);
                        z[s] = w;
                        dl += w;
                    }
                }
                den += warp_sum0(dl);
                __syncwarp();
                for (int s = 0; s < terms; s++) {
                    const float w = z[s];
#pragma unroll
                    for (int c = 0; c < D / 32; c++) num[c] = fmaf(w, bf(sV + s * D, lane + 32 * c), num[c]);
                }
            }
            const float inv = den > 0.f ? 1.f / den : 0.f;
            __nv_bfloat16* o = O + ((long)b * T + t + x) * rowStride + (long)h * D;
#pragma unroll
            for (int c = 0; c < D / 32; c++) o[lane + 32 * c] = __float2bfloat16_rn(num[c] * inv);
            __syncwarp();
        }
        OVQ_PHASE(7);
        if (fold) {  // every block merges the assignment of every chunk key
            for (int x = tid; x < L; x += NT) {
                float tq[C], nq[C];
                int aq[C];
#pragma unroll
                for (int q = 0; q < C; q++) {
                    tq[q] = cluster.map_shared_rank(sTop, q)[x];
                    aq[q] = cluster.map_shared_rank(sArg, q)[x];
                    nq[q] = cluster.map_shared_rank(sNear, q)[x];
                }
                float top = -INFINITY, near = INFINITY;
                int arg = -1;
#pragma unroll
                for (int q = 0; q < C; q++) {
                    better(top, arg, tq[q], aq[q]);
                    near = fminf(near, nq[q]);
                }
                sBest[x] = top; sA[x] = arg; sFar[x] = near; sFounder[x] = 0;
            }
        }
        cluster.sync();  // the partials may now be overwritten
        OVQ_PHASE(8);

        if (fold) {
            const int nOld = n;
            const int target = targets[min(folded, nTargets - 1)];
            const int grow = min(L, max(0, target - n));
            for (int f = 0; f < grow; f++) {
                if (warp == 0) {  // farthest non-founder, ties to the lower token
                    float best = -INFINITY;
                    int pick = -1;
                    for (int x = lane; x < L; x += 32)
                        if (!sFounder[x] && (pick < 0 || sFar[x] > best)) { best = sFar[x]; pick = x; }
#pragma unroll
                    for (int o = 16; o > 0; o >>= 1) {
                        const float b2 = __shfl_xor_sync(0xffffffffu, best, o);
                        const int p2 = __shfl_xor_sync(0xffffffffu, pick, o);
                        if (p2 >= 0 && (pick < 0 || b2 > best || (b2 == best && p2 < pick))) { best = b2; pick = p2; }
                    }
                    if (lane == 0) { sPickNow = pick; sFounder[pick] = 1; sPick[f] = pick; }
                }
                __syncthreads();
                const int pick = sPickNow, j = n + f;
                if (j % C == rank)
                    for (int i = tid; i < D; i += NT) {
                        gMu[(long)j * D + i] = bf(sK + pick * D, i);
                        gVal[(long)j * D + i] = bf(sV + pick * D, i);
                        if (i == 0) gCnt[j] = 1.f;
                    }
                {  // |k_x - k_pick|^2: four threads per token, a quarter of the dims each
                    const int x = tid >> 2, p = tid & 3;
                    const float dd = quarter_dot<D>(sK, x, pick, p, true);
                    if (p == 0 && x < L && !sFounder[x] && dd < sFar[x]) sFar[x] = dd;
                }
                __syncthreads();
            }
            n += grow;
            OVQ_PHASE(9);
            // re-assign the non-founders against the new rows, in row order (strictly better only)
            if (grow > 0) {
                float* sFmm = sS;  // [MAX_L] |k_pick|^2 of each new row
                for (int f = tid; f < grow; f += NT) {
                    float a = 0.f;
                    for (int i = 0; i < D; i++) a = fmaf(bf(sK + sPick[f] * D, i), bf(sK + sPick[f] * D, i), a);
                    sFmm[f] = a;
                }
                __syncthreads();
                const int x = tid >> 2, p = tid & 3;  // every thread (x < MAX_L): the shuffles need whole warps
                float best = sBest[x];
                int a = sA[x];
                for (int f = 0; f < grow; f++) {
                    const float dot = quarter_dot<D>(sK, x, sPick[f], p, false);
                    const float v = euclid ? dot - 0.5f * sFmm[f] : dot;
                    if (v > best) { best = v; a = nOld + f; }
                }
                if (p == 0 && x < L && !sFounder[x]) { sBest[x] = best; sA[x] = a; }
            }
            __syncthreads();
            OVQ_PHASE(10);
            // write: the rows of this block that non-founders were assigned to, sums in token order. A thread per chunk
            // token of such a row scans the chunk (broadcast reads) for the row's count and its next token; the row's
            // first token takes a slot (any order: a slot's result depends on its row's tokens only), whose sums walk
            // that list. Session 15: a serial slot table on thread 0 and per-slot scans cost ~16 % of the chain.
            float* sSlotC = sS;          // [MAX_L] the rows' counts before the write
            float* sSlotM = sS + MAX_L;  // [MAX_L] keys assigned
            int* sNext = reinterpret_cast<int*>(sS + 2 * MAX_L);  // [MAX_L] the next token of the same row, -1: none
            if (tid < L) {
                const int x = tid, j = sFounder[x] ? -1 : sA[x];
                bool first = j >= 0 && j % C == rank;
                int next = -1, m = 0;
                if (first) {
#pragma unroll 8
                    for (int y = 0; y < L; y++) {
                        const bool same = !sFounder[y] && sA[y] == j;
                        m += same;
                        first = first && !(same && y < x);
                        next = next < 0 && same && y > x ? y : next;
                    }
                }
                sNext[x] = next;
                if (first) {
                    const int k = atomicAdd(&sNslots, 1);
                    sSlot[k] = x;
                    sSlotM[k] = (float)m;
                    sSlotC[k] = gCnt[j];
                }
            }
            __syncthreads();
            OVQ_PHASE(11);
            const int nSlots = sNslots;
            for (int e = tid; e < nSlots * D; e += NT) {
                const int k = e / D, i = e % D, j = sA[sSlot[k]];
                float sk = 0.f, sv = 0.f;
                for (int y = sSlot[k]; y >= 0; y = sNext[y]) { sk += bf(sK + y * D, i); sv += bf(sV + y * D, i); }
                const float m = sSlotM[k], c = sSlotC[k];
                float* pm = gMu + (long)j * D + i;
                float* pv = gVal + (long)j * D + i;
                if (newton) {
                    *pm += (sk - m * *pm) / (c + m);
                    *pv += sv;
                } else {
                    *pm += eta * (sk / m - *pm);
                    *pv += eta * (sv / m - *pv);
                }
            }
            __syncthreads();
            OVQ_PHASE(12);
            for (int k = tid; k < nSlots; k += NT) gCnt[sA[sSlot[k]]] = sSlotC[k] + sSlotM[k];
            folded++;
            buffered = 0;
            __syncthreads();
            OVQ_PHASE(13);
        } else {
            buffered += seg;
        }
        t += seg;
#ifdef OVQ_PHASE_CLOCK
        if (tid == 0 && rank == 0 && h == 0 && b == 0 && fold) {
            ph[prof ? 15 : 14] += clock64() - chunkStart;
            if (prof) ph[15] += 1ll << 40;  // chunk count in the high bits
        }
#endif
    }
#ifdef OVQ_PHASE_CLOCK
    if (tid == 0 && rank == 0 && h == 0 && b == 0)
        for (int i = 0; i < 16; i++) atomicAdd(&ovq_phase_cycles[i], (unsigned long long)ph[i]);
#endif
    if (rank == 0) {
        for (int e = tid; e < buffered * D / 8; e += NT) {
            reinterpret_cast<uint4*>(gBufK)[e] = reinterpret_cast<const uint4*>(sK)[e];
            reinterpret_cast<uint4*>(gBufV)[e] = reinterpret_cast<const uint4*>(sV)[e];
        }
        if (tid == 0) { st[0] = n; st[1] = folded; st[2] = buffered; }
    }
}

#endif  // __CUDA_ARCH__ >= 900

// y = x / sqrt(|x|^2 + eps) per row of D (q and k of every token and head, in place): a warp per row.
template <int D>
__device__ __forceinline__ void ovq_l2norm_kernel(__nv_bfloat16* __restrict__ X, long rows) {
    const long row = (long)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    __nv_bfloat16* x = X + row * D;
    float v[D / 32], s = 0.f;
#pragma unroll
    for (int c = 0; c < D / 32; c++) { v[c] = bf(x, lane + 32 * c); s = fmaf(v[c], v[c], s); }
    s = warp_sum0(s);
    const float r = rsqrtf(s + NORM_EPS);
#pragma unroll
    for (int c = 0; c < D / 32; c++) x[lane + 32 * c] = __float2bfloat16_rn(v[c] * r);
}
}  // namespace ovq
