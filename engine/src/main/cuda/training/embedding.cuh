// defines: embedding_fwd_kernel<T>, embedding_bwd_count_kernel, embedding_bwd_scan_kernel,
//          embedding_bwd_scatter_kernel, embedding_bwd_rows_kernel<T>.
//
// Letters: N tokens, V vocabulary, E width (a multiple of 8). ids [N] int32; table [V, E] (bf16 copy or fp32
// master); x [N, E] bf16; dx [N, E] fp32 or bf16; dtable [V, E] fp32, ADDED to (the tied head's gradient is
// usually already there). An id outside [0, V) reads as a zero row and contributes no gradient (the host checks
// ids; LanguageModel.forward refuses them).
//
// Backward without float atomics, so that a seed fixes the trajectory (train/Trainer.java): every vocabulary
// row is summed by one block, over its tokens in ascending position order, whatever the GPU's timing.
//   1. count:   cursor[v] = #tokens with id v               (integer atomics: exact)
//   2. scan:    start[v] = exclusive prefix sum, start[V] = N; cursor = start
//   3. scatter: order[cursor[id]++] = position               (integer atomics: each bucket's SET is exact,
//                                                              its order is not)
//   4. rows:    one block per v sorts its bucket (bitonic; in shared memory up to SORT_SMEM entries, in place in
//               `order` above that) and sums those rows of dx in that order. When E/8 < 256 the block's spare
//               threads split the rows into a fixed number of interleaved groups, added in group order.
// Cost: 2 reads of ids, one read of dx, one read-modify-write of the touched dtable rows, V mostly empty blocks.
// A token with c occurrences costs one block c row reads, so a batch dominated by one token (e.g. padding)
// serialises on one SM; natural text's most frequent token is a few % of a batch. fp32 atomics per element
// would not serialise but are nondeterministic; a global sort of (id, position) keys plus a segmented
// reduction would balance the work at the price of many more launches.
// Workspace: cursor [V] int (zeroed by the caller before step 1), start [V+1] int, order [N] int.
#pragma once
#include "vec.cuh"

namespace embedding {
constexpr int FWD_WARPS = 8, FWD_THREADS = FWD_WARPS * 32;  // one token row per warp
constexpr int THREADS = 256;                                  // count, scatter, rows
constexpr int SCAN_THREADS = 1024;                            // one block
constexpr int SORT_SMEM = 2048;                               // bucket sizes sorted in shared memory
}

template <typename T>
__device__ __forceinline__ void embedding_fwd_kernel(__nv_bfloat16* __restrict__ x, const int* __restrict__ ids,
                                                     const T* __restrict__ table, int N, int V, int E) {
    using namespace train;
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * embedding::FWD_WARPS + (threadIdx.x >> 5);
    if (row >= N) return;
    const int id = ids[row];
    const bool valid = id >= 0 && id < V;
    const T* src = table + (long)(valid ? id : 0) * E;
#pragma unroll 4
    for (int c = lane * 8; c < E; c += 256) {
        float v[8];
        if (valid) load8(src + c, v);
        else {
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = 0.f;
        }
        store8(x + row * E + c, v);
    }
}

__device__ __forceinline__ void embedding_bwd_count_kernel(int* __restrict__ cursor, const int* __restrict__ ids,
                                                           int N, int V) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += gridDim.x * blockDim.x) {
        const int id = ids[i];
        if (id >= 0 && id < V) atomicAdd(cursor + id, 1);
    }
}

// One block of SCAN_THREADS: thread t owns a contiguous slice of the vocabulary.
__device__ __forceinline__ void embedding_bwd_scan_kernel(int* __restrict__ start, int* __restrict__ cursor, int V) {
    __shared__ int warpTotals[32];
    const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int per = (V + blockDim.x - 1) / blockDim.x, b = min(V, t * per), e = min(V, b + per);
    int local = 0;
    for (int i = b; i < e; i++) local += cursor[i];
    int incl = local;  // inclusive scan within the warp
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int n = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += n;
    }
    if (lane == 31) warpTotals[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x >> 5;
        int w = lane < nw ? warpTotals[lane] : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int n = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += n;
        }
        warpTotals[lane] = w;  // inclusive over warps
    }
    __syncthreads();
    int run = (warp > 0 ? warpTotals[warp - 1] : 0) + incl - local;
    for (int i = b; i < e; i++) {
        const int c = cursor[i];
        start[i] = run;
        cursor[i] = run;
        run += c;
    }
    if (t == blockDim.x - 1) start[V] = run;  // the last thread's slice ends at V (or is empty): run = total
}

__device__ __forceinline__ void embedding_bwd_scatter_kernel(int* __restrict__ order, int* __restrict__ cursor,
                                                             const int* __restrict__ ids, int N, int V) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += gridDim.x * blockDim.x) {
        const int id = ids[i];
        if (id >= 0 && id < V) order[atomicAdd(cursor + id, 1)] = i;
    }
}

namespace train {
// Ascending sort of a[0, c) by the whole block (shared or global memory; every thread calls it). Bitonic network
// in its one-direction form: stage k first compares mirrored pairs, then pairs j apart, always putting the
// smaller value at the lower index. Indices >= c act as +infinity and are never touched: a pair whose upper
// index is past c is already in order, and the lower index of a pair is always below the upper.
TDEVI void block_sort_ascending(int* a, int c) {
    int n = 1;
    while (n < c) n <<= 1;
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int t = threadIdx.x; t < (n >> 1); t += blockDim.x) {
                const int lo = (t / j) * 2 * j + (t % j);
                const int hi = j == (k >> 1) ? (t / j) * 2 * j + 2 * j - 1 - (t % j) : lo + j;
                if (hi < c) {
                    const int x = a[lo], y = a[hi];
                    if (x > y) {
                        a[lo] = y;
                        a[hi] = x;
                    }
                }
            }
            __syncthreads();
        }
    }
}
}  // namespace train

template <typename T>
__device__ __forceinline__ void embedding_bwd_rows_kernel(float* __restrict__ dtable, int* __restrict__ order,
                                                          const int* __restrict__ start, const T* __restrict__ dx,
                                                          int V, int E) {
    using namespace train;
    __shared__ int sorted[embedding::SORT_SMEM];
    __shared__ float part[embedding::THREADS * 8];
    const int v = blockIdx.x;
    const int s = start[v], c = start[v + 1] - s;
    if (c == 0) return;  // uniform over the block
    int* list = order + s;
    if (c <= embedding::SORT_SMEM) {
        for (int k = threadIdx.x; k < c; k += blockDim.x) sorted[k] = list[k];
        __syncthreads();
        list = sorted;
    }
    if (c > 1) block_sort_ascending(list, c);  // ends with a barrier
    else __syncthreads();
    const int cv = E / 8;
    float* dst = dtable + (long)v * E;
    if (cv >= (int)blockDim.x) {  // wide rows: one thread per 8 columns, rows in order
        for (int col = threadIdx.x; col < cv; col += blockDim.x) {
            float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
#pragma unroll 4
            for (int k = 0; k < c; k++) {
                float d[8];
                load8(dx + (long)list[k] * E + col * 8, d);
#pragma unroll
                for (int i = 0; i < 8; i++) acc[i] += d[i];
            }
            float o[8];
            load8(dst + col * 8, o);
#pragma unroll
            for (int i = 0; i < 8; i++) o[i] += acc[i];
            store8(dst + col * 8, o);
        }
    } else {  // narrow rows: G interleaved row groups (G depends on E only), then the groups in order
        const int G = blockDim.x / cv, g = threadIdx.x / cv, col = threadIdx.x % cv;
        float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        if (g < G) {
#pragma unroll 4
            for (int k = g; k < c; k += G) {
                float d[8];
                load8(dx + (long)list[k] * E + col * 8, d);
#pragma unroll
                for (int i = 0; i < 8; i++) acc[i] += d[i];
            }
        }
#pragma unroll
        for (int i = 0; i < 8; i++) part[threadIdx.x * 8 + i] = acc[i];
        __syncthreads();
        if (g == 0) {
            float sum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, o[8];
            for (int q = 0; q < G; q++) {
#pragma unroll
                for (int i = 0; i < 8; i++) sum[i] += part[(q * cv + col) * 8 + i];
            }
            load8(dst + col * 8, o);
#pragma unroll
            for (int i = 0; i < 8; i++) o[i] += sum[i];
            store8(dst + col * 8, o);
        }
    }
}
