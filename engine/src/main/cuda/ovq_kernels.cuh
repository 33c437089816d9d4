// OVQ-attention (attention/ovq.cuh): the chunked read + fold kernel per head dim, launched as clusters of
// 8 blocks per (batch, head), two blocks per SM (128 registers), and the per-head L2 norm of q and k. Thread-block clusters and
// distributed shared memory need sm_90: the sm_80 image of ovq_run traps (CudaOvq refuses below 9.0).
#pragma once
#include "attention/ovq.cuh"

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define OVQ_CLUSTER_DIMS __cluster_dims__(8, 1, 1)
#else
#define OVQ_CLUSTER_DIMS
#endif
#define OVQ_RUN(D)                                                                                              \
    extern "C" __global__ void OVQ_CLUSTER_DIMS __launch_bounds__(ovq::NT, 2)                                    \
    ovq_run_hd##D(__nv_bfloat16* O, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V,      \
                  const float* beta, float* mu, float* val, float* cnt, int* meta, __nv_bfloat16* bufK,           \
                  __nv_bfloat16* bufV, const int* targets, int nTargets, int T, int H, int NMAX, int L, int flags, \
                  float eta) {                                                                                   \
        OVQ_BODY(D)                                                                                              \
    }
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define OVQ_BODY(D) \
    ovq::ovq_run_kernel<D, 8>(O, Q, K, V, beta, mu, val, cnt, meta, bufK, bufV, targets, nTargets, T, H, NMAX, L, flags, eta);
#else
#define OVQ_BODY(D) __trap();
#endif
OVQ_RUN(64)
OVQ_RUN(128)

#define OVQ_L2NORM(D)                                                                                           \
    extern "C" __global__ void __launch_bounds__(256) ovq_l2norm_hd##D(__nv_bfloat16* X, long rows) {           \
        ovq::ovq_l2norm_kernel<D>(X, rows);                                                                      \
    }
OVQ_L2NORM(64)
OVQ_L2NORM(128)
