// MLA kernels (prefill core forward, absorbed decode): templates in attention/mla_*.cuh; instances here.
// Names: mla_fwd_qk<DQK>_v<DV>[_causal][_n64]; mla_decode_ring_r<R>_rope<DR>[_spin] and mla_decode_r<R>_rope<DR>[_n32]
// + mla_decode_combine_r<R> for the latent widths the engine's configs use (mla.md section 6: V2-Lite 512, MLA-8
// 448, MLA-4 960); mla_decode_ring_any_r<RP>_rope64[_spin] + mla_decode_combine_any_r<RP> for any other r <= 512,
// d_r <= 64 (mla_decode_any_r960_rope64 + its combine above 512). The suffixed instances take less shared memory
// (below). Launch shapes: bench/ccalab_mla.py.
// Backward of the prefill core: mla_bwd_qk<DQK>_v<DV>[_causal] (flash_bwd_wide_kernel of attention/flash_bwd.cuh
// with H query = H KV heads; Dv from flash_bwd_preprocess_hd<DV>; the forward's LSE).
#pragma once
#include "attention/mla_fwd.cuh"     // defines: mla_fwd_kernel
#include "attention/mla_decode.cuh"  // defines: mla_decode_splitkv_kernel, mla_decode_combine_kernel
#include "attention/mla_decode_ring.cuh"  // defines: mla_decode_ring_kernel
#include "attention/mla_layer.cuh"   // defines: mla_kv_latent_kernel, mla_expand_kv_kernel, mla_absorb_q_kernel, mla_unabsorb_kernel, mla_kv_up_bwd_kernel, mla_kv_latent_bwd_kernel, mla_copy_cols_kernel

// BNT keys per K/V tile; QREG: Q fragments in registers (else re-read from shared memory at each k-step).
#define MLA_FWD(DQK, DV, CAUSAL, BNT, QREG, NAME)                                                               \
    extern "C" __global__ void __launch_bounds__(mla::NTHREADS, 1)                                              \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int H, float scale) {                                                                            \
        mla_fwd_kernel<DQK, DV, CAUSAL, BNT, QREG>(O, LSE, Q, K, V, T, H, scale);                               \
    }
// d_qk 192: 128-key tiles with Q re-read from shared memory (230 registers, no spill) are the default; they beat
// 64-key tiles with Q in registers (the _n64 lab variant) by 4% at T 4k and 16k (H100, H=16, causal:
// 280 vs 269 TFLOP/s at 16k; SDPA flash with V padded to 192: 263).
MLA_FWD(192, 128, true, 128, false, mla_fwd_qk192_v128_causal)
MLA_FWD(192, 128, false, 128, false, mla_fwd_qk192_v128)
MLA_FWD(192, 128, true, 64, true, mla_fwd_qk192_v128_causal_n64)
MLA_FWD(192, 128, false, 64, true, mla_fwd_qk192_v128_n64)
MLA_FWD(96, 64, true, 64, true, mla_fwd_qk96_v64_causal)
MLA_FWD(96, 64, false, 64, true, mla_fwd_qk96_v64)
// For training: O's rounding residual Olo [B, T, H, DV] appended (FLASH_FWD_LO in ccalab_kernels.cu); names + "_lo".
#define MLA_FWD_LO(DQK, DV, CAUSAL, BNT, QREG, NAME)                                                            \
    extern "C" __global__ void __launch_bounds__(mla::NTHREADS, 1)                                              \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int H, float scale, __nv_bfloat16* Olo) {                                                        \
        mla_fwd_kernel<DQK, DV, CAUSAL, BNT, QREG>(O, LSE, Q, K, V, T, H, scale, Olo);                          \
    }
MLA_FWD_LO(192, 128, true, 128, false, mla_fwd_qk192_v128_causal_lo)
MLA_FWD_LO(192, 128, false, 128, false, mla_fwd_qk192_v128_lo)
MLA_FWD_LO(192, 128, true, 64, true, mla_fwd_qk192_v128_causal_n64_lo)
MLA_FWD_LO(192, 128, false, 64, true, mla_fwd_qk192_v128_n64_lo)
MLA_FWD_LO(96, 64, true, 64, true, mla_fwd_qk96_v64_causal_lo)
MLA_FWD_LO(96, 64, false, 64, true, mla_fwd_qk96_v64_lo)

// Both: 64-key tiles x 8 warps (4 row groups x 2 column halves of dK/dV), 64-row query tiles, P^T and dS^T
// exchanged through shared memory (STAGE). d_qk 192 / d_v 128: dQ in two passes of 48 columns (QCH; one pass of
// 96 spilled 4 bytes on sm_90), 148,480 bytes; 96/64: 87,040 bytes. Backward lab (16k, causal, H=16): 192/128
// staged 164 TFLOP/s vs 147 unstaged and 144 with 32-row tiles; 96/64 staged 143 vs 131 unstaged.
// The caller includes attention/flash_bwd.cuh (ccalab_kernels.cu does, before this file).
#define MLA_BWD(DQK, DV, CAUSAL, QCH, NAME)                                                                     \
    extern "C" __global__ void __launch_bounds__(256, 1)                                                        \
    NAME(float* dQ, float* dK, float* dV, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         const __nv_bfloat16* dO, const float* LSE, const float* Dv, int T, int H, float scale) {                \
        flash_bwd_wide_kernel<DQK, DV, CAUSAL, 64, 2, 64, true, QCH>(dQ, dK, dV, Q, K, V, dO, LSE, Dv, T, H, H, scale); \
    }
MLA_BWD(192, 128, true, 48, mla_bwd_qk192_v128_causal)
MLA_BWD(192, 128, false, 48, mla_bwd_qk192_v128)
MLA_BWD(96, 64, true, 0, mla_bwd_qk96_v64_causal)
MLA_BWD(96, 64, false, 0, mla_bwd_qk96_v64)

// Absorbed decode. R = 512 / 448 (V2-Lite, MLA-8): mla_decode_ring_r<R>_rope64 (attention/mla_decode_ring.cuh,
// session 10: 32-row tiles through a 3-deep cp.async ring, Qa's fragments in registers, the softmax once per tile;
// 136,768 / 122,432 bytes of shared memory, one block per SM) + the combine, or its _spin twin (the combine fused:
// OLat and the counters as two more arguments; it drops the partial lines it has merged from the L2 instead of
// leaving them dirty for the next call's stream to write back: DISCARD; its arrival is group_arrive_share's since
// session 11: B=1 H16 -0.3 to -0.6 us) where the grid is co-resident and a head
// group has >= 96 splits (CudaMla.decode; batch 1 at 16 heads). Against the session-2 split kernel (BN = 64, now lab-only: kernels-dev/mla_decode_cluster_lab.cu)
// on the H100, L2-cold (docs/perf-log.md "Session 10"): B=1 H16 16k 19.2 -> 15.4 us (_spin), 32k 26.4 -> 22.7, 64k
// 40.6 -> 36.6-37.3 (83-85 % of the copy), B=8 16k 66.1 -> 63.0, B=32 227 -> 223.
// R = 960 (MLA-4, 1024-wide rows: Qa's fragments would not fit in registers): mla_decode_splitkv_kernel with BN = 32
// (S summed over two k-halves). The _n32 instances at R = 512 / 448 (98 KB) are for GPUs with less shared memory
// per block than the ring's (sm_86 / sm_89: 99 KB).
#define MLA_DECODE(R, DR, BN, SUFFIX)                                                                           \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_r##R##_rope##DR##SUFFIX(float* partO, float* partML, const __nv_bfloat16* Qa,                   \
                                       const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,           \
                                       float scale) {                                                           \
        mla_decode_splitkv_kernel<R, DR, BN>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale);               \
    }
#define MLA_DECODE_RING(R, DR)                                                                                  \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope##DR(float* partO, float* partML, const __nv_bfloat16* Qa,                      \
                                    const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk, float scale) { \
        mla_decode_ring_kernel<R, DR, MLA_RING_STAGES>(partO, partML, Qa, Cache, L, Tmax, H, chunk, scale);     \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_r##R##_rope##DR##_spin(float* partO, float* partML, const __nv_bfloat16* Qa,               \
                                           const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,       \
                                           float scale, float* OLat, int* counters) {                           \
        mla_decode_ring_kernel<R, DR, MLA_RING_STAGES, true, true, true>(partO, partML, Qa, Cache, L, Tmax, H,    \
                                                                         chunk, scale, OLat, counters);         \
    }
#define MLA_DECODE_COMBINE(R)                                                                                   \
    extern "C" __global__ void mla_decode_combine_r##R(float* OLat, const float* partO, const float* partML,     \
                                                       int H, int nSplit) {                                     \
        mla_decode_combine_kernel<R>(OLat, partO, partML, H, nSplit);                                           \
    }
// Any other latent width r <= 960 and rope width d_r <= 64 (multiples of 8; session 13): up to 512 the ring compiled
// for the padded widths RP = 128 / 256 / 512 and 64 ("any" instances: the rows' real widths dk = r + d_r and r as two
// more arguments, mla_decode_ring_kernel's ANY), above it the split kernel at 960 (MLA_DECODE_ANY: dk only), and the
// combine that writes r of the RP merged columns.
#define MLA_DECODE_RING_ANY(RP, DRP)                                                                            \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_any_r##RP##_rope##DRP(float* partO, float* partML, const __nv_bfloat16* Qa,                \
                                          const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,         \
                                          float scale, int dk, int r) {                                          \
        mla_decode_ring_kernel<RP, DRP, MLA_RING_STAGES, false, false, false, true>(                             \
            partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, nullptr, nullptr, dk, r);                        \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(mla_ring::NTHREADS, 1)                                         \
    mla_decode_ring_any_r##RP##_rope##DRP##_spin(float* partO, float* partML, const __nv_bfloat16* Qa,         \
                                                 const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk,  \
                                                 float scale, float* OLat, int* counters, int dk, int r) {       \
        mla_decode_ring_kernel<RP, DRP, MLA_RING_STAGES, true, true, true, true>(                                \
            partO, partML, Qa, Cache, L, Tmax, H, chunk, scale, OLat, counters, dk, r);                          \
    }
// r in (512, 960]: the session-2 split kernel compiled for 960 / 64, the rows' real width dk as one more argument.
#define MLA_DECODE_ANY(RP, DRP, BN)                                                                             \
    extern "C" __global__ void __launch_bounds__(mla_decode::NTHREADS, 1)                                       \
    mla_decode_any_r##RP##_rope##DRP(float* partO, float* partML, const __nv_bfloat16* Qa,                     \
                                     const __nv_bfloat16* Cache, int L, int Tmax, int H, int chunk, float scale, \
                                     int dk) {                                                                   \
        mla_decode_splitkv_kernel<RP, DRP, BN, false, 1, 1, true>(partO, partML, Qa, Cache, L, Tmax, H, chunk,   \
                                                                 scale, nullptr, nullptr, dk);                   \
    }
#define MLA_DECODE_COMBINE_ANY(RP)                                                                              \
    extern "C" __global__ void mla_decode_combine_any_r##RP(float* OLat, const float* partO, const float* partML, \
                                                            int H, int nSplit, int r) {                         \
        mla_decode_combine_kernel<RP>(OLat, partO, partML, H, nSplit, r);                                       \
    }
constexpr int MLA_RING_STAGES = 3;  // 4 / 5 measured equal or up to 1 us slower (session 10, call 1)
MLA_DECODE_RING(512, 64)
MLA_DECODE(512, 64, 32, _n32)
MLA_DECODE_RING(448, 64)
MLA_DECODE(448, 64, 32, _n32)
MLA_DECODE(960, 64, 32, )
MLA_DECODE_COMBINE(512)
MLA_DECODE_COMBINE(448)
MLA_DECODE_COMBINE(960)
MLA_DECODE_RING_ANY(128, 64)
MLA_DECODE_RING_ANY(256, 64)
MLA_DECODE_RING_ANY(512, 64)
MLA_DECODE_COMBINE_ANY(128)
MLA_DECODE_COMBINE_ANY(256)
MLA_DECODE_COMBINE_ANY(512)
MLA_DECODE_ANY(960, 64, 32)
MLA_DECODE_COMBINE_ANY(960)

// The layer's small steps and its backward's two (attention/mla_layer.cuh; grids and blocks there, launched by CudaMla.java).
extern "C" __global__ void __launch_bounds__(mla_layer::LATENT_THREADS)
mla_kv_latent(__nv_bfloat16* C, __nv_bfloat16* Cache, const __nv_bfloat16* A, const float* w, int T, int Tmax, int pos0,
              int R, int DR, float eps, float base) {
    mla_kv_latent_kernel(C, Cache, A, w, T, Tmax, pos0, R, DR, eps, base);
}
extern "C" __global__ void __launch_bounds__(mla_layer::EXPAND_THREADS)
mla_expand_kv(__nv_bfloat16* K, __nv_bfloat16* V, const __nv_bfloat16* KvUp, const __nv_bfloat16* Cache, int T, int Tmax,
              int H, int DN, int DR, int DV, int R) {
    mla_expand_kv_kernel(K, V, KvUp, Cache, T, Tmax, H, DN, DR, DV, R);
}
extern "C" __global__ void __launch_bounds__(mla_layer::ABSORB_COLS)
mla_absorb_q(__nv_bfloat16* Qa, const __nv_bfloat16* Q, const __nv_bfloat16* Wkvb, int B, int H, int DN, int DR, int DV,
             int R) {
    mla_absorb_q_kernel(Qa, Q, Wkvb, B, H, DN, DR, DV, R);
}
extern "C" __global__ void __launch_bounds__(mla_layer::UNABSORB_WARPS * 32)
mla_unabsorb(__nv_bfloat16* Att, const float* OLat, const __nv_bfloat16* Wkvb, int B, int H, int DN, int DV, int R) {
    mla_unabsorb_kernel(Att, OLat, Wkvb, B, H, DN, DV, R);
}
extern "C" __global__ void __launch_bounds__(mla_layer::UP_BWD_THREADS)
mla_kv_up_bwd(__nv_bfloat16* dKvUp, const float* dK, const float* dV, long NH, int DN, int DR, int DV) {
    mla_kv_up_bwd_kernel(dKvUp, dK, dV, NH, DN, DR, DV);
}
// The prefill core at (d_qk, d_v) with no mla_fwd / mla_bwd instance (session 13): its operands zero-padded to the
// attention kernels' head dim and the results cut back (CudaMla's padded path; attention/mla_layer.cuh).
extern "C" __global__ void mla_copy_cols_bf16(__nv_bfloat16* dst, int dstW, const __nv_bfloat16* src, int srcW, long rows) {
    mla_copy_cols_kernel(dst, dstW, src, srcW, rows);
}
extern "C" __global__ void mla_copy_cols_f32(float* dst, int dstW, const float* src, int srcW, long rows) {
    mla_copy_cols_kernel(dst, dstW, src, srcW, rows);
}
extern "C" __global__ void __launch_bounds__(mla_layer::LATENT_BWD_THREADS)
mla_kv_latent_bwd(__nv_bfloat16* dA, float* dwPartial, const __nv_bfloat16* dC, const __nv_bfloat16* A, const float* w,
                  const float* dK, int N, int T, int pos0, int H, int DN, int R, int DR, float eps, float base) {
    mla_kv_latent_bwd_kernel(dA, dwPartial, dC, A, w, dK, N, T, pos0, H, DN, R, DR, eps, base);
}
