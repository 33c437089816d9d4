// Training kernels (RMSNorm, SwiGLU, embedding, cross-entropy, AdamW, grad norm, RoPE, fp32 -> bf16 cast):
// templates in training/; instances here. CudaTrainingKernels.java lists the same names, launch shapes and
// shared-memory sizes.
// Argument order as everywhere: outputs, then inputs, then sizes.
#pragma once
#include "training/rmsnorm.cuh"        // defines: rmsnorm_fwd_kernel, rmsnorm_bwd_kernel, rmsnorm_dw_reduce_kernel
#include "training/swiglu.cuh"         // defines: swiglu_fwd_kernel, swiglu_bwd_kernel
#include "training/embedding.cuh"      // defines: embedding_fwd_kernel, embedding_bwd_{count,scan,scatter,rows}_kernel
#include "training/cross_entropy.cuh"  // defines: cross_entropy_kernel
#include "training/adamw.cuh"          // defines: adamw_kernel, grad_sumsq_partial_kernel, grad_sumsq_reduce_kernel
#include "training/rope.cuh"           // defines: rope_kernel
#include "training/cast.cuh"           // defines: cast_f32_bf16_kernel

// ---- RMSNorm: grid ceil(N / 8) x 256 threads (fwd); ceil(N / 32) x 128 threads, 4 * E * 4 bytes smem (bwd)
extern "C" __global__ void __launch_bounds__(rmsnorm::FWD_THREADS)
rmsnorm_fwd(__nv_bfloat16* y, float* rstd, const __nv_bfloat16* x, const float* w, int N, int E, float eps) {
    rmsnorm_fwd_kernel<false>(y, rstd, nullptr, x, nullptr, w, N, E, eps);
}
// sum = bf16(x + r) (the residual stream after a sublayer), y = rmsnorm(sum).
extern "C" __global__ void __launch_bounds__(rmsnorm::FWD_THREADS)
rmsnorm_residual_fwd(__nv_bfloat16* y, float* rstd, __nv_bfloat16* sum, const __nv_bfloat16* x,
                     const __nv_bfloat16* r, const float* w, int N, int E, float eps) {
    rmsnorm_fwd_kernel<true>(y, rstd, sum, x, r, w, N, E, eps);
}
#define RMSNORM_BWD(OUT_T, NAME)                                                                               \
    extern "C" __global__ void __launch_bounds__(rmsnorm::BWD_THREADS)                                         \
    NAME(OUT_T* dx, float* dwPartial, const OUT_T* dres, const __nv_bfloat16* dy, const __nv_bfloat16* x,      \
         const float* w, const float* rstd, int N, int E) {                                                    \
        rmsnorm_bwd_kernel<OUT_T>(dx, dwPartial, dres, dy, x, w, rstd, N, E);                                  \
    }
RMSNORM_BWD(float, rmsnorm_bwd_f32)
RMSNORM_BWD(__nv_bfloat16, rmsnorm_bwd_bf16)
// grid ceil(E / 32) x 256 threads; dw += the P partials of rmsnorm_bwd_*.
extern "C" __global__ void __launch_bounds__(rmsnorm::REDUCE_THREADS)
rmsnorm_dw_reduce(float* dw, const float* partial, int P, int E) {
    rmsnorm_dw_reduce_kernel(dw, partial, P, E);
}

// ---- SwiGLU: grid-stride, 256 threads
extern "C" __global__ void __launch_bounds__(swiglu::THREADS)
swiglu_fwd(__nv_bfloat16* h, const __nv_bfloat16* gate, const __nv_bfloat16* up, int N, int F, int ldIn) {
    swiglu_fwd_kernel(h, gate, up, N, F, ldIn);
}
extern "C" __global__ void __launch_bounds__(swiglu::THREADS)
swiglu_bwd(__nv_bfloat16* dgate, __nv_bfloat16* dup, const __nv_bfloat16* dh, const __nv_bfloat16* gate,
           const __nv_bfloat16* up, int N, int F, int ldIn, int ldOut) {
    swiglu_bwd_kernel(dgate, dup, dh, gate, up, N, F, ldIn, ldOut);
}

// ---- Embedding: fwd grid ceil(N / 8) x 256; bwd = count, scan (1 block x 1024), scatter, rows (V blocks x 256)
#define EMBEDDING_FWD(T, NAME)                                                                                 \
    extern "C" __global__ void __launch_bounds__(embedding::FWD_THREADS)                                       \
    NAME(__nv_bfloat16* x, const int* ids, const T* table, int N, int V, int E) {                              \
        embedding_fwd_kernel<T>(x, ids, table, N, V, E);                                                       \
    }
EMBEDDING_FWD(__nv_bfloat16, embedding_fwd_bf16)
EMBEDDING_FWD(float, embedding_fwd_f32)
extern "C" __global__ void __launch_bounds__(embedding::THREADS)
embedding_bwd_count(int* cursor, const int* ids, int N, int V) {
    embedding_bwd_count_kernel(cursor, ids, N, V);
}
extern "C" __global__ void __launch_bounds__(embedding::SCAN_THREADS)
embedding_bwd_scan(int* start, int* cursor, int V) {
    embedding_bwd_scan_kernel(start, cursor, V);
}
extern "C" __global__ void __launch_bounds__(embedding::THREADS)
embedding_bwd_scatter(int* order, int* cursor, const int* ids, int N, int V) {
    embedding_bwd_scatter_kernel(order, cursor, ids, N, V);
}
#define EMBEDDING_BWD_ROWS(T, NAME)                                                                            \
    extern "C" __global__ void __launch_bounds__(embedding::THREADS)                                           \
    NAME(float* dtable, int* order, const int* start, const T* dx, int V, int E) {                             \
        embedding_bwd_rows_kernel<T>(dtable, order, start, dx, V, E);                                          \
    }
EMBEDDING_BWD_ROWS(float, embedding_bwd_rows_f32)
EMBEDDING_BWD_ROWS(__nv_bfloat16, embedding_bwd_rows_bf16)

// ---- Cross-entropy: grid N x (256, or 1024 when V >= 16384)
#define CROSS_ENTROPY(T, NAME)                                                                                 \
    extern "C" __global__ void __launch_bounds__(xent::LARGE_THREADS)                                          \
    NAME(float* loss, T* dlogits, int* correct, const T* logits, const int* targets, int N, int V,             \
         float gradScale) {                                                                                    \
        cross_entropy_kernel<T>(loss, dlogits, correct, logits, targets, N, V, gradScale);                     \
    }
CROSS_ENTROPY(__nv_bfloat16, cross_entropy_bf16)
CROSS_ENTROPY(float, cross_entropy_f32)

// ---- AdamW and the global gradient norm
extern "C" __global__ void __launch_bounds__(adamw::THREADS)
adamw_step(float* p, __nv_bfloat16* pBf16, float* m, float* v, const float* g, int n, float lr, float beta1,
           float beta2, float eps, float weightDecay, int step, float gradScale) {
    adamw_kernel(p, pBf16, m, v, g, n, lr, beta1, beta2, eps, weightDecay, step, gradScale);
}
extern "C" __global__ void __launch_bounds__(adamw::SUMSQ_THREADS)
grad_sumsq_partial(double* partials, const float* g, int n) {
    grad_sumsq_partial_kernel(partials, g, n);
}
extern "C" __global__ void __launch_bounds__(adamw::SUMSQ_THREADS)
grad_sumsq_reduce(double* total, const double* partials, int count) {
    grad_sumsq_reduce_kernel(total, partials, count);
}

// ---- RoPE in place: grid B*T x 128; inverse = 1 for the backward
extern "C" __global__ void __launch_bounds__(rope::THREADS)
rope_bf16(__nv_bfloat16* x, int T, int H, int headDim, int offset, int dims, int pos0, float base, int inverse) {
    rope_kernel<__nv_bfloat16>(x, T, H, headDim, offset, dims, pos0, base, inverse);
}
extern "C" __global__ void __launch_bounds__(rope::THREADS)
rope_f32(float* x, int T, int H, int headDim, int offset, int dims, int pos0, float base, int inverse) {
    rope_kernel<float>(x, T, H, headDim, offset, dims, pos0, base, inverse);
}

// ---- fp32 -> bf16 cast: grid-stride, 256 threads
extern "C" __global__ void __launch_bounds__(cast::THREADS)
cast_f32_bf16(__nv_bfloat16* y, const float* x, long n) {
    cast_f32_bf16_kernel(y, x, n);
}
