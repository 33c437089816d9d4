// defines: cca_decode_step_kernel<D> — one new token of CCA / CCGQA decode (cca.md section 3): the q-k prologue
// of a single position from the conv window, the KV-cache append of k^ and of the shifted value, and the state
// update. The prefill prologue (cca_prologue.cuh) has the layouts and the math; this is its one-token form.
//
//   z       [B, C] bf16        the new token's packed projections [W_q x_t ; W_k x_t]
//   window  [B, P, C] bf16     raw z of the previous P tokens, oldest first (zeros at sequence start); shifted
//                              in place to end with z_t. P = (k0 - 1) + (k1 - 1).
//   w0, b0, w1t, b1, theta     as the prefill prologue (w1t repacked [Hq + Hkv, k1, D(in), D(out)] fp32)
//   qOut    [B, Hq, D] bf16    the decode query
//   kCache, vCache [B, Tmax, Hkv, D] bf16, row `pos` written: k^_t, and v_t = [W_vc x_t ; W_vd x_{t-1}]
//   vc      [B, Dk/2] bf16     W_vc x_t;  vdNew [B, Dk/2] bf16  W_vd x_t;  vState [B, Dk/2] bf16  W_vd x_{t-1},
//                              replaced by vdNew (Dk = Hkv * D)
// One block = one head group (query head g < Hq, else key head g - Hq) of one sequence, D threads, one channel
// each. Every channel's window column is read and rewritten by the thread that owns it, and every value
// element by the thread of its channel in the key-head blocks, so no two blocks touch the same state.
// Stage 2 is a [D x k1*D] matrix-vector product per head in FP32 (w1t is read once per block: a few hundred KB
// per token in all, which decode's KV reads dwarf at any useful context length).
#pragma once
#include <cuda_bf16.h>

namespace cca_dec {
constexpr int MAXP = 30;  // k0, k1 <= 16, as the prefill kernels
}

template <int D>
__device__ __forceinline__ void cca_decode_step_kernel(
        __nv_bfloat16* __restrict__ qOut, __nv_bfloat16* __restrict__ kCache, __nv_bfloat16* __restrict__ vCache,
        __nv_bfloat16* __restrict__ window, __nv_bfloat16* __restrict__ vState, const __nv_bfloat16* __restrict__ z,
        const __nv_bfloat16* __restrict__ vc, const __nv_bfloat16* __restrict__ vdNew, const float* __restrict__ w0,
        const float* __restrict__ b0, const float* __restrict__ w1t, const float* __restrict__ b1,
        const float* __restrict__ theta, int pos, int Tmax, int Hq, int Hkv, int k0, int k1, int rotary,
        float ropeBase, int tempMode, float normEps, int qkMean) {
    __shared__ float zs[(cca_dec::MAXP + 1) * D];  // [P + 1, D]: z_{t-P} .. z_t of this head's channels
    __shared__ float us[16 * D];                   // [k1, D]: stage-1 outputs u_{t-k1+1} .. u_t
    __shared__ float red[D / 32];
    const int g = blockIdx.x, b = blockIdx.y, c = threadIdx.x;
    const int P = (k0 - 1) + (k1 - 1), C = (Hq + Hkv) * D, G = Hq / Hkv;
    const bool isKey = g >= Hq;
    const int ch = g * D + c;
    const __nv_bfloat16* zt = z + (long)b * C;
    __nv_bfloat16* wb = window + (long)b * P * C;

    for (int r = 0; r < P; r++) zs[r * D + c] = __bfloat162float(wb[(long)r * C + ch]);
    zs[P * D + c] = __bfloat162float(zt[ch]);
    // The window moves on by one token; only this thread reads or writes column ch.
    for (int r = 0; r < P; r++) wb[(long)r * C + ch] = __float2bfloat16(zs[(r + 1) * D + c]);
    // Stage 1 at the k1 positions stage 2 needs (tap k0-1 on the newest sample of each).
    for (int j = 0; j < k1; j++) {
        float u = b0[ch];
        for (int m = 0; m < k0; m++) u += w0[ch * k0 + m] * zs[(j + m) * D + c];
        us[j * D + c] = u;
    }
    __syncthreads();
    float s = b1[ch];
    const float* wg = w1t + (long)g * k1 * D * D;
    for (int m = 0; m < k1; m++)
#pragma unroll 8
        for (int i = 0; i < D; i++) s += wg[((long)m * D + i) * D + c] * us[m * D + i];
    if (qkMean) {
        const int j = isKey ? g - Hq : g / G;
        float k0v = __bfloat162float(zt[(Hq + j) * D + c]), qm;
        if (isKey) {
            qm = 0.f;
            for (int h = j * G; h < (j + 1) * G; h++) qm += __bfloat162float(zt[h * D + c]);
            qm /= G;
        } else {
            qm = zs[P * D + c];
        }
        s += 0.5f * (qm + k0v);
    }
    // L2 norm over the head's D channels (block reduction), temperature on keys.
    float ss = s * s;
    for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, off);
    if ((c & 31) == 0) red[c >> 5] = ss;
    __syncthreads();  // also: every thread's s is final before the RoPE partner is read from us below
    ss = 0.f;
#pragma unroll
    for (int w = 0; w < D / 32; w++) ss += red[w];
    float beta = 1.f;
    if (isKey) {
        float th = theta[g - Hq];
        beta = tempMode == 1 ? th : expf(tempMode == 2 ? fminf(fmaxf(th, 1e-7f), 2.f) : th);
    }
    const float fac = beta * sqrtf((float)D) * rsqrtf(ss + normEps);
    us[c] = s;  // the pre-norm vector, for the rotate-half partner (us row 0 was consumed before the barrier)
    __syncthreads();
    float y = s;
    const int half = rotary / 2;
    if (c < rotary) {
        const int pi = c < half ? c : c - half;
        const double freq = exp(-2.0 * pi / rotary * log((double)ropeBase));
        double ang = (double)pos * freq;
        ang -= floor(ang * 0.15915494309189535) * 6.283185307179586;  // as the prefill: reduce in double
        float sn, cs;
        sincosf((float)ang, &sn, &cs);
        y = c < half ? s * cs - us[c + half] * sn : s * cs + us[c - half] * sn;
    }
    const __nv_bfloat16 out = __float2bfloat16(y * fac);
    if (!isKey) {
        qOut[((long)b * Hq + g) * D + c] = out;
        return;
    }
    const int j = g - Hq, Dk = Hkv * D, hv = Dk / 2, e = j * D + c;
    const long row = ((long)b * Tmax + pos) * Hkv * D;
    kCache[row + e] = out;
    // v_t = [W_vc x_t ; W_vd x_{t-1}] over the Dk value channels; then the delayed state becomes W_vd x_t.
    if (e < hv) {
        vCache[row + e] = vc[(long)b * hv + e];
    } else {
        const long si = (long)b * hv + (e - hv);
        vCache[row + e] = vState[si];
        vState[si] = vdNew[si];
    }
}
