// defines: bf16 pack helpers (and the O / O-residual store), ldmatrix / mma.sync / cp.async wrappers, swizzled shared-memory indexing.
// Everything the attention kernels need from the tensor cores on sm_80+ (mma.sync m16n8k16 bf16, fp32 acc).
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

#define DEVI __device__ __forceinline__

DEVI uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 16-byte async copy global -> shared; src_bytes 0 writes zeros (used for rows past the sequence end).
DEVI void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
DEVI void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> DEVI void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

DEVI void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}
DEVI void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// D (16x8 fp32) += A (16x16 bf16, row) * B (16x8 bf16, col).
DEVI void mma_bf16_16816(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

DEVI uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

// Stores two outputs of an attention row as bf16 at O + off and, where Olo is given, their rounding residuals
// bf16(x - float(bf16(x))) at Olo + off (same layout): O + Olo carries ~16 significant bits, which the backward's
// Dv = rowsum(dO o O) needs where a near one-hot softmax makes dS = P o (dP - Dv) cancel (bf16's rounding of O
// alone left the CCA q/k-path gradients at 5e-2 to 0.8 from float64; docs/perf-log.md, "Session 4, prec").
// Olo == nullptr (a literal in the instances without it) compiles to the plain store. CS: the residual goes out with
// st.global.cs (evict-first: it is read again only by the backward, after the rest of the forward).
template <bool CS = false>
DEVI void store_bf16x2_split(__nv_bfloat16* O, __nv_bfloat16* Olo, long off, float a, float b) {
    const __nv_bfloat162 hi = __floats2bfloat162_rn(a, b);
    *reinterpret_cast<__nv_bfloat162*>(O + off) = hi;
    if (Olo != nullptr) {
        const float2 h = __bfloat1622float2(hi);
        const __nv_bfloat162 lo = __floats2bfloat162_rn(a - h.x, b - h.y);
        if (CS) __stcs(reinterpret_cast<unsigned int*>(Olo + off), *reinterpret_cast<const unsigned int*>(&lo));
        else *reinterpret_cast<__nv_bfloat162*>(Olo + off) = lo;
    }
}

// The online softmax's end for one thread's rows rowA and rowA + 8 of a 16-row accumulator fragment (the m16n8
// layout mma.sync and wgmma share: acc(dt, 0..1) in row rowA, acc(dt, 2..3) in row rowA + 8, columns
// dt * 8 + 2 (lane & 3) + 0..1, NT 8-column tiles): the row sums l reduced over the quad, O / l stored as bf16 rows of
// stride `stride` at Ob (+ the rounding residual at Olb where given), and where L is given LSE (natural log) from
// the base-2 running maximum m: L[row] = (m + log2 l) ln 2. Rows at or past T are not written. flash_fwd.cuh,
// flash_fwd_wgmma.cuh and mla_fwd.cuh end with it.
template <int NT, bool CS = false, class Acc>
DEVI void store_softmax_rows(Acc acc, float (&lRow)[2], const float (&mRow)[2], __nv_bfloat16* Ob, __nv_bfloat16* Olb,
                             long stride, int rowA, int T, float* L, int lane) {
    const int rowB = rowA + 8;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 1);
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 2);
    }
    const float inv0 = lRow[0] > 0.f ? 1.f / lRow[0] : 0.f, inv1 = lRow[1] > 0.f ? 1.f / lRow[1] : 0.f;
#pragma unroll
    for (int dt = 0; dt < NT; dt++) {
        const int c = dt * 8 + (lane & 3) * 2;
        if (rowA < T) store_bf16x2_split<CS>(Ob, Olb, rowA * stride + c, acc(dt, 0) * inv0, acc(dt, 1) * inv0);
        if (rowB < T) store_bf16x2_split<CS>(Ob, Olb, rowB * stride + c, acc(dt, 2) * inv1, acc(dt, 3) * inv1);
    }
    if ((lane & 3) == 0 && L != nullptr) {
        if (rowA < T) L[rowA] = (mRow[0] + log2f(lRow[0])) * 0.6931471805599453f;
        if (rowB < T) L[rowB] = (mRow[1] + log2f(lRow[1])) * 0.6931471805599453f;
    }
}

// A tile row of D bf16 is D/8 chunks of 16 bytes; XOR-ing the chunk with (row & 7) puts the 8 rows an
// ldmatrix reads in 8 different bank groups (no conflicts) while keeping cp.async writes 16-byte aligned.
template <int D>
DEVI int swz(int row, int chunk) { return row * D + ((chunk ^ (row & 7)) << 3); }

// 2^x as the single MUFU instruction (denormal results flush to zero: they are below bf16's resolution of a
// probability anyway). Run 21 measured it level with exp2f in the flash forward (301 TF both at 16k).
DEVI float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
