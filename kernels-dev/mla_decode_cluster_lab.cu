// MLA absorbed decode lab (session 9): the shipped split kernel (mla_kernels.cuh) beside variants of
// attention/mla_decode.cuh with NACC independent S accumulator chains and clusters of CL splits that merge
// their results through distributed shared memory before the combine (S / CL partials).
// Names: mla_decode_r512_rope64_acc<NACC>_cl<CL>. Launch: grid (S, head groups, B) with S a multiple of CL.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o mla_cl.fatbin kernels-dev/mla_decode_cluster_lab.cu
#define MLA_DECODE_TRACE  // thread 0 stamps (attention/mla_decode.cuh MTRACE): bench/mla_decode_cluster_lab.py --trace
#include "../engine/src/main/cuda/attention/flash_bwd.cuh"  // mla_kernels.cuh instantiates flash_bwd_wide_kernel
#include "../engine/src/main/cuda/mla_kernels.cuh"

// The session-2 split kernel at BN = 64, shipped until session 10 (the labs' "shipped" baseline, ccalab_mla bn=64)
MLA_DECODE(512, 64, 64, )
MLA_DECODE(448, 64, 64, )

#define CLUSTER_LAB(NACC, CL)                                                                                   \
    extern "C" __global__ void __cluster_dims__(CL, 1, 1) __launch_bounds__(mla_decode::NTHREADS, 1)            \
    mla_decode_r512_rope64_acc##NACC##_cl##CL(float* partO, float* partML, const __nv_bfloat16* Qa,            \
                                              const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,    \
                                              float scale) {                                                    \
        mla_decode_splitkv_kernel<512, 64, 64, false, CL, NACC>(partO, partML, Qa, Cache, L, Tmax, H, chunk,    \
                                                                scale);                                         \
    }
CLUSTER_LAB(1, 1) CLUSTER_LAB(4, 1) CLUSTER_LAB(4, 2) CLUSTER_LAB(4, 4) CLUSTER_LAB(4, 8) CLUSTER_LAB(2, 4)
// Combine v2 (session 9, lab only; perf-log "Session 9", calls 8-9: 0.7-0.9 us faster at 16k / 64k, 0.2 slower at
// 4k, not shipped): grid (H, B, R / 64), block (16, CGROUPS2). The split maxima are read once into shared memory, one
// warp turns them into weights w_s = 2^(m_s - max) and the total sum, and the thread rows then add w_s partO_s over
// every CGROUPS2-th split with independent loads (no dependent rescale chain between them), adding up through
// shared memory. The shipped v1 combine (a running max per thread row, 8 rows) costs 3.6-4.6 us at batch 1, and
// this one 3.3-4.0: the launch and two dependent round trips remain. nSplit <= MAX_COMBINE_SPLITS.
namespace mla_decode {
constexpr int CGROUPS2 = 32, MAX_COMBINE_SPLITS = 1024;
}
template <int R>
__device__ __forceinline__ void mla_decode_combine2_kernel(float* __restrict__ OLat, const float* __restrict__ partO,
                                                           const float* __restrict__ partML, int H, int nSplit) {
    using namespace mla_decode;
    MTRACE(mla_trace_c, 0);
    const int h = blockIdx.x, b = blockIdx.y, d = blockIdx.z * 64 + threadIdx.x * 4, grp = threadIdx.y;
    const int tid = grp * 16 + threadIdx.x;
    const long row0 = ((long)b * H + h) * nSplit;
    __shared__ float sW[MAX_COMBINE_SPLITS], sL[MAX_COMBINE_SPLITS], sInv;
    __shared__ float4 sA[CGROUPS2][16];
    for (int s = tid; s < nSplit; s += 16 * CGROUPS2) {
        const float2 ml = __ldcg(reinterpret_cast<const float2*>(partML + (row0 + s) * 2));
        sW[s] = ml.x;
        sL[s] = ml.y;
    }
    __syncthreads();
    if (tid < 32) {
        float mx = -INFINITY;
        for (int s = tid; s < nSplit; s += 32) mx = fmaxf(mx, sW[s]);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, off));
        float ls = 0.f;
        for (int s = tid; s < nSplit; s += 32) {
            const float w = sW[s] == -INFINITY ? 0.f : exp2f(sW[s] - mx);
            sW[s] = w;
            ls += w * sL[s];
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) ls += __shfl_xor_sync(0xffffffff, ls, off);
        if (tid == 0) sInv = ls > 0.f ? 1.f / ls : 0.f;
    }
    __syncthreads();
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int s = grp; s < nSplit; s += CGROUPS2) {
        const float w = sW[s];
        const float4 p = __ldcg(reinterpret_cast<const float4*>(partO + (row0 + s) * R + d));
        a.x += w * p.x; a.y += w * p.y; a.z += w * p.z; a.w += w * p.w;
    }
    sA[grp][threadIdx.x] = a;
    __syncthreads();
    if (grp != 0) return;
#pragma unroll 8
    for (int g = 1; g < CGROUPS2; g++) {
        const float4 o = sA[g][threadIdx.x];
        a.x += o.x; a.y += o.y; a.z += o.z; a.w += o.w;
    }
    const float inv = sInv;
    *reinterpret_cast<float4*>(OLat + ((long)b * H + h) * R + d) = make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
    MTRACE(mla_trace_c, 1);
}

// session 9: the v2 combine (mla_decode_combine2_kernel), grid (H, B, R / 64), block (16, CGROUPS2)
extern "C" __global__ void mla_decode_combine2_r512(float* OLat, const float* partO, const float* partML, int H,
                                                    int nSplit) {
    mla_decode_combine2_kernel<512>(OLat, partO, partML, H, nSplit);
}
