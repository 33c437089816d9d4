// defines: mla_decode_splitkv_kernel<R, DR, BN>, mla_decode_combine_kernel<R> — absorbed MLA decode
// (mla.md section 3): one new token's n query heads over the latent cache, as MQA with one K/V row per token.
//
// Letters: B batch, H heads, R = r_kv latent width, DR = d_r rope width, DK = R + DR, L valid cache rows,
// Tmax cache capacity, S splits of the sequence (chunk rows each, the last one shorter).
// Layouts:
//   Qa [B, H, DK] bf16: per head [q~ ; q^R] with q~ = W_UK,h^T q^C_h (absorbed, rounded to bf16 once) and q^R the
//      rotated rope query;
//   Cache [B, Tmax, DK] bf16: one row [c_t ; k^R_t] per token (FlashMLA / vLLM "head size 576, 1 KV head"; the
//      engine's KvCache keys row), the first L rows valid; the values are the first R columns of the same row;
//   partO [B, H, S, R] fp32 (unnormalised), partML [B, H, S, 2] fp32 (running max in log2 units, sum);
//   OLat [B, H, R] fp32: o~_h = sum_s p_{h,s} c_s (the caller applies W_UV,h).
// Logits are scale * (q~ . c_s + q^R . k^R_s) with scale passed in (mla.md: d_qk^-1/2, not DK^-1/2).
//
// One block = one chunk of the sequence x 16 heads (one m16 MMA row block; H <= 16 reads the cache once for all
// heads, H > 16 once per 16-head group). 8 warps. Per tile of BN rows, double-buffered through cp.async:
//   S [16, BN] = Qa C^T on mma.sync: warp w computes key columns 8(w % (BN/8)).. over the k-slice w / (BN/8)
//     of DK (BN = 64: one slice; BN = 32: two halves summed when read), written to shared memory;
//   every warp then reads the whole S, runs the same online softmax (identical arithmetic, so identical m, l in
//     every warp) and accumulates O [16, R] += P C[:, :R] for its own 16-column groups of R.
// Memory-bound by design (mla.md: ~2n FLOP per cache byte, below the H100 ridge): the K/V tile is read from
// global memory once and used by both products; one tile loads while the previous one is computed.
#pragma once
#include "../common/mma.cuh"
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

namespace mla_decode {
constexpr int NWARPS = 8, NTHREADS = NWARPS * 32, HT = 16;  // HT: heads per block (MMA rows)
template <int R, int DR, int BN> __host__ __device__ constexpr int smem_bytes() {
    return (HT * (R + DR + 8) + 2 * BN * (R + DR + 8)) * 2 + (NWARPS * 8 / BN) * HT * (BN + 4) * 4;
}
}

// Lab only (kernels-dev/mla_decode_cluster_lab.cu defines MLA_DECODE_TRACE): thread 0 of each block stamps
// %globaltimer at the split kernel's milestones into mla_trace[block][8] and at the combine's into
// mla_trace_c[block][8]; the shipped build compiles MTRACE to nothing.
#ifdef MLA_DECODE_TRACE
__device__ unsigned long long mla_trace[4096 * 8], mla_trace_c[4096 * 8];
#define MTRACE(arr, k)                                                                                      \
    do {                                                                                                    \
        if (threadIdx.x == 0 && threadIdx.y == 0) {                                                         \
            unsigned long long t_;                                                                          \
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_));                                         \
            arr[(blockIdx.x + (long)gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z)) * 8 + (k)] = t_;     \
        }                                                                                                   \
    } while (0)
#else
#define MTRACE(arr, k) do {} while (0)
#endif

namespace mla_decode {
constexpr int CGROUPS = 8;
// The 16 absorbed query rows of head group h0 into shared memory rows of SK elements (cp.async, not committed);
// heads past H are zero-filled (source size 0). dk: Qa's row width, DK unless the instance is padded (the "any"
// instances: columns dk .. DK - 1 zero-filled, so they add nothing to S).
template <int DK, int SK>
DEVI void stage_qa(__nv_bfloat16* Qs, const __nv_bfloat16* __restrict__ Qa, int b, int H, int h0, int dk = DK) {
    constexpr int CH = DK / 8;
    for (int i = threadIdx.x; i < HT * CH; i += NTHREADS) {
        const int r = i / CH, c = i % CH, h = h0 + r;
        const bool ok = h < H && (dk == DK || c * 8 < dk);  // the first folds away in the exact instances
        cp_async_16(smem_u32(Qs + r * SK + c * 8), ok ? Qa + ((long)b * H + h) * dk + c * 8 : Qa, ok ? 16 : 0);
    }
}
// One 16-key step of O [16, R] += P V for a warp's 16-column groups warp, warp + NWARPS, .. (V = the first R columns
// of the cached rows in cs, rows SK elements apart; pa: P's A fragment for keys 16 kk..).
template <int R, int SK, int GPW>
DEVI void pv_kstep(float (&o)[GPW][2][4], const uint32_t (&pa)[4], const __nv_bfloat16* cs, int kk, int warp, int lane) {
#pragma unroll
    for (int g = 0; g < GPW; g++) {
        const int grp = warp + g * NWARPS;
        if (grp < R / 16) {
            uint32_t b0, b1, b2, b3;
            ldmatrix_x4_trans(b0, b1, b2, b3,
                              smem_u32(cs + (16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3)) * SK + (2 * grp + (lane >> 4)) * 8));
            mma_bf16_16816(o[g][0], pa, b0, b1);
            mma_bf16_16816(o[g][1], pa, b2, b3);
        }
    }
}
// A warp's O accumulators over its 16-column groups warp, warp + NWARPS, .. of R (m16n8 C fragments: head rows
// lane / 4 and lane / 4 + 8) into the partial rows rowA / rowB of partO (those heads, this split); okA / okB: head < H.
template <int R, int GPW>
DEVI void store_partial_o(float* __restrict__ partO, const float (&o)[GPW][2][4], long rowA, long rowB, bool okA,
                          bool okB, int warp, int lane) {
#pragma unroll
    for (int g = 0; g < GPW; g++) {
        const int grp = warp + g * NWARPS;
        if (grp < R / 16) {
#pragma unroll
            for (int n = 0; n < 2; n++) {
                const int c = grp * 16 + n * 8 + (lane & 3) * 2;
                if (okA) *reinterpret_cast<float2*>(partO + rowA * R + c) = make_float2(o[g][n][0], o[g][n][1]);
                if (okB) *reinterpret_cast<float2*>(partO + rowB * R + c) = make_float2(o[g][n][2], o[g][n][3]);
            }
        }
    }
}
// Merge (m2, l2, a2) into (m, l, a); m in log2 units, -inf = empty.
DEVI void merge_partial(float& m, float& l, float4& a, float m2, float l2, float4 a2) {
    const float mn = fmaxf(m, m2);
    const float ca = m == -INFINITY ? 0.f : exp2f(m - mn), cb = m2 == -INFINITY ? 0.f : exp2f(m2 - mn);
    a.x = a.x * ca + a2.x * cb; a.y = a.y * ca + a2.y * cb; a.z = a.z * ca + a2.z * cb; a.w = a.w * ca + a2.w * cb;
    l = l * ca + l2 * cb;
    m = mn;
}
}
// SPIN (session 4, lab only: kernels-dev/mla_decode_spin_lab.cu; it LOST to split + combine, 0.8-1.3x the time,
// docs/perf-log.md "Session 4, dec"): the combine fused into the split kernel for a co-resident grid: every block
// writes its partial, thread 0 arrives on the (b, head group)'s counter (acq_rel), the last to arrive resets it and
// releases the group's epoch, and every block then merges a slice of the 16 x R/4 float4 columns of OLat
// (attention/decode.cuh SPIN = 2). counters: 2 ints per (b, head group), zero before the first launch.
// CL > 1 (sm_90+, launched in clusters of CL consecutive splits, S a multiple of CL): the cluster's blocks first
// merge their results through distributed shared memory, block rank r owning columns [r R / CL, (r + 1) R / CL)
// of all 16 heads, so partO / partML hold S / CL partials ([B, H, S / CL, R]) and the combine reads CL times fewer
// bytes (at batch 1 the S = 128 partials of 32 KB were 4.2 MB written and read per call against 18.9 MB of cache).
// NACC: independent accumulator chains of S = Qa C^T (the k-steps round robin, summed at the end); 1 = one chain
// of DK / 16 dependent MMAs per warp and tile, which the last tile's compute waits through after the loads.
// ANY (session 13; the "any" instance at R = 960): the rows are dkRun <= R + DR wide, as mla_decode_ring_kernel's ANY
// (columns past dkRun zero-filled in shared memory; the partials' columns past the real latent are dropped by the
// combine's r).
template <int R, int DR, int BN, bool SPIN = false, int CL = 1, int NACC = 1, bool ANY = false>
__device__ __forceinline__ void mla_decode_splitkv_kernel(float* __restrict__ partO, float* __restrict__ partML,
                                                          const __nv_bfloat16* __restrict__ Qa,
                                                          const __nv_bfloat16* __restrict__ Cache, int L, int Tmax,
                                                          int H, int chunk, float scale, float* __restrict__ OLat = nullptr,
                                                          int* __restrict__ counters = nullptr, int dkRun = R + DR) {
    using namespace mla_decode;
    constexpr int DK = R + DR, SK = DK + 8, CH = DK / 8;      // padded row stride: odd count of 16-byte chunks
    const int dk = ANY ? dkRun : DK;                          // the rows' real width
    constexpr int KSPLIT = NWARPS * 8 / BN, KSTEPS = DK / 16 / KSPLIT;  // k-slices of S and their 16-wide steps
    constexpr int NG = R / 16, GPW = (NG + NWARPS - 1) / NWARPS;     // 16-column groups of O, per warp
    constexpr int SS = BN + 4;                                       // S row stride (floats)
    static_assert(DK % 16 == 0 && (DK / 8) % 2 == 0 && R % 16 == 0, "widths: multiples of 16");
    static_assert(NWARPS * 8 % BN == 0 && KSTEPS % 2 == 0 && KSTEPS * 16 * KSPLIT == DK, "S work split");
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Qs = smem;             // [HT, SK]
    __nv_bfloat16* Cs = Qs + HT * SK;     // [2][BN, SK]
    float* Ss = reinterpret_cast<float*>(Cs + 2 * BN * SK);  // [KSPLIT][HT, SS]

    MTRACE(mla_trace, 0);  // start
    const int split = blockIdx.x, h0 = blockIdx.y * HT, b = blockIdx.z, nSplit = gridDim.x;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int start = split * chunk, end = min(L, start + chunk);
    const int nTiles = (end - start + BN - 1) / BN;
    const __nv_bfloat16* Cb = Cache + (long)b * Tmax * dk;
    int* ctr = nullptr;  // SPIN: {arrivals, epoch} of this (b, head group)
    int epoch0 = 0;      // read before this block arrives: the epoch moves only once every block has
    if constexpr (SPIN) {
        ctr = counters + 2 * (b * gridDim.y + blockIdx.y);
        if (tid == 0) epoch0 = ld_relaxed_gpu(ctr + 1);
    }

    stage_qa<DK, SK>(Qs, Qa, b, H, h0, dk);
    auto load_tile = [&](int j, int buf) {
        __nv_bfloat16* cs = Cs + buf * BN * SK;
        for (int i = tid; i < BN * CH; i += NTHREADS) {
            int r = i / CH, c = i % CH, t = start + j * BN + r;
            bool ok = t < end && (!ANY || c * 8 < dk);
            cp_async_16(smem_u32(cs + r * SK + c * 8), ok ? Cb + (long)t * dk + c * 8 : Cb, ok ? 16 : 0);
        }
    };
    load_tile(0, 0);
    cp_async_commit();

    const float scaleLog2 = scale * 1.4426950408889634f;
    float o[GPW][2][4];
    float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f};  // heads lane/4 and lane/4 + 8
#pragma unroll
    for (int g = 0; g < GPW; g++)
#pragma unroll
        for (int n = 0; n < 2; n++) o[g][n][0] = o[g][n][1] = o[g][n][2] = o[g][n][3] = 0.f;
    const int keyTile = warp % (BN / 8), slice = warp / (BN / 8);

    for (int j = 0; j < nTiles; j++) {
        const int buf = j & 1;
        if (j + 1 < nTiles) {
            load_tile(j + 1, buf ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (j == 0) MTRACE(mla_trace, 1);  // q and the first tile are in shared memory
        const __nv_bfloat16* cs = Cs + buf * BN * SK;

        // S partial: 16 heads x 8 keys over this warp's k-slice, two k-steps per K ldmatrix.
        float sacc[NACC][4];
#pragma unroll
        for (int a = 0; a < NACC; a++) sacc[a][0] = sacc[a][1] = sacc[a][2] = sacc[a][3] = 0.f;
#pragma unroll
        for (int k2 = 0; k2 < KSTEPS / 2; k2++) {
            const int k = slice * KSTEPS + 2 * k2;
            uint32_t b0, b1, b2, b3, qa[4];
            ldmatrix_x4(b0, b1, b2, b3, smem_u32(cs + (keyTile * 8 + (lane & 7)) * SK + (2 * k + (lane >> 3)) * 8));
            ldmatrix_x4(qa[0], qa[1], qa[2], qa[3], smem_u32(Qs + (lane & 15) * SK + (2 * k + (lane >> 4)) * 8));
            mma_bf16_16816(sacc[(2 * k2) % NACC], qa, b0, b1);
            ldmatrix_x4(qa[0], qa[1], qa[2], qa[3], smem_u32(Qs + (lane & 15) * SK + (2 * k + 2 + (lane >> 4)) * 8));
            mma_bf16_16816(sacc[(2 * k2 + 1) % NACC], qa, b2, b3);
        }
#pragma unroll
        for (int a = 1; a < NACC; a++)
#pragma unroll
            for (int e = 0; e < 4; e++) sacc[0][e] += sacc[a][e];
        {
            float* sp = Ss + slice * HT * SS + (lane >> 2) * SS + keyTile * 8 + (lane & 3) * 2;
            *reinterpret_cast<float2*>(sp) = make_float2(sacc[0][0], sacc[0][1]);
            *reinterpret_cast<float2*>(sp + 8 * SS) = make_float2(sacc[0][2], sacc[0][3]);
        }
        __syncthreads();

        // The whole S in the C-fragment layout of a [16, BN] tile; keys past the chunk end masked.
        float s[BN / 8][4];
        const int kBase = start + j * BN;
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            const int c = nt * 8 + (lane & 3) * 2;
            float2 lo = make_float2(0.f, 0.f), hi = make_float2(0.f, 0.f);
#pragma unroll
            for (int sl = 0; sl < KSPLIT; sl++) {
                const float* sp = Ss + sl * HT * SS + (lane >> 2) * SS + c;
                float2 a = *reinterpret_cast<const float2*>(sp), d = *reinterpret_cast<const float2*>(sp + 8 * SS);
                lo.x += a.x; lo.y += a.y; hi.x += d.x; hi.y += d.y;
            }
            const bool ok0 = kBase + c < end, ok1 = kBase + c + 1 < end;
            s[nt][0] = ok0 ? lo.x * scaleLog2 : -INFINITY;
            s[nt][1] = ok1 ? lo.y * scaleLog2 : -INFINITY;
            s[nt][2] = ok0 ? hi.x * scaleLog2 : -INFINITY;
            s[nt][3] = ok1 ? hi.y * scaleLog2 : -INFINITY;
        }
        float mx[2] = {mRow[0], mRow[1]};
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
        }
        float corr[2], base[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
            base[r] = mx[r] == -INFINITY ? 0.f : mx[r];
            corr[r] = exp2f(mRow[r] - base[r]);
            mRow[r] = mx[r];
            lRow[r] *= corr[r];
        }
#pragma unroll
        for (int g = 0; g < GPW; g++)
#pragma unroll
            for (int n = 0; n < 2; n++) {
                o[g][n][0] *= corr[0]; o[g][n][1] *= corr[0];
                o[g][n][2] *= corr[1]; o[g][n][3] *= corr[1];
            }
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] = exp2f(s[nt][e] - base[e >> 1]);
            lRow[0] += s[nt][0] + s[nt][1];
            lRow[1] += s[nt][2] + s[nt][3];
        }
        // O += P V with V = the first R columns of the same cache rows.
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            const uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                    pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            pv_kstep<R, SK, GPW>(o, pa, cs, kk, warp, lane);
        }
        __syncthreads();  // the next iteration's prefetch and S overwrite this tile's buffers
    }

    MTRACE(mla_trace, 2);  // the last tile is consumed
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 1);
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 2);
    }
    const int hA = h0 + (lane >> 2), hB = hA + 8;
    if constexpr (CL > 1) {
        static_assert(!SPIN && (HT * R / 4) % (CL * NTHREADS) == 0, "cluster merge: whole float4 columns per thread");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
        __trap();  // clusters are sm_90+
#else
        // This block's [16, R] result and its (m, l) per head in the (now idle) cache tiles.
        float* sO = reinterpret_cast<float*>(Cs);  // [HT][R]
        float* sM = sO + HT * R;                   // [HT] max (log2 units), then [HT] sum
#pragma unroll
        for (int g = 0; g < GPW; g++) {
            const int grp = warp + g * NWARPS;
            if (grp < NG) {
#pragma unroll
                for (int n = 0; n < 2; n++) {
                    const int c = grp * 16 + n * 8 + (lane & 3) * 2;
                    *reinterpret_cast<float2*>(sO + (lane >> 2) * R + c) = make_float2(o[g][n][0], o[g][n][1]);
                    *reinterpret_cast<float2*>(sO + ((lane >> 2) + 8) * R + c) = make_float2(o[g][n][2], o[g][n][3]);
                }
            }
        }
        if (warp == 0 && (lane & 3) == 0) {
            sM[lane >> 2] = mRow[0]; sM[HT + (lane >> 2)] = lRow[0];
            sM[(lane >> 2) + 8] = mRow[1]; sM[HT + (lane >> 2) + 8] = lRow[1];
        }
        cg::cluster_group cluster = cg::this_cluster();
        cluster.sync();  // every block's result is in its shared memory
        const int rank = (int)cluster.block_rank(), nParts = nSplit / CL, part = split / CL;
        constexpr int C4 = R / 4 / CL;  // float4 columns per head owned by one rank
        for (int i = tid; i < HT * C4; i += NTHREADS) {
            const int hl = i / C4, c = (rank * C4 + i % C4) * 4, h = h0 + hl;
            float mq[CL], mx = -INFINITY;
#pragma unroll
            for (int q = 0; q < CL; q++) { mq[q] = cluster.map_shared_rank(sM, q)[hl]; mx = fmaxf(mx, mq[q]); }
            float l = 0.f;
            float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int q = 0; q < CL; q++) {
                const float w = mq[q] == -INFINITY ? 0.f : exp2f(mq[q] - mx);
                const float4 v = *reinterpret_cast<const float4*>(cluster.map_shared_rank(sO, q) + hl * R + c);
                l += w * cluster.map_shared_rank(sM, q)[HT + hl];
                a.x += w * v.x; a.y += w * v.y; a.z += w * v.z; a.w += w * v.w;
            }
            if (h < H) {
                const long row = ((long)b * H + h) * nParts + part;
                *reinterpret_cast<float4*>(partO + row * R + c) = a;
                if (c == 0) { partML[row * 2] = mx; partML[row * 2 + 1] = l; }
            }
        }
        cluster.sync();  // the other ranks have read this block's shared memory: now it may exit
#endif
        return;
    }
    const long rowA = ((long)b * H + hA) * nSplit + split, rowB = ((long)b * H + hB) * nSplit + split;
    store_partial_o<R, GPW>(partO, o, rowA, rowB, hA < H, hB < H, warp, lane);
    if (warp == 0 && (lane & 3) == 0) {
        if (hA < H) { partML[rowA * 2] = mRow[0]; partML[rowA * 2 + 1] = lRow[0]; }
        if (hB < H) { partML[rowB * 2] = mRow[1]; partML[rowB * 2 + 1] = lRow[1]; }
    }
    MTRACE(mla_trace, 3);  // thread 0's partial stores are issued
    if constexpr (SPIN) {
        __syncthreads();
        if (tid == 0) group_arrive_epoch(ctr, epoch0, nSplit);
        __syncthreads();
        // A warp per float4 column of [16 heads, R]: lanes merge every 32nd split, then across the warp.
        constexpr int C4 = HT * R / 4;
        for (int c = split + warp * nSplit; c < C4; c += NWARPS * nSplit) {
            const int h = h0 + c / (R / 4), d4 = c % (R / 4);
            if (h >= H) continue;  // uniform over the warp
            const long row0 = ((long)b * H + h) * nSplit;
            float m = -INFINITY, l = 0.f;
            float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
            for (int s2 = lane; s2 < nSplit; s2 += 32) {
                const float2 ml = __ldcg(reinterpret_cast<const float2*>(partML + (row0 + s2) * 2));
                merge_partial(m, l, a, ml.x, ml.y, __ldcg(reinterpret_cast<const float4*>(partO + (row0 + s2) * R) + d4));
            }
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) {
                const float m2 = __shfl_xor_sync(0xffffffff, m, off), l2 = __shfl_xor_sync(0xffffffff, l, off);
                float4 a2;
                a2.x = __shfl_xor_sync(0xffffffff, a.x, off); a2.y = __shfl_xor_sync(0xffffffff, a.y, off);
                a2.z = __shfl_xor_sync(0xffffffff, a.z, off); a2.w = __shfl_xor_sync(0xffffffff, a.w, off);
                merge_partial(m, l, a, m2, l2, a2);
            }
            if (lane == 0) {
                const float inv = l > 0.f ? 1.f / l : 0.f;
                *reinterpret_cast<float4*>(OLat + ((long)b * H + h) * R + d4 * 4) =
                    make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
            }
        }
    }
}

// grid (H, B, R / 64), block (16, CGROUPS): merge the S partial results of each head (log-sum-exp). Thread x owns
// 4 columns of a 64-column slice; the CGROUPS thread rows take every CGROUPS-th split with a running max (no
// serial pass over all splits first: at batch 1 with ~128 splits that pass was the combine's latency) and are
// merged through shared memory, so ~128 blocks share the partO reads even at batch 1.
// rOut: OLat's row width, R unless the partials come from a padded ("any") instance: columns rOut .. R - 1 of the
// partials are not the latent's and are dropped.
template <int R>
__device__ __forceinline__ void mla_decode_combine_kernel(float* __restrict__ OLat, const float* __restrict__ partO,
                                                          const float* __restrict__ partML, int H, int nSplit,
                                                          int rOut = R) {
    using namespace mla_decode;
    MTRACE(mla_trace_c, 0);
    const int h = blockIdx.x, b = blockIdx.y, d = blockIdx.z * 64 + threadIdx.x * 4, grp = threadIdx.y;
    const long row0 = ((long)b * H + h) * nSplit;
    float m = -INFINITY, l = 0.f;
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int s = grp; s < nSplit; s += CGROUPS) {
        const float2 ml = *reinterpret_cast<const float2*>(partML + (row0 + s) * 2);
        merge_partial(m, l, a, ml.x, ml.y, *reinterpret_cast<const float4*>(partO + (row0 + s) * R + d));
    }
    __shared__ float4 sA[CGROUPS][16];
    __shared__ float sM[CGROUPS][16], sL[CGROUPS][16];
    sA[grp][threadIdx.x] = a;
    sM[grp][threadIdx.x] = m;
    sL[grp][threadIdx.x] = l;
    __syncthreads();
    if (grp != 0) return;
    for (int g = 1; g < CGROUPS; g++) merge_partial(m, l, a, sM[g][threadIdx.x], sL[g][threadIdx.x], sA[g][threadIdx.x]);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    if (rOut == R || d < rOut)
        *reinterpret_cast<float4*>(OLat + ((long)b * H + h) * rOut + d) = make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
    MTRACE(mla_trace_c, 1);
}
