// The one translation unit nvcc turns into ccalab.fatbin. Every kernel the Java backend loads is an
// extern "C" instance below, named <op>_<dir>_hd<D>[_variant]; the templates are device functions so that
// each instance is a plain C symbol. CudaKernels.java lists the same names.
#include "attention/flash_fwd.cuh"     // defines: flash_fwd_kernel
#include "attention/decode.cuh"        // defines: decode_splitkv_kernel, decode_combine_kernel, decode_kernel
#include "attention/flash_bwd.cuh"     // defines: flash_bwd_preprocess_kernel, flash_bwd_kernel
#include "attention/cca_prologue.cuh"  // defines: cca_prologue_kernel, value_shift_kernel
#include "attention/cca_prologue_fma.cuh"  // defines: cca_prologue_fma_kernel

#define FLASH_FWD(D, CAUSAL, MT, NAME)                                                                         \
    extern "C" __global__ void __launch_bounds__(flash::nthreads<MT>(), 1)                                    \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        flash_fwd_kernel<D, CAUSAL, MT>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);                      \
    }
FLASH_FWD(64, true, 1, flash_fwd_hd64_causal)
FLASH_FWD(64, false, 1, flash_fwd_hd64)
FLASH_FWD(128, true, 1, flash_fwd_hd128_causal)
FLASH_FWD(128, false, 1, flash_fwd_hd128)
// The 4-warp, 32-rows-per-warp layout, launched with 128 threads (kernel lab: compared side by side).
FLASH_FWD(64, true, 2, flash_fwd_hd64_causal_m2)
FLASH_FWD(64, false, 2, flash_fwd_hd64_m2)
FLASH_FWD(128, true, 2, flash_fwd_hd128_causal_m2)
FLASH_FWD(128, false, 2, flash_fwd_hd128_m2)
// 128-key K/V tiles, 8 warps x 16 rows: half the barriers and O rescales per key, 240 registers, no spill; the
// backend's choice at D=128 since run 13 (283-300 TF vs 256-271 for the 64-key layouts; docs/perf-log.md).
// (A 4 warps x 32 rows / 32-key variant, the m2 layout without its spill, lost 10-30% in run 13 and was dropped.)
#define FLASH_FWD_BN(D, CAUSAL, MT, BN, NAME)                                                                  \
    extern "C" __global__ void __launch_bounds__(flash::nthreads<MT>(), 1)                                    \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        flash_fwd_kernel<D, CAUSAL, MT, BN>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);                  \
    }
FLASH_FWD_BN(128, true, 1, 128, flash_fwd_hd128_causal_n128)
FLASH_FWD_BN(128, false, 1, 128, flash_fwd_hd128_n128)
// D = 256 (the paper's third head dim): 8 warps x 16 rows over 64-key tiles, Q re-read from shared memory
// (192 KB of shared memory: Q tile + double-buffered K/V). The D=256 backward is flash_bwd_hd256 below.
FLASH_FWD_BN(256, true, 1, 64, flash_fwd_hd256_causal)
FLASH_FWD_BN(256, false, 1, 64, flash_fwd_hd256)
// The backend's forward instances for training (a backward follows): the same launch with O's rounding residual Olo
// ([B, T, Hq, D] bf16, bf16(O - bf16(O))) appended, for the backward's Dv from O + Olo (flash_bwd_preprocess_lo_hd<D>;
// common/mma.cuh store_bf16x2_split). Names: the instance's + "_lo".
#define FLASH_FWD_LO(D, CAUSAL, MT, BN, NAME)                                                                  \
    extern "C" __global__ void __launch_bounds__(flash::nthreads<MT>(), 1)                                    \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo) {                           \
        flash_fwd_kernel<D, CAUSAL, MT, BN>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo);             \
    }
FLASH_FWD_LO(64, true, 2, 64, flash_fwd_hd64_causal_m2_lo)
FLASH_FWD_LO(64, false, 2, 64, flash_fwd_hd64_m2_lo)
FLASH_FWD_LO(128, true, 1, 128, flash_fwd_hd128_causal_n128_lo)
FLASH_FWD_LO(128, false, 1, 128, flash_fwd_hd128_n128_lo)
FLASH_FWD_LO(256, true, 1, 64, flash_fwd_hd256_causal_lo)
FLASH_FWD_LO(256, false, 1, 64, flash_fwd_hd256_lo)
// Sliding-window attention (the OVQ hybrid's SWA blocks, ovq.md section 4): the backend's causal instances at D = 64
// and 128, plain and "_lo", with the window (query t sees keys t - window < s <= t) as one more argument, last.
// Names: the causal instance's + "_swa" (CudaKernels.WINDOW_SUFFIX).
#define FLASH_FWD_SWA(D, MT, BN, NAME, NAME_LO)                                                                 \
    extern "C" __global__ void __launch_bounds__(flash::nthreads<MT>(), 1)                                    \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, int window) {                                    \
        flash_fwd_kernel<D, true, MT, BN, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, nullptr,       \
                                                window);                                                       \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(flash::nthreads<MT>(), 1)                                    \
    NAME_LO(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K,                      \
            const __nv_bfloat16* V, int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo,  \
            int window) {                                                                                      \
        flash_fwd_kernel<D, true, MT, BN, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, window);  \
    }
FLASH_FWD_SWA(64, 2, 64, flash_fwd_hd64_causal_m2_swa, flash_fwd_hd64_causal_m2_lo_swa)
FLASH_FWD_SWA(128, 1, 128, flash_fwd_hd128_causal_n128_swa, flash_fwd_hd128_causal_n128_lo_swa)

// Decode (attention/decode.cuh). v2: decode_splitkv_hd<D>_g<G> + decode_combine_hd<D>, two launches, the
// batched choice. v3: decode_hd<D>_g<G>, one launch (cp.async ring, combine fused into the last block), 8 warps x
// 2 stages of 64-key tiles at D=128; the choice at batch 1 with few KV heads (CudaBackend.decodeSplit). The
// template's cluster merge (CL > 1) lost in the decode lab and is not instantiated here.
// G = 16 spills (16 heads x 8 accumulators x 8 lanes of q in registers): not instantiated; the backend
// refuses it with a message naming nKvHeads.
#define DECODE(D, G)                                                                                          \
    extern "C" __global__ void __launch_bounds__(decode::NTHREADS)                                            \
    decode_splitkv_hd##D##_g##G(float* partO, float* partML, const __nv_bfloat16* Q, const __nv_bfloat16* Kc, \
                                const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) {  \
        decode_splitkv_kernel<D, G>(partO, partML, Q, Kc, Vc, L, Tmax, Hkv, chunk, scale);                    \
    }
DECODE(64, 1) DECODE(64, 2) DECODE(64, 4) DECODE(64, 8)
DECODE(128, 1) DECODE(128, 2) DECODE(128, 4) DECODE(128, 8)
DECODE(256, 1) DECODE(256, 2) DECODE(256, 4) DECODE(256, 8)

#define DECODE_COMBINE(D)                                                                                     \
    extern "C" __global__ void decode_combine_hd##D(__nv_bfloat16* O, const float* partO, const float* partML, \
                                                    int Hq, int nSplit) {                                      \
        decode_combine_kernel<D>(O, partO, partML, Hq, nSplit);                                               \
    }
DECODE_COMBINE(64)
DECODE_COMBINE(128)
DECODE_COMBINE(256)

#define DECODE_V3(D, G, NW, NST, NAME)                                                                        \
    extern "C" __global__ void __launch_bounds__(NW * 32) NAME(                                               \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                 \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) { \
        decode_kernel<D, G, NW, NST, 1, 0, false, dec::tensor_cores<D, G>()>(O, partO, partML, counters, Q, Kc, Vc, \
                                                                           L, Tmax, Hkv, chunk, scale);      \
    }
DECODE_V3(64, 1, 8, 2, decode_hd64_g1) DECODE_V3(64, 2, 8, 2, decode_hd64_g2)
DECODE_V3(64, 4, 8, 2, decode_hd64_g4) DECODE_V3(64, 8, 8, 2, decode_hd64_g8)
DECODE_V3(128, 1, 8, 2, decode_hd128_g1) DECODE_V3(128, 2, 8, 2, decode_hd128_g2)
DECODE_V3(128, 4, 8, 2, decode_hd128_g4) DECODE_V3(128, 8, 8, 2, decode_hd128_g8)
DECODE_V3(256, 1, 8, 2, decode_hd256_g1) DECODE_V3(256, 2, 8, 2, decode_hd256_g2)
DECODE_V3(256, 4, 8, 2, decode_hd256_g4) DECODE_V3(256, 8, 8, 2, decode_hd256_g8)
// v3 and SPIN run their scores and P V on the tensor cores where dec::tensor_cores<D, G> (session 9).
// The SPIN merge (session 4; since session 11 the share arrival SPIN = 3, common/mma.cuh group_arrive_share): every
// block merges a slice once all splits of its KV head arrived; launched only where the whole grid is co-resident
// (CudaBackend.decodeSpinFits), with its own counters.
#define DECODE_V3_SPIN(D, G)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) decode_hd##D##_g##G##_spin(                             \
        __nv_bfloat16* O, float* partO, float* partML, int* counters, const __nv_bfloat16* Q,                 \
        const __nv_bfloat16* Kc, const __nv_bfloat16* Vc, int L, int Tmax, int Hkv, int chunk, float scale) { \
        decode_kernel<D, G, 8, 2, 1, 3, false, dec::tensor_cores<D, G>()>(O, partO, partML, counters, Q, Kc, Vc, L, \
                                                                        Tmax, Hkv, chunk, scale);           \
    }
DECODE_V3_SPIN(64, 1) DECODE_V3_SPIN(64, 2) DECODE_V3_SPIN(64, 4) DECODE_V3_SPIN(64, 8)
DECODE_V3_SPIN(128, 1) DECODE_V3_SPIN(128, 2) DECODE_V3_SPIN(128, 4) DECODE_V3_SPIN(128, 8)
DECODE_V3_SPIN(256, 1) DECODE_V3_SPIN(256, 2) DECODE_V3_SPIN(256, 4) DECODE_V3_SPIN(256, 8)

// _t32: 32-token blocks for short T (cca::TT_SHORT; CudaKernels.ccaTokensPerBlock), same arguments.
#define CCA_PROLOGUE(D, TT, NAME)                                                                              \
    extern "C" __global__ void __launch_bounds__(cca::NTHREADS) NAME(                                          \
        __nv_bfloat16* qOut, __nv_bfloat16* kOut, const __nv_bfloat16* z, const float* w0, const float* b0,   \
        const float* w1t, const float* b1, const float* theta, int T, int Hq, int Hkv, int k0, int k1,         \
        int rotary, float ropeBase, int tempMode, float normEps, int qkMean) {                                 \
        cca_prologue_kernel<D, TT>(qOut, kOut, z, w0, b0, w1t, b1, theta, T, Hq, Hkv, k0, k1, rotary, ropeBase, \
                                   tempMode, normEps, qkMean);                                                 \
    }
CCA_PROLOGUE(64, cca::TT, cca_prologue_hd64)
CCA_PROLOGUE(128, cca::TT, cca_prologue_hd128)
// D = 256: 16 n-tiles per warp (64 accumulators); 165,360 bytes of shared memory at the largest halo (k0 = k1 = 16)
// and 140,592 at k0 = k1 = 4 -- within sm_80's 163 KB as well as Hopper's 227 KB.
CCA_PROLOGUE(256, cca::TT, cca_prologue_hd256)
CCA_PROLOGUE(64, cca::TT_SHORT, cca_prologue_hd64_t32)
CCA_PROLOGUE(128, cca::TT_SHORT, cca_prologue_hd128_t32)
CCA_PROLOGUE(256, cca::TT_SHORT, cca_prologue_hd256_t32)

#define CCA_PROLOGUE_FMA(D)                                                                                    \
    extern "C" __global__ void __launch_bounds__(D) cca_prologue_fma_hd##D(                                   \
        __nv_bfloat16* qOut, __nv_bfloat16* kOut, const __nv_bfloat16* z, const float* w0, const float* b0,   \
        const float* w1t, const float* b1, const float* theta, int T, int Hq, int Hkv, int k0, int k1,         \
        int rotary, float ropeBase, int tempMode, float normEps, int qkMean) {                                 \
        cca_prologue_fma_kernel<D>(qOut, kOut, z, w0, b0, w1t, b1, theta, T, Hq, Hkv, k0, k1, rotary,         \
                                   ropeBase, tempMode, normEps, qkMean);                                       \
    }
CCA_PROLOGUE_FMA(64)
CCA_PROLOGUE_FMA(128)
// D = 256: with __launch_bounds__(256) alone ptxas held sm_80 to 64 registers and spilled (8 bytes stored, 32 loaded);
// one block per SM (111,744 bytes of shared memory at k0 = k1 = 16: at most 2 fit on Hopper) lets it take 98-106.
extern "C" __global__ void __launch_bounds__(256, 1) cca_prologue_fma_hd256(
    __nv_bfloat16* qOut, __nv_bfloat16* kOut, const __nv_bfloat16* z, const float* w0, const float* b0,
    const float* w1t, const float* b1, const float* theta, int T, int Hq, int Hkv, int k0, int k1, int rotary,
    float ropeBase, int tempMode, float normEps, int qkMean) {
    cca_prologue_fma_kernel<256>(qOut, kOut, z, w0, b0, w1t, b1, theta, T, Hq, Hkv, k0, k1, rotary, ropeBase,
                                 tempMode, normEps, qkMean);
}

#define FLASH_BWD(D, CAUSAL, NAME)                                       \
    extern "C" __global__ void __launch_bounds__(flash_bwd::NTHREADS, 1) \
    NAME(FLASH_BWD_PARAMS) {                                             \
        flash_bwd_kernel<D, CAUSAL>(FLASH_BWD_ARGS);                     \
    }
FLASH_BWD(64, true, flash_bwd_hd64_causal)
FLASH_BWD(64, false, flash_bwd_hd64)
FLASH_BWD(128, true, flash_bwd_hd128_causal)
FLASH_BWD(128, false, flash_bwd_hd128)
// Sliding-window backward (FLASH_FWD_SWA's): the window last.
#define FLASH_BWD_SWA(D, NAME)                                           \
    extern "C" __global__ void __launch_bounds__(flash_bwd::NTHREADS, 1) \
    NAME(FLASH_BWD_PARAMS, int window) {                                 \
        flash_bwd_kernel<D, true, true>(FLASH_BWD_ARGS, window);         \
    }
FLASH_BWD_SWA(64, flash_bwd_hd64_causal_swa)
FLASH_BWD_SWA(128, flash_bwd_hd128_causal_swa)
// Deterministic mma.sync backward (session 17; the wgmma kernels' "_det" on any device): the semaphores after the
// flash backward's parameters (CudaKernels.deterministicSemaphores), then the window for "_det_swa".
#define FLASH_BWD_DET(D, CAUSAL, NAME)                                   \
    extern "C" __global__ void __launch_bounds__(flash_bwd::NTHREADS, 1) \
    NAME(FLASH_BWD_PARAMS, int* sem) {                                   \
        flash_bwd_kernel<D, CAUSAL, false, true>(FLASH_BWD_ARGS, 0, sem); \
    }
#define FLASH_BWD_DET_SWA(D, NAME)                                       \
    extern "C" __global__ void __launch_bounds__(flash_bwd::NTHREADS, 1) \
    NAME(FLASH_BWD_PARAMS, int* sem, int window) {                       \
        flash_bwd_kernel<D, true, true, true>(FLASH_BWD_ARGS, window, sem); \
    }
FLASH_BWD_DET(64, true, flash_bwd_hd64_causal_det)
FLASH_BWD_DET(64, false, flash_bwd_hd64_det)
FLASH_BWD_DET(128, true, flash_bwd_hd128_causal_det)
FLASH_BWD_DET(128, false, flash_bwd_hd128_det)
FLASH_BWD_DET_SWA(64, flash_bwd_hd64_causal_det_swa)
FLASH_BWD_DET_SWA(128, flash_bwd_hd128_causal_det_swa)

#define FLASH_BWD_PRE(D)                                                                                   \
    extern "C" __global__ void flash_bwd_preprocess_hd##D(float* Dv, const __nv_bfloat16* O,               \
                                                          const __nv_bfloat16* dO, int B, int T, int Hq) { \
        flash_bwd_preprocess_kernel<D>(Dv, O, dO, B, T, Hq);                                               \
    }
FLASH_BWD_PRE(64)
FLASH_BWD_PRE(128)
FLASH_BWD_PRE(256)
// Dv from O + Olo (the residual a _lo forward wrote); arguments as above with Olo appended.
#define FLASH_BWD_PRE_LO(D)                                                                                 \
    extern "C" __global__ void flash_bwd_preprocess_lo_hd##D(float* Dv, const __nv_bfloat16* O,             \
                                                             const __nv_bfloat16* dO, int B, int T, int Hq, \
                                                             const __nv_bfloat16* Olo) {                    \
        flash_bwd_preprocess_kernel<D>(Dv, O, dO, B, T, Hq, Olo);                                           \
    }
FLASH_BWD_PRE_LO(64)
FLASH_BWD_PRE_LO(128)
FLASH_BWD_PRE_LO(256)

// D = 256 backward: flash_bwd_wide_kernel (attention/flash_bwd.cuh), 64-key tiles x 8 warps (4 row groups x 2
// column halves of dK/dV), 64-row query tiles, P^T and dS^T exchanged through shared memory (STAGE: 193 vs 152
// TFLOP/s at 16k for recomputing them in both halves with 32-row tiles, backward lab), 222,208 bytes of shared
// memory (flash_bwd_wide::smem_bytes): Hopper only, as the D=256 forward.
#define FLASH_BWD_WIDE(DQK, DV, CAUSAL, BKV, CS, BQ, ST, NAME)                   \
    extern "C" __global__ void __launch_bounds__(BKV / 16 * CS * 32, 1)          \
    NAME(FLASH_BWD_PARAMS) {                                                     \
        flash_bwd_wide_kernel<DQK, DV, CAUSAL, BKV, CS, BQ, ST>(FLASH_BWD_ARGS); \
    }
FLASH_BWD_WIDE(256, 256, true, 64, 2, 64, true, flash_bwd_hd256_causal)
FLASH_BWD_WIDE(256, 256, false, 64, 2, 64, true, flash_bwd_hd256)

// CCA prologue and value-shift backward (v1, FP32; attention/cca_prologue_bwd.cuh).
#include "attention/cca_prologue_bwd.cuh"
extern "C" __global__ void cca_bwd_conv0(float* u, const __nv_bfloat16* z, const float* w0, const float* b0, int B,
                                         int T, int C, int k0, int k1) {
    cca_bwd_conv0_kernel(u, z, w0, b0, B, T, C, k0, k1);
}
#define CCA_BWD_HEAD(D)                                                                                        \
    extern "C" __global__ void __launch_bounds__(D) cca_bwd_head_hd##D(                                        \
        float* dS, float* dZd, float* dThetaRows, const float* s, const __nv_bfloat16* z, const float* dQh,    \
        const float* dKh, const float* theta, int T, int Hq, int Hkv, int rotary, float ropeBase, int tempMode, \
        float normEps, int qkMean) {                                                                           \
        cca_bwd_head_kernel<D>(dS, dZd, dThetaRows, s, z, dQh, dKh, theta, T, Hq, Hkv, rotary, ropeBase,       \
                               tempMode, normEps, qkMean);                                                     \
    }
CCA_BWD_HEAD(64)
CCA_BWD_HEAD(128)
CCA_BWD_HEAD(256)
extern "C" __global__ void cca_bwd_dz(__nv_bfloat16* dz, const float* dZd, const float* du, const float* w0, int B,
                                      int T, int C, int k0, int k1) {
    cca_bwd_dz_kernel(dz, dZd, du, w0, B, T, C, k0, k1);
}
extern "C" __global__ void value_shift_bwd(__nv_bfloat16* dy, const float* dv, int B, int T, int Dk) {
    value_shift_bwd_kernel(dy, dv, B, T, Dk);
}

// One token of CCA / CCGQA decode: prologue from the conv window, K/V cache append, state update.
#include "attention/cca_decode.cuh"
#define CCA_DECODE_STEP(D)                                                                                     \
    extern "C" __global__ void __launch_bounds__(D) cca_decode_step_hd##D(                                     \
        __nv_bfloat16* qOut, __nv_bfloat16* kCache, __nv_bfloat16* vCache, __nv_bfloat16* window,              \
        __nv_bfloat16* vState, const __nv_bfloat16* z, const __nv_bfloat16* vc, const __nv_bfloat16* vdNew,     \
        const float* w0, const float* b0, const float* w1t, const float* b1, const float* theta, int pos,       \
        int Tmax, int Hq, int Hkv, int k0, int k1, int rotary, float ropeBase, int tempMode, float normEps,    \
        int qkMean) {                                                                                          \
        cca_decode_step_kernel<D>(qOut, kCache, vCache, window, vState, z, vc, vdNew, w0, b0, w1t, b1, theta, \
                                  pos, Tmax, Hq, Hkv, k0, k1, rotary, ropeBase, tempMode, normEps, qkMean);    \
    }
CCA_DECODE_STEP(64)
CCA_DECODE_STEP(128)
// D = 256: 48,160 bytes of static shared memory (zs 31 x 256 + us 16 x 256 floats), under the 48 KB static limit.
CCA_DECODE_STEP(256)

// Kernels of other capabilities, each with its own instance file.
#include "mla_kernels.cuh"       // MLA prefill core and absorbed decode
#include "training_kernels.cuh"  // what a GPU training step needs besides attention and GEMMs
#include "hopper_kernels.cuh"    // wgmma attention core (sm_90a; other targets get a trap)
#include "attention/cca_layer_bwd.cuh"  // the CCA layer backward's reductions, in a fixed order (Java layer)
#include "ovq_kernels.cuh"        // OVQ-attention: chunked read + dictionary fold (sm_90 clusters), q/k L2 norm
