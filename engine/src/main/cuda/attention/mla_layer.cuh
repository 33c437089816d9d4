// defines: mla_kv_latent_kernel, mla_expand_kv_kernel, mla_absorb_q_kernel, mla_unabsorb_kernel, mla_copy_cols_kernel — the small
// steps of the MLA layer (mla.md sections 2-3) between the cuBLAS GEMMs and the attention kernels of
// mla_fwd.cuh / mla_decode.cuh; and the layer backward's two steps (mla.md section 4): mla_kv_up_bwd_kernel (the
// backward of the K/V expansion's per-head part) and mla_kv_latent_bwd_kernel (the latent RMSNorm's backward, the
// rope key's sum over heads and its inverse rotation). The engine's launchers: CudaMla.java; the layer:
// CudaMlaLayer.java.
//
// Letters: B batch, T new tokens per sequence, Tmax cache capacity, H heads, DN / DR / DV = qk_nope / qk_rope / v
// head dims (DQK = DN + DR), R = r_kv latent width. Every width is a multiple of 8 (16-byte row chunks).
// Layouts (row-major, bf16 unless said):
//   A      [B, T, R + DR]      kv_a_proj_with_mqa output (pre-norm latent | un-rotated rope key)
//   Cache  [B, Tmax, R + DR]   one row [c_t ; k^R_t] per token (mla_decode.cuh's layout), token t at pos0 + t
//   C      [B, T, R]           the normalised latent again, contiguous: the A operand of the kv_b GEMM
//   KvUp   [B, T, H, DN + DV]  kv_b_proj output: per head [k^C_h ; v_h]
//   K      [B, T, H, DQK], V [B, T, H, DV]: mla_fwd's operands, K_h = [k^C_h ; k^R] (the rope key shared by heads)
//   Q      [B, H, DQK]          one token's queries, rope slice already rotated
//   Wkvb   [H, DN + DV, R]      kv_b_proj.weight: per head W_UK,h [DN, R] then W_UV,h [DV, R]
//   Qa     [B, H, R + DR]       absorbed queries [W_UK,h^T q^C_h ; q^R_h] (fp32 sums, rounded once)
//   OLat   [B, H, R] fp32       sum_s p_s c_s (mla_decode_combine's output);  Att [B, H, DV] = W_UV,h OLat_h
// RoPE is rotate-half on the DR slice at angle (pos0 + t) * base^(-2i / DR), the angles in double as
// training/rope.cuh and backend/cpu/Rope.java do.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>
#include "../training/rmsnorm.cuh"  // rmsnorm::dw_begin / dw_end (and vec.cuh)

namespace mla_layer {
constexpr int LATENT_THREADS = 128, EXPAND_THREADS = 128;
constexpr int ABSORB_COLS = 128, ABSORB_BATCH = 8, ABSORB_MAX_DN = 256;  // Q^C rows of ABSORB_BATCH tokens in smem
constexpr int UNABSORB_WARPS = 8, UNABSORB_BATCH = 8;
constexpr int MAX_HALF_ROPE = 256;
constexpr int UP_BWD_THREADS = 256, UP_BWD_MAX_BLOCKS = 16384;
constexpr int LATENT_BWD_WARPS = 4, LATENT_BWD_THREADS = LATENT_BWD_WARPS * 32, LATENT_BWD_ROWS = 32;
}

// dst [rows, dstW] = src [rows, srcW] with columns past srcW zero (dstW > srcW: the prefill core's operands padded to
// an attention kernel's head dim) or dropped (dstW < srcW: its results cut back); 16-byte chunks, so both widths are
// multiples of 16 / sizeof(T). Grid-stride over the chunks, any 1-D grid of 256 threads.
template <typename T>
__device__ __forceinline__ void mla_copy_cols_kernel(T* __restrict__ dst, int dstW, const T* __restrict__ src, int srcW,
                                                     long rows) {
    constexpr int VEC = 16 / sizeof(T);
    const int chunks = dstW / VEC;
    const long total = rows * chunks;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        const long r = i / chunks;
        const int c = (int)(i % chunks) * VEC;
        const uint4 v = c < srcW ? *reinterpret_cast<const uint4*>(src + r * srcW + c) : make_uint4(0u, 0u, 0u, 0u);
        *reinterpret_cast<uint4*>(dst + r * dstW + c) = v;
    }
}

// grid B*T, block LATENT_THREADS: c = w * a[:R] * (mean(a[:R]^2) + eps)^-1/2 in fp32, rounded once; k^R = RoPE(a[R:]).
// Writes the cache row at position pos0 + t and, when C is not null, c to C.
__device__ __forceinline__ void mla_kv_latent_kernel(__nv_bfloat16* __restrict__ C, __nv_bfloat16* __restrict__ Cache,
                                                     const __nv_bfloat16* __restrict__ A, const float* __restrict__ w,
                                                     int T, int Tmax, int pos0, int R, int DR, float eps, float base) {
    using namespace mla_layer;
    __shared__ float warpSums[LATENT_THREADS / 32];
    __shared__ float cosv[MAX_HALF_ROPE], sinv[MAX_HALF_ROPE];
    const long row = blockIdx.x;  // b * T + t
    const int b = (int)(row / T), t = (int)(row % T), tid = threadIdx.x;
    const int DK = R + DR, half = DR / 2;
    const __nv_bfloat16* a = A + row * DK;
    __nv_bfloat16* out = Cache + ((long)b * Tmax + pos0 + t) * DK;
    float ss = 0.f;
    for (int i = tid; i < R; i += LATENT_THREADS) {
        const float v = __bfloat162float(a[i]);
        ss += v * v;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
    if ((tid & 31) == 0) warpSums[tid >> 5] = ss;
    const double pos = (double)(pos0 + t);
    for (int i = tid; i < half; i += LATENT_THREADS) {
        double s, c;
        sincos(pos * pow((double)base, -2.0 * i / DR), &s, &c);
        cosv[i] = (float)c;
        sinv[i] = (float)s;
    }
    __syncthreads();
    float total = 0.f;
#pragma unroll
    for (int k = 0; k < LATENT_THREADS / 32; k++) total += warpSums[k];
    const float rs = 1.f / sqrtf(total / (float)R + eps);
    for (int i = tid; i < R; i += LATENT_THREADS) {
        const __nv_bfloat16 y = __float2bfloat16_rn(__bfloat162float(a[i]) * rs * w[i]);
        out[i] = y;
        if (C != nullptr) C[row * R + i] = y;
    }
    for (int i = tid; i < half; i += LATENT_THREADS) {
        const float x0 = __bfloat162float(a[R + i]), x1 = __bfloat162float(a[R + i + half]);
        out[R + i] = __float2bfloat16_rn(x0 * cosv[i] - x1 * sinv[i]);
        out[R + i + half] = __float2bfloat16_rn(x1 * cosv[i] + x0 * sinv[i]);
    }
}

// grid B*T, block EXPAND_THREADS: K, V of one token for every head from KvUp and the cache row (positions 0..T-1:
// the prefill starts an empty cache). 16-byte copies.
__device__ __forceinline__ void mla_expand_kv_kernel(__nv_bfloat16* __restrict__ K, __nv_bfloat16* __restrict__ V,
                                                     const __nv_bfloat16* __restrict__ KvUp,
                                                     const __nv_bfloat16* __restrict__ Cache, int T, int Tmax, int H,
                                                     int DN, int DR, int DV, int R) {
    const long row = blockIdx.x;
    const int b = (int)(row / T), t = (int)(row % T);
    const int DQK = DN + DR, UP = DN + DV;
    const int cN = DN / 8, cR = DR / 8, cV = DV / 8, perHead = cN + cR + cV;
    const uint4* up = reinterpret_cast<const uint4*>(KvUp + row * H * UP);
    const uint4* kr = reinterpret_cast<const uint4*>(Cache + ((long)b * Tmax + t) * (R + DR) + R);
    uint4* k = reinterpret_cast<uint4*>(K + row * H * DQK);
    uint4* v = reinterpret_cast<uint4*>(V + row * H * DV);
    for (int i = threadIdx.x; i < H * perHead; i += blockDim.x) {
        const int h = i / perHead, c = i - h * perHead;
        if (c < cN) k[h * (cN + cR) + c] = up[h * (cN + cV) + c];
        else if (c < cN + cR) k[h * (cN + cR) + c] = kr[c - cN];
        else v[h * cV + (c - cN - cR)] = up[h * (cN + cV) + cN + (c - cN - cR)];
    }
}

// grid (ceil(R / ABSORB_COLS), H, ceil(B / ABSORB_BATCH)), block ABSORB_COLS: thread j of head h computes
// Qa[b, h, j] = sum_i Q[b, h, i] W_UK,h[i, j] for up to ABSORB_BATCH tokens b (W read once for them, coalesced
// along j); block x = 0 also copies the rope queries. DN <= ABSORB_MAX_DN.
__device__ __forceinline__ void mla_absorb_q_kernel(__nv_bfloat16* __restrict__ Qa, const __nv_bfloat16* __restrict__ Q,
                                                    const __nv_bfloat16* __restrict__ Wkvb, int B, int H, int DN,
                                                    int DR, int DV, int R) {
    using namespace mla_layer;
    __shared__ float qc[ABSORB_BATCH][ABSORB_MAX_DN];
    const int h = blockIdx.y, b0 = blockIdx.z * ABSORB_BATCH, nb = min(ABSORB_BATCH, B - b0);
    const int DQK = DN + DR, DK = R + DR;
    for (int i = threadIdx.x; i < ABSORB_BATCH * DN; i += blockDim.x) {
        const int bb = i / DN, d = i - bb * DN;
        qc[bb][d] = bb < nb ? __bfloat162float(Q[((long)(b0 + bb) * H + h) * DQK + d]) : 0.f;
    }
    __syncthreads();
    const int j = blockIdx.x * ABSORB_COLS + threadIdx.x;
    if (j < R) {
        float acc[ABSORB_BATCH];
#pragma unroll
        for (int bb = 0; bb < ABSORB_BATCH; bb++) acc[bb] = 0.f;
        const __nv_bfloat16* wk = Wkvb + (long)h * (DN + DV) * R + j;  // W_UK,h[:, j]
        for (int i = 0; i < DN; i++) {
            const float wv = __bfloat162float(wk[(long)i * R]);
#pragma unroll
            for (int bb = 0; bb < ABSORB_BATCH; bb++) acc[bb] += qc[bb][i] * wv;
        }
#pragma unroll
        for (int bb = 0; bb < ABSORB_BATCH; bb++)
            if (bb < nb) Qa[((long)(b0 + bb) * H + h) * DK + j] = __float2bfloat16_rn(acc[bb]);
    }
    if (blockIdx.x == 0)
        for (int i = threadIdx.x; i < nb * DR; i += blockDim.x) {
            const int bb = i / DR, d = i - bb * DR;
            Qa[((long)(b0 + bb) * H + h) * DK + R + d] = Q[((long)(b0 + bb) * H + h) * DQK + DN + d];
        }
}

// grid (ceil(DV / UNABSORB_WARPS), H, ceil(B / UNABSORB_BATCH)), block 32 x UNABSORB_WARPS: warp w owns output
// column i = blockIdx.x * UNABSORB_WARPS + w of head h and computes Att[b, h, i] = W_UV,h[i, :] . OLat[b, h, :]
// for up to UNABSORB_BATCH tokens (the weight row read once for them; lanes stride over R by 8).
__device__ __forceinline__ void mla_unabsorb_kernel(__nv_bfloat16* __restrict__ Att, const float* __restrict__ OLat,
                                                    const __nv_bfloat16* __restrict__ Wkvb, int B, int H, int DN,
                                                    int DV, int R) {
    using namespace mla_layer;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int h = blockIdx.y, b0 = blockIdx.z * UNABSORB_BATCH, nb = min(UNABSORB_BATCH, B - b0);
    const int i = blockIdx.x * UNABSORB_WARPS + warp;
    if (i >= DV) return;
    const __nv_bfloat16* wr = Wkvb + ((long)h * (DN + DV) + DN + i) * R;
    float acc[UNABSORB_BATCH];
#pragma unroll
    for (int bb = 0; bb < UNABSORB_BATCH; bb++) acc[bb] = 0.f;
    for (int j = lane * 8; j < R; j += 256) {
        float wv[8];
        {
            const uint4 raw = *reinterpret_cast<const uint4*>(wr + j);
            const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float2 f = __bfloat1622float2(p[e]);
                wv[2 * e] = f.x;
                wv[2 * e + 1] = f.y;
            }
        }
#pragma unroll
        for (int bb = 0; bb < UNABSORB_BATCH; bb++) {
            if (bb < nb) {
                const float* o = OLat + ((long)(b0 + bb) * H + h) * R + j;
                const float4 x0 = reinterpret_cast<const float4*>(o)[0], x1 = reinterpret_cast<const float4*>(o)[1];
                acc[bb] += wv[0] * x0.x + wv[1] * x0.y + wv[2] * x0.z + wv[3] * x0.w +
                           wv[4] * x1.x + wv[5] * x1.y + wv[6] * x1.z + wv[7] * x1.w;
            }
        }
    }
#pragma unroll
    for (int bb = 0; bb < UNABSORB_BATCH; bb++) {
        float s = acc[bb];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffff, s, o);
        if (lane == 0 && bb < nb) Att[((long)(b0 + bb) * H + h) * DV + i] = __float2bfloat16_rn(s);
    }
}

// ---------------------------------------------------------------- backward (mla.md section 4)
// Layouts of the backward (fp32 from the core backward mla_bwd, bf16 into the GEMMs):
//   dK [N, H, DQK] fp32, dV [N, H, DV] fp32   the core's key / value gradients, N = B*T rows
//   dKvUp [N, H, DN + DV] bf16               the kv_b GEMM's output gradient: per head [dK_h[:DN] ; dV_h]
//   dC [N, R] bf16                           the latent's gradient (dKvUp W_kvb)
//   dA [N, R + DR] bf16                      kv_a's output gradient: [RMSNorm backward of dC ; inverse-RoPE(sum_h dK_h[DN:])]

// grid-stride over N*H*(DN+DV)/8 chunks of 8, block UP_BWD_THREADS: dKvUp from dK's nope part and dV, rounded once.
__device__ __forceinline__ void mla_kv_up_bwd_kernel(__nv_bfloat16* __restrict__ dKvUp, const float* __restrict__ dK,
                                                     const float* __restrict__ dV, long NH, int DN, int DR, int DV) {
    using namespace train;
    const int cN = DN / 8, cV = DV / 8, per = cN + cV;
    const long total = NH * per;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        const long rh = i / per;
        const int c = (int)(i - rh * per);
        float v[8];
        if (c < cN) load8(dK + rh * (DN + DR) + c * 8, v);
        else load8(dV + rh * DV + (c - cN) * 8, v);
        store8(dKvUp + rh * (DN + DV) + c * 8, v);
    }
}

// grid ceil(N / LATENT_BWD_ROWS), block LATENT_BWD_THREADS, dynamic shared memory LATENT_BWD_WARPS * R floats; one
// warp per row (rows b*T + t at position pos0 + t). As training/rmsnorm.cuh's backward on the strided pre-norm latent
// A[:, :R] (rstd recomputed from A as the forward's mla_kv_latent does): dA[:R] = rs (dC w - xhat mean(dC w xhat)),
// xhat = A[:R] rs; the gain's gradient per block into dwPartial [blocks, R] (warps added in order: deterministic;
// training's rmsnorm_dw_reduce sums the blocks). Then dA[R:] = RoPE^-1(sum_h dK[row, h, DN:]), angles in double.
__device__ __forceinline__ void mla_kv_latent_bwd_kernel(__nv_bfloat16* __restrict__ dA, float* __restrict__ dwPartial,
                                                         const __nv_bfloat16* __restrict__ dC,
                                                         const __nv_bfloat16* __restrict__ A, const float* __restrict__ w,
                                                         const float* __restrict__ dK, int N, int T, int pos0, int H, int DN,
                                                         int R, int DR, float eps, float base) {
    using namespace train;
    extern __shared__ float dwAcc[];  // [LATENT_BWD_WARPS][R]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int DK = R + DR, DQK = DN + DR, half = DR / 2;
    float* mine = rmsnorm::dw_begin(dwAcc, R);
    const int rowEnd = min(N, (blockIdx.x + 1) * mla_layer::LATENT_BWD_ROWS);
    for (int row = blockIdx.x * mla_layer::LATENT_BWD_ROWS + warp; row < rowEnd; row += mla_layer::LATENT_BWD_WARPS) {
        const __nv_bfloat16* a = A + (long)row * DK;
        const __nv_bfloat16* dc = dC + (long)row * R;
        float ss = 0.f, dot = 0.f;
        for (int c = lane * 8; c < R; c += 256) {
            float d[8], v[8], g[8];
            load8(dc + c, d);
            load8(a + c, v);
            load8(w + c, g);
#pragma unroll
            for (int i = 0; i < 8; i++) {
                ss += v[i] * v[i];
                dot += d[i] * g[i] * v[i];
            }
        }
        const float rs = 1.f / sqrtf(warp_sum(ss) / (float)R + eps);
        const float mean = warp_sum(dot) * rs * rs / (float)R;  // mean(dC w xhat) / rs
        __nv_bfloat16* da = dA + (long)row * DK;
        for (int c = lane * 8; c < R; c += 256) {
            float d[8], v[8], g[8], o[8];
            load8(dc + c, d);
            load8(a + c, v);
            load8(w + c, g);
#pragma unroll
            for (int i = 0; i < 8; i++) {
                o[i] = rs * (d[i] * g[i] - v[i] * mean);
                mine[c + i] += d[i] * v[i] * rs;
            }
            store8(da + c, o);
        }
        const double pos = (double)(pos0 + row % T);
        const float* dk = dK + (long)row * H * DQK + DN;
        for (int i = lane; i < half; i += 32) {
            float g0 = 0.f, g1 = 0.f;
            for (int h = 0; h < H; h++) {
                g0 += dk[(long)h * DQK + i];
                g1 += dk[(long)h * DQK + i + half];
            }
            double sn, cs;
            sincos(pos * pow((double)base, -2.0 * i / DR), &sn, &cs);
            const float c = (float)cs, s = (float)sn;
            // forward: y0 = x0 c - x1 s, y1 = x1 c + x0 s; its transpose
            da[R + i] = __float2bfloat16_rn(g0 * c + g1 * s);
            da[R + i + half] = __float2bfloat16_rn(g1 * c - g0 * s);
        }
    }
    rmsnorm::dw_end<mla_layer::LATENT_BWD_WARPS>(dwAcc, dwPartial, R);
}
