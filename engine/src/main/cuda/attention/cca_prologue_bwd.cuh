// defines: cca_bwd_conv0_kernel, cca_bwd_head_kernel<D>, cca_bwd_dz_kernel, value_shift_bwd_kernel:
// the backward of the CCA / CCGQA q-k prologue (cca.md section 4) and of the value shift, v1 (straightforward
// FP32 kernels; the grouped stage-2 conv's three products are GEMMs left to cuBLAS by the caller).
//
// Letters as in cca_prologue.cuh; NG = Hq + Hkv conv groups (one per head), U = T + k1 - 1 stage-1 positions
// (k1 - 1 virtual ones before t = 0, where the raw z padding makes u = b0).
//   u    [B, U, C] fp32         stage-1 output, recomputed by cca_bwd_conv0_kernel
//   s    [NG, B*T, D] fp32      stage-2 output before the q-k mean (the caller's GEMM over u and w1t)
//   dQh  [B, T, Hq, D], dKh [B, T, Hkv, D] fp32   gradients of the prologue outputs (flash_bwd's dq, dk)
//   dS   [NG, B*T, D] fp32      out: gradient of s (feeds the stage-2 GEMMs: db1, dW1, du)
//   dZd  [B, T, C] fp32         out: the q-k mean's direct path into z
//   dThetaRows [B*T, Hkv] fp32  out: each token's key-temperature gradient, one row per token (session 12: summed
//                               in a fixed order by cca_bwd_sum_rows, cca_layer_bwd.cuh, so the backward is
//                               deterministic; it was an fp32 atomic per token before)
//   du   [B, U, C] fp32         gradient of u (the caller's GEMMs), dz [B, T, C] bf16 out
#pragma once
#include "../common/mma.cuh"

namespace cca_bwd {
// Sum over the D threads of a block; red has D / 32 floats. Ends with a barrier so red can be reused.
template <int D> DEVI float block_sum(float v, float* red) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0.f;
#pragma unroll
    for (int w = 0; w < D / 32; w++) s += red[w];
    __syncthreads();
    return s;
}
}

// u[b, tau, c] = b0[c] + sum_j w0[c, j] * z[b, tau + j - P, c] (zero outside [0, T)); grid-stride.
DEVI void cca_bwd_conv0_kernel(float* u, const __nv_bfloat16* z, const float* w0, const float* b0, int B, int T,
                               int C, int k0, int k1) {
    const int P = k0 - 1 + k1 - 1, U = T + k1 - 1;
    const long n = (long)B * U * C;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        long bt = i / C;
        int tau = (int)(bt % U), b = (int)(bt / U);
        float acc = b0[c];
        for (int j = 0; j < k0; j++) {
            int t = tau + j - P;
            if (t >= 0 && t < T) acc += w0[c * k0 + j] * __bfloat162float(z[((long)b * T + t) * C + c]);
        }
        u[i] = acc;
    }
}

// One block = one token x one KV group (its G query heads and its key head), D threads = one channel each.
// Recomputes q~, k~ from s and z, then runs RoPE^-1, the temperature, the L2 norm's and the q-k mean's backward.
template <int D>
DEVI void cca_bwd_head_kernel(float* dS, float* dZd, float* dThetaRows, const float* s, const __nv_bfloat16* z,
                              const float* dQh, const float* dKh, const float* theta, int T, int Hq, int Hkv,
                              int rotary, float ropeBase, int tempMode, float normEps, int qkMean) {
    __shared__ float red[D / 32];
    __shared__ float buf[D];
    const int t = blockIdx.x, j = blockIdx.y, b = blockIdx.z, c = threadIdx.x;
    const int G = Hq / Hkv, C = (Hq + Hkv) * D;
    const long BT = (long)gridDim.z * T, row = (long)b * T + t;
    const float sd = sqrtf((float)D);
    const int half = rotary / 2;
    float cs = 1.f, sn = 0.f;  // this thread's rotation (the angle's pair index), angles in double as the forward
    if (c < rotary) {
        int i = c < half ? c : c - half;
        double ang = (double)t * pow((double)ropeBase, -2.0 * i / rotary);
        cs = (float)cos(ang);
        sn = (float)sin(ang);
    }
    // RoPE backward = rotation by -angle: da = dy1 cos + dy2 sin, db = -dy1 sin + dy2 cos.
    auto rope_inv = [&](float d) {
        buf[c] = d;
        __syncthreads();
        float r = d;
        if (c < half) r = buf[c] * cs + buf[c + half] * sn;
        else if (c < rotary) r = -buf[c - half] * sn + buf[c] * cs;
        __syncthreads();
        return r;
    };
    const __nv_bfloat16* zr = z + row * C;
    const float zk = __bfloat162float(zr[(Hq + j) * D + c]);
    float qsum = 0.f;
    for (int i = 0; i < G; i++) qsum += __bfloat162float(zr[(j * G + i) * D + c]);

    // key head
    float kt = s[((long)(Hq + j) * BT + row) * D + c] + (qkMean ? 0.5f * (qsum / G + zk) : 0.f);
    float rk = rsqrtf(cca_bwd::block_sum<D>(kt * kt, red) + normEps);
    float th = theta[j];
    float beta = tempMode == 1 ? th : expf(tempMode == 2 ? fminf(fmaxf(th, 1e-7f), 2.f) : th);
    float dbeta = tempMode == 1 ? 1.f : (tempMode == 2 && (th < 1e-7f || th > 2.f) ? 0.f : beta);
    float dkn = rope_inv(dKh[(row * Hkv + j) * D + c]);
    float dth = cca_bwd::block_sum<D>(dkn * kt, red) * sd * rk * dbeta;
    if (c == 0) dThetaRows[row * Hkv + j] = dth;
    float dy = dkn * beta;
    float dot = cca_bwd::block_sum<D>(kt * dy, red);
    float dkt = sd * rk * (dy - kt * rk * rk * dot);
    dS[((long)(Hq + j) * BT + row) * D + c] = dkt;
    float dzk = qkMean ? 0.5f * dkt : 0.f;
    const float dzq_common = qkMean ? 0.5f * dkt / G : 0.f;

    for (int i = 0; i < G; i++) {
        const int h = j * G + i;
        float qt = s[((long)h * BT + row) * D + c] + (qkMean ? 0.5f * (__bfloat162float(zr[h * D + c]) + zk) : 0.f);
        float rq = rsqrtf(cca_bwd::block_sum<D>(qt * qt, red) + normEps);
        float dq = rope_inv(dQh[(row * Hq + h) * D + c]);
        float dotq = cca_bwd::block_sum<D>(qt * dq, red);
        float dqt = sd * rq * (dq - qt * rq * rq * dotq);
        dS[((long)h * BT + row) * D + c] = dqt;
        dZd[row * C + h * D + c] = qkMean ? 0.5f * dqt + dzq_common : 0.f;
        if (qkMean) dzk += 0.5f * dqt;
    }
    dZd[row * C + (Hq + j) * D + c] = dzk;
}

// dz[b, t, c] = dZd[b, t, c] + sum_j w0[c, j] * du[b, t + P - j, c]: the transposed (anti-causal) depthwise conv.
DEVI void cca_bwd_dz_kernel(__nv_bfloat16* dz, const float* dZd, const float* du, const float* w0, int B, int T,
                            int C, int k0, int k1) {
    const int P = k0 - 1 + k1 - 1, U = T + k1 - 1;
    const long n = (long)B * T * C;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        long bt = i / C;
        int t = (int)(bt % T), b = (int)(bt / T);
        float acc = dZd[i];
        for (int j = 0; j < k0; j++) {
            int tau = t + P - j;
            if (tau >= 0 && tau < U) acc += w0[c * k0 + j] * du[((long)b * U + tau) * C + c];
        }
        dz[i] = __float2bfloat16(acc);
    }
}

// Value shift backward (cca.md step 5): v_t = [y_t(first half) ; y_{t-1}(second half)], so
// dy_t = [dv_t(first half) ; dv_{t+1}(second half)], the last token's second half gets none. dv fp32 [B,T,Dk].
DEVI void value_shift_bwd_kernel(__nv_bfloat16* dy, const float* dv, int B, int T, int Dk) {
    const long n = (long)B * T * Dk;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i % Dk);
        int t = (int)((i / Dk) % T);
        float v = c < Dk / 2 ? dv[i] : (t + 1 < T ? dv[i + Dk] : 0.f);
        dy[i] = __float2bfloat16(v);
    }
}
