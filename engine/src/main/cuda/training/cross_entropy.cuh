// defines: cross_entropy_kernel<T> — softmax cross-entropy of one row per block, with its gradient.
//
// Letters: N rows, V vocabulary (any V; 16-byte vectors when V is a multiple of 8 and the buffers are aligned). logits [N, V] bf16 or fp32;
// targets [N] int32, -1 = not scored (data/Batch.IGNORE); loss [N] fp32 per row (0 where not scored; NaN for a
// target outside [-1, V), so that a bad batch diverges loudly); correct [N] int32 (nullable): argmax == target,
// ties to the lowest index as train/CrossEntropy.java; dlogits (nullable, may be the logits buffer itself):
// (softmax - onehot) * gradScale, zero on rows not scored. gradScale = 1 / (number of scored targets), known on
// the host from the batch, so no device-wide count is needed.
//
// Pass 1 keeps a running (max, sum of exp(x - max)) per thread, rescaled once per 8 values, merged over the
// block in a fixed tree (numerically stable for any logit range, deterministic). Pass 2 re-reads the row to
// write the gradient. Large vocabularies use 1024-thread blocks: fewer rows in flight keeps each row resident
// in L2 between its two passes (V = 50304 bf16 is 100 KB a row).
#pragma once
#include "vec.cuh"

namespace xent {
constexpr int SMALL_THREADS = 256, LARGE_THREADS = 1024, LARGE_FROM_V = 16384;
}

namespace train {
struct SoftmaxRun {
    float m, s, best;
    int arg;
};
TDEVI void merge(SoftmaxRun& a, const SoftmaxRun& b) {
    const float M = fmaxf(a.m, b.m);
    a.s = M == -INFINITY ? 0.f : a.s * __expf(a.m - M) + b.s * __expf(b.m - M);
    a.m = M;
    if (b.best > a.best || (b.best == a.best && b.arg < a.arg)) {
        a.best = b.best;
        a.arg = b.arg;
    }
}
// Folds K consecutive logits starting at column `col` into the thread's run.
template <int K> TDEVI void fold(SoftmaxRun& r, const float* v, int col) {
    float cm = v[0];
    int ci = 0;
#pragma unroll
    for (int i = 1; i < K; i++)
        if (v[i] > cm) {
            cm = v[i];
            ci = i;
        }
    if (cm > r.best) {  // columns rise within a thread: strict > keeps the first maximum
        r.best = cm;
        r.arg = col + ci;
    }
    const float M = fmaxf(r.m, cm);
    float acc = 0.f;
#pragma unroll
    for (int i = 0; i < K; i++) acc += __expf(v[i] - M);
    r.s = r.s * __expf(r.m - M) + acc;
    r.m = M;
}
}  // namespace train

template <typename T>
__device__ __forceinline__ void cross_entropy_kernel(float* __restrict__ loss, T* dlogits, int* __restrict__ correct,
                                                     const T* logits, const int* __restrict__ targets, int N, int V,
                                                     float gradScale) {
    using namespace train;
    __shared__ SoftmaxRun warpRuns[32];
    const long row = blockIdx.x;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nt = blockDim.x;
    const int tgt = targets[row];
    const T* x = logits + row * V;
    T* d = dlogits != nullptr ? dlogits + row * V : nullptr;
    const bool vec = (V & 7) == 0 && aligned16(x) && (d == nullptr || aligned16(d));
    if (tgt < 0 || tgt >= V) {  // not scored: zero gradient
        if (tid == 0) {
            loss[row] = tgt == -1 ? 0.f : __int_as_float(0x7fc00000);
            if (correct != nullptr) correct[row] = 0;
        }
        if (d != nullptr) {
            const float z[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
            if (vec)
                for (int c = tid * 8; c < V; c += nt * 8) store8(d + c, z);
            else
                for (int c = tid; c < V; c += nt) d[c] = from_f<T>(0.f);
        }
        return;
    }
    const float xt = to_f(x[tgt]);  // read before any thread overwrites the row (dlogits may alias logits)
    SoftmaxRun r{-INFINITY, 0.f, -INFINITY, 0x7fffffff};
    if (vec) {
#pragma unroll 2
        for (int c = tid * 8; c < V; c += nt * 8) {
            float v[8];
            load8(x + c, v);
            fold<8>(r, v, c);
        }
    } else {
        for (int c = tid; c < V; c += nt) {
            const float v = to_f(x[c]);
            fold<1>(r, &v, c);
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        SoftmaxRun b{__shfl_xor_sync(0xffffffffu, r.m, o), __shfl_xor_sync(0xffffffffu, r.s, o),
                     __shfl_xor_sync(0xffffffffu, r.best, o), __shfl_xor_sync(0xffffffffu, r.arg, o)};
        merge(r, b);
    }
    if (lane == 0) warpRuns[warp] = r;
    __syncthreads();
    if (warp == 0) {
        SoftmaxRun a = warpRuns[0];
        for (int k = 1; k < (nt >> 5); k++) merge(a, warpRuns[k]);  // fixed order
        if (lane == 0) warpRuns[0] = a;
    }
    __syncthreads();
    r = warpRuns[0];
    const float logZ = r.m + logf(r.s);
    if (tid == 0) {
        loss[row] = logZ - xt;
        if (correct != nullptr) correct[row] = r.arg == tgt;
    }
    if (d == nullptr) return;
    if (vec) {
        for (int c = tid * 8; c < V; c += nt * 8) {
            float v[8];
            load8(x + c, v);
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = __expf(v[i] - logZ) * gradScale - (c + i == tgt ? gradScale : 0.f);
            store8(d + c, v);
        }
    } else {
        for (int c = tid; c < V; c += nt)
            d[c] = from_f<T>(__expf(to_f(x[c]) - logZ) * gradScale - (c == tgt ? gradScale : 0.f));
    }
}
