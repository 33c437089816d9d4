// defines: namespace sm90 — the Hopper (sm_90a) building blocks the wgmma attention kernels share: shared-memory
// matrix descriptors, wgmma fences / commit / wait, the m64nNk16 bf16 wgmma wrappers (operands from shared memory
// with per-operand transpose flags, or A from registers), operand pins, the async-proxy fence, mbarriers and TMA
// tensor copies.
// Users: attention/flash_fwd_wgmma.cuh (namespace wgfa) and attention/flash_bwd_wgmma.cuh (wgbwd), both of which
// pull these names in with a using-directive. Only the sm_90a image may execute them (callers guard with
// __CUDA_ARCH_FEAT_SM90_ALL).
#pragma once
#include <stdint.h>

#define SM90_DEVI __device__ __forceinline__

// The accumulator operands of an m64nNk16 wgmma: N / 2 fp32 registers per thread, "+f" constraints in order.
#define SM90_F8(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
                      "+f"(d[i + 6]), "+f"(d[i + 7])
#define SM90_ACC16(d) SM90_F8(d, 0), SM90_F8(d, 8)
#define SM90_ACC32(d) SM90_ACC16(d), SM90_F8(d, 16), SM90_F8(d, 24)
#define SM90_ACC64(d) SM90_ACC32(d), SM90_F8(d, 32), SM90_F8(d, 40), SM90_F8(d, 48), SM90_F8(d, 56)

// ... and their operand numbers in the instruction string.
#define SM90_OPS16 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
#define SM90_OPS32 SM90_OPS16 ", %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define SM90_OPS64 SM90_OPS32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, " \
                   "%49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"

namespace sm90 {
// wgmma shared-memory matrix descriptor, low word: start address and leading byte offset (16-byte units).
SM90_DEVI uint32_t desc_lo(uint32_t addr, uint32_t lbo) { return ((addr & 0x3FFFF) >> 4) | ((lbo >> 4) << 16); }
// The full descriptor: + stride byte offset and the 128-byte swizzle mode (bit 62).
SM90_DEVI uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)desc_lo(addr, lbo) | ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}
// A descriptor from a precomputed low word with SBO = 1024 and the 128-byte swizzle (the high word every operand of
// the backward shares): make_desc(addr, lbo, 1024) == desc_of(desc_lo(addr, lbo)).
SM90_DEVI uint64_t desc_of(uint32_t lo) { return ((uint64_t)0x40000040u << 32) | lo; }

SM90_DEVI void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
SM90_DEVI void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> SM90_DEVI void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Pins an accumulator register after wgmma.wait_group: reads of it cannot be hoisted above the wait.
SM90_DEVI void fence_operand(float& x) { asm volatile("" : "+f"(x)::"memory"); }
SM90_DEVI void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// D[64x128] (+)= A[64x16] * B[16x128], both from shared memory; TA / TB: the operand is stored MN-major
// (transposed: imm-trans-a / imm-trans-b = 1). accumulate = 0 on the first k-step. <0, 0>: S = Q K^T (forward);
// <1, 1>: dQ = dS K (backward v5).
template <int TA, int TB>
SM90_DEVI void wgmma_m64n128k16_ss(float (&d)[64], uint64_t descA, uint64_t descB, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" SM90_OPS64 "}, %64, %65, p, 1, 1, %67, %68;\n}\n"
        : SM90_ACC64(d)
        : "l"(descA), "l"(descB), "r"(accumulate), "n"(TA), "n"(TB)
        : "memory");
}
// D[64x128] += A[64x16] (registers, bf16 pairs) * B[16x128] (shared, MN-major: imm-trans-b = 1): O += P V (forward),
// dV += P^T dO and dK += dS^T Q (backward).
SM90_DEVI void wgmma_m64n128k16_rs_tb(float (&d)[64], const uint32_t (&a)[4], uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" SM90_OPS64 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : SM90_ACC64(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1)
        : "memory");
}
// D[64x64] (+)= A[64x16] * B[16x64], both from shared memory; TA / TB as above (backward: S^T, dP^T <0, 0>; dQ <1, 1>).
template <int TA, int TB>
SM90_DEVI void wgmma_m64n64k16_ss(float (&d)[32], uint64_t descA, uint64_t descB, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" SM90_OPS32 "}, %32, %33, p, 1, 1, %35, %36;\n}\n"
        : SM90_ACC32(d)
        : "l"(descA), "l"(descB), "r"(accumulate), "n"(TA), "n"(TB)
        : "memory");
}
// D[64x32] (+)= A[64x16] * B[16x32], both from shared memory: the D = 256 backward's S^T, dP^T (<0, 0>: each
// consumer warpgroup takes 32 of the 64 query columns).
template <int TA, int TB>
SM90_DEVI void wgmma_m64n32k16_ss(float (&d)[16], uint64_t descA, uint64_t descB, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {" SM90_OPS16 "}, %16, %17, p, 1, 1, %19, %20;\n}\n"
        : SM90_ACC16(d)
        : "l"(descA), "l"(descB), "r"(accumulate), "n"(TA), "n"(TB)
        : "memory");
}
// D[64x64] += A[64x16] (registers, bf16 pairs) * B[16x64] (shared, MN-major: imm-trans-b = 1): O += P V at head
// dim 64 (forward, attention/flash_fwd_wgmma_hd64.cuh).
SM90_DEVI void wgmma_m64n64k16_rs_tb(float (&d)[32], const uint32_t (&a)[4], uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" SM90_OPS32 "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : SM90_ACC32(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1)
        : "memory");
}

// A TMA tensor map (the driver's CUtensorMap: 128 opaque bytes, 64-byte aligned), encoded on the host
// (CudaTensorMaps / ccalab_cuda.tensor_map) and passed as a __grid_constant__ kernel parameter.
struct alignas(64) TmaMap {
    uint64_t opaque[16];
};
// Bulk tensor copy of one box of a 4-D map at element coordinates (c0 innermost .. c3) into shared memory at dst;
// completes on the mbarrier at bar as transaction bytes (out-of-bounds elements, negative coordinates included,
// land as zeros and count too). The map is read through its generic address (a __grid_constant__ parameter's).
SM90_DEVI void tma_load_4d(uint32_t dst, const TmaMap* map, uint32_t bar, int c0, int c1, int c2, int c3) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], [%2];\n"
        ::"r"(dst), "l"(map), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
}
// Bulk tensor reduce-add of one box from shared memory at src into global memory through a 4-D map (fp32 .add, done in
// L2; out-of-bounds elements are dropped); completes as a bulk group (bulk_commit, bulk_wait_read).
SM90_DEVI void tma_reduce_add_4d(const TmaMap* map, uint32_t src, int c0, int c1, int c2, int c3) {
    asm volatile(
        "cp.reduce.async.bulk.tensor.4d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n"
        ::"l"(map), "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
}
SM90_DEVI void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// Waits until the committed bulk groups but N have read their shared-memory sources (it may be rewritten then).
template <int N> SM90_DEVI void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory"); }
// ... until they have completed (their global writes done).
template <int N> SM90_DEVI void bulk_wait() { asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory"); }
SM90_DEVI void tma_prefetch_map(const TmaMap* map) { asm volatile("prefetch.tensormap [%0];\n" ::"l"(map) : "memory"); }

SM90_DEVI void mbar_init(uint32_t a, int count) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(a), "r"(count) : "memory"); }
SM90_DEVI void mbar_arrive(uint32_t a) { asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(a) : "memory"); }
// Arrives and raises the phase's expected transaction bytes (the TMA copies that complete on this barrier).
SM90_DEVI void mbar_arrive_expect_tx(uint32_t a, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(a), "r"(bytes) : "memory");
}
SM90_DEVI void mbar_wait(uint32_t a, int parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(a), "r"(parity) : "memory");
    } while (!done);
}
}  // namespace sm90
