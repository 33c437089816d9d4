// defines: flash_fwd_kernel<D, CAUSAL> — FlashAttention-2-style forward for MHA / GQA / the CCA core.
//
// Letters: B batch, T sequence length, Hq query heads, Hkv key/value heads (Hq % Hkv == 0), D head dim.
// Layouts (what the projections produce, no transpose pass):
//   Q, O [B, T, Hq, D] bf16;  K, V [B, T, Hkv, D] bf16;  LSE [B, Hq, T] fp32 (natural log, saved for backward).
// One block = BM=128 query rows of one head, 8 warps x 16 rows (MT=1) or 4 x 32 (MT=2); K/V tiles of BN=64 (or 128) rows double-buffered
// through cp.async; S = QK^T and O += PV on mma.sync m16n8k16 with fp32 accumulators; online softmax in
// base 2. Causal blocks are launched longest-first (reverse tile order) so the tail of the grid is short.
// vShiftFrom: KV heads >= vShiftFrom read V at row t-1 (zeros at t=0) — CCA's value shift for even Hkv,
// fused into the V load instead of a pass over memory; pass Hkv for plain attention.
#pragma once
#include "../common/mma.cuh"

namespace flash {
constexpr int BM = 128, BN = 64;
// MT = 16-row MMA tiles per warp. MT=1: 8 warps, Q fragments held in registers. MT=2: 4 warps of 32 rows,
// every K/V fragment loaded from shared memory feeds twice the MMAs (FlashAttention-2's layout), Q
// re-read from shared memory per k-step to stay within 255 registers.
template <int MT> __host__ __device__ constexpr int nthreads() { return BM / (16 * MT) * 32; }
}

// BNT: keys per K/V tile (64 = flash::BN; 128 for the D=128 instances the backend launches since run 13).
// WIN (causal, the "_swa" instances): sliding-window attention, query t sees keys t - window < s <= t (SoftmaxCore's
// window); the block walks the key tiles from its first row's window start to the diagonal.
template <int D, bool CAUSAL, int MT, int BNT = flash::BN, bool WIN = false>
__device__ __forceinline__ void flash_fwd_kernel(__nv_bfloat16* __restrict__ O, float* __restrict__ LSE, const __nv_bfloat16* __restrict__ Q,
                 const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V, int T, int Hq, int Hkv,
                 int vShiftFrom, float scale, __nv_bfloat16* __restrict__ Olo = nullptr, int window = 0) {
    using namespace flash;
    static_assert(!WIN || CAUSAL, "a sliding window is causal");
    constexpr int BN = BNT;
    constexpr int CH = D / 8;  // 16-byte chunks per row
    constexpr int NTHREADS = nthreads<MT>();
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Qs = smem;               // [BM, D] swizzled
    __nv_bfloat16* Ks = Qs + BM * D;        // [2][BN, D]
    __nv_bfloat16* Vs = Ks + 2 * BN * D;    // [2][BN, D]

    const int tile = gridDim.x - 1 - blockIdx.x;
    const int q0 = tile * BM, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
    const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
    const int vShift = hk >= vShiftFrom ? 1 : 0;

    for (int i = tid; i < BM * CH; i += NTHREADS) {
        int r = i / CH, c = i % CH, t = q0 + r;
        cp_async_16(smem_u32(Qs + swz<D>(r, c)), t < T ? Qb + t * qStride + c * 8 : Qb, t < T ? 16 : 0);
    }
    auto load_kv = [&](int j, int buf) {
        __nv_bfloat16* ks = Ks + buf * BN * D;
        __nv_bfloat16* vs = Vs + buf * BN * D;
        for (int i = tid; i < BN * CH; i += NTHREADS) {
            int r = i / CH, c = i % CH, t = j * BN + r, tv = t - vShift;
            cp_async_16(smem_u32(ks + swz<D>(r, c)), t < T ? Kb + t * kStride + c * 8 : Kb, t < T ? 16 : 0);
            bool okv = tv >= 0 && tv < T;
            cp_async_16(smem_u32(vs + swz<D>(r, c)), okv ? Vb + tv * kStride + c * 8 : Vb, okv ? 16 : 0);
        }
    };
    const int nTilesAll = (T + BN - 1) / BN;
    const int nTiles = CAUSAL ? min(nTilesAll, (q0 + BM + BN - 1) / BN) : nTilesAll;
    const int j0 = WIN ? max(0, q0 - window + 1) / BN : 0;  // the first key tile any row of the block sees
    load_kv(j0, 0);
    cp_async_commit();

    const float scaleLog2 = scale * 1.4426950408889634f;
    // Q fragments live in registers for MT=1 up to D=128; at D=256 they would take 64 registers next to O's 128,
    // so Q is re-read from shared memory per k-step there (as in the MT=2 layout).
    constexpr bool QREGS = MT == 1 && D <= 128;
    constexpr int QREG = QREGS ? D / 16 : 1;
    uint32_t qf[QREG][4];                      // QREGS: this warp's 16 query rows as A fragments
    float o[MT][D / 8][4];                     // O accumulator: 16*MT rows x D
    float mRow[MT][2], lRow[MT][2];            // running max (scaled, log2) / partial sums of rows lane/4, +8
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        mRow[mt][0] = mRow[mt][1] = -INFINITY;
        lRow[mt][0] = lRow[mt][1] = 0.f;
#pragma unroll
        for (int i = 0; i < D / 8; i++) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
    }
    const int wrow0 = warp * 16 * MT;  // first row of this warp inside the tile

    for (int j = j0; j < nTiles; j++) {
        const int buf = (j - j0) & 1;
        if (j + 1 < nTiles) {
            load_kv(j + 1, buf ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (QREGS && j == j0) {
#pragma unroll
            for (int kk = 0; kk < QREG; kk++)
                ldmatrix_x4(qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3],
                            smem_u32(Qs + swz<D>(wrow0 + (lane & 15), 2 * kk + (lane >> 4))));
        }
        const __nv_bfloat16* ks = Ks + buf * BN * D;
        const __nv_bfloat16* vs = Vs + buf * BN * D;

        float s[MT][BN / 8][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int i = 0; i < BN / 8; i++) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t qa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                if (QREGS) {
#pragma unroll
                    for (int e = 0; e < 4; e++) qa[mt][e] = qf[QREGS ? kk : 0][e];
                } else {
                    ldmatrix_x4(qa[mt][0], qa[mt][1], qa[mt][2], qa[mt][3],
                                smem_u32(Qs + swz<D>(wrow0 + mt * 16 + (lane & 15), 2 * kk + (lane >> 4))));
                }
            }
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(b0, b1, b2, b3,
                            smem_u32(ks + swz<D>(16 * np + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1))));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_bf16_16816(s[mt][2 * np], qa[mt], b0, b1);
                    mma_bf16_16816(s[mt][2 * np + 1], qa[mt], b2, b3);
                }
            }
        }
        const int k0 = j * BN;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            const int rowA = q0 + wrow0 + mt * 16 + (lane >> 2), rowB = rowA + 8;
            const bool needMask = CAUSAL ? (k0 + BN - 1 > q0 + wrow0 + mt * 16 || (WIN && k0 + window <= q0 + wrow0 + mt * 16 + 15))
                                         : (k0 + BN > T);
            if (needMask) {
#pragma unroll
                for (int nt = 0; nt < BN / 8; nt++) {
                    int c = k0 + nt * 8 + (lane & 3) * 2;
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int col = c + (e & 1), row = e < 2 ? rowA : rowB;
                        bool masked = CAUSAL ? (col > row || (WIN && col <= row - window)) : col >= T;
                        if (masked) s[mt][nt][e] = -INFINITY;
                    }
                }
            }
            // Online softmax (FlashAttention-2 eq. without the final 1/l until the epilogue).
            // The max runs on raw scores and is scaled once per row (scale > 0 keeps the order).
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
                mx[0] = fmaxf(mx[0], fmaxf(s[mt][nt][0], s[mt][nt][1]));
                mx[1] = fmaxf(mx[1], fmaxf(s[mt][nt][2], s[mt][nt][3]));
            }
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
                mx[r] = fmaxf(mRow[mt][r], mx[r] * scaleLog2);
            }
            float corr[2], base[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                base[r] = mx[r] == -INFINITY ? 0.f : mx[r];
                corr[r] = fast_exp2(mRow[mt][r] - base[r]);
                lRow[mt][r] *= corr[r];
            }
#pragma unroll
            for (int i = 0; i < D / 8; i++) {
                o[mt][i][0] *= corr[0]; o[mt][i][1] *= corr[0];
                o[mt][i][2] *= corr[1]; o[mt][i][3] *= corr[1];
            }
            mRow[mt][0] = mx[0];
            mRow[mt][1] = mx[1];
#pragma unroll
            for (int nt = 0; nt < BN / 8; nt++) {
                s[mt][nt][0] = fast_exp2(s[mt][nt][0] * scaleLog2 - base[0]);
                s[mt][nt][1] = fast_exp2(s[mt][nt][1] * scaleLog2 - base[0]);
                s[mt][nt][2] = fast_exp2(s[mt][nt][2] * scaleLog2 - base[1]);
                s[mt][nt][3] = fast_exp2(s[mt][nt][3] * scaleLog2 - base[1]);
                lRow[mt][0] += s[mt][nt][0] + s[mt][nt][1];
                lRow[mt][1] += s[mt][nt][2] + s[mt][nt][3];
            }
        }
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3,
                                  smem_u32(vs + swz<D>(16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), 2 * dp + (lane >> 4))));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_bf16_16816(o[mt][2 * dp], pa[mt], b0, b1);
                    mma_bf16_16816(o[mt][2 * dp + 1], pa[mt], b2, b3);
                }
            }
        }
        __syncthreads();  // the next iteration's prefetch overwrites this buffer
    }

    __nv_bfloat16* Ob = O + (long)b * T * qStride + (long)h * D;
    __nv_bfloat16* Olb = Olo != nullptr ? Olo + (long)b * T * qStride + (long)h * D : nullptr;  // O's residual
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        const int rowA = q0 + wrow0 + mt * 16 + (lane >> 2), rowB = rowA + 8;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            lRow[mt][r] += __shfl_xor_sync(0xffffffff, lRow[mt][r], 1);
            lRow[mt][r] += __shfl_xor_sync(0xffffffff, lRow[mt][r], 2);
        }
        const float inv0 = lRow[mt][0] > 0.f ? 1.f / lRow[mt][0] : 0.f, inv1 = lRow[mt][1] > 0.f ? 1.f / lRow[mt][1] : 0.f;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) {
            int c = dt * 8 + (lane & 3) * 2;
            if (rowA < T) store_bf16x2_split(Ob, Olb, rowA * qStride + c, o[mt][dt][0] * inv0, o[mt][dt][1] * inv0);
            if (rowB < T) store_bf16x2_split(Ob, Olb, rowB * qStride + c, o[mt][dt][2] * inv1, o[mt][dt][3] * inv1);
        }
        if ((lane & 3) == 0 && LSE != nullptr) {
            float* L = LSE + ((long)b * Hq + h) * T;
            if (rowA < T) L[rowA] = (mRow[mt][0] + log2f(lRow[mt][0])) * 0.6931471805599453f;
            if (rowB < T) L[rowB] = (mRow[mt][1] + log2f(lRow[mt][1])) * 0.6931471805599453f;
        }
    }
}
