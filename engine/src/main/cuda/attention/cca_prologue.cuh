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
// One block = TT tokens x one head group (query head g < Hq, else key head g - Hq), 256 threads. The raw z
// rows t0-P .. t0+TT-1 (the halo) are staged once in shared memory; both convolutions, the q-k mean, the L2
// norm with temperature and the partial RoPE happen there, so each z element is read from memory about
// (TT + P) / TT times and the result is written once.
#pragma once
#include "../common/mma.cuh"

namespace cca {
// Tokens per block: 64 = 4 row tiles of 16 x 2 column halves = 8 warps. Session 6: 32 (2 row tiles x 4 column
// quarters) where 64-token blocks would not fill the GPU twice (short T: at T = 512, CCA-4x d128 had 64 blocks for
// 132 SMs, each a latency chain run alone on its SM); CudaKernels.ccaTokensPerBlock picks.
constexpr int TT = 64, TT_SHORT = 32;
constexpr int NTHREADS = 256;
constexpr int KC = 32;        // rows of the K dimension (tap x input channel) staged per W chunk
template <int D> __host__ __device__ constexpr int us_stride() { return D + 4; }  // A-fragment loads hit 32 distinct banks
template <int D> __host__ __device__ constexpr int ws_stride() { return D + 8; }  // B-fragment loads likewise
}

// 8 bf16 <-> 8 floats through one 16-byte access.
DEVI void bf16x8_to_float(const uint4& v, float* f) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 x = __bfloat1622float2(h[i]);
        f[2 * i] = x.x;
        f[2 * i + 1] = x.y;
    }
}

DEVI void load_f8(const float* p, float* f) {
    float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}

DEVI void store_f8(float* p, const float* f) {
    reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}

DEVI uint32_t to_tf32(float x) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
    return r;
}

// D (16x8 fp32) += A (16x8 tf32, row) * B (8x8 tf32, col).
DEVI void mma_tf32_1688(float* d, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Stage 2 is a GEMM per head: s[t, o] = sum over (m, i) of u[t + m, i] * W1[o, i, m], K = k1 * D. v1 ran it as
// FMAs (~0.5 ms of a 1.8 ms CCA layer at 16k); here it runs on the tensor cores in TF32 (10-bit mantissa:
// ~5e-4 relative error, under the bf16 rounding of the output), W staged through shared memory in KC-row chunks.
template <int D, int TT = cca::TT>
__device__ __forceinline__ void cca_prologue_kernel(
    __nv_bfloat16* __restrict__ qOut, __nv_bfloat16* __restrict__ kOut, const __nv_bfloat16* __restrict__ z,
    const float* __restrict__ w0, const float* __restrict__ b0, const float* __restrict__ w1t,
    const float* __restrict__ b1, const float* __restrict__ theta, int T, int Hq, int Hkv, int k0, int k1,
    int rotary, float ropeBase, int tempMode, float normEps, int qkMean) {
    using cca::NTHREADS;
    using cca::KC;
    constexpr int US = cca::us_stride<D>(), WS = cca::ws_stride<D>(), NT = D / 8;
    constexpr int RT = TT / 16, CG = NTHREADS / 32 / RT;  // warps: RT row tiles x CG column groups
    static_assert(RT * 16 == TT && RT * CG * 32 == NTHREADS && NT % CG == 0, "warp layout");
    extern __shared__ __align__(16) float sm[];
    const int P = (k0 - 1) + (k1 - 1);
    // z is bf16 in memory, so staging it as bf16 is exact and halves the largest buffer (v2 kept it in fp32:
    // 86 KB per block, 2 blocks per SM; now 69 KB, 3 blocks of 8 warps).
    __nv_bfloat16* zs = reinterpret_cast<__nv_bfloat16*>(sm);  // [TT + P, D] raw z of this head, rows t0-P ..
    float* us = sm + (TT + P) * D / 2;       // [TT + k1 - 1, US] stage-1 output, rows t0-(k1-1) ..; later [TT, US] pre-norm
    float* ws = us + (TT + k1 - 1) * US;     // [KC, WS] a chunk of this head's W1t
    float* fac = ws + KC * WS;               // [TT] per-token norm * temperature factor
    double* freq = reinterpret_cast<double*>(fac + TT);  // [D / 2] RoPE angular frequencies (offsets stay even)
    const int t0 = blockIdx.x * TT, g = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
    const int warp = tid >> 5, lane = tid & 31, qd = lane >> 2, qt = lane & 3;
    const int C = (Hq + Hkv) * D, G = Hq / Hkv;
    const bool isKey = g >= Hq;
    const __nv_bfloat16* zb = z + (long)b * T * C;

    // Every elementwise phase works on 8 consecutive channels per thread: 16-byte loads and stores (v3 issued
    // 2-byte ones and was latency-bound on them, run 6 profile).
    constexpr int V = D / 8;
    for (int idx = tid; idx < (TT + P) * V; idx += NTHREADS) {
        int r = idx / V, c0 = (idx % V) * 8, t = t0 - P + r;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (t >= 0 && t < T) val = *reinterpret_cast<const uint4*>(zb + (long)t * C + g * D + c0);
        *reinterpret_cast<uint4*>(zs + r * D + c0) = val;
    }
    __syncthreads();
    // Stage 1 (depthwise, tap k0-1 on the current token). Rows before t=0 still get the bias b0: the
    // reference pads the raw input once by P zeros, not each conv separately (cca.md step 2).
    for (int idx = tid; idx < (TT + k1 - 1) * V; idx += NTHREADS) {
        int r = idx / V, c0 = (idx % V) * 8, ch0 = g * D + c0;
        float u[8], zf[8];
        load_f8(b0 + ch0, u);
        for (int m = 0; m < k0; m++) {
            bf16x8_to_float(*reinterpret_cast<const uint4*>(zs + (r + m) * D + c0), zf);
#pragma unroll
            for (int e = 0; e < 8; e++) u[e] += w0[(ch0 + e) * k0 + m] * zf[e];
        }
        store_f8(us + r * US + c0, u);
    }
    constexpr int NH = NT / CG;  // n-tiles per warp: each warp owns 1 / CG of the D output columns
    float acc[NH][4];
#pragma unroll
    for (int n = 0; n < NH; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
    const float* wg = w1t + (long)g * k1 * D * D;  // [k1 * D (K), D (N)]
    const int row0 = (warp % RT) * 16 + qd, n0 = (warp / RT) * NH;
    // A W chunk is WPT float4 per thread. Session 6 (docs/perf-log.md, "the CCA prologue at short lengths"): the
    // copy loop issued one global load, waited for it at its shared store, then issued the next, so a block waited
    // k1 * D / KC * WPT dependent global round trips (32 at D = 128: ~30% of the stall samples at T = 512, where
    // 64 blocks of one wave each run the whole kernel alone on an SM). Now each chunk's loads are issued together,
    // one chunk ahead: they fly while the previous chunk is multiplied.
    constexpr int WPT = KC * D / (NTHREADS * 4);
    static_assert(WPT * NTHREADS * 4 == KC * D, "a W chunk divides over the block");
    float4 wnext[WPT];
    auto fetch = [&](int kc) {
#pragma unroll
        for (int j = 0; j < WPT; j++) {
            const int idx = (tid + j * NTHREADS) * 4;
            wnext[j] = __ldg(reinterpret_cast<const float4*>(wg + (long)(kc + idx / D) * D + idx % D));
        }
    };
    fetch(0);
    for (int kc = 0; kc < k1 * D; kc += KC) {
        __syncthreads();  // stage 1 done / the previous chunk consumed
#pragma unroll
        for (int j = 0; j < WPT; j++) {
            const int idx = (tid + j * NTHREADS) * 4;
            *reinterpret_cast<float4*>(ws + (idx / D) * WS + idx % D) = wnext[j];
        }
        __syncthreads();
        if (kc + KC < k1 * D) fetch(kc + KC);
        const int m = kc / D, i0 = kc % D;  // KC divides D: a chunk never straddles two taps
#pragma unroll
        for (int ks = 0; ks < KC; ks += 8) {
            const float* ua = us + (row0 + m) * US + i0 + ks + qt;
            uint32_t a0 = to_tf32(ua[0]), a1 = to_tf32(ua[8 * US]), a2 = to_tf32(ua[4]), a3 = to_tf32(ua[8 * US + 4]);
#pragma unroll
            for (int n = 0; n < NH; n++) {
                const float* wb = ws + (ks + qt) * WS + (n0 + n) * 8 + qd;
                mma_tf32_1688(acc[n], a0, a1, a2, a3, to_tf32(wb[0]), to_tf32(wb[4 * WS]));
            }
        }
    }
    __syncthreads();  // every warp is done reading us as the A operand
#pragma unroll
    for (int n = 0; n < NH; n++) {
        int c = (n0 + n) * 8 + 2 * qt;
        *reinterpret_cast<float2*>(us + row0 * US + c) = make_float2(acc[n][0], acc[n][1]);
        *reinterpret_cast<float2*>(us + (row0 + 8) * US + c) = make_float2(acc[n][2], acc[n][3]);
    }
    __syncthreads();
    // Bias and the q-k mean from the pre-conv projections of the same token (never over time).
    const int j = isKey ? g - Hq : g / G;
    for (int idx = tid; idx < TT * V; idx += NTHREADS) {
        int tt = idx / V, c0 = (idx % V) * 8, t = t0 + tt;
        float v[8], bb[8];
        load_f8(us + tt * US + c0, v);
        load_f8(b1 + g * D + c0, bb);
#pragma unroll
        for (int e = 0; e < 8; e++) v[e] += bb[e];
        if (qkMean && t < T) {
            const __nv_bfloat16* zr = zb + (long)t * C;
            float qm[8], kz[8], tmp[8];
            if (isKey) {
#pragma unroll
                for (int e = 0; e < 8; e++) qm[e] = 0.f;
                for (int h = j * G; h < (j + 1) * G; h++) {
                    bf16x8_to_float(*reinterpret_cast<const uint4*>(zr + h * D + c0), tmp);
#pragma unroll
                    for (int e = 0; e < 8; e++) qm[e] += tmp[e];
                }
#pragma unroll
                for (int e = 0; e < 8; e++) qm[e] /= G;
                bf16x8_to_float(*reinterpret_cast<const uint4*>(zs + (P + tt) * D + c0), kz);  // own raw k0
            } else {
                bf16x8_to_float(*reinterpret_cast<const uint4*>(zs + (P + tt) * D + c0), qm);  // own raw q0
                bf16x8_to_float(*reinterpret_cast<const uint4*>(zr + (Hq + j) * D + c0), kz);
            }
#pragma unroll
            for (int e = 0; e < 8; e++) v[e] += 0.5f * (qm[e] + kz[e]);
        }
        store_f8(us + tt * US + c0, v);
    }
    const int half = rotary / 2;
    for (int i = tid; i < half; i += NTHREADS) freq[i] = exp(-2.0 * i / rotary * log((double)ropeBase));
    __syncthreads();
    float beta = 1.f;
    if (isKey) {
        float th = theta[g - Hq];
        beta = tempMode == 1 ? th : expf(tempMode == 2 ? fminf(fmaxf(th, 1e-7f), 2.f) : th);
    }
    for (int tt = warp; tt < TT; tt += NTHREADS / 32) {
        float ss = 0.f;
        for (int i = lane; i < D; i += 32) ss += us[tt * US + i] * us[tt * US + i];
        for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, off);
        if (lane == 0) fac[tt] = beta * sqrtf((float)D) * rsqrtf(ss + normEps);
    }
    __syncthreads();
    // Partial RoPE, rotate-half on the first `rotary` channels; the angle is reduced mod 2 pi in double
    // because t * freq reaches 6.5e4 rad at 64k tokens, where float keeps only ~4e-3 rad.
    const int H = isKey ? Hkv : Hq;
    __nv_bfloat16* out = isKey ? kOut + ((long)b * T * Hkv + (g - Hq)) * D : qOut + ((long)b * T * Hq + g) * D;
    for (int idx = tid; idx < TT * V; idx += NTHREADS) {
        int tt = idx / V, c0 = (idx % V) * 8, t = t0 + tt;
        if (t >= T) break;
        float x[8], y[8];
        load_f8(us + tt * US + c0, x);
#pragma unroll
        for (int e = 0; e < 8; e++) {
            int c = c0 + e;
            y[e] = x[e];
            if (c < rotary) {
                int pi = c < half ? c : c - half;
                double ang = (double)t * freq[pi];
                ang -= floor(ang * 0.15915494309189535) * 6.283185307179586;
                float sn, cs;
                sincosf((float)ang, &sn, &cs);
                y[e] = c < half ? x[e] * cs - us[tt * US + c + half] * sn : x[e] * cs + us[tt * US + c - half] * sn;
            }
        }
        const float f = fac[tt];
        uint4 o;
        uint32_t* ow = reinterpret_cast<uint32_t*>(&o);
#pragma unroll
        for (int i = 0; i < 4; i++) ow[i] = pack_bf16(y[2 * i] * f, y[2 * i + 1] * f);
        *reinterpret_cast<uint4*>(out + (long)t * H * D + c0) = o;
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
