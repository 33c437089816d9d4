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
// All 16 bytes, no zero fill: the copies of tiles that lie wholly inside the sequence (no source size operand).
DEVI void cp_async_16_all(uint32_t dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
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

// D (16x8 fp32) += A (16x8 bf16, row) * B (8x8 bf16, col).
DEVI void mma_bf16_1688(float* d, const uint32_t* a, uint32_t b0) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b0));
}

DEVI uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

// Stores two outputs of an attention row as bf16 at O + off and, where Olo is given, their rounding residuals
// bf16(x - float(bf16(x))) at Olo + off (same layout): O + Olo carries ~16 significant bits, which the backward's
// Dv = rowsum(dO o O) needs where a near one-hot softmax makes dS = P o (dP - Dv) cancel (bf16's rounding of O
// alone left the CCA q/k-path gradients at 5e-2 to 0.8 from float64; docs/perf-log.md, "Session 4, prec").
// Olo == nullptr (a literal in the instances without it) compiles to the plain store.
DEVI void store_bf16x2_split(__nv_bfloat16* O, __nv_bfloat16* Olo, long off, float a, float b) {
    const __nv_bfloat162 hi = __floats2bfloat162_rn(a, b);
    *reinterpret_cast<__nv_bfloat162*>(O + off) = hi;
    if (Olo != nullptr) {
        const float2 h = __bfloat1622float2(hi);
        *reinterpret_cast<__nv_bfloat162*>(Olo + off) = __floats2bfloat162_rn(a - h.x, b - h.y);
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

// Inter-block signalling at GPU scope (decode's and MLA decode's SPIN merges).
DEVI int atom_add_acq_rel_gpu(int* p, int v) {
    int old;
    asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], %2;\n" : "=r"(old) : "l"(p), "r"(v) : "memory");
    return old;
}
DEVI void st_release_gpu(int* p, int v) {
    asm volatile("st.release.gpu.global.b32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}
DEVI int ld_relaxed_gpu(const int* p) {
    int v;
    asm volatile("ld.relaxed.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
DEVI int ld_acquire_gpu(const int* p) {
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
DEVI unsigned long long atom_add_acq_rel_gpu(unsigned long long* p, unsigned long long v) {
    unsigned long long old;
    asm volatile("atom.acq_rel.gpu.global.add.u64 %0, [%1], %2;\n" : "=l"(old) : "l"(p), "l"(v) : "memory");
    return old;
}
DEVI unsigned long long ld_acquire_gpu(const unsigned long long* p) {
    unsigned long long v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];\n" : "=l"(v) : "l"(p) : "memory");
    return v;
}
// Drops the 128-byte L2 line at p (128-byte aligned) without writing it back: its contents become undefined (sm_80+).
DEVI void discard_l2_line(const void* p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("discard.global.L2 [%0], 128;\n" ::"l"(p) : "memory");
#endif
}
// One arrival of `members` blocks at a group barrier, by one thread per block (the caller's bar.sync before makes
// the block's earlier stores part of the release; after, the block may read the others'): an acq_rel add on
// ctr[0]; the last to arrive has acquired every earlier arrival (one RMW chain), resets ctr[0] for the next launch
// and releases the epoch ctr[1]; the others spin until it moves from epoch0, their read of ctr[1] from before
// they arrived. ctr: 2 ints, zero before the first launch (the epoch then keeps counting). Co-resident grids only.
DEVI void group_arrive_epoch(int* ctr, int epoch0, int members) {
    if (atom_add_acq_rel_gpu(ctr, 1) == members - 1) {
        ctr[0] = 0;
        st_release_gpu(ctr + 1, epoch0 + 1);
    } else {
        while (ld_acquire_gpu(ctr + 1) == epoch0) __nanosleep(20);
    }
}
// The same barrier in one round trip fewer (session 11): ctr is one 64-bit counter whose low 32 bits are zero
// between launches. The `members` arrivals add shares that sum to exactly 2^32 (member 0 takes the remainder), so
// every arrival of one launch reads the same high word and waits for the next multiple of 2^32; the last one sees
// it in its own add and never waits. Nothing is reset and no epoch is released: the others watch the counter
// itself. Any member count per launch (the low word returns to zero); the 2 ints of group_arrive_epoch's layout
// ({0, epoch} between launches) are such a counter. The wait compares the signed difference, so the counter may wrap
// (after 2^32 launches of one group). Co-resident grids only.
DEVI void group_arrive_share(unsigned long long* ctr, int member, int members) {
    const unsigned long long share = (1ull << 32) / members;
    const unsigned long long add = member == 0 ? (1ull << 32) - share * (members - 1) : share;
    const unsigned long long old = atom_add_acq_rel_gpu(ctr, add), target = ((old >> 32) + 1) << 32;
    if (old + add != target)
        while ((long long)(ld_acquire_gpu(ctr) - target) < 0) __nanosleep(20);
}
