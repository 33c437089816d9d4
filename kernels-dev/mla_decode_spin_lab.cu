// MLA absorbed decode lab (session 4, helper "dec"): the split kernel + combine kernel beside the SPIN instance (the
// combine fused, attention/mla_decode.cuh). Same names as the shipped instances (mla_kernels.cuh), so
// bench/ccalab_mla.py launches either from this fatbin.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -fatbin -o mla_decode_spin_lab.fatbin kernels-dev/mla_decode_spin_lab.cu
#include "../engine/src/main/cuda/attention/mla_decode.cuh"

#define LAB(R, DR, BN, SUFFIX)                                                                                   \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_r##R##_rope##DR##SUFFIX(float* partO, float* partML, const __nv_bfloat16* Qa,                   \
                                       const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,           \
                                       float scale) {                                                           \
        mla_decode_splitkv_kernel<R, DR, BN>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale);               \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_r##R##_rope##DR##SUFFIX##_spin(float* partO, float* partML, const __nv_bfloat16* Qa,             \
                                              const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,    \
                                              float scale, float* OLat, int* counters) {                        \
        mla_decode_splitkv_kernel<R, DR, BN, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, OLat,    \
                                                   counters);                                                   \
    }
LAB(512, 64, 64, ) LAB(512, 64, 32, _n32) LAB(960, 64, 32, ) LAB(448, 64, 64, ) LAB(448, 64, 32, _n32)
#define COMBINE(R)                                                                                              \
    extern "C" __global__ void mla_decode_combine_r##R(float* OLat, const float* partO, const float* partML,     \
                                                       int H, int nSplit) {                                     \
        mla_decode_combine_kernel<R>(OLat, partO, partML, H, nSplit);                                           \
    }
COMBINE(512) COMBINE(960) COMBINE(448)
