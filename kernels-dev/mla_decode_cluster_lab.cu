// MLA absorbed decode lab (session 9): the shipped split kernel (mla_kernels.cuh) beside variants of
// attention/mla_decode.cuh with NACC independent S accumulator chains and clusters of CL splits that merge
// their results through distributed shared memory before the combine (S / CL partials).
// Names: mla_decode_r512_rope64_acc<NACC>_cl<CL>. Launch: grid (S, head groups, B) with S a multiple of CL.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o mla_cl.fatbin kernels-dev/mla_decode_cluster_lab.cu
#define MLA_DECODE_TRACE  // thread 0 stamps (attention/mla_decode.cuh MTRACE): bench/mla_decode_cluster_lab.py --trace
#include "../engine/src/main/cuda/attention/flash_bwd.cuh"  // mla_kernels.cuh instantiates flash_bwd_wide_kernel
#include "../engine/src/main/cuda/mla_kernels.cuh"

#define CLUSTER_LAB(NACC, CL)                                                                                   \
    extern "C" __global__ void __cluster_dims__(CL, 1, 1) __launch_bounds__(mla_decode::NTHREADS, 1)            \
    mla_decode_r512_rope64_acc##NACC##_cl##CL(float* partO, float* partML, const __nv_bfloat16* Qa,            \
                                              const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,    \
                                              float scale) {                                                    \
        mla_decode_splitkv_kernel<512, 64, 64, false, CL, NACC>(partO, partML, Qa, Cache, L, Tmax, H, chunk,    \
                                                                scale);                                         \
    }
CLUSTER_LAB(1, 1) CLUSTER_LAB(4, 1) CLUSTER_LAB(4, 2) CLUSTER_LAB(4, 4) CLUSTER_LAB(4, 8) CLUSTER_LAB(2, 4)
