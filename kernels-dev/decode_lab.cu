// Decode lab (session 3): v2 (two kernels, register loads) beside v3 variants (NW warps x NST cp.async stages,
// clusters of CL splits merged through distributed shared memory).
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -fatbin -o decode_lab.fatbin kernels-dev/decode_lab.cu
#include "../engine/src/main/cuda/attention/decode.cuh"  // v2 and v3

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
#define V3C(D, G, NW, NST, CL)                                                                                \
    extern "C" __global__ void __cluster_dims__(CL, 1, 1) __launch_bounds__(NW * 32)                          \
    decode_hd##D##_g##G##_w##NW##_s##NST##_c##CL(                                                             \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                 \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) { \
        decode_kernel<D, G, NW, NST, CL>(O, partO, partML, counters, Q, Kc, Vc, L, Tmax, Hkv, chunk, scale);   \
    }
V3(128, 1, 8, 2) V3(128, 4, 8, 2) V3(128, 1, 4, 4) V3(128, 4, 4, 4) V3(128, 4, 8, 3)
V3C(128, 1, 8, 2, 8) V3C(128, 4, 8, 2, 8) V3C(128, 1, 8, 2, 4) V3C(128, 4, 8, 2, 4) V3C(128, 4, 4, 4, 8)
V3C(128, 4, 8, 3, 8) V3C(128, 1, 4, 4, 8) V3C(128, 1, 8, 3, 8)
// correctness-only instances
V3(64, 1, 8, 2) V3(64, 8, 8, 2) V3(128, 2, 8, 2) V3(128, 8, 8, 2) V3(256, 1, 8, 2) V3(256, 8, 8, 2)
V3C(64, 2, 8, 2, 8) V3C(128, 8, 8, 2, 8) V3C(256, 4, 8, 2, 8) V3C(256, 8, 8, 2, 8) V3C(64, 8, 8, 2, 8)
