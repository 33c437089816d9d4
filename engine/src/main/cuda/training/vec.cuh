// defines: 8-wide vector loads/stores of bf16 and fp32 as float[8] (one 16-byte load for bf16, two for fp32),
// scalar to/from float, warp and block sum/max reductions. Shared by every training kernel.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

#define TDEVI __device__ __forceinline__

namespace train {

TDEVI float to_f(float v) { return v; }
TDEVI float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> TDEVI T from_f(float v);
template <> TDEVI float from_f<float>(float v) { return v; }
template <> TDEVI __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// p must be 16-byte aligned (8 bf16 or 8 floats starting at a multiple of 8 elements of an aligned buffer).
TDEVI void load8(const __nv_bfloat16* p, float* out) {
    uint4 raw = *reinterpret_cast<const uint4*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 f = __bfloat1622float2(h[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}
TDEVI void load8(const float* p, float* out) {
    float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
    out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
}
TDEVI void store8(__nv_bfloat16* p, const float* v) {
    uint4 raw;
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(p) = raw;
}
TDEVI void store8(float* p, const float* v) {
    reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
// Whether every pointer allows 16-byte vector access (views into larger buffers may not).
TDEVI bool aligned16(const void* a, const void* b = nullptr, const void* c = nullptr, const void* d = nullptr) {
    return ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c) |
             reinterpret_cast<uintptr_t>(d)) & 15) == 0;
}
// Rounds 8 floats through T (what storing and reloading them would give).
template <typename T> TDEVI void round8(float* v) {
#pragma unroll
    for (int i = 0; i < 8; i++) v[i] = to_f(from_f<T>(v[i]));
}

TDEVI float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
TDEVI double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
TDEVI float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum over blockDim.x threads (a multiple of 32, at most 1024); every thread gets the result.
// scratch: 32 values of shared memory; the fixed tree makes the result independent of timing.
template <typename F> TDEVI F block_sum(F v, F* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : F(0);
    return warp_sum(v);
}

}  // namespace train
