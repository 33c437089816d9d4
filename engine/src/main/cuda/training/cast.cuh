// defines: cast_f32_bf16_kernel — y = bf16(x) elementwise.
//
// Flash backward leaves dQ, dK, dV in fp32 accumulators; the projection-weight and input-gradient GEMMs that
// follow take bf16 operands (cuBLAS has no bf16 x fp32 product), so they pass through this rounding first.
// n elements, any n; grid-stride over 64-bit indices, two elements per thread step when both pointers allow
// 8-byte (x) / 4-byte (y) vectors. Memory-bound: 6 bytes per element.
#pragma once
#include "vec.cuh"

namespace cast {
constexpr int THREADS = 256;
}

__device__ __forceinline__ void cast_f32_bf16_kernel(__nv_bfloat16* __restrict__ y, const float* __restrict__ x,
                                                     long n) {
    const long stride = (long)gridDim.x * blockDim.x;
    const bool pairs = ((reinterpret_cast<uintptr_t>(x) & 7) | (reinterpret_cast<uintptr_t>(y) & 3)) == 0;
    const long body = pairs ? n / 2 : 0;
    for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < body; k += stride) {
        const float2 v = reinterpret_cast<const float2*>(x)[k];
        reinterpret_cast<__nv_bfloat162*>(y)[k] = __floats2bfloat162_rn(v.x, v.y);
    }
    for (long k = 2 * body + (long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += stride)
        y[k] = __float2bfloat16_rn(x[k]);
}
