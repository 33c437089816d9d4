// MLA kernels (prefill core forward, absorbed decode): templates in attention/mla_*.cuh; instances here.
// Names: mla_fwd_qk<DQK>_v<DV>[_causal]; mla_decode_r<R>_rope<DR> + mla_decode_combine_r<R> for the latent
// widths the engine's configs use (mla.md section 6: V2-Lite 512, MLA-8 448, MLA-4 960).
// MLA backward is not written yet (the prefill core's LSE is kept in flash_fwd's convention for it).
#pragma once
#include "attention/mla_fwd.cuh"     // defines: mla_fwd_kernel
#include "attention/mla_decode.cuh"  // defines: mla_decode_splitkv_kernel, mla_decode_combine_kernel

#define MLA_FWD(DQK, DV, CAUSAL, NAME)                                                                          \
    extern "C" __global__ void __launch_bounds__(mla::NTHREADS, 1)                                              \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int H, float scale) {                                                                            \
        mla_fwd_kernel<DQK, DV, CAUSAL>(O, LSE, Q, K, V, T, H, scale);                                          \
    }
MLA_FWD(192, 128, true, mla_fwd_qk192_v128_causal)
MLA_FWD(192, 128, false, mla_fwd_qk192_v128)
MLA_FWD(96, 64, true, mla_fwd_qk96_v64_causal)
MLA_FWD(96, 64, false, mla_fwd_qk96_v64)

// BN: cache rows per tile. BN=64 (1 block per SM: 2 tiles of 576-wide rows fill shared memory) where it fits,
// BN=32 (S summed over two k-halves) for the 1024-wide MLA-4 rows. A BN=32 variant at R=512 (2 blocks per SM,
// twice the splits) lost 3-25% at every measured shape (H100, B 1/8/32 x L 4k-64k) and was dropped.
#define MLA_DECODE(R, DR, BN, SUFFIX)                                                                           \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_r##R##_rope##DR##SUFFIX(float* partO, float* partML, const __nv_bfloat16* Qa,                   \
                                       const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,           \
                                       float scale) {                                                           \
        mla_decode_splitkv_kernel<R, DR, BN>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale);               \
    }
#define MLA_DECODE_COMBINE(R)                                                                                   \
    extern "C" __global__ void mla_decode_combine_r##R(float* OLat, const float* partO, const float* partML,     \
                                                       int H, int nSplit) {                                     \
        mla_decode_combine_kernel<R>(OLat, partO, partML, H, nSplit);                                           \
    }
MLA_DECODE(512, 64, 64, )
MLA_DECODE(448, 64, 64, )
MLA_DECODE(960, 64, 32, )
MLA_DECODE_COMBINE(512)
MLA_DECODE_COMBINE(448)
MLA_DECODE_COMBINE(960)
