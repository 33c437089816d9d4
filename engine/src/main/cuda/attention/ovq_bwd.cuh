// defines: ovq_bwd_kernel<D, C> (OVQ-attention's backward, ovq.md section 6; the GPU form of the CPU's OvqHeadGradient).
//
// Assignments, founders and counts are constants. Chunks run last to first through the forward's final dictionary,
// which is rewound fold by fold with the forward's Records (ovq.cuh), so chunk b's read is differentiated against the
// exact state it read. Gradients reach q, beta and the chunk's own keys and values through the read and, with
// F_STATE_GRAD, the earlier keys and values through every fold (chunk-level BPTT): the state's gradient (dMu, dVal per
// row) is carried backwards through each fold's write.
//
// Letters as in ovq.cuh. Q, K, V, dO [B, T, H, D] bf16 (q and k normalised, as the forward read them); dQ, dK, dV
// [B, T, H, D] fp32, every element written; dBeta [B*H] fp32 (the caller sums over B); mu, val, cnt, meta: the state
// the forward left (it started empty and folded every whole chunk of T), rewound in place, so consumed; rec: the
// forward's records; dMuG, dValG [B*H, NMAX, D] fp32 scratch, the state's gradient.
//
// Work split, as the forward's: row j belongs to block j % C of the (b, head)'s cluster, which alone rewinds it,
// accumulates its gradient and hands the fold's part of a chunk key's gradient to dK / dV in global memory, so rows
// need no inter-block ordering. Per chunk, each block (1) takes its rows back through the fold and rewinds them;
// (2) differentiates the read over its rows in tiles of BR with fp32 FMA: per (token t, row j) the logit's gradient
// dz = a (dO . val_j) - p (dO . o) (p the row's share of the softmax, a the weight of its value), the row's
// dVal += a dO and dKey += beta dz q, the token's partial dq in registers; (3) hands its partial dq to the cluster
// through distributed shared memory; block x % C then finishes query x and key x, adding the chunk's causal term.
// Every sum has a fixed order: the result is the same bits run after run.
#pragma once
#include "ovq.cuh"

namespace ovq {
constexpr int F_STATE_GRAD = 16;  // gradients through the folds into earlier keys and values (ovq.md 6's BPTT)

template <int D> __host__ __device__ constexpr int bwd_br() { return D == 64 ? 32 : 16; }  // rows per staged tile
template <int D> __host__ __device__ constexpr int bwd_pq() { return D + 8; }  // bf16 row stride of the chunk arrays
template <int D> __host__ __device__ constexpr int bwd_ts() { return D + 4; }  // fp32 row stride of the tile and dq
template <int D>
__host__ __device__ constexpr int bwd_union_floats() {  // the tile (rows, weights) | the partial dq exchanged
    return 2 * bwd_br<D>() * bwd_ts<D>() + 2 * bwd_br<D>() + 2 * MAX_L * (bwd_br<D>() + 1) > MAX_L * bwd_ts<D>()
               ? 2 * bwd_br<D>() * bwd_ts<D>() + 2 * bwd_br<D>() + 2 * MAX_L * (bwd_br<D>() + 1)
               : MAX_L * bwd_ts<D>();
}
// Shared memory in floats; CudaOvq.backwardSmemBytes mirrors it. Under 113 KB at D 128: two blocks per SM.
template <int D>
__host__ __device__ constexpr int bwd_smem_floats() {
    return bwd_union_floats<D>()       // tile | partial dq
           + 2 * MAX_L * bwd_pq<D>()   // q, k, v, dO of the chunk (bf16)
           + 3 * MAX_L                 // per-token max, denominator, dO . o
           + 2 * NW * MAX_L            // per-warp intra-chunk dz and p
           + NW + 1                    // block reduction, the block's d beta
           + 6 * MAX_L;                // the fold: codes, first tokens, four factors
}
template <int D> __host__ __device__ constexpr int bwd_smem_bytes() { return bwd_smem_floats<D>() * 4; }

DEVI float4 ld4(const float* p) { return *reinterpret_cast<const float4*>(p); }
DEVI void st4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
DEVI float4 scale4(float4 v, float s) { return make_float4(v.x * s, v.y * s, v.z * s, v.w * s); }
DEVI float4 bf16x4(uint2 u) {  // four consecutive bf16 (one 8-byte load) as floats
    const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
    const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
    return make_float4(a.x, a.y, b.x, b.y);
}

// a . b over the bf16 rows a and b of the chunk arrays, pairs rotated by `rot` (distinct per lane: conflict-free).
template <int D>
DEVI float row_dot(const __nv_bfloat16* a, const __nv_bfloat16* b, int rot) {
    const __nv_bfloat162* a2 = reinterpret_cast<const __nv_bfloat162*>(a);
    const __nv_bfloat162* b2 = reinterpret_cast<const __nv_bfloat162*>(b);
    float s0 = 0.f, s1 = 0.f;  // two chains: half the dependent FMA latency
#pragma unroll 8
    for (int j = 0; j < D / 2; j++) {
        const int jj = (j + rot) % (D / 2);
        const float2 u = __bfloat1622float2(a2[jj]), v = __bfloat1622float2(b2[jj]);
        s0 = fmaf(u.x, v.x, s0);
        s1 = fmaf(u.y, v.y, s1);
    }
    return s0 + s1;
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
template <int D, int C>
__device__ __forceinline__ void ovq_bwd_kernel(float* __restrict__ dQ, float* __restrict__ dK, float* __restrict__ dV,
                                               float* __restrict__ dBeta, const __nv_bfloat16* __restrict__ Q,
                                               const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V,
                                               const __nv_bfloat16* __restrict__ dO, const float* __restrict__ beta,
                                               float* __restrict__ mu, float* __restrict__ val, float* __restrict__ cnt,
                                               const int* __restrict__ meta, const Records rec,
                                               float* __restrict__ dMuG, float* __restrict__ dValG, int T, int H,
                                               int NMAX, int L, int flags, float eta) {
    static_assert(D % 32 == 0 && D <= 128, "head dim");
    constexpr int BR = bwd_br<D>(), PQ = bwd_pq<D>(), TS = bwd_ts<D>(), ZS = BR + 1;
    cg::cluster_group cluster = cg::this_cluster();
    const int rank = blockIdx.x, h = blockIdx.y, b = blockIdx.z, bh = b * H + h;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const bool newton = flags & F_NEWTON, stateOnly = flags & F_STATE_ONLY, renorm = flags & F_RENORMALIZE,
               stateGrad = flags & F_STATE_GRAD;
    const float bt = beta[h];
    const int* st = meta + 4 * bh;
    int n = st[0];
    const int folded = st[1];
    extern __shared__ __align__(16) float smem[];
    {
        unsigned dyn;
        asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(dyn));
        // the launcher's layout is not this one, or the state is not a whole forward's from an empty dictionary
        if (dyn < (unsigned)bwd_smem_bytes<D>() || L > MAX_L || L < 1 || folded != T / L || folded > rec.folds) __trap();
    }
    float* sMuT = smem;                 // [BR][TS] the tile's read keys (mu, or mu / |mu| when renormalising)
    float* sValT = sMuT + BR * TS;      // [BR][TS] its values
    float* sCn = sValT + BR * TS;       // [BR] counts
    float* sRi = sCn + BR;              // [BR] 1 / sqrt(|mu|^2 + eps)
    float* sDz = sRi + BR;              // [MAX_L][ZS] d loss / d logit per (token, row)
    float* sAw = sDz + MAX_L * ZS;      // [MAX_L][ZS] the weight of the row's value in the read
    float* sX = smem;                   // [MAX_L][TS] this block's partial dq, after the tiles
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem + bwd_union_floats<D>());  // [MAX_L][PQ]
    __nv_bfloat16* sK = sQ + MAX_L * PQ;
    __nv_bfloat16* sV = sK + MAX_L * PQ;
    __nv_bfloat16* sG = sV + MAX_L * PQ;  // dO
    float* sM = reinterpret_cast<float*>(sG + MAX_L * PQ);  // [MAX_L] the read's max logit (the forward's)
    float* sDen = sM + MAX_L;           // [MAX_L] its denominator
    float* sGo = sDen + MAX_L;          // [MAX_L] dO . o
    float* sZd = sGo + MAX_L;           // [NW][MAX_L] intra-chunk dz of a warp's token
    float* sZp = sZd + NW * MAX_L;      // [NW][MAX_L] and p
    float* sRed = sZp + NW * MAX_L;     // [NW + 1]
    int* sCode = reinterpret_cast<int*>(sRed + NW + 1);  // [MAX_L] the fold's record of each token
    int* sFirst = sCode + MAX_L;        // [MAX_L] the first token of the token's row (-1: a founder or none)
    float* sFk = reinterpret_cast<float*>(sFirst + MAX_L);  // [MAX_L] d mu' / d k of the token
    float* sFv = sFk + MAX_L;           // [MAX_L] d U' / d v
    float* sGm = sFv + MAX_L;           // [MAX_L] d mu' / d mu of the token's row (at its first token)
    float* sGv = sGm + MAX_L;           // [MAX_L] d U' / d U

    float* gMu = mu + (long)bh * NMAX * D;
    float* gVal = val + (long)bh * NMAX * D;
    float* gCnt = cnt + (long)bh * NMAX;
    float* gdMu = dMuG + (long)bh * NMAX * D;
    float* gdVal = dValG + (long)bh * NMAX * D;
    if (stateGrad) {
        const int own = n > rank ? (n - rank + C - 1) / C : 0;
        for (int e = tid; e < own * D; e += NT) {
            const long j = (long)(e / D) * C + rank;
            gdMu[j * D + e % D] = 0.f;
            gdVal[j * D + e % D] = 0.f;
        }
    }
    float dBetaAcc = 0.f;
    bool arrived = false;  // an arrival whose wait is due before sX's space is written again
#ifdef OVQ_PHASE_CLOCK  // bench/ovq_bwd_phase_lab.cu: thread 0 of (rank 0, head 0) adds cycles per phase over all chunks
    long long ph[16] = {}, phLast = clock64(), chunkStart = 0;
    const bool prof = tid == 0 && rank == 0 && h == 0 && b == 0;
#endif
    const int tq = tid >> 2, jg = tid & 3;  // the tiles' (token, row group) of this thread
    for (int cb = (T + L - 1) / L - 1; cb >= 0; cb--) {
        const int start = cb * L, len = min(L, T - start);
        const bool wasFolded = cb < folded;
        const long recBase = (long)bh * rec.folds + cb;
#ifdef OVQ_PHASE_CLOCK
        phLast = chunkStart = clock64();
#endif
        __syncthreads();  // every warp is done with the previous chunk's arrays (its finishing loops read them)
        for (int e = tid; e < len * D / 8; e += NT) {
            const int x = e / (D / 8), c = e % (D / 8);
            const long g = (((long)b * T + start + x) * H + h) * D + c * 8;
            reinterpret_cast<uint4*>(sQ + x * PQ)[c] = *reinterpret_cast<const uint4*>(Q + g);
            reinterpret_cast<uint4*>(sK + x * PQ)[c] = *reinterpret_cast<const uint4*>(K + g);
            reinterpret_cast<uint4*>(sV + x * PQ)[c] = *reinterpret_cast<const uint4*>(V + g);
            reinterpret_cast<uint4*>(sG + x * PQ)[c] = *reinterpret_cast<const uint4*>(dO + g);
        }
        if (tid < L) sCode[tid] = wasFolded ? rec.code[recBase * L + tid] : 0;
        __syncthreads();
        {  // dO . o and the read's statistics: tokens warp, warp + NW, ..., every load issued before the sums
            constexpr int PERW = MAX_L / NW;
            float part[PERW];
#pragma unroll
            for (int u = 0; u < PERW; u++) {
                const int x = warp + NW * u;
                const long row = ((long)b * T + start + x) * H + h;
                float a = 0.f;
                if (x < len)
#pragma unroll
                    for (int c = 0; c < D / 32; c++) a = fmaf(bf(sG + x * PQ, lane + 32 * c), rec.oF[row * D + lane + 32 * c], a);
                part[u] = a;
            }
            if (lane < PERW) {
                const int x = warp + NW * lane;
                const long row = ((long)b * T + start + x) * H + h;
                if (x < len) {
                    sM[x] = rec.stats[2 * row];
                    sDen[x] = rec.stats[2 * row + 1];
                }
            }
#pragma unroll
            for (int u = 0; u < PERW; u++) {
                const float a = warp_sum0(part[u]);
                if (lane == 0 && warp + NW * u < len) sGo[warp + NW * u] = a;
            }
        }

        OVQ_PHASE(0);
        // (1) The fold of this chunk backwards (dS_{b+1} -> dS_b and the chunk keys' part), then the rewind.
        if (wasFolded) {
            if (tid < L) {
                const int x = tid, c = sCode[x];
                int first = -1, m = 0;
                if (c >= 0)
                    for (int y = 0; y < L; y++)
                        if (sCode[y] == c) {
                            m++;
                            first = first < 0 ? y : first;
                        }
                sFirst[x] = first;
                float fk = 0.f, fv = 0.f, gm = 1.f, gv = 1.f;
                if (c >= 0) {
                    const float pre = rec.prev[(recBase * L + first) * prev_stride<D>() + 2 * D];
                    fk = newton ? 1.f / (pre + m) : eta / m;
                    fv = newton ? 1.f : eta / m;
                    gm = newton ? pre / (pre + m) : 1.f - eta;
                    gv = newton ? 1.f : 1.f - eta;
                }
                sFk[x] = fk; sFv[x] = fv; sGm[x] = gm; sGv[x] = gv;
            }
            __syncthreads();
            if (stateGrad) {
                // (float4 columns, unrolled: a thread's loads go out together; ~1 us of latency per pass otherwise)
#pragma unroll 4
                for (int e = tid; e < L * D / 4; e += NT) {  // an assigned key's part, from its row's gradient as it was
                    const int x = e / (D / 4), i = 4 * (e % (D / 4)), c = sCode[x];
                    if (c >= 0 && c % C == rank) {
                        const long g = (((long)b * T + start + x) * H + h) * D + i;
                        const float4 m = ld4(gdMu + (long)c * D + i), v = ld4(gdVal + (long)c * D + i);
                        st4(dK + g, scale4(m, sFk[x]));
                        st4(dV + g, scale4(v, sFv[x]));
                    }
                }
                __syncthreads();
#pragma unroll 4
                for (int e = tid; e < L * D / 4; e += NT) {  // each written row's own gradient through the write
                    const int x = e / (D / 4), i = 4 * (e % (D / 4)), c = sCode[x];
                    if (c >= 0 && sFirst[x] == x && c % C == rank) {
                        st4(gdMu + (long)c * D + i, scale4(ld4(gdMu + (long)c * D + i), sGm[x]));
                        st4(gdVal + (long)c * D + i, scale4(ld4(gdVal + (long)c * D + i), sGv[x]));
                    }
                }
                __syncthreads();
#pragma unroll 4
                for (int e = tid; e < L * D / 4; e += NT) {  // a founder's row was its token's (k, v): all of it goes there
                    const int x = e / (D / 4), i = 4 * (e % (D / 4)), c = sCode[x];
                    if (c < -1 && (-c - 2) % C == rank) {
                        const long g = (((long)b * T + start + x) * H + h) * D + i, j = -c - 2;
                        st4(dK + g, ld4(gdMu + j * D + i));
                        st4(dV + g, ld4(gdVal + j * D + i));
                        st4(gdMu + j * D + i, make_float4(0.f, 0.f, 0.f, 0.f));
                        st4(gdVal + j * D + i, make_float4(0.f, 0.f, 0.f, 0.f));
                    }
                }
            }
#pragma unroll 4
            for (int e = tid; e < L * D / 4; e += NT) {  // the rewind: each written row as it was before the write
                const int x = e / (D / 4), i = 4 * (e % (D / 4)), c = sCode[x];
                if (c >= 0 && sFirst[x] == x && c % C == rank) {
                    const float* pr = rec.prev + (recBase * L + x) * prev_stride<D>();
                    st4(gMu + (long)c * D + i, ld4(pr + i));
                    st4(gVal + (long)c * D + i, ld4(pr + D + i));
                    if (i == 0) gCnt[c] = pr[2 * D];
                }
            }
            n = rec.nOld[recBase];
            __syncthreads();
        }

        OVQ_PHASE(1);
        // (2) The read's backward over this block's rows.
        const int own = n > rank ? (n - rank + C - 1) / C : 0;
        if (arrived) cluster_wait();  // every block is done reading this block's partial dq (the tile's space)
        arrived = false;
        OVQ_PHASE(2);
        float acc[D / 4];
#pragma unroll
        for (int k = 0; k < D / 4; k++) acc[k] = 0.f;
        for (int r0 = 0; r0 < own; r0 += BR) {
            const int nr = min(BR, own - r0);
            for (int e = tid; e < BR * D / 4; e += NT) {  // rows past nr staged as zeros
                const int r = e / (D / 4), c4 = e % (D / 4);
                float4 m4 = make_float4(0.f, 0.f, 0.f, 0.f), v4 = m4;
                if (r < nr) {
                    const long j = (long)(r0 + r) * C + rank;
                    m4 = reinterpret_cast<const float4*>(gMu + j * D)[c4];
                    v4 = reinterpret_cast<const float4*>(gVal + j * D)[c4];
                }
                reinterpret_cast<float4*>(sMuT + r * TS)[c4] = m4;
                reinterpret_cast<float4*>(sValT + r * TS)[c4] = v4;
            }
            if (tid < BR) sCn[tid] = tid < nr ? gCnt[(long)(r0 + tid) * C + rank] : 0.f;
            __syncthreads();
            if (renorm) {  // the read keys mu / sqrt(|mu|^2 + eps), a warp per row
                for (int r = warp; r < BR; r += NW) {
                    float ss = 0.f;
                    for (int i = lane; i < D; i += 32) ss = fmaf(sMuT[r * TS + i], sMuT[r * TS + i], ss);
                    const float ri = rsqrtf(warp_sum0(ss) + NORM_EPS);
                    for (int i = lane; i < D; i += 32) sMuT[r * TS + i] *= ri;
                    if (lane == 0) sRi[r] = ri;
                }
                __syncthreads();
            }
            OVQ_PHASE(3);
            {  // (A) tokens tg + 16 a against rows rg + 16 u: q . key and dO . val, then dz and a. Four tokens per
                // thread, so a row's float4 feeds 16 FMAs (s16 call 11: one token per thread made this phase ~30 % of
                // the chunk, bound by shared-memory wavefronts, 4 FMAs per 16-byte row load)
                constexpr int U = BR / 16;
                const int tg = tid & 15, rg = tid >> 4;
                float qk[4][U], gv[4][U];
#pragma unroll
                for (int a = 0; a < 4; a++)
#pragma unroll
                    for (int u = 0; u < U; u++) qk[a][u] = gv[a][u] = 0.f;
#pragma unroll 2
                for (int i4 = 0; i4 < D / 4; i4++) {
                    float4 qv[4], dv[4];
#pragma unroll
                    for (int a = 0; a < 4; a++) {
                        qv[a] = bf16x4(reinterpret_cast<const uint2*>(sQ + (tg + 16 * a) * PQ)[i4]);
                        dv[a] = bf16x4(reinterpret_cast<const uint2*>(sG + (tg + 16 * a) * PQ)[i4]);
                    }
#pragma unroll
                    for (int u = 0; u < U; u++) {
                        const float4 mk = reinterpret_cast<const float4*>(sMuT + (rg + 16 * u) * TS)[i4];
                        const float4 vk = reinterpret_cast<const float4*>(sValT + (rg + 16 * u) * TS)[i4];
#pragma unroll
                        for (int a = 0; a < 4; a++) {
                            qk[a][u] = fmaf(qv[a].x, mk.x, fmaf(qv[a].y, mk.y, fmaf(qv[a].z, mk.z, fmaf(qv[a].w, mk.w, qk[a][u]))));
                            gv[a][u] = fmaf(dv[a].x, vk.x, fmaf(dv[a].y, vk.y, fmaf(dv[a].z, vk.z, fmaf(dv[a].w, vk.w, gv[a][u]))));
                        }
                    }
                }
#pragma unroll
                for (int a = 0; a < 4; a++) {
                    const int t = tg + 16 * a;
                    const float m = sM[t < len ? t : 0], den = sDen[t < len ? t : 0], go = sGo[t < len ? t : 0];
                    const float inv = den > 0.f ? 1.f / den : 0.f;
#pragma unroll
                    for (int u = 0; u < U; u++) {
                        const int j = rg + 16 * u;
                        float dz = 0.f, w8 = 0.f;
                        if (t < len && j < nr && den > 0.f) {
                            const float w = __expf(bt * qk[a][u] - m), p = w * sCn[j] * inv;
                            w8 = newton ? w * inv : p;
                            dz = w8 * gv[a][u] - p * go;
                            dBetaAcc = fmaf(dz, qk[a][u], dBetaAcc);
                        }
                        sDz[t * ZS + j] = dz;
                        sAw[t * ZS + j] = w8;
                    }
                }
            }
            __syncthreads();
            OVQ_PHASE(4);
            // (B) token tq's partial dq / beta over the tile: dims 4 (jg + 4 k) .. + 3
            for (int j = 0; j < nr; j++) {
                const float d = sDz[tq * ZS + j];
                const float4* rk = reinterpret_cast<const float4*>(sMuT + j * TS);
#pragma unroll
                for (int k = 0; k < D / 16; k++) {
                    const float4 r = rk[jg + 4 * k];
                    acc[4 * k] = fmaf(d, r.x, acc[4 * k]);
                    acc[4 * k + 1] = fmaf(d, r.y, acc[4 * k + 1]);
                    acc[4 * k + 2] = fmaf(d, r.z, acc[4 * k + 2]);
                    acc[4 * k + 3] = fmaf(d, r.w, acc[4 * k + 3]);
                }
            }
            OVQ_PHASE(5);
            if (stateGrad) {  // (C) row r's dVal += a dO and dKey += dz q over the chunk's tokens, dims PER i0 ..
                constexpr int TPR = NT / BR, PER = D / TPR;  // threads per row, contiguous dims per thread (8)
                static_assert(PER == 8, "one 16-byte load of 8 bf16 per token and array");
                const int r = tid / TPR, i0 = tid % TPR;
                float gvl[PER], gk[PER];
#pragma unroll
                for (int k = 0; k < PER; k++) gvl[k] = gk[k] = 0.f;
                for (int x = 0; x < len; x++) {
                    const float a = sAw[x * ZS + r], dz = sDz[x * ZS + r];
                    const uint4 g8 = reinterpret_cast<const uint4*>(sG + x * PQ)[i0];
                    const uint4 q8 = reinterpret_cast<const uint4*>(sQ + x * PQ)[i0];
                    const float4 ga = bf16x4(make_uint2(g8.x, g8.y)), gb = bf16x4(make_uint2(g8.z, g8.w));
                    const float4 qa = bf16x4(make_uint2(q8.x, q8.y)), qb = bf16x4(make_uint2(q8.z, q8.w));
                    const float gs[8] = {ga.x, ga.y, ga.z, ga.w, gb.x, gb.y, gb.z, gb.w};
                    const float qs[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
#pragma unroll
                    for (int k = 0; k < PER; k++) {
                        gvl[k] = fmaf(a, gs[k], gvl[k]);
                        gk[k] = fmaf(dz, qs[k], gk[k]);
                    }
                }
                float kd = 0.f;  // key . dKey / beta, over the row's TPR threads (rows past nr: zeros)
                if (renorm) {
#pragma unroll
                    for (int k = 0; k < PER; k++) kd = fmaf(sMuT[r * TS + PER * i0 + k], gk[k], kd);
#pragma unroll
                    for (int o = 1; o < TPR; o <<= 1) kd += __shfl_xor_sync(0xffffffffu, kd, o);
                }
                if (r < nr) {
                    const long j = (long)(r0 + r) * C + rank;
                    const float ri = renorm ? sRi[r] : 1.f;
                    float* pm = gdMu + j * D + PER * i0;
                    float* pv = gdVal + j * D + PER * i0;
                    float4 m[PER / 4], v[PER / 4];
#pragma unroll
                    for (int q = 0; q < PER / 4; q++) {
                        m[q] = ld4(pm + 4 * q);
                        v[q] = ld4(pv + 4 * q);
                    }
#pragma unroll
                    for (int k = 0; k < PER; k++) {
                        // renormalised: d mu += r (dKey - key (key . dKey)); else d mu += dKey
                        const float dk = renorm ? ri * (gk[k] - sMuT[r * TS + PER * i0 + k] * kd) : gk[k];
                        (&m[k / 4].x)[k % 4] += bt * dk;
                        (&v[k / 4].x)[k % 4] += gvl[k];
                    }
#pragma unroll
                    for (int q = 0; q < PER / 4; q++) {
                        st4(pm + 4 * q, m[q]);
                        st4(pv + 4 * q, v[q]);
                    }
                }
            }
            __syncthreads();  // the tile's arrays are staged again
            OVQ_PHASE(6);
        }

        // (3) The partials exchanged; block x % C finishes query x and key x.
#pragma unroll
        for (int k = 0; k < D / 16; k++)
            reinterpret_cast<float4*>(sX + tq * TS)[jg + 4 * k] =
                make_float4(bt * acc[4 * k], bt * acc[4 * k + 1], bt * acc[4 * k + 2], bt * acc[4 * k + 3]);
        cluster.sync();  // the partials and the fold's parts of dK / dV (global) visible across the cluster
        OVQ_PHASE(7);
        for (int x = rank + C * warp; x < len; x += C * NW) {
            const long row = ((long)b * T + start + x) * H + h;
            float dq[D / 32];
#pragma unroll
            for (int c = 0; c < D / 32; c++) dq[c] = 0.f;
            for (int q = 0; q < C; q++) {
                const float* px = cluster.map_shared_rank(sX, q) + x * TS;
#pragma unroll
                for (int c = 0; c < D / 32; c++) dq[c] += px[lane + 32 * c];
            }
            const float m = sM[x], den = sDen[x], go = sGo[x], inv = den > 0.f ? 1.f / den : 0.f;
            const int terms = stateOnly ? 0 : x + 1;
            float* zd = sZd + warp * MAX_L;
#pragma unroll
            for (int c = 0; c < MAX_L / 32; c++) {
                const int s = lane + 32 * c;
                if (s < terms) {
                    const float qk = row_dot<D>(sQ + x * PQ, sK + s * PQ, lane);
                    const float gs = row_dot<D>(sG + x * PQ, sV + s * PQ, lane);
                    const float dz = __expf(bt * qk - m) * inv * (gs - go);
                    dBetaAcc = fmaf(dz, qk, dBetaAcc);
                    zd[s] = dz;
                }
            }
            __syncwarp();
            for (int s = 0; s < terms; s++) {
                const float w = bt * zd[s];
#pragma unroll
                for (int c = 0; c < D / 32; c++) dq[c] = fmaf(w, bf(sK + s * PQ, lane + 32 * c), dq[c]);
            }
#pragma unroll
            for (int c = 0; c < D / 32; c++) dQ[row * D + lane + 32 * c] = dq[c];
            __syncwarp();
        }
        OVQ_PHASE(8);
        for (int s = rank + C * warp; s < len; s += C * NW) {
            const long row = ((long)b * T + start + s) * H + h;
            const bool part = wasFolded && stateGrad && sCode[s] != -1;  // the fold's part, from the row's owner (1)
            float gk[D / 32], gv[D / 32];
#pragma unroll
            for (int c = 0; c < D / 32; c++) {
                gk[c] = part ? dK[row * D + lane + 32 * c] : 0.f;
                gv[c] = part ? dV[row * D + lane + 32 * c] : 0.f;
            }
            if (!stateOnly) {
                float* zd = sZd + warp * MAX_L;
                float* zp = sZp + warp * MAX_L;
#pragma unroll
                for (int c = 0; c < MAX_L / 32; c++) {
                    const int t = lane + 32 * c;
                    if (t >= s && t < len) {
                        const float den = sDen[t], inv = den > 0.f ? 1.f / den : 0.f;
                        const float qk = row_dot<D>(sK + s * PQ, sQ + t * PQ, lane);
                        const float gs = row_dot<D>(sV + s * PQ, sG + t * PQ, lane);
                        const float p = __expf(bt * qk - sM[t]) * inv;
                        zd[t] = p * (gs - sGo[t]);
                        zp[t] = p;
                    }
                }
                __syncwarp();
                for (int t = s; t < len; t++) {
                    const float w = bt * zd[t], p = zp[t];
#pragma unroll
                    for (int c = 0; c < D / 32; c++) {
                        gk[c] = fmaf(w, bf(sQ + t * PQ, lane + 32 * c), gk[c]);
                        gv[c] = fmaf(p, bf(sG + t * PQ, lane + 32 * c), gv[c]);
                    }
                }
                __syncwarp();
            }
#pragma unroll
            for (int c = 0; c < D / 32; c++) {
                dK[row * D + lane + 32 * c] = gk[c];
                dV[row * D + lane + 32 * c] = gv[c];
            }
        }
        OVQ_PHASE(9);
        cluster_arrive();  // this block has read the others' partials
        arrived = true;
#ifdef OVQ_PHASE_CLOCK
        if (prof) { ph[15] += clock64() - chunkStart; ph[15] += 1ll << 40; }
#endif
    }
#ifdef OVQ_PHASE_CLOCK
    if (prof)
        for (int i = 0; i < 16; i++) atomicAdd(&ovq_phase_cycles[i], (unsigned long long)ph[i]);
#endif
    if (arrived) cluster_wait();
    const float sum = block_reduce(dBetaAcc, false, sRed, tid);
    if (tid == 0) sRed[NW] = sum;
    cluster.sync();
    if (rank == 0 && tid == 0) {
        float s = 0.f;
        for (int q = 0; q < C; q++) s += cluster.map_shared_rank(sRed, q)[NW];
        dBeta[bh] = s;
    }
    cluster.sync();  // no block leaves while rank 0 may still read its shared memory
}
#endif  // __CUDA_ARCH__ >= 900
}  // namespace ovq
