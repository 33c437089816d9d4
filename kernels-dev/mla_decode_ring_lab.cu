// MLA absorbed decode lab (session 10): attention/mla_decode_ring.cuh (32-row tiles through an NST-deep ring, Qa's
// fragments in registers, the softmax once per tile; shipped since with NST = 3) at several NST, beside the
// session-2 split kernel (mla_decode_r512_rope64, BN = 64: the cluster lab's instance), with the trace stamps.
// Names: mla_decode_ring_r<R>_rope64_s<NST>[_spin]; the combine comes from mla_kernels.cuh. Launch: grid (S, head groups, B), 256 threads, mla_ring::smem_bytes<R, 64, NST>() bytes.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o mla_ring.fatbin kernels-dev/mla_decode_ring_lab.cu
// The session-9 lab (its trace stamps, the shipped MLA kernels, the v2 combine mla_decode_combine2_r512):
#include "mla_decode_cluster_lab.cu"
#include "../engine/src/main/cuda/attention/mla_decode_ring.cuh"

#define RING_LAB(R, NST)                                                                                        \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope64_s##NST(float* partO, float* partML, const __nv_bfloat16* Qa,                  \
                                         const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,         \
                                         float scale) {                                                         \
        mla_decode_ring_kernel<R, 64, NST>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale);                 \
    }
RING_LAB(512, 3) RING_LAB(512, 4) RING_LAB(512, 5) RING_LAB(448, 3) RING_LAB(448, 4)
// The combine fused (SPIN): names + "_spin", two more arguments: OLat [B, H, R] fp32 and counters (2 ints per
// (b, head group), zero before the first launch); only co-resident grids.
#define RING_LAB_SPIN(R, NST)                                                                                   \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope64_s##NST##_spin(float* partO, float* partML, const __nv_bfloat16* Qa,           \
                                                const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,  \
                                                float scale, float* OLat, int* counters) {                      \
        mla_decode_ring_kernel<R, 64, NST, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, OLat,      \
                                                 counters);                                                     \
    }
RING_LAB_SPIN(512, 3) RING_LAB_SPIN(512, 4) RING_LAB_SPIN(448, 3) RING_LAB_SPIN(448, 4)
// DISCARD (session 10, call 16, shipped since in mla_kernels.cuh's _spin instances): the fused merge drops the
// partial lines it read from the L2 (no write-back)
#define RING_LAB_DISCARD(R, NST)                                                                                \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope64_s##NST##_spin_discard(float* partO, float* partML, const __nv_bfloat16* Qa,   \
                                                        const __nv_bfloat16* Cache, int L, int Tmax, int H,     \
                                                        int chunk, float scale, float* OLat, int* counters) {   \
        mla_decode_ring_kernel<R, 64, NST, true, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, OLat, \
                                                       counters);                                               \
    }
RING_LAB_DISCARD(512, 3) RING_LAB_DISCARD(448, 3)
// SHARE (session 11): the arrival in one round trip fewer (common/mma.cuh group_arrive_share), with DISCARD
#define RING_LAB_SHARE(R, NST)                                                                                  \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope64_s##NST##_spin_discard_share(float* partO, float* partML,                      \
                                                              const __nv_bfloat16* Qa,                          \
                                                              const __nv_bfloat16* Cache, int L, int Tmax,      \
                                                              int H, int chunk, float scale, float* OLat,       \
                                                              int* counters) {                                  \
        mla_decode_ring_kernel<R, 64, NST, true, true, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, \
                                                             OLat, counters);                                   \
    }
RING_LAB_SHARE(512, 3) RING_LAB_SHARE(448, 3)
