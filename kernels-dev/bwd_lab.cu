// Backward lab (session 3): the shipped fatbin's kernels plus flash_bwd_wide_kernel variants with STAGE (P^T and
// dS^T exchanged through shared memory instead of recomputed by both column halves).
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -I engine/src/main/cuda \
//          -o bwd_lab.fatbin kernels-dev/bwd_lab.cu
#include "../engine/src/main/cuda/ccalab_kernels.cu"

#define BWD_LAB(DQK, DV, CAUSAL, BKV, CS, BQ, ST, NAME)                                                        \
    extern "C" __global__ void __launch_bounds__(BKV / 16 * CS * 32, 1)                                       \
    NAME(float* dQ, float* dK, float* dV, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         const __nv_bfloat16* dO, const float* LSE, const float* Dv, int T, int Hq, int Hkv, float scale) {     \
        flash_bwd_wide_kernel<DQK, DV, CAUSAL, BKV, CS, BQ, ST>(dQ, dK, dV, Q, K, V, dO, LSE, Dv, T, Hq, Hkv, scale); \
    }
// session 3 lab 2: the unstaged kernels the first verification shipped, and the staged 64-row MLA tile (spills 4 B)
BWD_LAB(256, 256, true, 64, 2, 32, false, bwdlab_256_256_q32_causal)
BWD_LAB(256, 256, false, 64, 2, 32, false, bwdlab_256_256_q32)
BWD_LAB(192, 128, true, 64, 2, 64, false, bwdlab_192_128_q64_causal)
BWD_LAB(192, 128, false, 64, 2, 64, false, bwdlab_192_128_q64)
BWD_LAB(192, 128, true, 64, 2, 64, true, bwdlab_192_128_st_q64_causal)
BWD_LAB(192, 128, false, 64, 2, 64, true, bwdlab_192_128_st_q64)
BWD_LAB(96, 64, true, 64, 2, 64, false, bwdlab_96_64_q64_causal)
BWD_LAB(96, 64, false, 64, 2, 64, false, bwdlab_96_64_q64)
