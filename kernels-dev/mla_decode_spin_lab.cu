// MLA absorbed decode lab (session 4, helper "dec"): the shipped split kernel + combine kernel (mla_kernels.cuh)
// beside the SPIN instances (the combine fused, attention/mla_decode.cuh), named <shipped name>_spin, so
// bench/ccalab_mla.py (decode(..., spin=True)) launches either from this fatbin. SPIN lost (perf-log "Session 4, dec").
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -fatbin -o mla_lab.fatbin kernels-dev/mla_decode_spin_lab.cu
#include "../engine/src/main/cuda/attention/flash_bwd.cuh"  // mla_kernels.cuh instantiates flash_bwd_wide_kernel
#include "../engine/src/main/cuda/mla_kernels.cuh"

#define SPIN_LAB(R, DR, BN, SUFFIX)                                                                              \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_r##R##_rope##DR##SUFFIX##_spin(float* partO, float* partML, const __nv_bfloat16* Qa,             \
                                              const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,    \
                                              float scale, float* OLat, int* counters) {                        \
        mla_decode_splitkv_kernel<R, DR, BN, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, OLat,    \
                                                   counters);                                                   \
    }
SPIN_LAB(512, 64, 64, ) SPIN_LAB(512, 64, 32, _n32) SPIN_LAB(960, 64, 32, ) SPIN_LAB(448, 64, 64, )
SPIN_LAB(448, 64, 32, _n32)
