// defines: adamw_kernel, grad_sumsq_partial_kernel, grad_sumsq_reduce_kernel.
//
// AdamW exactly as train/AdamW.java (what torch.optim.AdamW computes), per element, fp32 state:
//   g = grad * gradScale                      (gradScale: the global-norm clip factor, 1 when not clipping)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * wd * p + lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc_i = 1 - b_i^step  (step counts from 1)
// wd is per tensor: the host passes 0 for vectors (norm gains), as AdamW.java decays rank >= 2 only.
// pBf16 (nullable) receives the updated weights rounded to bf16, the copy the forward GEMMs read.
// n elements, any n; float4 for the body when every pointer is 16-byte aligned (offsets into a flat parameter
// buffer must then be multiples of 4 elements), a scalar tail.
//
// Global gradient norm: sum of squares accumulated in fp64, one partial per block into partials[], the
// number of blocks a function of n only (sumsqBlocks below, mirrored by the host), then one block adds the
// partials in order to *total. Calling partial + reduce per tensor in a fixed tensor order gives a total that
// does not depend on timing or on the GPU. The host zeroes *total first and takes sqrt.
#pragma once
#include "vec.cuh"

namespace adamw {
constexpr int THREADS = 256;
constexpr int SUMSQ_THREADS = 256, SUMSQ_PER_BLOCK = 4096, SUMSQ_MAX_BLOCKS = 1024;
}

__device__ __forceinline__ void adamw_elem(float& p, float& m, float& v, float g, float lr, float b1, float b2,
                                           float eps, float wd, float rbc1, float rbc2) {
    m = b1 * m + (1.f - b1) * g;
    v = b2 * v + (1.f - b2) * g * g;
    p -= lr * wd * p + lr * (m * rbc1) / (sqrtf(v * rbc2) + eps);
}

__device__ __forceinline__ void adamw_kernel(float* __restrict__ p, __nv_bfloat16* __restrict__ pBf16,
                                             float* __restrict__ m, float* __restrict__ v, const float* __restrict__ g,
                                             int n, float lr, float b1, float b2, float eps, float wd, int step,
                                             float gradScale) {
    // Bias corrections in double (as AdamW.java), once per thread.
    const float rbc1 = (float)(1.0 / (1.0 - pow((double)b1, (double)step)));
    const float rbc2 = (float)(1.0 / (1.0 - pow((double)b2, (double)step)));
    const int stride = gridDim.x * blockDim.x;
    const bool vec = ((reinterpret_cast<uintptr_t>(p) | reinterpret_cast<uintptr_t>(m) | reinterpret_cast<uintptr_t>(v) |
                       reinterpret_cast<uintptr_t>(g) | (pBf16 ? reinterpret_cast<uintptr_t>(pBf16) & 7 : 0)) & 15) == 0;
    const int n4 = vec ? n / 4 : 0;
    for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n4; k += stride) {
        float4 pp = reinterpret_cast<float4*>(p)[k], mm = reinterpret_cast<float4*>(m)[k];
        float4 vv = reinterpret_cast<float4*>(v)[k];
        const float4 gg = reinterpret_cast<const float4*>(g)[k];
        adamw_elem(pp.x, mm.x, vv.x, gg.x * gradScale, lr, b1, b2, eps, wd, rbc1, rbc2);
        adamw_elem(pp.y, mm.y, vv.y, gg.y * gradScale, lr, b1, b2, eps, wd, rbc1, rbc2);
        adamw_elem(pp.z, mm.z, vv.z, gg.z * gradScale, lr, b1, b2, eps, wd, rbc1, rbc2);
        adamw_elem(pp.w, mm.w, vv.w, gg.w * gradScale, lr, b1, b2, eps, wd, rbc1, rbc2);
        reinterpret_cast<float4*>(p)[k] = pp;
        reinterpret_cast<float4*>(m)[k] = mm;
        reinterpret_cast<float4*>(v)[k] = vv;
        if (pBf16 != nullptr) {
            uint2 packed;
            *reinterpret_cast<__nv_bfloat162*>(&packed.x) = __floats2bfloat162_rn(pp.x, pp.y);
            *reinterpret_cast<__nv_bfloat162*>(&packed.y) = __floats2bfloat162_rn(pp.z, pp.w);
            reinterpret_cast<uint2*>(pBf16)[k] = packed;
        }
    }
    for (int i = n4 * 4 + blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float pp = p[i], mm = m[i], vv = v[i];
        adamw_elem(pp, mm, vv, g[i] * gradScale, lr, b1, b2, eps, wd, rbc1, rbc2);
        p[i] = pp;
        m[i] = mm;
        v[i] = vv;
        if (pBf16 != nullptr) pBf16[i] = __float2bfloat16_rn(pp);
    }
}

// grid: sumsqBlocks(n) = clamp(ceil(n / SUMSQ_PER_BLOCK), 1, SUMSQ_MAX_BLOCKS); block SUMSQ_THREADS.
__device__ __forceinline__ void grad_sumsq_partial_kernel(double* __restrict__ partials, const float* __restrict__ g,
                                                          int n) {
    __shared__ double scratch[32];
    const int stride = gridDim.x * blockDim.x;
    const bool vec = (reinterpret_cast<uintptr_t>(g) & 15) == 0;
    const int n4 = vec ? n / 4 : 0;
    double acc = 0.0;
    for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n4; k += stride) {
        const float4 a = reinterpret_cast<const float4*>(g)[k];
        acc += (double)a.x * a.x + (double)a.y * a.y + (double)a.z * a.z + (double)a.w * a.w;
    }
    for (int i = n4 * 4 + blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) acc += (double)g[i] * g[i];
    acc = train::block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// One block: *total += sum of partials[0, count) in a fixed order.
__device__ __forceinline__ void grad_sumsq_reduce_kernel(double* __restrict__ total, const double* __restrict__ partials,
                                                         int count) {
    __shared__ double scratch[32];
    double acc = 0.0;
    for (int k = threadIdx.x; k < count; k += blockDim.x) acc += partials[k];
    acc = train::block_sum(acc, scratch);
    if (threadIdx.x == 0) *total += acc;
}
