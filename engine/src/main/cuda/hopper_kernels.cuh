// Hopper (sm_90a) kernels: wgmma/TMA versions of the attention core; instances here.
// Each body is guarded by __CUDA_ARCH_FEAT_SM90_ALL: the sm_90 / sm_80 / PTX images of the fatbin get a __trap(),
// so a driver that loaded anything but the sm_90a image fails the launch instead of computing garbage.
#pragma once
#include "attention/flash_fwd_wgmma.cuh"  // defines: flash_fwd_wgmma_kernel, wgmma_debug_tile_kernel

// Launch: grid ((T + 127) / 128, Hq, B), block 256, dynamic shared memory wgfa::SMEM_BYTES = 230400 bytes (opt-in
// attribute needed); arguments as flash_fwd_hd128*: O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale.
#define FLASH_FWD_WGMMA(CAUSAL, NAME)                                                                          \
    extern "C" __global__ void __launch_bounds__(wgfa::NTHREADS, 1)                                           \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        flash_fwd_wgmma_kernel<CAUSAL>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);                        \
    }
FLASH_FWD_WGMMA(true, flash_fwd_hd128_causal_wgmma)
FLASH_FWD_WGMMA(false, flash_fwd_hd128_wgmma)
// v2 (producer warpgroup + mbarriers): block 384, same grid / shared memory / arguments.
#define FLASH_FWD_WGMMA2(CAUSAL, PP, V4, NAME)                                                          \
    extern "C" __global__ void __launch_bounds__(wgfa::NTHREADS2, 1)                                          \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        flash_fwd_wgmma2_kernel<CAUSAL, PP, V4>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);        \
    }
FLASH_FWD_WGMMA2(true, false, false, flash_fwd_hd128_causal_wgmma2)
FLASH_FWD_WGMMA2(false, false, false, flash_fwd_hd128_wgmma2)
// v3 = v2 + ping-pong between the consumer warpgroups: block 384, same grid / shared memory / arguments.
FLASH_FWD_WGMMA2(true, true, false, flash_fwd_hd128_causal_wgmma3)
FLASH_FWD_WGMMA2(false, true, false, flash_fwd_hd128_wgmma3)
// v4 = v2 + the cheaper producer copy (+ a softmax pin that turned out not to reach ptxas: see softmax_tile);
// v5 = v4 + ping-pong. Block 384, same grid / shared memory / arguments. v4 is the one to ship (perf-log-wgmma.md).
FLASH_FWD_WGMMA2(true, false, true, flash_fwd_hd128_causal_wgmma4)
FLASH_FWD_WGMMA2(false, false, true, flash_fwd_hd128_wgmma4)
// v4 for training: O's rounding residual Olo appended (FLASH_FWD_LO in ccalab_kernels.cu).
#define FLASH_FWD_WGMMA2_LO(CAUSAL, NAME)                                                                      \
    extern "C" __global__ void __launch_bounds__(wgfa::NTHREADS2, 1)                                          \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo) {                           \
        flash_fwd_wgmma2_kernel<CAUSAL, false, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo); \
    }
FLASH_FWD_WGMMA2_LO(true, flash_fwd_hd128_causal_wgmma4_lo)
FLASH_FWD_WGMMA2_LO(false, flash_fwd_hd128_wgmma4_lo)
// v4 with a sliding window (FLASH_FWD_SWA in ccalab_kernels.cu): plain and "_lo", the window last.
#define FLASH_FWD_WGMMA_SWA(KERNEL, NTHREADS, NAME, NAME_LO, ...)                                              \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, int window) {                                    \
        KERNEL<__VA_ARGS__, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, nullptr, window);            \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME_LO(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K,                      \
            const __nv_bfloat16* V, int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo,  \
            int window) {                                                                                      \
        KERNEL<__VA_ARGS__, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, window);                \
    }
FLASH_FWD_WGMMA_SWA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4_swa,
                    flash_fwd_hd128_causal_wgmma4_lo_swa, true, false, true)
// Persistent v4 ("4p"; wgfa::FwdWalk): grid (P, 1, B) with P blocks per batch entry (one per SM), each walking
// (query tile, head) items; otherwise as v4 (block 384, the same shared memory and arguments; the window last in
// "_swa"). Dispatched by CudaKernels.persistentForward (short items: causal up to 8k, windows up to 2048).
template <bool CAUSAL, bool PP, bool V4, bool WIN>
__device__ __forceinline__ void flash_fwd_wgmma4p_kernel(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q,
                                                         const __nv_bfloat16* K, const __nv_bfloat16* V, int T,
                                                         int Hq, int Hkv, int vShiftFrom, float scale,
                                                         __nv_bfloat16* Olo = nullptr, int window = 0) {
    flash_fwd_wgmma2_kernel<CAUSAL, PP, V4, WIN, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, window);
}
// One persistent forward's plain and "_lo" instances, KERNEL<..., false> (no window).
#define FLASH_FWD_PERSIST(KERNEL, NTHREADS, NAME, NAME_LO, ...)                                                \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        KERNEL<__VA_ARGS__, false>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);                            \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME_LO(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K,                      \
            const __nv_bfloat16* V, int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo) { \
        KERNEL<__VA_ARGS__, false>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo);                       \
    }
FLASH_FWD_PERSIST(flash_fwd_wgmma4p_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4p,
                  flash_fwd_hd128_causal_wgmma4p_lo, true, false, true)
FLASH_FWD_WGMMA_SWA(flash_fwd_wgmma4p_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4p_swa,
                    flash_fwd_hd128_causal_wgmma4p_lo_swa, true, false, true)
FLASH_FWD_WGMMA2(true, true, true, flash_fwd_hd128_causal_wgmma5)
FLASH_FWD_WGMMA2(false, true, true, flash_fwd_hd128_wgmma5)

// Head dim 64 (attention/flash_fwd_wgmma_hd64.cuh): v4 at D = 64, arguments as flash_fwd_hd64*.
// _wgmma4: 2 consumer warpgroups, BM = 128: grid ((T + 127) / 128, Hq, B), block 384, dynamic shared memory
// wgfa64::Cfg<2, 4>::SMEM_BYTES = 148480 bytes (4 K/V stages). _wgmma4_lo: + O's rounding residual (training).
// _wgmma4m3 (lab): 3 consumer warpgroups, BM = 192: grid ((T + 191) / 192, Hq, B), block 512, shared memory
// wgfa64::Cfg<3, 4>::SMEM_BYTES = 156672 bytes.
#include "attention/flash_fwd_wgmma_hd64.cuh"  // defines: flash_fwd_wgmma64_kernel
#define FLASH_FWD_WGMMA64(CAUSAL, NWG, NAME)                                                                    \
    extern "C" __global__ void __launch_bounds__(wgfa64::Cfg<NWG, 4>::NTHREADS, 1)                               \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale) {                                                \
        flash_fwd_wgmma64_kernel<CAUSAL, NWG, 4>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale);             \
    }
#define FLASH_FWD_WGMMA64_LO(CAUSAL, NWG, NAME)                                                                 \
    extern "C" __global__ void __launch_bounds__(wgfa64::Cfg<NWG, 4>::NTHREADS, 1)                               \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo) {                           \
        flash_fwd_wgmma64_kernel<CAUSAL, NWG, 4>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo);        \
    }
FLASH_FWD_WGMMA64(true, 2, flash_fwd_hd64_causal_wgmma4)
FLASH_FWD_WGMMA64(false, 2, flash_fwd_hd64_wgmma4)
FLASH_FWD_WGMMA64_LO(true, 2, flash_fwd_hd64_causal_wgmma4_lo)
FLASH_FWD_WGMMA64_LO(false, 2, flash_fwd_hd64_wgmma4_lo)
FLASH_FWD_WGMMA64(true, 3, flash_fwd_hd64_causal_wgmma4m3)
FLASH_FWD_WGMMA64(false, 3, flash_fwd_hd64_wgmma4m3)
FLASH_FWD_WGMMA64_LO(true, 3, flash_fwd_hd64_causal_wgmma4m3_lo)
FLASH_FWD_WGMMA64_LO(false, 3, flash_fwd_hd64_wgmma4m3_lo)
FLASH_FWD_WGMMA_SWA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4_swa,
                    flash_fwd_hd64_causal_wgmma4_lo_swa, true, 2, 4)
// Persistent (grid (P, 1, B), as the D = 128 "4p" instances).
template <bool CAUSAL, int NWG, int STAGES, bool WIN>
__device__ __forceinline__ void flash_fwd_wgmma64p_kernel(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q,
                                                          const __nv_bfloat16* K, const __nv_bfloat16* V, int T,
                                                          int Hq, int Hkv, int vShiftFrom, float scale,
                                                          __nv_bfloat16* Olo = nullptr, int window = 0) {
    flash_fwd_wgmma64_kernel<CAUSAL, NWG, STAGES, WIN, true>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, window);
}
FLASH_FWD_PERSIST(flash_fwd_wgmma64p_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4p,
                  flash_fwd_hd64_causal_wgmma4p_lo, true, 2, 4)
FLASH_FWD_WGMMA_SWA(flash_fwd_wgmma64p_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4p_swa,
                    flash_fwd_hd64_causal_wgmma4p_lo_swa, true, 2, 4)

// Backward (attention/flash_bwd_wgmma.cuh): a drop-in for flash_bwd_hd128[_causal] (same arguments, grid
// ((T + 127) / 128, Hq, B), fp32 dQ / dK / dV accumulators zeroed by the caller, Dv from flash_bwd_preprocess_hd128);
// block 384, dynamic shared memory wgbwd::SMEM_BYTES = 202752 bytes (opt-in attribute needed).
// v1 _wgmma: dQ waited for before the next query tile; v2 _wgmma2: the next tile's S^T / dP^T issued first.
// Shipped: v4 (CudaKernels.BWD_WGMMA_SUFFIX = "_wgmma4"); measurements of v1-v5 in docs/perf-log-wgmma.md.
#include "attention/flash_bwd_wgmma.cuh"       // defines: flash_bwd_wgmma_kernel
#include "attention/flash_bwd_wgmma_hd64.cuh"  // defines: flash_bwd_wgmma64_kernel
// One instance of a wgmma backward template, KERNEL<template arguments...>, with the flash backward's parameters;
// the deterministic ones (DET = true) take the semaphores after them.
#define FLASH_BWD_WGMMA_INSTANCE(NAME, KERNEL, NTHREADS, ...)                                                  \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1) NAME(FLASH_BWD_PARAMS) {                         \
        KERNEL<__VA_ARGS__>(FLASH_BWD_ARGS);                                                                    \
    }
#define FLASH_BWD_WGMMA_DET_INSTANCE(NAME, KERNEL, NTHREADS, ...)                                              \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1) NAME(FLASH_BWD_PARAMS, int* sem) {               \
        KERNEL<__VA_ARGS__, true>(FLASH_BWD_ARGS, sem);                                                         \
    }
#define FLASH_BWD_WGMMA(CAUSAL, VERSION, NAME) \
    FLASH_BWD_WGMMA_INSTANCE(NAME, flash_bwd_wgmma_kernel, wgbwd::NTHREADS, CAUSAL, VERSION)
FLASH_BWD_WGMMA(true, 1, flash_bwd_hd128_causal_wgmma)
FLASH_BWD_WGMMA(false, 1, flash_bwd_hd128_wgmma)
FLASH_BWD_WGMMA(true, 2, flash_bwd_hd128_causal_wgmma2)
FLASH_BWD_WGMMA(false, 2, flash_bwd_hd128_wgmma2)
// v3 = v2 with bulk reduce-adds (cp.reduce.async.bulk) instead of the float4 atomics for dQ; same launch.
FLASH_BWD_WGMMA(true, 3, flash_bwd_hd128_causal_wgmma3)
FLASH_BWD_WGMMA(false, 3, flash_bwd_hd128_wgmma3)
// v4 = v2 with the per-tile instruction stream trimmed (precomputed descriptors, hoisted atomic rows): shipped.
FLASH_BWD_WGMMA(true, 4, flash_bwd_hd128_causal_wgmma4)
FLASH_BWD_WGMMA(false, 4, flash_bwd_hd128_wgmma4)
// v5 = v4 with dQ owned by alternate warpgroups (no per-tile barrier between them); same launch.
FLASH_BWD_WGMMA(true, 5, flash_bwd_hd128_causal_wgmma5)
FLASH_BWD_WGMMA(false, 5, flash_bwd_hd128_wgmma5)

// Backward at D = 64 (attention/flash_bwd_wgmma_hd64.cuh): a drop-in for flash_bwd_hd64[_causal] (grid
// ((T + 127) / 128, Hq, B), block 384, dynamic shared memory wgbwd64::Cfg<STAGES>::SMEM_BYTES: 120,832 bytes at 2
// stages, 137,728 at 3). Shipped: the 2-stage "_wgmma4" (CudaKernels.BWD_WGMMA_SUFFIX, as D = 128's v4);
// "_wgmma4s3": the 3-stage ring, for the lab.
#define FLASH_BWD_WGMMA64(CAUSAL, STAGES, NAME) \
    FLASH_BWD_WGMMA_INSTANCE(NAME, flash_bwd_wgmma64_kernel, wgbwd64::NTHREADS, CAUSAL, STAGES)
FLASH_BWD_WGMMA64(true, 2, flash_bwd_hd64_causal_wgmma4)
FLASH_BWD_WGMMA64(false, 2, flash_bwd_hd64_wgmma4)
FLASH_BWD_WGMMA64(true, 3, flash_bwd_hd64_causal_wgmma4s3)
FLASH_BWD_WGMMA64(false, 3, flash_bwd_hd64_wgmma4s3)
// Sliding-window backward (v4 at D = 128, the 2-stage kernel at D = 64): the window last; "_det_swa": the
// deterministic adds (the semaphores, then the window). The dQ ranks need no change: a tile's contributors are still
// the blocks from the highest one that reaches it down, now only to the lowest whose window reaches it.
#define FLASH_BWD_WGMMA_SWA(NAME, NAME_DET, KERNEL, NTHREADS, ...)                                             \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1) NAME(FLASH_BWD_PARAMS, int window) {             \
        KERNEL<__VA_ARGS__, false, true>(FLASH_BWD_ARGS, nullptr, window);                                      \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1) NAME_DET(FLASH_BWD_PARAMS, int* sem, int window) { \
        KERNEL<__VA_ARGS__, true, true>(FLASH_BWD_ARGS, sem, window);                                           \
    }
FLASH_BWD_WGMMA_SWA(flash_bwd_hd128_causal_wgmma4_swa, flash_bwd_hd128_causal_wgmma4_det_swa, flash_bwd_wgmma_kernel,
                    wgbwd::NTHREADS, true, 4)
FLASH_BWD_WGMMA_SWA(flash_bwd_hd64_causal_wgmma4_swa, flash_bwd_hd64_causal_wgmma4_det_swa, flash_bwd_wgmma64_kernel,
                    wgbwd64::NTHREADS, true, 2)

// Backward for wide heads (attention/flash_bwd_wgmma_wide.cuh, session 8): at D = 256 a drop-in for
// flash_bwd_hd256[_causal] (grid ((T + 63) / 64, Hq, B) as flash_bwd_wide's, block 384, dynamic shared memory
// wgbwdw::Layout<256, 256>::SMEM_BYTES = 231,424 bytes); for MLA 192 / 128 one for mla_bwd_qk192_v128[_causal]
// (its arguments: T, H; Layout<192, 128>::SMEM_BYTES_SDQ = 227,328 bytes).
#include "attention/flash_bwd_wgmma_wide.cuh"  // defines: flash_bwd_wgmma_wide_kernel
#define FLASH_BWD_WGMMA256(CAUSAL, NAME) \
    FLASH_BWD_WGMMA_INSTANCE(NAME, flash_bwd_wgmma_wide_kernel, wgbwdw::NTHREADS, 256, 256, CAUSAL)
FLASH_BWD_WGMMA256(true, flash_bwd_hd256_causal_wgmma4)
FLASH_BWD_WGMMA256(false, flash_bwd_hd256_wgmma4)
#define MLA_BWD_WGMMA(DQK, DV, CAUSAL, SDQ, NAME)                                                                 \
    extern "C" __global__ void __launch_bounds__(wgbwdw::NTHREADS, 1)                                             \
    NAME(float* dQ, float* dK, float* dV, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         const __nv_bfloat16* dO, const float* LSE, const float* Dv, int T, int H, float scale) {                \
        flash_bwd_wgmma_wide_kernel<DQK, DV, CAUSAL, SDQ>(dQ, dK, dV, Q, K, V, dO, LSE, Dv, T, H, H, scale);     \
    }
// MLA runs with dQ staged (SDQ: 227,328 bytes): 265 vs 230 TF/s at 16k causal (run s8-mla-9)
MLA_BWD_WGMMA(192, 128, true, true, mla_bwd_qk192_v128_causal_wgmma)
MLA_BWD_WGMMA(192, 128, false, true, mla_bwd_qk192_v128_wgmma)

// Deterministic backward ("_det", CudaKernels.BWD_DETERMINISTIC_SUFFIX): v4 at D = 128 and the D = 64 kernel with
// their fp32 adds in a fixed order across blocks (wgbwd::ordered_begin): the arguments above plus the semaphores,
// int [2 B (Hq ceil(T / 64) + Hkv ceil(T / 128))] zeroed by the caller. Same grid, block and shared memory.
#define FLASH_BWD_WGMMA_DET(CAUSAL, NAME) \
    FLASH_BWD_WGMMA_DET_INSTANCE(NAME, flash_bwd_wgmma_kernel, wgbwd::NTHREADS, CAUSAL, 4)
#define FLASH_BWD_WGMMA64_DET(CAUSAL, NAME) \
    FLASH_BWD_WGMMA_DET_INSTANCE(NAME, flash_bwd_wgmma64_kernel, wgbwd64::NTHREADS, CAUSAL, 2)
FLASH_BWD_WGMMA_DET(true, flash_bwd_hd128_causal_wgmma4_det)
FLASH_BWD_WGMMA_DET(false, flash_bwd_hd128_wgmma4_det)
FLASH_BWD_WGMMA64_DET(true, flash_bwd_hd64_causal_wgmma4_det)
FLASH_BWD_WGMMA64_DET(false, flash_bwd_hd64_wgmma4_det)
// D = 256 (session 9): the wide kernel's ordered adds; its semaphores int [2 B ceil(T / 64) (Hq + Hkv)] (64-key blocks)
#define FLASH_BWD_WGMMA256_DET(CAUSAL, NAME) \
    FLASH_BWD_WGMMA_DET_INSTANCE(NAME, flash_bwd_wgmma_wide_kernel, wgbwdw::NTHREADS, 256, 256, CAUSAL, false)
FLASH_BWD_WGMMA256_DET(true, flash_bwd_hd256_causal_wgmma4_det)
FLASH_BWD_WGMMA256_DET(false, flash_bwd_hd256_wgmma4_det)
// MLA 192 / 128 (session 9): the same ordered adds on the unstaged dQ (Layout<192, 128>::SMEM_BYTES = 157,696 bytes;
// the shipped MLA instances stage it); arguments as mla_bwd_qk192_v128 plus the semaphores int [4 B H ceil(T / 64)]
#define MLA_BWD_WGMMA_DET(CAUSAL, NAME)                                                                          \
    extern "C" __global__ void __launch_bounds__(wgbwdw::NTHREADS, 1)                                             \
    NAME(float* dQ, float* dK, float* dV, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         const __nv_bfloat16* dO, const float* LSE, const float* Dv, int T, int H, float scale, int* sem) {       \
        flash_bwd_wgmma_wide_kernel<192, 128, CAUSAL, false, true>(dQ, dK, dV, Q, K, V, dO, LSE, Dv, T, H, H, scale, \
                                                                   sem);                                          \
    }
MLA_BWD_WGMMA_DET(true, mla_bwd_qk192_v128_causal_wgmma_det)
MLA_BWD_WGMMA_DET(false, mla_bwd_qk192_v128_wgmma_det)

// Debug / probe kernels for bench/check_wgmma.py (not used by the backend).
extern "C" __global__ void __launch_bounds__(wgfa::NTHREADS, 1)
wgmma_debug_tile(float* S, float* Ot, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V) {
    wgmma_debug_tile_kernel(S, Ot, Q, K, V);
}
// out[0] = __CUDA_ARCH__ of the image the driver loaded, out[1] = 1 if it is the sm_90a (wgmma) image.
extern "C" __global__ void wgmma_arch_probe(int* out) {
#if defined(__CUDA_ARCH__)
    out[0] = __CUDA_ARCH__;
#endif
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    out[1] = 1;
#else
    out[1] = 0;
#endif
}

// TMA copies ("_wgmma4t"; the TMA template flag: one producer thread, cp.async.bulk.tensor): v4's instances at D = 64
// and 128 again, the names with "t" after "_wgmma4" (grid and persistent "4tp"; plain, "_lo", "_swa"), arguments as
// theirs plus the tensor maps of Q, K and V last (CudaTensorMaps: [B, T, H, D] bf16, 64-column x 128-row boxes,
// the 128-byte swizzle). Dispatched by CudaBackend where ccalab.flash.tma is on (the default).
#define FWD_TMA_PARAMS                                                                                         \
    const __grid_constant__ sm90::TmaMap tmQ, const __grid_constant__ sm90::TmaMap tmK,                      \
        const __grid_constant__ sm90::TmaMap tmV
#define FLASH_FWD_TMA(KERNEL, NTHREADS, NAME, NAME_LO, ...)                                                    \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, FWD_TMA_PARAMS) {                                \
        KERNEL<__VA_ARGS__>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, nullptr, 0, {&tmQ, &tmK, &tmV});  \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME_LO(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K,                      \
            const __nv_bfloat16* V, int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo,  \
            FWD_TMA_PARAMS) {                                                                                  \
        KERNEL<__VA_ARGS__>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, 0, {&tmQ, &tmK, &tmV});      \
    }
// ... with the window after O's residual, before the maps.
#define FLASH_FWD_TMA_SWA(KERNEL, NTHREADS, NAME, NAME_LO, ...)                                                \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, \
         int T, int Hq, int Hkv, int vShiftFrom, float scale, int window, FWD_TMA_PARAMS) {                    \
        KERNEL<__VA_ARGS__>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, nullptr, window, {&tmQ, &tmK, &tmV}); \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1)                                                 \
    NAME_LO(__nv_bfloat16* O, float* LSE, const __nv_bfloat16* Q, const __nv_bfloat16* K,                      \
            const __nv_bfloat16* V, int T, int Hq, int Hkv, int vShiftFrom, float scale, __nv_bfloat16* Olo,  \
            int window, FWD_TMA_PARAMS) {                                                                      \
        KERNEL<__VA_ARGS__>(O, LSE, Q, K, V, T, Hq, Hkv, vShiftFrom, scale, Olo, window, {&tmQ, &tmK, &tmV}); \
    }
// D = 128: flash_fwd_wgmma2_kernel<CAUSAL, PINGPONG, V4, WIN, PERSIST, TMA>
FLASH_FWD_TMA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4t, flash_fwd_hd128_causal_wgmma4t_lo,
              true, false, true, false, false, true)
FLASH_FWD_TMA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_wgmma4t, flash_fwd_hd128_wgmma4t_lo,
              false, false, true, false, false, true)
FLASH_FWD_TMA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4tp, flash_fwd_hd128_causal_wgmma4tp_lo,
              true, false, true, false, true, true)
FLASH_FWD_TMA_SWA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4t_swa,
                  flash_fwd_hd128_causal_wgmma4t_lo_swa, true, false, true, true, false, true)
FLASH_FWD_TMA_SWA(flash_fwd_wgmma2_kernel, wgfa::NTHREADS2, flash_fwd_hd128_causal_wgmma4tp_swa,
                  flash_fwd_hd128_causal_wgmma4tp_lo_swa, true, false, true, true, true, true)
// D = 64: flash_fwd_wgmma64_kernel<CAUSAL, NWG, STAGES, WIN, PERSIST, TMA>
FLASH_FWD_TMA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4t,
              flash_fwd_hd64_causal_wgmma4t_lo, true, 2, 4, false, false, true)
FLASH_FWD_TMA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_wgmma4t, flash_fwd_hd64_wgmma4t_lo,
              false, 2, 4, false, false, true)
FLASH_FWD_TMA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4tp,
              flash_fwd_hd64_causal_wgmma4tp_lo, true, 2, 4, false, true, true)
FLASH_FWD_TMA_SWA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4t_swa,
                  flash_fwd_hd64_causal_wgmma4t_lo_swa, true, 2, 4, true, false, true)
FLASH_FWD_TMA_SWA(flash_fwd_wgmma64_kernel, (wgfa64::Cfg<2, 4>::NTHREADS), flash_fwd_hd64_causal_wgmma4tp_swa,
                  flash_fwd_hd64_causal_wgmma4tp_lo_swa, true, 2, 4, true, true, true)

// The backward's TMA twins ("t", session 19; dispatched for the plain backward by CudaBackend where ccalab.flash.tma
// is not off): arguments as the "_wgmma4" instances' plus the tensor maps of Q, K, V, dO (bf16; Q / dO boxes of 64
// rows, K / V of 128) and dQ (fp32, 32-column x 64-row boxes) last. D = 128: TMA 3 (TMA loads + the dQ writer's
// reduce-adds; call 10: 1.02-1.12x v4); D = 64: TMA 2 (TMA loads, 240 consumer registers; 1.03-1.07x), its dQ map
// unused (its dQ goes through its own staged atomics). Measured and not built: TMA 1 (loads only) at both head dims
// (0.96-1.08x, call 8).
#define BWD_TMA_PARAMS                                                                                         \
    const __grid_constant__ sm90::TmaMap tmQ, const __grid_constant__ sm90::TmaMap tmK,                      \
        const __grid_constant__ sm90::TmaMap tmV, const __grid_constant__ sm90::TmaMap tmdO,                 \
        const __grid_constant__ sm90::TmaMap tmdQ
#define FLASH_BWD_TMA(NAME, KERNEL, NTHREADS, ...)                                                             \
    extern "C" __global__ void __launch_bounds__(NTHREADS, 1) NAME(FLASH_BWD_PARAMS, BWD_TMA_PARAMS) {         \
        KERNEL<__VA_ARGS__>(FLASH_BWD_ARGS, nullptr, 0, {&tmQ, &tmK, &tmV, &tmdO, &tmdQ});                      \
    }
FLASH_BWD_TMA(flash_bwd_hd128_causal_wgmma4t, flash_bwd_wgmma_kernel, wgbwd::NTHREADS, true, 4, false, false, 3)
FLASH_BWD_TMA(flash_bwd_hd128_wgmma4t, flash_bwd_wgmma_kernel, wgbwd::NTHREADS, false, 4, false, false, 3)
FLASH_BWD_TMA(flash_bwd_hd64_causal_wgmma4t, flash_bwd_wgmma64_kernel, wgbwd64::NTHREADS, true, 2, false, false, 2)
FLASH_BWD_TMA(flash_bwd_hd64_wgmma4t, flash_bwd_wgmma64_kernel, wgbwd64::NTHREADS, false, 2, false, false, 2)
