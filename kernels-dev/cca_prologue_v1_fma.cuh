// defines: cca_prologue_kernel<D> (CCA / CCGQA q-k prologue, cca.md section 2 steps 2-4, 6, 7) and
// value_shift_kernel (step 5, only for odd Hkv; even Hkv shifts inside the attention kernel's V load).
//
// Letters: B batch, T tokens, Hq latent query heads, Hkv latent key heads, G = Hq / Hkv, D head dim,
// C = (Hq + Hkv) * D packed channels (queries first), P = (k0 - 1) + (k1 - 1).
//   z    [B, T, C] bf16       packed projections [W_q x ; W_k x] (one GEMM)
//   w0   [C, k0] fp32, b0 [C] fp32       depthwise conv over time
//   w1t  [Hq + Hkv, k1, D(in), D(out)] fp32   grouped conv, repacked from PyTorch's [C, D, k1] once at
//        upload so that the D threads of a block read consecutive output channels
//   b1   [C] fp32, theta [Hkv] fp32
//   qOut [B, T, Hq, D] bf16, kOut [B, T, Hkv, D] bf16   (the attention kernel's input layout)
// One block = TT tokens x one head group (query head g < Hq, else key head g - Hq), D threads, one per
// channel. The raw z rows t0-P .. t0+TT-1 (the halo) are staged once in shared memory; both convolutions,
// the q-k mean, the L2 norm with temperature and the partial RoPE happen there, so each z element is read
// from memory about (TT + P) / TT times and the result is written once.
#pragma once
#include "../common/mma.cuh"

namespace cca {
constexpr int TT = 32;     // tokens per block: 32 accumulators per thread
constexpr int MAXP = 30;   // k0, k1 <= 16
}

template <int D>
__device__ __forceinline__ void cca_prologue_kernel(__nv_bfloat16* __restrict__ qOut, __nv_bfloat16* __restrict__ kOut,
                    const __nv_bfloat16* __restrict__ z, const float* __restrict__ w0, const float* __restrict__ b0,
                    const float* __restrict__ w1t, const float* __restrict__ b1, const float* __restrict__ theta,
                    int T, int Hq, int Hkv, int k0, int k1, int rotary, float ropeBase, int tempMode,
                    float normEps, int qkMean) {
    using namespace cca;
    extern __shared__ __align__(16) float sm[];
    const int P = (k0 - 1) + (k1 - 1);
    float* zs = sm;                       // [TT + P, D] raw z of this head, rows t0-P ..
    float* us = zs + (TT + P) * D;        // [TT + k1 - 1, D] stage-1 output, rows t0-(k1-1) ..
    float* fac = us + (TT + k1 - 1) * D;  // [TT] per-token norm * temperature factor
    const int t0 = blockIdx.x * TT, g = blockIdx.y, b = blockIdx.z, c = threadIdx.x;
    const int C = (Hq + Hkv) * D, G = Hq / Hkv;
    const bool isKey = g >= Hq;
    const int ch = g * D + c;
    const __nv_bfloat16* zb = z + (long)b * T * C;

    for (int r = 0; r < TT + P; r++) {
        int t = t0 - P + r;
        zs[r * D + c] = (t >= 0 && t < T) ? __bfloat162float(zb[(long)t * C + ch]) : 0.f;
    }
    // Stage 1 (depthwise, tap k0-1 on the current token). Rows before t=0 still get the bias b0: the
    // reference pads the raw input once by P zeros, not each conv separately (cca.md step 2).
    for (int r = 0; r < TT + k1 - 1; r++) {
        float u = b0[ch];
        for (int m = 0; m < k0; m++) u += w0[ch * k0 + m] * zs[(r + m) * D + c];
        us[r * D + c] = u;
    }
    __syncthreads();
    // Stage 2 (grouped over time and the D channels of this head): 4 input channels per shared float4.
    float acc[TT];
#pragma unroll
    for (int tt = 0; tt < TT; tt++) acc[tt] = b1[ch];
    const float* wg = w1t + (long)g * k1 * D * D;
    for (int m = 0; m < k1; m++) {
        for (int i = 0; i < D; i += 4) {
            const float* wp = wg + ((long)m * D + i) * D + c;
            float wa = wp[0], wb = wp[D], wc = wp[2 * D], wd = wp[3 * D];
#pragma unroll
            for (int tt = 0; tt < TT; tt++) {
                float4 u = *reinterpret_cast<const float4*>(us + (tt + m) * D + i);
                acc[tt] += wa * u.x + wb * u.y + wc * u.z + wd * u.w;
            }
        }
    }
    // q-k mean from the pre-conv projections of the same token (never over time).
    if (qkMean) {
        const int j = isKey ? g - Hq : g / G;
#pragma unroll
        for (int tt = 0; tt < TT; tt++) {
            int t = t0 + tt;
            if (t >= T) break;
            const __nv_bfloat16* zr = zb + (long)t * C;
            float k0v = __bfloat162float(zr[(Hq + j) * D + c]);
            float qm;
            if (isKey) {
                qm = 0.f;
                for (int h = j * G; h < (j + 1) * G; h++) qm += __bfloat162float(zr[h * D + c]);
                qm /= G;
            } else {
                qm = zs[(P + tt) * D + c];
            }
            acc[tt] += 0.5f * (qm + k0v);
        }
    }
    __syncthreads();  // us is reused below as the [TT, D] pre-norm tile
#pragma unroll
    for (int tt = 0; tt < TT; tt++) us[tt * D + c] = acc[tt];
    __syncthreads();
    float beta = 1.f;
    if (isKey) {
        float th = theta[g - Hq];
        beta = tempMode == 1 ? th : expf(tempMode == 2 ? fminf(fmaxf(th, 1e-7f), 2.f) : th);
    }
    const int warp = c >> 5, lane = c & 31, nw = D / 32;
    for (int tt = warp; tt < TT; tt += nw) {
        float ss = 0.f;
        for (int i = lane; i < D; i += 32) ss += us[tt * D + i] * us[tt * D + i];
        for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, off);
        if (lane == 0) fac[tt] = beta * sqrtf((float)D) * rsqrtf(ss + normEps);
    }
    __syncthreads();
    // Partial RoPE, rotate-half on the first `rotary` channels; the angle is reduced mod 2 pi in double
    // because t * freq reaches 6.5e4 rad at 64k tokens, where float keeps only ~4e-3 rad.
    const int half = rotary / 2;
    const bool rot = c < rotary;
    const int pi = rot ? (c < half ? c : c - half) : 0;
    const double freq = rot ? exp(-2.0 * pi / rotary * log((double)ropeBase)) : 0.0;
    __nv_bfloat16* out = isKey ? kOut + ((long)b * T * Hkv + (g - Hq)) * D : qOut + ((long)b * T * Hq + g) * D;
    const int H = isKey ? Hkv : Hq;
    for (int tt = 0; tt < TT; tt++) {
        int t = t0 + tt;
        if (t >= T) break;
        float x = us[tt * D + c], y = x;
        if (rot) {
            double ang = (double)t * freq;
            ang -= floor(ang * 0.15915494309189535) * 6.283185307179586;
            float sn, cs;
            sincosf((float)ang, &sn, &cs);
            y = c < half ? x * cs - us[tt * D + c + half] * sn : x * cs + us[tt * D + c - half] * sn;
        }
        out[(long)t * H * D + c] = __float2bfloat16(y * fac[tt]);
    }
}

// v[t, c] = y[t, c] for c < Dk/2 (current token), y[t-1, c] otherwise (zeros at t=0). y, v [B, T, Dk] bf16.
extern "C" __global__ void value_shift_kernel(__nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ y, int B, int T,
                                   int Dk) {
    long n = (long)B * T * Dk;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int cc = (int)(i % Dk);
        long t = (i / Dk) % T;
        v[i] = cc < Dk / 2 ? y[i] : (t == 0 ? __float2bfloat16(0.f) : y[i - Dk]);
    }
}
