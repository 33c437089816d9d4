// flash_bwd v1 (runs 9-18): one block per 64-row K/V tile, 4 warps x 16 KV rows, single-buffered Q/dO, dQ by
// 16-row warps (64 accumulators: spills 24-36 B at D=128), scalar fp32 atomics. 139-141 TF at 16k (45% of FA2).
// Replaced by v2 in engine/src/main/cuda/attention/flash_bwd.cuh (run 19: 252 TF). Needs flash_bwd::BKV/BQ/NTHREADS
// = 64/64/128 and shared memory 4*64*D*2 + 64*64*2 + 2*64*4 bytes.
#pragma once
#include "../engine/src/main/cuda/common/mma.cuh"

namespace flash_bwd {
constexpr int BKV = 64, BQ = 64, NTHREADS = 128;
}

template <int D, bool CAUSAL>
__device__ __forceinline__ void flash_bwd_kernel(float* __restrict__ dQ, float* __restrict__ dK, float* __restrict__ dV,
                                                 const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K,
                                                 const __nv_bfloat16* __restrict__ V, const __nv_bfloat16* __restrict__ dO,
                                                 const float* __restrict__ LSE, const float* __restrict__ Dv, int T, int Hq,
                                                 int Hkv, float scale) {
    using namespace flash_bwd;
    constexpr int CH = D / 8;
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Ks = smem;              // [BKV, D]
    __nv_bfloat16* Vs = Ks + BKV * D;      // [BKV, D]
    __nv_bfloat16* Qs = Vs + BKV * D;      // [BQ, D]
    __nv_bfloat16* dOs = Qs + BQ * D;      // [BQ, D]
    __nv_bfloat16* dSs = dOs + BQ * D;     // [BKV, BQ] dS^T
    float* Ls = reinterpret_cast<float*>(dSs + BKV * BQ);  // [BQ] LSE * log2(e)
    float* Ds = Ls + BQ;                                   // [BQ] Dv

    const int kv0 = blockIdx.x * BKV, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const long qStride = (long)Hq * D, kStride = (long)Hkv * D;
    const __nv_bfloat16* Qb = Q + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* dOb = dO + (long)b * T * qStride + (long)h * D;
    const __nv_bfloat16* Kb = K + (long)b * T * kStride + (long)hk * D;
    const __nv_bfloat16* Vb = V + (long)b * T * kStride + (long)hk * D;
    const float* Lb = LSE + ((long)b * Hq + h) * T;
    const float* Db = Dv + ((long)b * Hq + h) * T;
    const float LOG2E = 1.4426950408889634f, sl = scale * LOG2E;

    for (int i = tid; i < BKV * CH; i += NTHREADS) {
        int r = i / CH, c = i % CH, t = kv0 + r;
        cp_async_16(smem_u32(Ks + swz<D>(r, c)), t < T ? Kb + t * kStride + c * 8 : Kb, t < T ? 16 : 0);
        cp_async_16(smem_u32(Vs + swz<D>(r, c)), t < T ? Vb + t * kStride + c * 8 : Vb, t < T ? 16 : 0);
    }
    cp_async_commit();

    float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;

    const int nQ = (T + BQ - 1) / BQ;
    const int qStart = CAUSAL ? kv0 / BQ : 0;
    const int kvRowA = kv0 + warp * 16 + (lane >> 2), kvRowB = kvRowA + 8;
    for (int qi = qStart; qi < nQ; qi++) {
        const int q0 = qi * BQ;
        __syncthreads();  // the previous tile's Qs/dOs/dSs are consumed
        for (int i = tid; i < BQ * CH; i += NTHREADS) {
            int r = i / CH, c = i % CH, t = q0 + r;
            cp_async_16(smem_u32(Qs + swz<D>(r, c)), t < T ? Qb + t * qStride + c * 8 : Qb, t < T ? 16 : 0);
            cp_async_16(smem_u32(dOs + swz<D>(r, c)), t < T ? dOb + t * qStride + c * 8 : dOb, t < T ? 16 : 0);
        }
        cp_async_commit();
        for (int i = tid; i < BQ; i += NTHREADS) {
            int t = q0 + i;
            Ls[i] = t < T ? Lb[t] * LOG2E : INFINITY;  // rows past T get P = 0
            Ds[i] = t < T ? Db[t] : 0.f;
        }
        cp_async_wait<0>();
        __syncthreads();

        // S^T (16 kv x 64 q per warp) = K Q^T ; dP^T = V dO^T
        float st[BQ / 8][4], dpt[BQ / 8][4];
#pragma unroll
        for (int n = 0; n < BQ / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) st[n][e] = dpt[n][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t ka[4], va[4];
            ldmatrix_x4(ka[0], ka[1], ka[2], ka[3], smem_u32(Ks + swz<D>(warp * 16 + (lane & 15), 2 * kk + (lane >> 4))));
            ldmatrix_x4(va[0], va[1], va[2], va[3], smem_u32(Vs + swz<D>(warp * 16 + (lane & 15), 2 * kk + (lane >> 4))));
#pragma unroll
            for (int np = 0; np < BQ / 16; np++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * np + (lane & 7) + ((lane >> 4) << 3), ch = 2 * kk + ((lane >> 3) & 1);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(Qs + swz<D>(row, ch)));
                mma_bf16_16816(st[2 * np], ka, b0, b1);
                mma_bf16_16816(st[2 * np + 1], ka, b2, b3);
                ldmatrix_x4(b0, b1, b2, b3, smem_u32(dOs + swz<D>(row, ch)));
                mma_bf16_16816(dpt[2 * np], va, b0, b1);
                mma_bf16_16816(dpt[2 * np + 1], va, b2, b3);
            }
        }
        // P^T and dS^T in place (st -> P^T, dpt -> dS^T)
#pragma unroll
        for (int n = 0; n < BQ / 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int qc = n * 8 + (lane & 3) * 2 + (e & 1), kvr = e < 2 ? kvRowA : kvRowB, q = q0 + qc;
                bool masked = (CAUSAL && q < kvr) || kvr >= T;
                float p = masked ? 0.f : exp2f(st[n][e] * sl - Ls[qc]);
                st[n][e] = p;
                dpt[n][e] = p * (dpt[n][e] - Ds[qc]);
            }
        }
        // dV += P^T dO ; dK += dS^T Q   (k = q rows)
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++) {
            uint32_t pa[4] = {pack_bf16(st[2 * kk][0], st[2 * kk][1]), pack_bf16(st[2 * kk][2], st[2 * kk][3]),
                              pack_bf16(st[2 * kk + 1][0], st[2 * kk + 1][1]), pack_bf16(st[2 * kk + 1][2], st[2 * kk + 1][3])};
            uint32_t sa[4] = {pack_bf16(dpt[2 * kk][0], dpt[2 * kk][1]), pack_bf16(dpt[2 * kk][2], dpt[2 * kk][3]),
                              pack_bf16(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]), pack_bf16(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), ch = 2 * dp + (lane >> 4);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(dOs + swz<D>(row, ch)));
                mma_bf16_16816(dv[2 * dp], pa, b0, b1);
                mma_bf16_16816(dv[2 * dp + 1], pa, b2, b3);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(Qs + swz<D>(row, ch)));
                mma_bf16_16816(dk[2 * dp], sa, b0, b1);
                mma_bf16_16816(dk[2 * dp + 1], sa, b2, b3);
            }
        }
        // dS^T to shared memory (bf16, [kv][q], swizzled like a D=64 row)
#pragma unroll
        for (int n = 0; n < BQ / 8; n++) {
            int qc = n * 8 + (lane & 3) * 2, ra = warp * 16 + (lane >> 2), rb = ra + 8;
            *reinterpret_cast<uint32_t*>(dSs + swz<BQ>(ra, qc >> 3) + (qc & 7)) = pack_bf16(dpt[n][0], dpt[n][1]);
            *reinterpret_cast<uint32_t*>(dSs + swz<BQ>(rb, qc >> 3) + (qc & 7)) = pack_bf16(dpt[n][2], dpt[n][3]);
        }
        __syncthreads();
        // dQ (16 q rows per warp x D) = dS K = (dS^T)^T K, added to global fp32 with atomics
        float dq[D / 8][4];
#pragma unroll
        for (int i = 0; i < D / 8; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < BKV / 16; kk++) {
            uint32_t a[4];
            int kvr = 16 * kk + (lane & 7) + ((lane >> 4) << 3), qc = warp * 16 + (((lane >> 3) & 1) << 3);
            ldmatrix_x4_trans(a[0], a[1], a[2], a[3], smem_u32(dSs + swz<BQ>(kvr, qc >> 3)));
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                int row = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3), ch = 2 * dp + (lane >> 4);
                ldmatrix_x4_trans(b0, b1, b2, b3, smem_u32(Ks + swz<D>(row, ch)));
                mma_bf16_16816(dq[2 * dp], a, b0, b1);
                mma_bf16_16816(dq[2 * dp + 1], a, b2, b3);
            }
        }
        const int qa = q0 + warp * 16 + (lane >> 2), qb = qa + 8;
        float* dQb = dQ + (long)b * T * qStride + (long)h * D;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) {
            int c = dt * 8 + (lane & 3) * 2;
            if (qa < T) { atomicAdd(dQb + qa * qStride + c, dq[dt][0] * scale); atomicAdd(dQb + qa * qStride + c + 1, dq[dt][1] * scale); }
            if (qb < T) { atomicAdd(dQb + qb * qStride + c, dq[dt][2] * scale); atomicAdd(dQb + qb * qStride + c + 1, dq[dt][3] * scale); }
        }
    }
    float* dKb = dK + (long)b * T * kStride + (long)hk * D;
    float* dVb = dV + (long)b * T * kStride + (long)hk * D;
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) {
        int c = dt * 8 + (lane & 3) * 2;
        if (kvRowA < T) {
            atomicAdd(dKb + kvRowA * kStride + c, dk[dt][0] * scale); atomicAdd(dKb + kvRowA * kStride + c + 1, dk[dt][1] * scale);
            atomicAdd(dVb + kvRowA * kStride + c, dv[dt][0]); atomicAdd(dVb + kvRowA * kStride + c + 1, dv[dt][1]);
        }
        if (kvRowB < T) {
            atomicAdd(dKb + kvRowB * kStride + c, dk[dt][2] * scale); atomicAdd(dKb + kvRowB * kStride + c + 1, dk[dt][3] * scale);
            atomicAdd(dVb + kvRowB * kStride + c, dv[dt][2]); atomicAdd(dVb + kvRowB * kStride + c + 1, dv[dt][3]);
        }
    }
}
