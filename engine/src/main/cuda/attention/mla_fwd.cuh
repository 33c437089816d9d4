// defines: mla_fwd_kernel<DQK, DV, CAUSAL> — the MLA prefill attention core ("MHA mode", mla.md section 2).
//
// Letters: B batch, T sequence length, H heads (K/V are per head after the up-projection: no sharing),
// DQK = d_n + d_r query/key width, DV value width (DeepSeek-V2-Lite: 192 and 128).
// Layouts (what the projections produce, no transpose pass, no zero padding of V to DQK as HF does):
//   Q, K [B, T, H, DQK] bf16 (rope slice already rotated);  V [B, T, H, DV] bf16;
//   O [B, T, H, DV] bf16;  LSE [B, H, T] fp32, natural log, the flash_fwd convention (a backward can reuse it).
// The structure of flash_fwd (FlashAttention-2): one block = BM=128 query rows of one head, 8 warps x 16 rows,
// K/V tiles of BNT keys double-buffered through cp.async, S = QK^T and O += PV on mma.sync m16n8k16 with fp32
// accumulators, online softmax in base 2, causal tiles longest first. Q fragments in registers (QREG) or
// re-read from shared memory at each k-step (mla_kernels.cuh says which instance uses which, and why).
// Differences: K and V tiles have their own widths, and shared-memory rows are padded by 16 bytes instead of
// XOR-swizzled: DQK/8 = 24 or 12 chunks is not always a multiple of 8, and a row stride of an odd number of
// 16-byte chunks already puts the 8 rows an ldmatrix reads in 8 different bank groups.
// Registers at DQK=192: 48 (Q) + 64 (O) + 32 (S) with BNT=64; BNT=128 (half the barriers and O rescales per
// key, as flash_fwd's n128) needs 64 for S and so leaves Q in shared memory (QREG=false): 230 registers.
#pragma once
#include "../common/mma.cuh"

namespace mla {
constexpr int BM = 128, BN = 64, NWARPS = 8, NTHREADS = NWARPS * 32;
// Shared-memory row stride in elements: one extra 16-byte chunk (DIM/8 must be even so the stride is odd).
template <int DIM> __host__ __device__ constexpr int padded() { return DIM + 8; }
template <int DQK, int DV, int BNT = BN> __host__ __device__ constexpr int fwd_smem_bytes() {
    return (BM * padded<DQK>() + 2 * BNT * padded<DQK>() + 2 * BNT * padded<DV>()) * 2;
}
}

template <int DQK, int DV, bool CAUSAL, int BNT = mla::BN, bool QREG = true>
__device__ __forceinline__ void mla_fwd_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ LSE,
                                               const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K,
                                               const __nv_bfloat16* __restrict__ V, int T, int H, float scale,
                                               __nv_bfloat16* __restrict__ Olo = nullptr) {
    using namespace mla;
    constexpr int BN = BNT;
    static_assert(DQK % 32 == 0 && DV % 16 == 0, "MMA tiles: DQK/16 k-steps, DV/16 ldmatrix pairs");
    static_assert((DQK / 8) % 2 == 0 && (DV / 8) % 2 == 0, "padded rows must be an odd number of 16-byte chunks");
    constexpr int SQ = padded<DQK>(), SV = padded<DV>();
    constexpr int CQ = DQK / 8, CV = DV / 8;  // 16-byte chunks per row
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Qs = smem;              // [BM, SQ]
    __nv_bfloat16* Ks = Qs + BM * SQ;      // [2][BN, SQ]
    __nv_bfloat16* Vs = Ks + 2 * BN * SQ;  // [2][BN, SV]

    const int tile = gridDim.x - 1 - blockIdx.x;
    const int q0 = tile * BM, h = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qkStride = (long)H * DQK, vStride = (long)H * DV;
    const __nv_bfloat16* Qb = Q + (long)b * T * qkStride + (long)h * DQK;
    const __nv_bfloat16* Kb = K + (long)b * T * qkStride + (long)h * DQK;
    const __nv_bfloat16* Vb = V + (long)b * T * vStride + (long)h * DV;

    for (int i = tid; i < BM * CQ; i += NTHREADS) {
        int r = i / CQ, c = i % CQ, t = q0 + r;
        cp_async_16(smem_u32(Qs + r * SQ + c * 8), t < T ? Qb + t * qkStride + c * 8 : Qb, t < T ? 16 : 0);
    }
    auto load_kv = [&](int j, int buf) {
        __nv_bfloat16* ks = Ks + buf * BN * SQ;
        __nv_bfloat16* vs = Vs + buf * BN * SV;
        for (int i = tid; i < BN * CQ; i += NTHREADS) {
            int r = i / CQ, c = i % CQ, t = j * BN + r;
            cp_async_16(smem_u32(ks + r * SQ + c * 8), t < T ? Kb + t * qkStride + c * 8 : Kb, t < T ? 16 : 0);
        }
        for (int i = tid; i < BN * CV; i += NTHREADS) {
            int r = i / CV, c = i % CV, t = j * BN + r;
            cp_async_16(smem_u32(vs + r * SV + c * 8), t < T ? Vb + t * vStride + c * 8 : Vb, t < T ? 16 : 0);
        }
    };
    const int nTilesAll = (T + BN - 1) / BN;
    const int nTiles = CAUSAL ? min(nTilesAll, (q0 + BM + BN - 1) / BN) : nTilesAll;
    load_kv(0, 0);
    cp_async_commit();

    const float scaleLog2 = scale * 1.4426950408889634f;
    uint32_t qf[QREG ? DQK / 16 : 1][4];  // this warp's 16 query rows as A fragments (QREG)
    float o[DV / 8][4];        // O accumulator: 16 rows x DV
    float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f};  // rows lane/4 and lane/4 + 8
#pragma unroll
    for (int i = 0; i < DV / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    const int wrow0 = warp * 16;

    for (int j = 0; j < nTiles; j++) {
        const int buf = j & 1;
        if (j + 1 < nTiles) {
            load_kv(j + 1, buf ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (QREG && j == 0) {
#pragma unroll
            for (int kk = 0; kk < DQK / 16; kk++)
                ldmatrix_x4(qf[QREG ? kk : 0][0], qf[QREG ? kk : 0][1], qf[QREG ? kk : 0][2], qf[QREG ? kk : 0][3],
                            smem_u32(Qs + (wrow0 + (lane & 15)) * SQ + (2 * kk + (lane >> 4)) * 8));
        }
        const __nv_bfloat16* ks = Ks + buf * BN * SQ;
        const __nv_bfloat16* vs = Vs + buf * BN * SV;

        float s[BN / 8][4];
#pragma unroll
        for (int i = 0; i < BN / 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < DQK / 16; kk++) {
            uint32_t qa[4];
            if (QREG) {
#pragma unroll
                for (int e = 0; e < 4; e++) qa[e] = qf[QREG ? kk : 0][e];
            } else {
                ldmatrix_x4(qa[0], qa[1], qa[2], qa[3], smem_u32(Qs + (wrow0 + (lane & 15)) * SQ + (2 * kk + (lane >> 4)) * 8));
            }
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(b0, b1, b2, b3,
                            smem_u32(ks + (16 * np + (lane & 7) + ((lane >> 4) << 3)) * SQ + (2 * kk + ((lane >> 3) & 1)) * 8));
                mma_bf16_16816(s[2 * np], qa, b0, b1);
                mma_bf16_16816(s[2 * np + 1], qa, b2, b3);
            }
        }
        const int k0 = j * BN;
        const int rowA = q0 + wrow0 + (lane >> 2), rowB = rowA + 8;
        const bool needMask = CAUSAL ? (k0 + BN - 1 > q0 + wrow0) : (k0 + BN > T);
        if (needMask) {
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
                int c = k0 + nt * 8 + (lane & 3) * 2;
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int col = c + (e & 1), row = e < 2 ? rowA : rowB;
                    bool masked = CAUSAL ? col > row : col >= T;
                    if (masked) s[nt][e] = -INFINITY;
                }
            }
        }
        // Online softmax (FlashAttention-2, the 1/l division left to the epilogue).
        float mx[2] = {mRow[0], mRow[1]};
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]) * scaleLog2);
            mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]) * scaleLog2);
        }
        float corr[2], base[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
            base[r] = mx[r] == -INFINITY ? 0.f : mx[r];  // a row with nothing valid yet keeps zeros
            corr[r] = exp2f(mRow[r] - base[r]);
            mRow[r] = mx[r];
            lRow[r] *= corr[r];
        }
#pragma unroll
        for (int i = 0; i < DV / 8; i++) {
            o[i][0] *= corr[0]; o[i][1] *= corr[0];
            o[i][2] *= corr[1]; o[i][3] *= corr[1];
        }
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt++) {
            s[nt][0] = exp2f(s[nt][0] * scaleLog2 - base[0]);
            s[nt][1] = exp2f(s[nt][1] * scaleLog2 - base[0]);
            s[nt][2] = exp2f(s[nt][2] * scaleLog2 - base[1]);
            s[nt][3] = exp2f(s[nt][3] * scaleLog2 - base[1]);
            lRow[0] += s[nt][0] + s[nt][1];
            lRow[1] += s[nt][2] + s[nt][3];
        }
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                              pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < DV / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3,
                                  smem_u32(vs + (16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3)) * SV + (2 * dp + (lane >> 4)) * 8));
                mma_bf16_16816(o[2 * dp], pa, b0, b1);
                mma_bf16_16816(o[2 * dp + 1], pa, b2, b3);
            }
        }
        __syncthreads();  // the next iteration's prefetch overwrites this buffer
    }

    __nv_bfloat16* Ob = O + (long)b * T * vStride + (long)h * DV;
    __nv_bfloat16* Olb = Olo != nullptr ? Olo + (long)b * T * vStride + (long)h * DV : nullptr;  // O's residual
    const int rowA = q0 + wrow0 + (lane >> 2), rowB = rowA + 8;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 1);
        lRow[r] += __shfl_xor_sync(0xffffffff, lRow[r], 2);
    }
    const float inv0 = lRow[0] > 0.f ? 1.f / lRow[0] : 0.f, inv1 = lRow[1] > 0.f ? 1.f / lRow[1] : 0.f;
#pragma unroll
    for (int dt = 0; dt < DV / 8; dt++) {
        int c = dt * 8 + (lane & 3) * 2;
        if (rowA < T) store_bf16x2_split(Ob, Olb, rowA * vStride + c, o[dt][0] * inv0, o[dt][1] * inv0);
        if (rowB < T) store_bf16x2_split(Ob, Olb, rowB * vStride + c, o[dt][2] * inv1, o[dt][3] * inv1);
    }
    if ((lane & 3) == 0 && LSE != nullptr) {
        float* Lh = LSE + ((long)b * H + h) * T;
        if (rowA < T) Lh[rowA] = (mRow[0] + log2f(lRow[0])) * 0.6931471805599453f;
        if (rowB < T) Lh[rowB] = (mRow[1] + log2f(lRow[1])) * 0.6931471805599453f;
    }
}
