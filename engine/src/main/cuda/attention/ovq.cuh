// defines: ovq_run_kernel<D, C> (OVQ-attention, ovq.md sections 4-5: the chunked read and the dictionary fold) and
// ovq_l2norm_kernel<D> (the per-head L2 norm of q and k).
//
// Letters: B batch, T new tokens of this call, H heads, D head dim, L chunk length (<= MAX_L), NMAX dictionary cap,
// n active rows, C blocks per (b, head) = one thread-block cluster, R = rt<D>() rows per staged tile.
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
// writes it, so the state needs no inter-block ordering. Each block reads its rows (tiles of R staged in shared
// memory: an online softmax over tiles, any NMAX) into a partial (max, sum, numerator) per token and, when the
// chunk completes, its rows' nearest centroid per chunk key; the blocks exchange both through distributed shared
// memory (one cluster barrier), block rank x % C finishes token x (adding the exact intra-chunk term), and every
// block runs the grow and the re-assignment itself on the same data in the same order, so all agree on the new
// rows without a second exchange. The state, softmax and fold stay fp32; the tiles' products run on the tensor
// cores with the fp32 operands split into bf16 planes (stage_planes), so the scores keep fp32 precision: the fold's
// discrete choices must be the float64 reference's wherever its margins exceed fp32 rounding. A decode step that
// folds nothing reads its rows straight from global memory with fp32 FMA (decode_partial).
// Ties: a larger score wins, equal scores go to the lower row (the reference's ascending strict argmax); the
// farthest-point pick goes to the lower token.
#pragma once
#include "../common/mma.cuh"
#include <cooperative_groups.h>

namespace ovq {
namespace cg = cooperative_groups;
constexpr int NT = 256, NW = NT / 32, MAX_L = 64;
constexpr int DEC_ROWS = 2176;  // the direct decode path's cap on a block's rows (its logits and counts in the scratch)
static_assert(NT == 4 * MAX_L, "the fold's four threads per chunk token");
constexpr int F_EUCLIDEAN = 1, F_NEWTON = 2, F_STATE_ONLY = 4, F_RENORMALIZE = 8;
constexpr float NORM_EPS = 1e-12f;

// What a training forward (TRAIN: its own instance, so inference compiles as before) leaves for the backward
// (attention/ovq_bwd.cuh). Per (b, head) and fold f < folds (the forward starts from an empty state, so fold f is
// chunk f):
//   code [B*H, folds, L] int: token x's row after the re-assignment (-1: none), or -(row + 2) for the row x founded;
//   nOld [B*H, folds] int: the dictionary size before fold f;
//   prev [B*H, folds, L, 2D + 4] fp32: each row the write touched as it was before (mu, val, count; rows padded to
//        16 bytes), filed under the first token assigned to it (the backward rewinds the dictionary with them, exactly);
//   stats [B, T, H, 2] fp32: each read's max logit and denominator (scaled by e^-max); oF [B, T, H, D] fp32: the read.
template <int D> __host__ __device__ constexpr int prev_stride() { return 2 * D + 4; }  // 16-byte rows
struct Records {
    int* code;
    int* nOld;
    float* prev;
    float* stats;
    float* oF;
    int folds;
};

// Phase clocks for bench/ovq_phase_lab.cu only (never defined in the product build): thread 0 of one block adds the
// cycles since the previous mark to phase i of the chunks that run at the dictionary's cap, and every such chunk's
// whole time to phase 15 (growing chunks to phase 14), so that the per-chunk chain can be taken apart.
#ifdef OVQ_PHASE_CLOCK
__device__ unsigned long long ovq_phase_cycles[16];
__device__ int ovq_phase_growing;  // 1: phases of the chunks that grow the dictionary instead
#define OVQ_PHASE(i) do { if (prof) { const long long now_ = clock64(); ph[i] += now_ - phLast; phLast = now_; } } while (0)
#else
#define OVQ_PHASE(i) do {} while (0)
#endif

// Rows per staged tile: the tile's three bf16 planes (below) take 24 KB at either head dim.
template <int D> __host__ __device__ constexpr int rt() { return D == 64 ? 64 : 32; }
template <int D> __host__ __device__ constexpr int pd() { return D + 8; }  // partial-numerator row stride: no bank conflicts
// Shared memory, in floats (bf16 arrays counted in floats of 2): the layout ovq_run_kernel carves, and the bytes
// CudaOvq asks for (CudaOvq.smemBytes mirrors it). Two blocks fit on an SM (<= 113 KB each): with one, a cluster of 8
// needs 8 free SMs of one GPC and the H100 holds only 15 such clusters (ncu, s14 call 2), so 16 heads ran in two waves.
template <int D>
__host__ __device__ constexpr int union_floats() {  // the tile's planes; the direct decode's and the fold's scratch
    return 3 * rt<D>() * D / 2 > 2 * DEC_ROWS ? 3 * rt<D>() * D / 2 : 2 * DEC_ROWS;
}
template <int D>
__host__ __device__ constexpr int smem_floats() {
    return union_floats<D>()                   // 3 bf16 planes [R][D] of mu (then 2 of val) | scratch
           + MAX_L * pd<D>()                   // partial numerators [MAX_L][pd] (exchanged across the cluster)
           + 3 * rt<D>()                       // the staged rows' counts, |mu|^2, 1/|mu|
           + 3 * MAX_L * D / 2                 // q, k, v of the chunk (bf16)
           + MAX_L * 12                        // per-token max, sum, |k|^2, assign/grow arrays, the slot table
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
// The cluster barrier in halves: arrive once this block's reads of the others' shared memory are done, wait before
// it next writes what they read (or exits), so that the local fold runs while the slowest block catches up.
DEVI void cluster_arrive() { asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory"); }
DEVI void cluster_wait() { asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory"); }

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

// Tensor-core products in fp32 precision (session 15: the FMA tiles at 2 warps per scheduler were latency-bound,
// ~60 % of the chunk's chain). A staged fp32 row x is split into bf16 planes x = hi + mid + lo (each the rounding of
// what the planes before it leave: 24 significant bits, exact to fp32's rounding); the chunk's q and k are bf16,
// so q . mu = q . hi + q . mid + q . lo has exact products accumulated in fp32: the assignment keeps fp32 margins.
// P V: P = hi + lo (16 bits), val = hi + lo, P V ~ Phi Vhi + Phi Vlo + Plo Vhi (relative error ~2^-16, far under
// the bf16 output's 2^-9).
// Planes: [R][D] bf16 each, rows swizzled (common/mma.cuh swz) so that ldmatrix reads are conflict-free; rows
// r >= nr are zeros (P V multiplies them by weights 0).
// Rows r < nr of the tile (global row (r0 + r) C + rank) into NP planes, every load of the thread issued before its
// stores (session 15, call 4: issuing them a phase earlier, behind the other product, measured no faster).
template <int D, int C, int NP>
DEVI void stage_planes(__nv_bfloat16* sP, const float* g, int r0, int nr, int rank, int tid, float* sMm, float* sRinv) {
    constexpr int R = rt<D>(), TPR = D / 4, PER = R * TPR / NT;  // threads per row, float4 per thread
    float4 v[PER];
#pragma unroll
    for (int k = 0; k < PER; k++) {
        const int e = tid + k * NT, r = e / TPR, c = e % TPR;
        v[k] = r < nr ? *reinterpret_cast<const float4*>(g + ((long)(r0 + r) * C + rank) * D + c * 4)
                      : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int k = 0; k < PER; k++) {
        const int e = tid + k * NT, r = e / TPR, c = e % TPR;
        const float x[4] = {v[k].x, v[k].y, v[k].z, v[k].w};
        float rest[4];
        uint32_t w[NP][2];
#pragma unroll
        for (int i = 0; i < 4; i++) rest[i] = x[i];
#pragma unroll
        for (int q = 0; q < NP; q++) {
            __nv_bfloat16 h[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                h[i] = __float2bfloat16_rn(rest[i]);
                rest[i] -= __bfloat162float(h[i]);
            }
            w[q][0] = (uint32_t)__bfloat16_as_ushort(h[0]) | ((uint32_t)__bfloat16_as_ushort(h[1]) << 16);
            w[q][1] = (uint32_t)__bfloat16_as_ushort(h[2]) | ((uint32_t)__bfloat16_as_ushort(h[3]) << 16);
            *reinterpret_cast<uint2*>(sP + q * R * D + swz<D>(r, c >> 1) + (c & 1) * 4) = make_uint2(w[q][0], w[q][1]);
        }
        if (sMm != nullptr) {  // |x|^2 over the row's TPR lanes (aligned groups of 16 or 32), lane c == 0's sum kept
            float ss = fmaf(x[3], x[3], fmaf(x[2], x[2], fmaf(x[1], x[1], x[0] * x[0])));
#pragma unroll
            for (int o = TPR / 2; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
            if (c == 0 && r < nr) {
                sMm[r] = ss;
                sRinv[r] = rsqrtf(ss + NORM_EPS);
            }
        }
    }
}

// A fragments (m16k16, row) of 16 rows x D of a plain bf16 [rows][D] array, rows x0 + g and x0 + g + 8 clamped to
// last: once per chunk (the rows are unpadded: 8-way conflicts, 16 or 32 loads per chunk).
template <int D>
DEVI void load_a_frags(uint32_t (&a)[D / 16][4], const __nv_bfloat16* sX, int x0, int last, int lane) {
    const int g = lane >> 2, t = lane & 3;
    const uint32_t* r0 = reinterpret_cast<const uint32_t*>(sX + min(x0 + g, last) * D);
    const uint32_t* r1 = reinterpret_cast<const uint32_t*>(sX + min(x0 + g + 8, last) * D);
#pragma unroll
    for (int k = 0; k < D / 16; k++) {
        a[k][0] = r0[8 * k + t];
        a[k][1] = r1[8 * k + t];
        a[k][2] = r0[8 * k + 4 + t];
        a[k][3] = r1[8 * k + 4 + t];
    }
}

// s[j] (m16n8, fp32) = the warp's 16 rows of A . rows 8 j .. 8 j + 7 of the tile, over the three planes of mu.
template <int D>
DEVI void plane_scores(float (&s)[rt<D>() / 8][4], const uint32_t (&a)[D / 16][4], const __nv_bfloat16* sP, int lane) {
    constexpr int R = rt<D>();
#pragma unroll
    for (int j = 0; j < R / 8; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) s[j][i] = 0.f;
    const int mat = lane >> 3;
#pragma unroll
    for (int q = 0; q < 3; q++)
#pragma unroll
        for (int k = 0; k < D / 16; k++)
#pragma unroll
            for (int j = 0; j < R / 8; j += 2) {
                const int row = 8 * (j + (mat >> 1)) + (lane & 7), chunk = 2 * k + (mat & 1);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(sP + q * R * D + swz<D>(row, chunk)));
                mma_bf16_16816(s[j], a[k], b0, b1);
                mma_bf16_16816(s[j + 1], a[k], b2, b3);
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
                    sW[DEC_ROWS + r] = cn[k];
                }
                zmax = fmaxf(zmax, z);
            }
        }
    }
    const float M = block_reduce(zmax, true, red, tid);
    float l = 0.f;
    for (int r = tid; r < own; r += NT) {
        const float c = sW[DEC_ROWS + r], p = __expf(sW[r] - M);
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
template <int D, int C, bool TRAIN = false>
__device__ __forceinline__ void ovq_run_kernel(__nv_bfloat16* __restrict__ O, const __nv_bfloat16* __restrict__ Q,
                                               const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V,
                                               const float* __restrict__ beta, float* __restrict__ mu,
                                               float* __restrict__ val, float* __restrict__ cnt, int* __restrict__ meta,
                                               __nv_bfloat16* __restrict__ bufK, __nv_bfloat16* __restrict__ bufV,
                                               const int* __restrict__ targets, int nTargets, int T, int H, int NMAX,
                                               int L, int flags, float eta, const Records rec) {
    static_assert(D % 32 == 0 && D <= 128, "head dim");
    constexpr int R = rt<D>(), PD = pd<D>();
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
    __nv_bfloat16* sPl3 = reinterpret_cast<__nv_bfloat16*>(smem);  // 3 planes [R][D]: mu's, then 2 of val
    float* sS = smem;                          // the same space: the direct decode's and the fold's scratch
    float* sPacc = smem + union_floats<D>();   // [MAX_L][PD] partial numerators (segment-relative tokens)
    float* sC = sPacc + MAX_L * PD;            // [R] counts of the staged rows
    float* sMm = sC + R;                       // [R] |mu|^2
    float* sRinv = sMm + R;                    // [R] 1 / sqrt(|mu|^2 + eps)
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(sRinv + R);  // [MAX_L][D], by position in the chunk
    __nv_bfloat16* sK = sQ + MAX_L * D;
    __nv_bfloat16* sV = sK + MAX_L * D;
    float* sPm = reinterpret_cast<float*>(sV + MAX_L * D);  // [MAX_L] running max (log units, beta applied)
    float* sPl = sPm + MAX_L;                  // [MAX_L] running sum of e^{z - m} c
    float* sTop = sPl + MAX_L;              // [MAX_L] best assign score over this block's rows
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
    __shared__ int sNslots;

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

    bool arrived = false;  // an arrival whose wait is still due
    for (int t = 0; t < T;) {
        const int seg = min(T - t, L - buffered), xs = buffered;
        const bool fold = xs + seg == L;
#ifdef OVQ_PHASE_CLOCK
        prof = tid == 0 && rank == 0 && h == 0 && b == 0 && fold && seg == L && (ovq_phase_growing ? n < NMAX : n >= NMAX);
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
        if (arrived) cluster_wait();  // every block is done reading the previous segment's partials
        arrived = false;
        for (int x = tid; x < MAX_L; x += NT) {
            sPm[x] = -INFINITY; sPl[x] = 0.f;
            sTop[x] = -INFINITY; sArg[x] = -1; sNear[x] = INFINITY;
        }
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
        const bool direct = seg == 1 && !fold && own <= DEC_ROWS;
        if (direct) decode_partial<D, C>(sQ + xs * D, gMu, gVal, gCnt, own, rank, bt, newton, renorm, sS, sPacc, sPm, sPl, sZ, tid);
        // The staged path, per tile of R rows: warps 0-3 score the segment's queries (16 each) and run the online
        // softmax, then P V; warps 4-7, when the chunk folds, score its keys and keep each key's nearest row. Each
        // warp owns its tokens' max, sum (registers) and numerators (sPacc rows) through all tiles.
        const int g = lane >> 2, t4 = lane & 3, mt = warp & 3, xa = 16 * mt + g, xb = xa + 8;
        const bool qWarp = warp < 4 && 16 * mt < seg, kWarp = warp >= 4 && fold;
        uint32_t af[D / 16][4];
        if (!direct && own > 0) {
            if (qWarp) load_a_frags<D>(af, sQ, xs + 16 * mt, xs + seg - 1, lane);
            if (kWarp) load_a_frags<D>(af, sK, 16 * mt, L - 1, lane);
        }
        float qm[2] = {-INFINITY, -INFINITY}, ql[2] = {0.f, 0.f};
        for (int r0 = 0; !direct && r0 < own; r0 += R) {
            const int nr = min(R, own - r0);
            stage_planes<D, C, 3>(sPl3, gMu, r0, nr, rank, tid, sMm, sRinv);
            if (tid < nr) sC[tid] = gCnt[(long)(r0 + tid) * C + rank];
            __syncthreads();
            OVQ_PHASE(1);
            float sc[R / 8][4];
            uint32_t phi[R / 16][4], plo[R / 16][4];  // P's hi and lo A fragments
            float scale[2];
            if (kWarp) {  // assign: this block's nearest row for each of the warp's keys
                plane_scores<D>(sc, af, sPl3, lane);
                const float kk[2] = {sKk[min(xa, L - 1)], sKk[min(xb, L - 1)]};
                float top[2] = {-INFINITY, -INFINITY}, near[2] = {INFINITY, INFINITY};
                int arg[2] = {-1, -1};
#pragma unroll
                for (int j = 0; j < R / 8; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int r = 8 * j + 2 * t4 + e;
                        if (r < nr) {
                            const float mm = sMm[r];
#pragma unroll
                            for (int i = 0; i < 2; i++) {
                                const float dot = sc[j][2 * i + e];
                                better(top[i], arg[i], euclid ? dot - 0.5f * mm : dot, (r0 + r) * C + rank);
                                near[i] = fminf(near[i], kk[i] - 2.f * dot + mm);
                            }
                        }
                    }
#pragma unroll
                for (int i = 0; i < 2; i++) {
#pragma unroll
                    for (int o = 1; o < 4; o <<= 1) {
                        better(top[i], arg[i], __shfl_xor_sync(0xffffffffu, top[i], o), __shfl_xor_sync(0xffffffffu, arg[i], o));
                        near[i] = fminf(near[i], __shfl_xor_sync(0xffffffffu, near[i], o));
                    }
                    const int x = i == 0 ? xa : xb;
                    if (t4 == 0 && x < L) {
                        better(sTop[x], sArg[x], top[i], arg[i]);
                        sNear[x] = fminf(sNear[x], near[i]);
                    }
                }
            }
            if (qWarp) {  // read: one online-softmax step over the tile, P kept as A fragments
                plane_scores<D>(sc, af, sPl3, lane);
                float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
                for (int j = 0; j < R / 8; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int r = 8 * j + 2 * t4 + e;
                        const float f = bt * (renorm && r < nr ? sRinv[r] : 1.f);
#pragma unroll
                        for (int i = 0; i < 2; i++) {
                            const float z = r < nr ? f * sc[j][2 * i + e] : -INFINITY;
                            sc[j][2 * i + e] = z;
                            mx[i] = fmaxf(mx[i], z);
                        }
                    }
                float mNew[2], lsum[2] = {0.f, 0.f};
#pragma unroll
                for (int i = 0; i < 2; i++) {
                    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
                    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
                    mNew[i] = fmaxf(qm[i], mx[i]);
                    scale[i] = qm[i] == -INFINITY ? 0.f : __expf(qm[i] - mNew[i]);
                }
#pragma unroll
                for (int j = 0; j < R / 8; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int r = 8 * j + 2 * t4 + e;
                        const float c = r < nr ? sC[r] : 0.f;
#pragma unroll
                        for (int i = 0; i < 2; i++) {
                            const float pr = __expf(sc[j][2 * i + e] - mNew[i]), pc = pr * c;
                            lsum[i] += pc;
                            sc[j][2 * i + e] = newton ? pr : pc;
                        }
                    }
#pragma unroll
                for (int i = 0; i < 2; i++) {
                    lsum[i] += __shfl_xor_sync(0xffffffffu, lsum[i], 1);
                    lsum[i] += __shfl_xor_sync(0xffffffffu, lsum[i], 2);
                    ql[i] = ql[i] * scale[i] + lsum[i];
                    qm[i] = mNew[i];
                }
#pragma unroll
                for (int k = 0; k < R / 16; k++)
#pragma unroll
                    for (int v = 0; v < 4; v++) {  // a0: (g, 2t), a1: (g + 8, 2t), a2: (g, 2t + 8), a3: (g + 8, 2t + 8)
                        const float* c = sc[2 * k + (v >> 1)] + 2 * (v & 1);
                        const __nv_bfloat16 h0 = __float2bfloat16_rn(c[0]), h1 = __float2bfloat16_rn(c[1]);
                        phi[k][v] = (uint32_t)__bfloat16_as_ushort(h0) | ((uint32_t)__bfloat16_as_ushort(h1) << 16);
                        plo[k][v] = pack_bf16(c[0] - __bfloat162float(h0), c[1] - __bfloat162float(h1));
                    }
            }
            __syncthreads();  // mu's planes read
            OVQ_PHASE(2);
            stage_planes<D, C, 2>(sPl3, gVal, r0, nr, rank, tid, nullptr, nullptr);
            __syncthreads();
            OVQ_PHASE(4);
            if (qWarp) {  // P V over 64 dims at a time, added into the warp's sPacc rows (rescaled)
                const int mat = lane >> 3;
#pragma unroll
                for (int d0 = 0; d0 < D; d0 += 64) {
                    float o[8][4];
#pragma unroll
                    for (int j = 0; j < 8; j++)
#pragma unroll
                        for (int i = 0; i < 4; i++) o[j][i] = 0.f;
#pragma unroll
                    for (int k = 0; k < R / 16; k++)
#pragma unroll
                        for (int j = 0; j < 8; j += 2) {
                            const int row = 16 * k + 8 * (mat & 1) + (lane & 7), chunk = (d0 >> 3) + j + (mat >> 1);
                            uint32_t h0, h1, h2, h3, l0, l1, l2, l3;
                            ldmatrix_x4_trans(h0, h1, h2, h3, smem_u32(sPl3 + swz<D>(row, chunk)));
                            ldmatrix_x4_trans(l0, l1, l2, l3, smem_u32(sPl3 + R * D + swz<D>(row, chunk)));
                            mma_bf16_16816(o[j], phi[k], h0, h1);
                            mma_bf16_16816(o[j], phi[k], l0, l1);
                            mma_bf16_16816(o[j], plo[k], h0, h1);
                            mma_bf16_16816(o[j + 1], phi[k], h2, h3);
                            mma_bf16_16816(o[j + 1], phi[k], l2, l3);
                            mma_bf16_16816(o[j + 1], plo[k], h2, h3);
                        }
#pragma unroll
                    for (int i = 0; i < 2; i++) {
                        const int x = i == 0 ? xa : xb;
                        if (x >= seg) continue;
#pragma unroll
                        for (int j = 0; j < 8; j++) {
                            float2* pa = reinterpret_cast<float2*>(sPacc + x * PD + d0 + 8 * j + 2 * t4);
                            float2 prev = r0 == 0 ? make_float2(0.f, 0.f) : *pa;
                            prev.x = fmaf(prev.x, scale[i], o[j][2 * i]);
                            prev.y = fmaf(prev.y, scale[i], o[j][2 * i + 1]);
                            *pa = prev;
                        }
                    }
                }
            }
            __syncthreads();  // val's planes read
            OVQ_PHASE(5);
        }
        if (!direct) {
            if (own == 0)  // no rows: empty partials (the finish weighs them by 0, which must not meet NaN)
                for (int e = tid; e < seg * D; e += NT) sPacc[(e / D) * PD + e % D] = 0.f;
            else if (qWarp && t4 == 0) {
                if (xa < seg) { sPm[xa] = qm[0]; sPl[xa] = ql[0]; }
                if (xb < seg) { sPm[xb] = qm[1]; sPl[xb] = ql[1]; }
            }
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
                    const float* pa = cluster.map_shared_rank(sPacc, q) + x * PD;
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
            const long row = ((long)b * T + t + x) * H + h;
            __nv_bfloat16* o = O + row * D;
#pragma unroll
            for (int c = 0; c < D / 32; c++) o[lane + 32 * c] = __float2bfloat16_rn(num[c] * inv);
            if (TRAIN) {  // training: the read before its rounding, and its softmax statistics
#pragma unroll
                for (int c = 0; c < D / 32; c++) rec.oF[row * D + lane + 32 * c] = num[c] * inv;
                if (lane == 0) { rec.stats[2 * row] = M; rec.stats[2 * row + 1] = den; }
            }
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
        cluster_arrive();  // this block has read the others' partials; the wait is at the next segment's start
        arrived = true;
        __syncthreads();  // the merge's sBest / sA / sFar / sFounder, read by the fold (the full cluster barrier was one)
        OVQ_PHASE(8);

        if (fold) {
            const int nOld = n;
            const int target = targets[min(folded, nTargets - 1)];
            const int grow = min(L, max(0, target - n));
            // Grow: every warp finds the farthest non-founder itself from the same data (max of an order-preserving
            // key, then the lowest token holding it), so the picks need no broadcast and one barrier each; the scores
            // alternate between two buffers (a warp may still read pick f's while another writes pick f + 1's).
            // Session 15: a warp-0 pick, broadcast, and two barriers per pick were ~35 % of a growing chunk.
            float* sFar2 = sS + 3 * MAX_L;  // [MAX_L] the other score buffer (sS + 0 .. 3 MAX_L: the write's scratch)
            unsigned long long founders = 0ull;  // bit x: token x founded a row (the same in every thread)
            for (int f = 0; f < grow; f++) {
                const float* far = f & 1 ? sFar2 : sFar;
                float* farNext = f & 1 ? sFar : sFar2;
                const auto key = [&](int x) -> unsigned {  // larger score, larger key; founders and x >= L: 0
                    if (x >= L || ((founders >> x) & 1ull)) return 0u;
                    const unsigned u = __float_as_uint(far[x] + 0.f);  // -0 -> +0: equal scores, equal keys
                    return u & 0x80000000u ? ~u : u | 0x80000000u;
                };
                const unsigned k0 = key(lane), k1 = key(lane + 32);
                const unsigned m = __reduce_max_sync(0xffffffffu, max(k0, k1));
                const unsigned lo = __ballot_sync(0xffffffffu, k0 == m), hi = __ballot_sync(0xffffffffu, k1 == m);
                const int pick = lo ? __ffs(lo) - 1 : 31 + __ffs(hi), j = n + f;
                founders |= 1ull << pick;
                if (tid == 0) sPick[f] = pick;
                if (j % C == rank)
                    for (int i = tid; i < D; i += NT) {
                        gMu[(long)j * D + i] = bf(sK + pick * D, i);
                        gVal[(long)j * D + i] = bf(sV + pick * D, i);
                        if (i == 0) gCnt[j] = 1.f;
                    }
                {  // |k_x - k_pick|^2: four threads per token, a quarter of the dims each
                    const int x = tid >> 2, p = tid & 3;
                    const float dd = quarter_dot<D>(sK, x, pick, p, true);
                    if (p == 0 && x < L) farNext[x] = fminf(far[x], dd);
                }
                __syncthreads();
            }
            if (tid < L) sFounder[tid] = (int)((founders >> tid) & 1ull);
            n += grow;
            OVQ_PHASE(9);
            // Re-assign the non-founders against the new rows (strictly better only, in row order: better() with the
            // rows' indices). The new rows are chunk keys, so the dots are G = K K^T, on the tensor cores once.
            if (grow > 0) {
                constexpr int GS = MAX_L + 4;
                float* sG = sS + 4 * MAX_L;  // [MAX_L][GS]
                {
                    const int m2 = warp & 3, nb = (warp >> 2) * 4;  // keys 16 m2 .. (rows) x 32 (warp >> 2) .. (cols)
                    uint32_t ka[D / 16][4];
                    load_a_frags<D>(ka, sK, 16 * m2, L - 1, lane);
                    float gc[4][4] = {};
#pragma unroll
                    for (int jj = 0; jj < 4; jj++) {
                        const uint32_t* kr = reinterpret_cast<const uint32_t*>(sK + min(8 * (nb + jj) + g, L - 1) * D);
#pragma unroll
                        for (int k = 0; k < D / 16; k++) mma_bf16_16816(gc[jj], ka[k], kr[8 * k + t4], kr[8 * k + 4 + t4]);
                    }
#pragma unroll
                    for (int jj = 0; jj < 4; jj++)
#pragma unroll
                        for (int e = 0; e < 4; e++)
                            sG[(16 * m2 + g + 8 * (e >> 1)) * GS + 8 * (nb + jj) + 2 * t4 + (e & 1)] = gc[jj][e];
                }
                __syncthreads();
                const int x = tid >> 2, p = tid & 3;  // every thread (x < MAX_L): the shuffles need whole warps
                float best = -INFINITY;
                int a = -1;
                for (int f = p; f < grow; f += 4) {
                    const int y = sPick[f];
                    const float dot = sG[x * GS + y];
                    better(best, a, euclid ? dot - 0.5f * sKk[y] : dot, nOld + f);
                }
#pragma unroll
                for (int o = 1; o < 4; o <<= 1)
                    better(best, a, __shfl_xor_sync(0xffffffffu, best, o), __shfl_xor_sync(0xffffffffu, a, o));
                if (p == 0 && x < L && !((founders >> x) & 1ull)) {
                    float b0 = sBest[x];
                    int a0 = sA[x];
                    better(b0, a0, best, a);
                    sBest[x] = b0;
                    sA[x] = a0;
                }
            }
            __syncthreads();
            OVQ_PHASE(10);
            if (TRAIN && folded < rec.folds && rank == 0 && tid < L) {  // training: the tokens' rows (Records.code)
                int c = sA[tid];
                for (int f = 0; f < grow; f++) c = sPick[f] == tid ? -(nOld + f + 2) : c;
                int* code = rec.code + ((long)bh * rec.folds + folded) * L;
                code[tid] = c;
                if (tid == 0) rec.nOld[(long)bh * rec.folds + folded] = nOld;
            }
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
                if (TRAIN && folded < rec.folds) {  // training: the row as it was, filed under its first token
                    float* pr = rec.prev + (((long)bh * rec.folds + folded) * L + sSlot[k]) * prev_stride<D>();
                    pr[i] = *pm;
                    pr[D + i] = *pv;
                    if (i == 0) pr[2 * D] = c;
                }
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
    if (arrived) cluster_wait();  // no block leaves while another may still read its shared memory
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

// The norm's backward, a warp per row: dX [rows, D] bf16 from dXhat [rows, D] fp32 and X [rows, D] bf16, the row
// before the norm (xhat = x r, r = (|x|^2 + eps)^-1/2): dx = r (dxhat - xhat (xhat . dxhat)). With normalize 0 it
// only rounds dXhat to bf16 (v's gradient, which has no norm).
template <int D>
__device__ __forceinline__ void ovq_l2norm_bwd_kernel(__nv_bfloat16* __restrict__ dX, const __nv_bfloat16* __restrict__ X,
                                                      const float* __restrict__ dXhat, long rows, int normalize) {
    const long row = (long)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    float g[D / 32], xh[D / 32], s = 0.f;
#pragma unroll
    for (int c = 0; c < D / 32; c++) {
        g[c] = dXhat[row * D + lane + 32 * c];
        xh[c] = bf(X + row * D, lane + 32 * c);
        s = fmaf(xh[c], xh[c], s);
    }
    float r = 1.f, dot = 0.f;
    if (normalize) {
        r = rsqrtf(warp_sum0(s) + NORM_EPS);
#pragma unroll
        for (int c = 0; c < D / 32; c++) {
            xh[c] *= r;
            dot = fmaf(xh[c], g[c], dot);
        }
        dot = warp_sum0(dot);
    }
#pragma unroll
    for (int c = 0; c < D / 32; c++)
        dX[row * D + lane + 32 * c] = __float2bfloat16_rn(normalize ? r * (g[c] - xh[c] * dot) : g[c]);
}
}  // namespace ovq
