// Decode lab (session 3): v2 (two kernels, register loads) beside v3 variants (NW warps x NST cp.async stages).
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -fatbin -o decode_lab.fatbin kernels-dev/decode_lab.cu
#include "decode_v2_two_kernels.cuh"
#include "../engine/src/main/cuda/attention/decode.cuh"

#define V2(D, G)                                                                                              \
    extern "C" __global__ void __launch_bounds__(decode::NTHREADS)                                            \
    decode_splitkv_hd##D##_g##G(float* partO, float* partML, const __nv_bfloat16* Q, const __nv_bfloat16* Kc, \
                                const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) {  \
        decode_splitkv_kernel<D, G>(partO, partML, Q, Kc, Vc, L, Tmax, Hkv, chunk, scale);                    \
    }
V2(128, 1) V2(128, 4)
extern "C" __global__ void decode_combine_hd128(__nv_bfloat16* O, const float* partO, const float* partML, int Hq,
                                                int nSplit) {
    decode_combine_kernel<128>(O, partO, partML, Hq, nSplit);
}
#define V3(D, G, NW, NST)                                                                                     \
    extern "C" __global__ void __launch_bounds__(NW * 32) decode_hd##D##_g##G##_w##NW##_s##NST(              \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                 \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) { \
        decode_kernel<D, G, NW, NST>(O, partO, partML, counters, Q, Kc, Vc, L, Tmax, Hkv, chunk, scale);       \
    }
#define V3ALL(D, G) V3(D, G, 4, 4) V3(D, G, 8, 2) V3(D, G, 8, 3) V3(D, G, 4, 6)
V3ALL(128, 1) V3ALL(128, 4)
// correctness-only instances (the shipped 4 x 4 at every head dim and group)
V3(64, 1, 4, 4) V3(64, 2, 4, 4) V3(64, 4, 4, 4) V3(64, 8, 4, 4)
V3(128, 2, 4, 4) V3(128, 8, 4, 4) V3(128, 8, 8, 2)
V3(256, 1, 4, 4) V3(256, 2, 4, 4) V3(256, 4, 4, 4) V3(256, 8, 4, 4) V3(256, 4, 8, 2)
