// Decode floor lab (session 4, helper "dec"): what a batch-1 decode call costs at the least, beside decode v3.
// -DDECODE_NO_TRACE (session 12, call 6): the same instances without the trace stamps (thread 0's %globaltimer and clock64
// reads and stores at 8 milestones, on the arrival's path), for timings comparable with the shipped kernels
#ifndef DECODE_NO_TRACE
#define DECODE_TRACE
#endif
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -fatbin -o decode_floor.fatbin kernels-dev/decode_floor.cu
//   empty_kernel                       a launch and nothing else
//   stream_xchg_t<NT>_u<U>             (session 9) the same read + a 16-byte partial, one group arrival, one read of the partials
//   stream_read_t<NT>_u<U>             reads two contiguous buffers (exactly the K and V bytes of a batch-1 cache
//                                      with Tmax = L) in one chunk per block, U 16-byte loads of each in flight per thread
//   decode_hd128_g<G>_v3|_spin|_pdl|_spinpdl   decode v3 (the shipped template, 8 warps x 2 stages) and its SPIN /
//                                      PDL instances (attention/decode.cuh)
//   qkv_producer                       a decode step's producer: the QKV projection GEMV (one warp per output row,
//                                      W [N, E] bf16) that writes q and appends row `pos` of K and V; `trigger`
//                                      calls griddepcontrol.launch_dependents at its start
#include "../engine/src/main/cuda/attention/decode.cuh"

extern "C" __global__ void empty_kernel() {}

// This block's chunk of both buffers, U 16-byte loads of each in flight per thread; the xor keeps the loads.
template <int NT, int U>
__device__ __forceinline__ unsigned stream_chunk(const uint4* __restrict__ a, const uint4* __restrict__ b, long n16,
                                                 long chunk16) {
    const long s = blockIdx.x * chunk16, e = min(n16, s + chunk16);
    unsigned x = 0;
    for (long i = s + threadIdx.x; i < e; i += NT * U) {
        uint4 va[U], vb[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const long j = i + (long)u * NT;
            va[u] = vb[u] = make_uint4(0, 0, 0, 0);
            if (j < e) { va[u] = __ldg(a + j); vb[u] = __ldg(b + j); }
        }
#pragma unroll
        for (int u = 0; u < U; u++) x ^= va[u].x ^ va[u].y ^ va[u].z ^ va[u].w ^ vb[u].x ^ vb[u].y ^ vb[u].z ^ vb[u].w;
    }
    return x;
}
template <int NT, int U>
__device__ __forceinline__ void stream_read(const uint4* __restrict__ a, const uint4* __restrict__ b, long n16, long chunk16,
                                            unsigned* out) {
    const unsigned x = stream_chunk<NT, U>(a, b, n16, chunk16);
    if (x == 0x9e3779b9u) out[blockIdx.x] = x;  // keeps the loads; practically never taken
}
#define SR(NT, U)                                                                                                  \
    extern "C" __global__ void __launch_bounds__(NT) stream_read_t##NT##_u##U(const uint4* a, const uint4* b, long n16, \
                                                                             long chunk16, unsigned* out) {       \
        stream_read<NT, U>(a, b, n16, chunk16, out);                                                               \
    }
SR(256, 8) SR(512, 4) SR(1024, 4)

// Session 9: the floor of any split-KV decode = the same streaming read, then what every split merge needs at
// least: a 16-byte partial per block, one arrival of the block's group (since session 11 the shipped arrival,
// common/mma.cuh group_arrive_share; session 9-10's floors used decode SPIN = 2's epoch protocol, one round trip
// more) and one read of the group's partials. Groups
// interleave over the grid (block x % groups), as the KV heads' splits would. counters: 2 ints per group, zero
// before the first launch; only co-resident grids (the launcher checks the occupancy).
template <int NT, int U>
__device__ __forceinline__ void stream_xchg(const uint4* __restrict__ a, const uint4* __restrict__ b, long n16,
                                            long chunk16, unsigned* out, int* counters, uint4* part, int groups) {
    const int g = blockIdx.x % groups, members = (gridDim.x - g + groups - 1) / groups;
    int* ctr = counters + 2 * g;
    const unsigned x = stream_chunk<NT, U>(a, b, n16, chunk16);
    __shared__ unsigned sx;
    if (threadIdx.x == 0) sx = 0;
    __syncthreads();
    atomicXor(&sx, x);  // every thread's loads are in the partial
    __syncthreads();
    if (threadIdx.x == 0) {
        part[blockIdx.x] = make_uint4(sx, blockIdx.x, 0, 0);
        group_arrive_share(reinterpret_cast<unsigned long long*>(ctr), blockIdx.x / groups, members);
    }
    __syncthreads();
    unsigned y = 0;
    for (int j = threadIdx.x; j < members; j += NT) y ^= __ldcg(part + g + (long)j * groups).x;
    y = __reduce_xor_sync(0xffffffff, y);
    if ((threadIdx.x & 31) == 0 && y == 0x9e3779b9u) out[blockIdx.x] = y;  // keeps the reads; practically never taken
}
#define SX(NT, U)                                                                                                  \
    extern "C" __global__ void __launch_bounds__(NT) stream_xchg_t##NT##_u##U(const uint4* a, const uint4* b, long n16, \
                                                                             long chunk16, unsigned* out,          \
                                                                             int* counters, uint4* part, int groups) { \
        stream_xchg<NT, U>(a, b, n16, chunk16, out, counters, part, groups);                                       \
    }
SX(256, 8) SX(512, 4) SX(1024, 4)

#define DEC(G, SUF, SPIN, PDL)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) decode_hd128_g##G##_##SUF(                               \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                  \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) {  \
        decode_kernel<128, G, 8, 2, 1, SPIN, PDL>(O, partO, partML, counters, Q, Kc, Vc, L, Tmax, Hkv, chunk, scale); \
    }
#define DECS(G) DEC(G, v3, 0, false) DEC(G, spin, 1, false) DEC(G, pdl, 0, true) DEC(G, spinpdl, 1, true) \
    DEC(G, epoch, 2, false) DEC(G, epochpdl, 2, true)
DECS(1) DECS(2) DECS(4) DECS(8)
// Session 9: the tensor-core decode (decode_kernel's MMA path) with SPIN = 2, G >= 2
#define DEC_DN(D, G, SUF, MMA, NST)                                                                             \
    extern "C" __global__ void __launch_bounds__(256) decode_hd##D##_g##G##_##SUF(                             \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                  \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) {  \
        decode_kernel<D, G, 8, NST, 1, 2, false, MMA>(O, partO, partML, counters, Q, Kc, Vc, L, Tmax, Hkv,      \
                                                      chunk, scale);                                            \
    }
#define DEC_D(D, G, SUF, MMA) DEC_DN(D, G, SUF, MMA, 2)
DEC_D(128, 1, mma, true) DEC_D(128, 2, mma, true) DEC_D(128, 4, mma, true) DEC_D(128, 8, mma, true)
DEC_D(64, 1, epoch, false) DEC_D(64, 2, epoch, false) DEC_D(64, 4, epoch, false) DEC_D(64, 8, epoch, false)
DEC_D(64, 1, mma, true) DEC_D(64, 2, mma, true) DEC_D(64, 4, mma, true) DEC_D(64, 8, mma, true)
DEC_D(256, 1, epoch, false) DEC_D(256, 2, epoch, false) DEC_D(256, 4, epoch, false) DEC_D(256, 8, epoch, false)
DEC_D(256, 2, mma, true) DEC_D(256, 4, mma, true) DEC_D(256, 8, mma, true)
// Session 10: the tensor-core decode with 3 / 4 stages (decode_floor.py --variants mma_s3:1,...)
DEC_DN(256, 4, mma_s3, true, 3) DEC_DN(256, 4, mma_s4, true, 4) DEC_DN(256, 2, mma_s3, true, 3)
DEC_DN(256, 2, mma_s4, true, 4) DEC_DN(128, 4, mma_s3, true, 3) DEC_DN(128, 4, mma_s4, true, 4)
DEC_DN(128, 2, mma_s3, true, 3) DEC_DN(128, 2, mma_s4, true, 4)
// Session 11: SPIN = 3, the arrival through group_arrive_share (decode_floor.py --variants mmashare:1)
#define DEC_SHARE(D, G)                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) decode_hd##D##_g##G##_mmashare(                          \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                  \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) {  \
        decode_kernel<D, G, 8, 2, 1, 3, false, true>(O, partO, partML, counters, Q, Kc, Vc, L, Tmax, Hkv,      \
                                                     chunk, scale);                                             \
    }
DEC_SHARE(128, 2) DEC_SHARE(128, 4) DEC_SHARE(128, 8) DEC_SHARE(256, 2) DEC_SHARE(256, 4) DEC_SHARE(256, 8)
DEC_SHARE(64, 2) DEC_SHARE(64, 4) DEC_SHARE(64, 8)
// (call 2 also had SPIN with NST = 3 / 4 stages, decode_hd128_g<G>_spin_s<NST>: no gain, dropped)

// PDL probe (call 2): does a programmatic dependent start before its primary ends (eager and in a graph)?
// ts[0] = the primary's last block end, ts[1] = the secondary's first block start, ts[2] = its first block past
// griddepcontrol.wait (globaltimer ns).
DEVI unsigned long long gtime() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}
extern "C" __global__ void pdl_primary(unsigned long long* ts, int trigger, long long ns) {
    if (trigger) griddep_launch_dependents();
    const unsigned long long t0 = gtime();
    while (gtime() - t0 < (unsigned long long)ns) {}
    __syncthreads();
    if (threadIdx.x == 0) atomicMax(ts, gtime());
}
extern "C" __global__ void pdl_secondary(unsigned long long* ts) {
    const unsigned long long t = gtime();
    if (threadIdx.x == 0) atomicMin(ts + 1, t);
    griddep_wait();
    if (threadIdx.x == 0) atomicMin(ts + 2, gtime());
}

// out row j of W z: j < Hq D -> q; then K row, then V row at cache position pos ([Tmax, Hkv, D], batch 1).
extern "C" __global__ void __launch_bounds__(256) qkv_producer(const __nv_bfloat16* __restrict__ W, const __nv_bfloat16* __restrict__ z,
                                                               __nv_bfloat16* q, __nv_bfloat16* Kc, __nv_bfloat16* Vc,
                                                               int pos, int Hq, int Hkv, int E, int trigger) {
    if (trigger) griddep_launch_dependents();
    constexpr int D = 128;
    const int j = blockIdx.x * 8 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    const int N = (Hq + 2 * Hkv) * D;
    if (j >= N) return;
    const uint4* w = reinterpret_cast<const uint4*>(W + (long)j * E);
    const uint4* zz = reinterpret_cast<const uint4*>(z);
    float s = 0.f;
    for (int i = lane; i < E / 8; i += 32) {
        const uint4 wv = __ldg(w + i), zv = __ldg(zz + i);
        const __nv_bfloat16* we = reinterpret_cast<const __nv_bfloat16*>(&wv);
        const __nv_bfloat16* ze = reinterpret_cast<const __nv_bfloat16*>(&zv);
#pragma unroll
        for (int k = 0; k < 8; k++) s += __bfloat162float(we[k]) * __bfloat162float(ze[k]);
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffff, s, off);
    if (lane != 0) return;
    const __nv_bfloat16 v = __float2bfloat16(s * 0.03125f);
    if (j < Hq * D) { q[j] = v; return; }
    const int r = j - Hq * D, kv = r / (Hkv * D), c = r % (Hkv * D);
    (kv == 0 ? Kc : Vc)[(long)pos * Hkv * D + c] = v;
}
