// kernels-dev copy of decode v2 (shipped until session 3): decode_splitkv_kernel<D, G>, decode_combine_kernel<D>.
//
// Letters: B batch, L tokens in the cache, Tmax cache capacity, Hq query heads, Hkv KV heads, G = Hq / Hkv.
//   Q [B, Hq, D] bf16; Kc, Vc [B, Tmax, Hkv, D] bf16 (the prefill layout, so prefill fills it in place);
//   partO [B, Hq, S, D] fp32 (unnormalised), partML [B, Hq, S, 2] fp32 (running max in log2 units, sum);
//   O [B, Hq, D] bf16.
// Memory-bound: every K/V byte is read once per KV head (all G query heads of a group share the block that
// reads it), 16-byte loads, four keys in flight per row group. The sequence is split into S chunks so that
// batch 1 still fills the 132 SMs; a second tiny kernel merges the chunks (log-sum-exp).
#pragma once
#include "../engine/src/main/cuda/common/mma.cuh"

namespace decode {
constexpr int NWARPS = 4, NTHREADS = NWARPS * 32, UNROLL = 4;
}

template <int D, int G>
__device__ __forceinline__ void decode_splitkv_kernel(float* __restrict__ partO, float* __restrict__ partML, const __nv_bfloat16* __restrict__ Q,
                      const __nv_bfloat16* __restrict__ Kc, const __nv_bfloat16* __restrict__ Vc, int L, int Tmax,
                      int Hkv, int chunk, float scale) {
    using namespace decode;
    constexpr int LPR = D / 8;          // lanes per key row (8 bf16 each)
    constexpr int RPW = 32 / LPR;       // key rows per warp per pass
    constexpr int RPB = RPW * NWARPS;   // key rows per block per pass
    const int split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, nSplit = gridDim.x;
    const int Hq = Hkv * G;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, sub = lane % LPR, grp = lane / LPR;
    const int start = split * chunk, end = min(L, start + chunk);

    float q[G][8];
    const float sl = scale * 1.4426950408889634f;
#pragma unroll
    for (int g = 0; g < G; g++) {
        uint4 raw = *reinterpret_cast<const uint4*>(Q + ((long)b * Hq + hk * G + g) * D + sub * 8);
        const __nv_bfloat16* e = reinterpret_cast<const __nv_bfloat16*>(&raw);
#pragma unroll
        for (int i = 0; i < 8; i++) q[g][i] = __bfloat162float(e[i]) * sl;
    }
    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
    }
    const long rowStride = (long)Hkv * D;
    const __nv_bfloat16* Kb = Kc + (long)b * Tmax * rowStride + hk * D + sub * 8;
    const __nv_bfloat16* Vb = Vc + (long)b * Tmax * rowStride + hk * D + sub * 8;

    // The trip count is uniform over the block so that every lane reaches the full-warp shuffles.
    for (int base = start; base < end; base += RPB * UNROLL) {
        uint4 kr[UNROLL], vr[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            int t = base + u * RPB + warp * RPW + grp;
            kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
            if (t < end) {
                kr[u] = __ldg(reinterpret_cast<const uint4*>(Kb + t * rowStride));
                vr[u] = __ldg(reinterpret_cast<const uint4*>(Vb + t * rowStride));
            }
        }
        // Scores of the UNROLL keys first, then one online-softmax update per head for all of them: one
        // rescale of the accumulators per UNROLL keys instead of per key (G >= 4 was ALU-bound in v1).
        float sc[UNROLL][G];
        bool valid[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            valid[u] = base + u * RPB + warp * RPW + grp < end;
            const __nv_bfloat16* ke = reinterpret_cast<const __nv_bfloat16*>(&kr[u]);
            float kf[8];
#pragma unroll
            for (int i = 0; i < 8; i++) kf[i] = __bfloat162float(ke[i]);
#pragma unroll
            for (int g = 0; g < G; g++) {
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < 8; i++) s += q[g][i] * kf[i];
#pragma unroll
                for (int off = LPR / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffff, s, off);
                sc[u][g] = valid[u] ? s : -INFINITY;
            }
        }
        float vf[UNROLL][8];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            const __nv_bfloat16* ve = reinterpret_cast<const __nv_bfloat16*>(&vr[u]);
#pragma unroll
            for (int i = 0; i < 8; i++) vf[u][i] = __bfloat162float(ve[i]);
        }
#pragma unroll
        for (int g = 0; g < G; g++) {
            float mx = m[g];
#pragma unroll
            for (int u = 0; u < UNROLL; u++) mx = fmaxf(mx, sc[u][g]);
            if (mx == -INFINITY) continue;  // nothing valid yet in this row group
            float c = exp2f(m[g] - mx), p[UNROLL], ps = 0.f;
#pragma unroll
            for (int u = 0; u < UNROLL; u++) { p[u] = exp2f(sc[u][g] - mx); ps += p[u]; }
            m[g] = mx;
            l[g] = l[g] * c + ps;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                float a = acc[g][i] * c;
#pragma unroll
                for (int u = 0; u < UNROLL; u++) a += p[u] * vf[u][i];
                acc[g][i] = a;
            }
        }
    }
    // Merge the row groups of this warp (lanes differing by multiples of LPR), then the warps via smem.
#pragma unroll
    for (int off = LPR; off < 32; off <<= 1) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            float mo = __shfl_xor_sync(0xffffffff, m[g], off), lo = __shfl_xor_sync(0xffffffff, l[g], off);
            float mn = fmaxf(m[g], mo);
            float ca = mn == -INFINITY ? 0.f : exp2f(m[g] - mn), cb = mn == -INFINITY ? 0.f : exp2f(mo - mn);
            l[g] = l[g] * ca + lo * cb;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                float ao = __shfl_xor_sync(0xffffffff, acc[g][i], off);
                acc[g][i] = acc[g][i] * ca + ao * cb;
            }
            m[g] = mn;
        }
    }
    __shared__ float sM[NWARPS][G], sL[NWARPS][G];
    __shared__ float sAcc[NWARPS][G][D];
    if (grp == 0) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (sub == 0) { sM[warp][g] = m[g]; sL[warp][g] = l[g]; }
#pragma unroll
            for (int i = 0; i < 8; i++) sAcc[warp][g][sub * 8 + i] = acc[g][i];
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < G * D; idx += NTHREADS) {
        int g = idx / D, d = idx % D;
        float mx = -INFINITY;
        for (int w = 0; w < NWARPS; w++) mx = fmaxf(mx, sM[w][g]);
        float a = 0.f, ls = 0.f;
        for (int w = 0; w < NWARPS; w++) {
            float c = mx == -INFINITY ? 0.f : exp2f(sM[w][g] - mx);
            a += sAcc[w][g][d] * c;
            ls += sL[w][g] * c;
        }
        long row = ((long)b * Hq + hk * G + g) * nSplit + split;
        partO[row * D + d] = a;
        if (d == 0) { partML[row * 2] = mx; partML[row * 2 + 1] = ls; }
    }
}

// grid (Hq, B), D threads: merge the S partial results of each head.
template <int D>
__device__ __forceinline__ void decode_combine_kernel(__nv_bfloat16* __restrict__ O, const float* __restrict__ partO,
                                      const float* __restrict__ partML, int Hq, int nSplit) {
    const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
    const long row0 = ((long)b * Hq + h) * nSplit;
    float mx = -INFINITY;
    for (int s = 0; s < nSplit; s++) mx = fmaxf(mx, partML[(row0 + s) * 2]);
    float a = 0.f, ls = 0.f;
    for (int s = 0; s < nSplit; s++) {
        float ms = partML[(row0 + s) * 2];
        float c = ms == -INFINITY ? 0.f : exp2f(ms - mx);
        a += partO[(row0 + s) * D + d] * c;
        ls += partML[(row0 + s) * 2 + 1] * c;
    }
    O[((long)b * Hq + h) * D + d] = __float2bfloat16(ls > 0.f ? a / ls : 0.f);
}
