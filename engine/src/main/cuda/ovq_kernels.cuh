// OVQ-attention (attention/ovq.cuh): the chunked read + fold kernel per head dim, launched as clusters of
// 8 blocks per (batch, head), two blocks per SM (128 registers), and the per-head L2 norm of q and k. Thread-block clusters and
// distributed shared memory need sm_90: the sm_80 image of ovq_run traps (CudaOvq refuses below 9.0).
#pragma once
#include "attention/ovq.cuh"
#include "attention/ovq_bwd.cuh"

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define OVQ_CLUSTER_DIMS __cluster_dims__(8, 1, 1)
#else
#define OVQ_CLUSTER_DIMS
#endif
#define OVQ_RUN(NAME, D, TRAIN)                                                                                 \
    extern "C" __global__ void OVQ_CLUSTER_DIMS __launch_bounds__(ovq::NT, 2)                                    \
    NAME(__nv_bfloat16* O, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V,               \
         const float* beta, float* mu, float* val, float* cnt, int* meta, __nv_bfloat16* bufK, __nv_bfloat16* bufV, \
         const int* targets, int nTargets, int T, int H, int NMAX, int L, int flags, float eta, int* recCode,      \
         int* recOld, float* recPrev, float* stats, float* oF, int folds) {                                       \
        OVQ_BODY(D, TRAIN)                                                                                       \
    }
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define OVQ_BODY(D, TRAIN)                                                                                        \
    ovq::ovq_run_kernel<D, 8, TRAIN>(O, Q, K, V, beta, mu, val, cnt, meta, bufK, bufV, targets, nTargets, T, H, NMAX, \
                                     L, flags, eta, ovq::Records{recCode, recOld, recPrev, stats, oF, folds});
#else
#define OVQ_BODY(D, TRAIN) __trap();
#endif
// Inference (the record pointers unused) and training (the forward that leaves ovq::Records for the backward).
OVQ_RUN(ovq_run_hd64, 64, false)
OVQ_RUN(ovq_run_hd128, 128, false)
OVQ_RUN(ovq_run_train_hd64, 64, true)
OVQ_RUN(ovq_run_train_hd128, 128, true)

#define OVQ_L2NORM(D)                                                                                           \
    extern "C" __global__ void __launch_bounds__(256) ovq_l2norm_hd##D(__nv_bfloat16* X, long rows) {           \
        ovq::ovq_l2norm_kernel<D>(X, rows);                                                                      \
    }
OVQ_L2NORM(64)
OVQ_L2NORM(128)
#define OVQ_L2NORM_BWD(D)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) ovq_l2norm_bwd_hd##D(__nv_bfloat16* dX, const __nv_bfloat16* X, \
                                                                          const float* dXhat, long rows, int normalize) { \
        ovq::ovq_l2norm_bwd_kernel<D>(dX, X, dXhat, rows, normalize);                                            \
    }
OVQ_L2NORM_BWD(64)
OVQ_L2NORM_BWD(128)

// The backward (attention/ovq_bwd.cuh): the same clusters, chunks last to first through the rewound dictionary.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define OVQ_BWD_BODY(D)                                                                                          \
    ovq::ovq_bwd_kernel<D, 8>(dQ, dK, dV, dBeta, Q, K, V, dO, beta, mu, val, cnt, meta,                          \
                              ovq::Records{recCode, recOld, recPrev, stats, oF, folds}, dMuG, dValG, T, H, NMAX, L, \
                              flags, eta);
#else
#define OVQ_BWD_BODY(D) __trap();
#endif
#define OVQ_BWD(D)                                                                                              \
    extern "C" __global__ void OVQ_CLUSTER_DIMS __launch_bounds__(ovq::NT, 2)                                    \
    ovq_bwd_hd##D(float* dQ, float* dK, float* dV, float* dBeta, const __nv_bfloat16* Q, const __nv_bfloat16* K,  \
                  const __nv_bfloat16* V, const __nv_bfloat16* dO, const float* beta, float* mu, float* val,      \
                  float* cnt, const int* meta, int* recCode, int* recOld, float* recPrev, float* stats, float* oF, \
                  int folds, float* dMuG, float* dValG, int T, int H, int NMAX, int L, int flags, float eta) {     \
        OVQ_BWD_BODY(D)                                                                                          \
    }
OVQ_BWD(64)
OVQ_BWD(128)

// A trained layer's beta = exp(beta_log) per head, and beta_log's gradient: beta_h times d loss / d beta_h summed over
// the batch in order (the backward leaves it per (b, head)).
extern "C" __global__ void ovq_beta_exp(float* beta, const float* betaLog, int H) {
    const int h = threadIdx.x;
    if (h < H) beta[h] = expf(betaLog[h]);
}
extern "C" __global__ void ovq_beta_grad(float* gradLog, const float* beta, const float* dBeta, int B, int H) {
    const int h = threadIdx.x;
    if (h >= H) return;
    float s = 0.f;
    for (int b = 0; b < B; b++) s += dBeta[b * H + h];
    gradLog[h] += beta[h] * s;
}
