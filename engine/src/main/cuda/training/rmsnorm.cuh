// defines: rmsnorm_fwd_kernel<RESIDUAL>, rmsnorm_bwd_kernel<OutT>, rmsnorm_dw_reduce_kernel.
//
// Letters: N rows (tokens), E width (a multiple of 8: every row access is 16-byte vectors).
//   forward:  y = x * rstd * w,  rstd = 1 / sqrt(mean(x^2) + eps)       (model/RmsNorm.java)
//   backward: dx = rstd * (dy*w - xhat * mean(dy*w*xhat)) [+ dres],  dw += sum_rows dy * xhat,  xhat = x * rstd
// x, y, dy bf16; w, rstd, dw fp32; dx fp32 or bf16. One warp per row: a row is at most a few KB, so its second
// pass hits L1. The residual variant first forms s = bf16(x + r) (the block's residual add), writes it, and
// normalises s: one read of each input instead of an add kernel's read-write-read.
//
// dw is deterministic without float atomics: each block of RMS_BWD_ROWS rows sums its rows' dy*xhat into
// per-warp shared-memory rows (each lane owns fixed columns, so no two threads touch one address), adds the
// warps in order into dwPartial[block][E], and rmsnorm_dw_reduce_kernel sums the partials in block order.
// The partial count depends on N only, so the result is the same on any GPU.
#pragma once
#include "vec.cuh"

namespace rmsnorm {
constexpr int FWD_WARPS = 8, FWD_THREADS = FWD_WARPS * 32;      // one row per warp
constexpr int BWD_WARPS = 4, BWD_THREADS = BWD_WARPS * 32, BWD_ROWS = 32;
constexpr int REDUCE_COLS = 32, REDUCE_GROUPS = 8, REDUCE_THREADS = REDUCE_COLS * REDUCE_GROUPS;

// The gain gradient's per-warp accumulators dwAcc [WARPS][E] in shared memory (each lane owns fixed 8-column chunks
// of its warp's row): dw_begin zeroes this warp's row and returns it; dw_end (after the block's rows) adds the warps
// in order into dwPartial[blockIdx.x][E]. Shared with attention/mla_layer.cuh's latent-norm backward.
TDEVI float* dw_begin(float* dwAcc, int E) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* mine = dwAcc + warp * E;
    for (int c = lane * 8; c < E; c += 256) {
#pragma unroll
        for (int i = 0; i < 8; i++) mine[c + i] = 0.f;
    }
    return mine;
}
template <int WARPS> TDEVI void dw_end(const float* dwAcc, float* __restrict__ dwPartial, int E) {
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < WARPS; k++) s += dwAcc[k * E + e];
        dwPartial[(long)blockIdx.x * E + e] = s;
    }
}
}

template <bool RESIDUAL>
__device__ __forceinline__ void rmsnorm_fwd_kernel(__nv_bfloat16* __restrict__ y, float* __restrict__ rstd,
                                                   __nv_bfloat16* __restrict__ sum, const __nv_bfloat16* __restrict__ x,
                                                   const __nv_bfloat16* __restrict__ r, const float* __restrict__ w,
                                                   int N, int E, float eps) {
    using namespace train;
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * rmsnorm::FWD_WARPS + (threadIdx.x >> 5);
    if (row >= N) return;
    const __nv_bfloat16* xr = x + row * E;
    const __nv_bfloat16* rr = RESIDUAL ? r + row * E : nullptr;
    __nv_bfloat16* sr = RESIDUAL ? sum + row * E : nullptr;
    float ss = 0.f;
#pragma unroll 4
    for (int c = lane * 8; c < E; c += 256) {
        float v[8];
        load8(xr + c, v);
        if (RESIDUAL) {
            float b[8];
            load8(rr + c, b);
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] += b[i];
            round8<__nv_bfloat16>(v);  // normalise exactly the stored residual stream
            store8(sr + c, v);
        }
#pragma unroll
        for (int i = 0; i < 8; i++) ss += v[i] * v[i];
    }
    ss = warp_sum(ss);
    const float rs = 1.f / sqrtf(ss / (float)E + eps);
    if (lane == 0) rstd[row] = rs;
    const __nv_bfloat16* src = RESIDUAL ? sr : xr;  // this lane wrote these columns itself: no barrier needed
    __nv_bfloat16* yr = y + row * E;
#pragma unroll 4
    for (int c = lane * 8; c < E; c += 256) {
        float v[8], g[8];
        load8(src + c, v);
        load8(w + c, g);
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = v[i] * rs * g[i];
        store8(yr + c, v);
    }
}

// Dynamic shared memory: BWD_WARPS * E floats. dres (nullable) is the residual path's gradient, added to dx; it
// may be dx itself (accumulate in place: each element is read before it is written, by the same thread).
template <typename OutT>
__device__ __forceinline__ void rmsnorm_bwd_kernel(OutT* dx, float* __restrict__ dwPartial, const OutT* dres, const __nv_bfloat16* __restrict__ dy,
                                                   const __nv_bfloat16* __restrict__ x, const float* __restrict__ w,
                                                   const float* __restrict__ rstd, int N, int E) {
    using namespace train;
    extern __shared__ float dwAcc[];  // [BWD_WARPS][E]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* mine = rmsnorm::dw_begin(dwAcc, E);
    const int rowEnd = min(N, (blockIdx.x + 1) * rmsnorm::BWD_ROWS);
    for (int row = blockIdx.x * rmsnorm::BWD_ROWS + warp; row < rowEnd; row += rmsnorm::BWD_WARPS) {
        const long off = (long)row * E;
        const float rs = rstd[row];
        float dot = 0.f;
#pragma unroll 4
        for (int c = lane * 8; c < E; c += 256) {
            float d[8], v[8], g[8];
            load8(dy + off + c, d);
            load8(x + off + c, v);
            load8(w + c, g);
#pragma unroll
            for (int i = 0; i < 8; i++) dot += d[i] * g[i] * v[i];
        }
        const float mean = warp_sum(dot) * rs / (float)E;  // mean(dy * w * xhat)
#pragma unroll 2
        for (int c = lane * 8; c < E; c += 256) {
            float d[8], v[8], g[8], o[8];
            load8(dy + off + c, d);
            load8(x + off + c, v);
            load8(w + c, g);
            if (dres != nullptr) load8(dres + off + c, o);
            else {
#pragma unroll
                for (int i = 0; i < 8; i++) o[i] = 0.f;
            }
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const float xhat = v[i] * rs;
                o[i] += rs * (d[i] * g[i] - xhat * mean);
                mine[c + i] += d[i] * xhat;
            }
            store8(dx + off + c, o);
        }
    }
    rmsnorm::dw_end<rmsnorm::BWD_WARPS>(dwAcc, dwPartial, E);
}

// dw[e] += sum over p < P of partial[p][e], p in a fixed order: 32 columns x 8 row groups per block, each group
// summing every 8th partial, then the groups in order. grid: ceil(E / 32).
__device__ __forceinline__ void rmsnorm_dw_reduce_kernel(float* __restrict__ dw, const float* __restrict__ partial,
                                                         int P, int E) {
    using namespace rmsnorm;
    __shared__ float part[REDUCE_GROUPS][REDUCE_COLS + 1];
    const int lc = threadIdx.x % REDUCE_COLS, g = threadIdx.x / REDUCE_COLS;
    const int col = blockIdx.x * REDUCE_COLS + lc;
    float a = 0.f;
    if (col < E)
        for (int p = g; p < P; p += REDUCE_GROUPS) a += partial[(long)p * E + col];
    part[g][lc] = a;
    __syncthreads();
    if (g == 0 && col < E) {
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < REDUCE_GROUPS; k++) s += part[k][lc];
        dw[col] += s;
    }
}
