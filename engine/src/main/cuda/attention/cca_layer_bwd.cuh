// defines (extern "C"): cca_bwd_dw0 -- the depthwise stage-1 conv's parameter gradients for the Java CCA / CCGQA
// layer backward (CudaCcaLayer); bench/ccalab_cuda.py's cca_prologue_bwd does the same two reductions with torch.
// The rest of the prologue backward is cca_prologue_bwd.cuh plus cuBLAS GEMMs for the grouped stage-2 conv.
//
// Letters as in cca_prologue_bwd.cuh: P = k0 - 1 + k1 - 1, U = T + k1 - 1 stage-1 positions per sequence.
//   du   [B, U, C] fp32   gradient of the stage-1 output u
//   z    [B, T, C] bf16   the raw packed projections (zero outside [0, T): the forward's causal padding)
//   dw0  [C, k0] fp32     out, ADDED to (atomics): dw0[c, j] += sum_{b, tau} du[b, tau, c] z[b, tau + j - P, c]
//   db0  [C] fp32         out, ADDED to: db0[c] += sum_{b, tau} du[b, tau, c]
// One thread per channel (coalesced rows) over a chunk of rowsPerChunk of the B*U rows; k0 <= 16.
#pragma once
#include "../common/mma.cuh"

namespace cca_layer_bwd {
constexpr int DW0_THREADS = 128, MAX_K0 = 16;
}

extern "C" __global__ void __launch_bounds__(cca_layer_bwd::DW0_THREADS)
cca_bwd_dw0(float* dw0, float* db0, const float* du, const __nv_bfloat16* z, int B, int T, int C, int k0, int k1,
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
    atomicAdd(db0 + c, accB);
#pragma unroll
    for (int j = 0; j < cca_layer_bwd::MAX_K0; j++)
        if (j < k0) atomicAdd(dw0 + (long)c * k0 + j, acc[j]);
}
