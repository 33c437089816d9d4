// defines (extern "C"): cca_bwd_dw0, cca_bwd_sum_chunks, cca_bwd_sum_rows -- the CCA / CCGQA layer backward's
// reductions for the Java layer (CudaCcaLayer): the depthwise stage-1 conv's parameter gradients and the key
// temperature's. bench/ccalab_cuda.py's cca_prologue_bwd does the same reductions with torch. The rest of the prologue
// backward is cca_prologue_bwd.cuh plus cuBLAS GEMMs for the grouped stage-2 conv.
// Deterministic (session 12): every sum runs in an order fixed by the shapes alone (per-chunk partials, then one
// thread or one block per output summing them in order), no float atomics, so two backward passes over the same
// inputs give the same bits (with the flash backward's ordered-add kernels: the run's `deterministic` option).
//
// Letters as in cca_prologue_bwd.cuh: P = k0 - 1 + k1 - 1, U = T + k1 - 1 stage-1 positions per sequence.
//   du   [B, U, C] fp32   gradient of the stage-1 output u
//   z    [B, T, C] bf16   the raw packed projections (zero outside [0, T): the forward's causal padding)
//   part [chunks, C (k0 + 1)] fp32   cca_bwd_dw0's out: chunk r's sums, dw0 [C, k0] then db0 [C]:
//        dw0[c, j] = sum_{(b, tau) in chunk r} du[b, tau, c] z[b, tau + j - P, c], db0[c] = sum du[b, tau, c]
// cca_bwd_dw0: one thread per channel (coalesced rows) over a chunk of rowsPerChunk of the B*U rows; k0 <= 16.
#pragma once
#include "../common/mma.cuh"

namespace cca_layer_bwd {
constexpr int DW0_THREADS = 128, MAX_K0 = 16, SUM_THREADS = 256;
}

extern "C" __global__ void __launch_bounds__(cca_layer_bwd::DW0_THREADS)
cca_bwd_dw0(float* part, const float* du, const __nv_bfloat16* z, int B, int T, int C, int k0, int k1,
            int rowsPerChunk) {
    const int c = blockIdx.x * cca_layer_bwd::DW0_THREADS + threadIdx.x;
    if (c >= C) return;
    const int P = k0 - 1 + k1 - 1, U = T + k1 - 1;
    const long n = (long)B * U, r0 = (long)blockIdx.y * rowsPerChunk;
    const long r1 = r0 + rowsPerChunk < n ? r0 + rowsPerChunk : n;
    float acc[cca_layer_bwd::MAX_K0];
#pragma unroll
    for (int j = 0; j < cca_layer_bwd::MAX_K0; j++) acc[j] = 0.f;
    float accB = 0.f;
    for (long r = r0; r < r1; r++) {
        const int tau = (int)(r % U);
        const long b = r / U;
        const float g = du[r * C + c];
        accB += g;
#pragma unroll
        for (int j = 0; j < cca_layer_bwd::MAX_K0; j++) {
            const int t = tau + j - P;
            if (j < k0 && t >= 0 && t < T) acc[j] += g * __bfloat162float(z[(b * T + t) * C + c]);
        }
    }
    float* row = part + (long)blockIdx.y * C * (k0 + 1);
    row[(long)C * k0 + c] = accB;
#pragma unroll
    for (int j = 0; j < cca_layer_bwd::MAX_K0; j++)
        if (j < k0) row[(long)c * k0 + j] = acc[j];
}

// out[i] += sum_{r < chunks} part[r * stride + i] for i < n, chunk by chunk in order (one thread per i; few chunks).
// Unrolled so that 16 loads are in flight (a handful of blocks run this: latency-bound otherwise); the adds keep
// their order.
extern "C" __global__ void __launch_bounds__(cca_layer_bwd::SUM_THREADS)
cca_bwd_sum_chunks(float* out, const float* part, int chunks, int n, long stride) {
    const int i = blockIdx.x * cca_layer_bwd::SUM_THREADS + threadIdx.x;
    if (i >= n) return;
    float s = 0.f;
#pragma unroll 16
    for (int r = 0; r < chunks; r++) s += part[r * stride + i];
    out[i] += s;
}

// out[col] += sum_{r < rows} in[r * cols + col] (many rows, few columns: one block per column). Thread t sums the
// rows t, t + 256, .. in order, then a fixed tree over the 256 partial sums.
extern "C" __global__ void __launch_bounds__(cca_layer_bwd::SUM_THREADS)
cca_bwd_sum_rows(float* out, const float* in, long rows, int cols) {
    constexpr int NT = cca_layer_bwd::SUM_THREADS;
    __shared__ float red[NT];
    const int col = blockIdx.x, t = threadIdx.x;
    float s = 0.f;
#pragma unroll 8
    for (long r = t; r < rows; r += NT) s += in[r * cols + col];
    red[t] = s;
    __syncthreads();
#pragma unroll
    for (int w = NT / 2; w > 0; w >>= 1) {
        if (t < w) red[t] += red[t + w];
        __syncthreads();
    }
    if (t == 0) out[col] += red[0];
}
