// defines: mla_decode_ring_kernel<R, DR, NST> — absorbed MLA decode (mla.md section 3), the split kernel rebuilt
// for batch 1 (session 10). Same layouts, split rule and partials as mla_decode_splitkv_kernel (attention/
// mla_decode.cuh), so mla_decode_combine_kernel merges its partials unchanged.
//
// Why another kernel: the session-9 trace (docs/perf-log.md "Session 9", call 6) showed the split kernel spends
// ~2.3 us per 64-row tile, mostly in shared-memory traffic (every warp re-reads all of Q for each 8 keys, and every
// warp reads the whole S and runs the same softmax), and its two whole-tile buffers leave the DRAM idle while the
// first tile is computed and keep the last tile's 2.3 us after the stream. Here:
//   - the cache streams through an NST-deep ring of BN = 32-row tiles (NST - 1 tiles in flight while one is read);
//   - S [16, 32] = Qa C^T: warp w takes the 8 keys 8 (w % 4).. over the k-half w / 4 of DK, with its half of Qa's
//     A fragments held in registers for the whole call (Q is read from shared memory once);
//   - the softmax runs once: warp w owns heads 2w and 2w + 1 (their running max and sum stay in its registers), sums
//     the two k-halves of S, and writes P (bf16) and the rows' rescale factors to shared memory;
//   - O [16, R] += P V with V = the first R columns of the cached rows: warp w owns the 16-column groups w, w + 8, ..
//     of R (as the split kernel), P's A fragments read from shared memory.
// Three barriers per tile: the tile has landed (and every warp is done with the slot the next load refills), S is
// complete, P is complete.
#pragma once
#include "mla_decode.cuh"  // the partials' layout, mla_decode_combine_kernel, the lab's MTRACE stamps

namespace mla_ring {
constexpr int NWARPS = 8, NTHREADS = NWARPS * 32, HT = 16, BN = 32, KH = 2;  // HT heads per block, KH k-halves of S
constexpr int SSTRIDE = BN + 4, PSTRIDE = BN + 8;  // S rows (floats); P rows (bf16: 5 16-byte chunks, odd: no conflicts)
constexpr int CW = 16, SG = NTHREADS / CW;  // the fused merge's columns per pass and split groups (merge_columns)
template <int R, int DR, int NST> __host__ __device__ constexpr int smem_bytes() {
    return (HT * (R + DR + 8) + NST * BN * (R + DR + 8)) * 2 + KH * HT * SSTRIDE * 4 + HT * PSTRIDE * 2 + HT * 4;
}

// The fused merge of block `split` (SPIN, below): the float4 columns [split cpb, (split + 1) cpb) of its (b, head
// group)'s [16 heads, R / 4] into OLat, in passes of CW consecutive columns (one head). Lane % 16 takes a column and
// each of the SG half-warps a split group (splits g, g + SG, ..): a half-warp load reads 256 contiguous bytes of one
// split's partial and each split's (m, l) is one broadcast. No dependent chain of running merges: a thread issues
// all its loads, takes the maximum of its splits' maxima, then weights them; the SG groups' (max, sum, O) meet in
// shared memory (sMrg: SG CW 6 floats, the idle ring) and 16 threads weight those the same way.
// Session 10 (docs/perf-log.md): running merges (16 per thread over 8 splits, then 15 over the groups) made this
// phase 2.6 us at every L; 16-byte pieces of different splits' rows per lane read half of every 32-byte sector.
// DISCARD (session 10, call 16; the shipped _spin instances): once the pass's loads are consumed (the barrier after
// the smem writes), drop the partial lines this block alone read from the L2 without writing them back
// (discard.global.L2): the next call's stream would otherwise evict 4.2 MB of dirty partials to DRAM at batch 1 H16
// (B=1 64k 38.8-39.6 -> 36.6-37.3 us, 32k -1.0 us, 16k equal). The partials are rewritten before any later read.
// rOut: OLat's row width (R, or the real latent width of a padded "any" instance: the columns past it are dropped).
template <int R, bool DISCARD = false>
__device__ __forceinline__ void merge_columns(float* __restrict__ OLat, const float* __restrict__ partO,
                                              const float* __restrict__ partML, float* sMrg, int b, int H, int h0,
                                              int split, int nSplit, int rOut = R) {
    // UNR: the splits a thread loads per round. SG x UNR = 144 >= 132, an H100's (and H200's) splits at batch 1 with
    // 16 heads, so their loads go out in one round (session 12: with 8, 4 of the 16 split groups took a second
    // round trip for the last 4 splits while every other thread waited at the barrier).
    constexpr int C4 = HT * R / 4, UNR = 9;
    static_assert((R / 4) % CW == 0, "a pass of 16 columns stays within one head");
    const int tid = threadIdx.x, ci = tid % CW, sg = tid / CW;
    const int cpb = ((C4 + nSplit - 1) / nSplit + CW - 1) / CW * CW, c0 = split * cpb, c1 = min(C4, c0 + cpb);
    float4* sA = reinterpret_cast<float4*>(sMrg);  // [SG][CW]
    float* sM = sMrg + SG * CW * 4;                // [SG][CW] maxima, then [SG][CW] sums
    for (int cb = c0; cb < c1; cb += CW) {
        const int h = h0 + cb / (R / 4), d4 = (cb + ci) % (R / 4);
        if (h >= H) break;  // uniform: the pass is one head
        const long row0 = ((long)b * H + h) * nSplit;
        float mx = -INFINITY, l = 0.f;
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int s0 = sg; s0 < nSplit; s0 += SG * UNR) {
            float2 ml[UNR];
            float4 po[UNR];
#pragma unroll
            for (int u = 0; u < UNR; u++) {
                const int s2 = s0 + u * SG;
                ml[u] = make_float2(-INFINITY, 0.f);
                po[u] = make_float4(0.f, 0.f, 0.f, 0.f);
                if (s2 < nSplit) {
                    ml[u] = __ldcg(reinterpret_cast<const float2*>(partML + (row0 + s2) * 2));
                    po[u] = __ldcg(reinterpret_cast<const float4*>(partO + (row0 + s2) * R) + d4);
                }
            }
            float m2 = mx;
#pragma unroll
            for (int u = 0; u < UNR; u++) m2 = fmaxf(m2, ml[u].x);
            const float c = mx == -INFINITY ? 0.f : exp2f(mx - m2);  // this thread's earlier rounds (nSplit > 128)
            l *= c; a.x *= c; a.y *= c; a.z *= c; a.w *= c;
#pragma unroll
            for (int u = 0; u < UNR; u++) {
                const float w = ml[u].x == -INFINITY ? 0.f : exp2f(ml[u].x - m2);
                l += w * ml[u].y;
                a.x += w * po[u].x; a.y += w * po[u].y; a.z += w * po[u].z; a.w += w * po[u].w;
            }
            mx = m2;
        }
        MTRACE(mla_trace, 6);  // this thread's loads are consumed (lab: where the merge's time goes)
        sA[sg * CW + ci] = a;
        sM[sg * CW + ci] = mx;
        sM[SG * CW + sg * CW + ci] = l;
        __syncthreads();
        if constexpr (DISCARD) {
            // 16 float4 of one split's row = two 128-byte lines (cb is a multiple of 16 float4, rows 2 KB apart)
            if (ci % 8 == 0)
                for (int s2 = sg; s2 < nSplit; s2 += SG)
                    discard_l2_line(partO + (row0 + s2) * R + d4 * 4);
        }
        MTRACE(mla_trace, 7);  // the split groups' results are in shared memory, the partials discarded
        if (sg == 0) {
            float m = -INFINITY;
#pragma unroll
            for (int g = 0; g < SG; g++) m = fmaxf(m, sM[g * CW + ci]);
            float lt = 0.f;
            float4 at = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int g = 0; g < SG; g++) {
                const float mg = sM[g * CW + ci], w = mg == -INFINITY ? 0.f : exp2f(mg - m);
                const float4 ag = sA[g * CW + ci];
                lt += w * sM[SG * CW + g * CW + ci];
                at.x += w * ag.x; at.y += w * ag.y; at.z += w * ag.z; at.w += w * ag.w;
            }
            const float inv = lt > 0.f ? 1.f / lt : 0.f;
            if (rOut == R || d4 * 4 < rOut)
                *reinterpret_cast<float4*>(OLat + ((long)b * H + h) * rOut + d4 * 4) =
                    make_float4(at.x * inv, at.y * inv, at.z * inv, at.w * inv);
        }
        __syncthreads();  // the next pass overwrites sMrg
    }
}
}

// SPIN: the combine fused for a co-resident grid (the launcher checks the occupancy; deadlock otherwise). Every block
// writes its partial and arrives on its (b, head group)'s counter; then block `split` merges the float4 columns
// [split cpb, (split + 1) cpb) of the group's [16 heads, R / 4] into OLat (below: coalesced loads, issued before the
// merges that use them; session 4's fused merge lost by running one dependent merge after another per lane).
// counters: 2 ints per (b, head group), zero before the first launch.
// The arrival: SHARE (shipped since session 11) = common/mma.cuh group_arrive_share on those 8 bytes as one 64-bit
// counter (no epoch read, no reset: B=1 H16 0.3-0.6 us faster); otherwise (the labs' session-10 instances) decode
// SPIN = 2's protocol, group_arrive_epoch (acq_rel arrival, the last one releases the group's epoch).
// ANY (the "any" instances, session 13): R and DR are the padded widths the kernel is compiled for, and the cache's
// and Qa's rows are dkRun = r + d_r <= R + DR wide with the latent's rOut = r <= R values first (any r, d_r that are
// multiples of 8). Columns past dkRun are zero-filled in shared memory, so S is exact; P V then also runs over the
// rope and zero columns past r, whose results land in the partials' columns rOut .. R - 1 and are never merged out.
// Without ANY the widths are R + DR and R (the shipped instances: the same code, the widths compile-time).
template <int R, int DR, int NST, bool SPIN = false, bool DISCARD = false, bool SHARE = false, bool ANY = false>
__device__ __forceinline__ void mla_decode_ring_kernel(float* __restrict__ partO, float* __restrict__ partML,
                                                       const __nv_bfloat16* __restrict__ Qa,
                                                       const __nv_bfloat16* __restrict__ Cache, int L, int Tmax, int H,
                                                       int chunk, float scale, float* __restrict__ OLat = nullptr,
                                                       int* __restrict__ counters = nullptr, int dkRun = R + DR,
                                                       int rRun = R) {
    using namespace mla_ring;
    constexpr int DK = R + DR, SK = DK + 8, CH = DK / 8;           // padded row stride: odd count of 16-byte chunks
    const int dk = ANY ? dkRun : DK, rOut = ANY ? rRun : R;        // the rows' real widths
    constexpr int KS = DK / 16 / KH;                               // k-steps of S per warp
    constexpr int NG = R / 16, GPW = (NG + NWARPS - 1) / NWARPS;  // 16-column groups of O, per warp
    constexpr int CPT = (BN * CH + NTHREADS - 1) / NTHREADS;       // 16-byte copies per thread and tile
    static_assert(NST >= 2 && DK % 32 == 0 && KS % 2 == 0 && R % 16 == 0, "widths: DK a multiple of 64, R of 16");
    static_assert(NWARPS == (BN / 8) * KH && HT == 2 * NWARPS, "warp roles: 4 key blocks x 2 k-halves; 2 heads per warp");
    extern __shared__ __align__(128) __nv_bfloat16 smem[];
    __nv_bfloat16* Qs = smem;                                        // [HT, SK]
    __nv_bfloat16* Cs = Qs + HT * SK;                                // [NST][BN, SK]
    float* Ss = reinterpret_cast<float*>(Cs + NST * BN * SK);        // [KH][HT, SSTRIDE]
    __nv_bfloat16* Ps = reinterpret_cast<__nv_bfloat16*>(Ss + KH * HT * SSTRIDE);  // [HT, PSTRIDE]
    float* sCorr = reinterpret_cast<float*>(Ps + HT * PSTRIDE);     // [HT]

    MTRACE(mla_trace, 0);  // start
    const int split = blockIdx.x, h0 = blockIdx.y * HT, b = blockIdx.z, nSplit = gridDim.x;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int start = split * chunk, end = min(L, start + chunk);
    const int nTiles = (end - start + BN - 1) / BN;  // >= 1: the launcher's splits are never empty
    const __nv_bfloat16* Cb = Cache + (long)b * Tmax * dk;
    int* ctr = nullptr;  // SPIN: {arrivals, epoch} of this (b, head group)
    int epoch0 = 0;      // read before this block arrives: the epoch moves only once every block has
    if constexpr (SPIN) {
        ctr = counters + 2 * (b * gridDim.y + blockIdx.y);
        if (!SHARE && tid == 0) epoch0 = ld_relaxed_gpu(ctr + 1);
    }

    mla_decode::stage_qa<DK, SK>(Qs, Qa, b, H, h0, dk);
    cp_async_commit();
    // Tile j into slot j % NST; rows past the chunk end are zero-filled (source size 0) and masked in S.
    auto issue = [&](int j) {
        __nv_bfloat16* cs = Cs + (j % NST) * BN * SK;
#pragma unroll
        for (int u = 0; u < CPT; u++) {
            const int i = tid + u * NTHREADS;
            if (i < BN * CH) {
                const int r = i / CH, c = i % CH, t = start + j * BN + r;
                const bool ok = t < end && (!ANY || c * 8 < dk);
                cp_async_16(smem_u32(cs + r * SK + c * 8), ok ? Cb + (long)t * dk + c * 8 : Cb, ok ? 16 : 0);
            }
        }
    };
#pragma unroll
    for (int s = 0; s < NST - 1; s++) {
        if (s < nTiles) issue(s);
        cp_async_commit();
    }

    // This warp's S role: keys 8 kb.. of each tile over the k-steps [kh KS, (kh + 1) KS) of DK.
    const int kb = warp % (BN / 8), kh = warp / (BN / 8);
    cp_async_wait<NST - 1>();  // Q (the oldest group)
    __syncthreads();
    uint32_t qa[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++)
        ldmatrix_x4(qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3],
                    smem_u32(Qs + (lane & 15) * SK + (2 * (kh * KS + kk) + (lane >> 4)) * 8));

    const float scaleLog2 = scale * 1.4426950408889634f;
    // Softmax role: head row 2 warp + lane / 16 of this block, columns 2 (lane % 16) and + 1 of each tile.
    const int srow = 2 * warp + (lane >> 4), scol = (lane & 15) * 2;
    float mRun = -INFINITY, lRun = 0.f;
    float o[GPW][2][4];
#pragma unroll
    for (int g = 0; g < GPW; g++)
#pragma unroll
        for (int n = 0; n < 2; n++) o[g][n][0] = o[g][n][1] = o[g][n][2] = o[g][n][3] = 0.f;

    for (int j = 0; j < nTiles; j++) {
        cp_async_wait<NST - 2>();
        __syncthreads();  // tile j has landed; every warp is done with tile j - 1 (its slot, S and P)
        if (j == 0) MTRACE(mla_trace, 1);  // the first tile is in shared memory
        if (j + NST - 1 < nTiles) issue(j + NST - 1);
        cp_async_commit();
        const __nv_bfloat16* cs = Cs + (j % NST) * BN * SK;

        // S partial [16 heads, 8 keys] over this warp's k-half: two independent accumulator chains.
        {
            float sa[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
            for (int kk = 0; kk < KS; kk += 2) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(b0, b1, b2, b3,
                            smem_u32(cs + (kb * 8 + (lane & 7)) * SK + (2 * (kh * KS + kk) + (lane >> 3)) * 8));
                mma_bf16_16816(sa[0], qa[kk], b0, b1);
                mma_bf16_16816(sa[1], qa[kk + 1], b2, b3);
            }
            float* sp = Ss + kh * HT * SSTRIDE + (lane >> 2) * SSTRIDE + kb * 8 + (lane & 3) * 2;
            *reinterpret_cast<float2*>(sp) = make_float2(sa[0][0] + sa[1][0], sa[0][1] + sa[1][1]);
            *reinterpret_cast<float2*>(sp + 8 * SSTRIDE) = make_float2(sa[0][2] + sa[1][2], sa[0][3] + sa[1][3]);
        }
        __syncthreads();

        // Softmax of this warp's two heads, once: P (bf16) and the rescale of O's rows to shared memory.
        {
            const int kBase = start + j * BN;
            float2 s = *reinterpret_cast<const float2*>(Ss + srow * SSTRIDE + scol);
#pragma unroll
            for (int k = 1; k < KH; k++) {
                const float2 t = *reinterpret_cast<const float2*>(Ss + k * HT * SSTRIDE + srow * SSTRIDE + scol);
                s.x += t.x; s.y += t.y;
            }
            s.x = kBase + scol < end ? s.x * scaleLog2 : -INFINITY;
            s.y = kBase + scol + 1 < end ? s.y * scaleLog2 : -INFINITY;
            float mx = fmaxf(mRun, fmaxf(s.x, s.y));
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, off));
            const float base = mx == -INFINITY ? 0.f : mx, corr = exp2f(mRun - base);
            const float p0 = exp2f(s.x - base), p1 = exp2f(s.y - base);
            float ps = p0 + p1;
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) ps += __shfl_xor_sync(0xffffffff, ps, off);
            mRun = mx;
            lRun = lRun * corr + ps;
            *reinterpret_cast<uint32_t*>(Ps + srow * PSTRIDE + scol) = pack_bf16(p0, p1);
            if ((lane & 15) == 0) sCorr[srow] = corr;
        }
        __syncthreads();

        // O [16, R] += P V over this warp's 16-column groups.
        {
            const float cA = sCorr[lane >> 2], cB = sCorr[(lane >> 2) + 8];
#pragma unroll
            for (int g = 0; g < GPW; g++)
#pragma unroll
                for (int n = 0; n < 2; n++) {
                    o[g][n][0] *= cA; o[g][n][1] *= cA;
                    o[g][n][2] *= cB; o[g][n][3] *= cB;
                }
#pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
                uint32_t pa[4];
                ldmatrix_x4(pa[0], pa[1], pa[2], pa[3], smem_u32(Ps + (lane & 15) * PSTRIDE + (2 * kk + (lane >> 4)) * 8));
                mla_decode::pv_kstep<R, SK, GPW>(o, pa, cs, kk, warp, lane);
            }
        }
    }
    cp_async_wait<0>();  // only empty groups remain
    MTRACE(mla_trace, 2);  // the last tile is consumed

    const int hA = h0 + (lane >> 2), hB = hA + 8;
    const long rowA = ((long)b * H + hA) * nSplit + split, rowB = ((long)b * H + hB) * nSplit + split;
    mla_decode::store_partial_o<R, GPW>(partO, o, rowA, rowB, hA < H, hB < H, warp, lane);
    const int hs = h0 + srow;
    if ((lane & 15) == 0 && hs < H) {
        const long row = ((long)b * H + hs) * nSplit + split;
        partML[row * 2] = mRun;
        partML[row * 2 + 1] = lRun;
    }
    MTRACE(mla_trace, 3);  // thread 0's partial stores are issued
    if constexpr (SPIN) {
        __syncthreads();
        if (tid == 0) {
            if constexpr (SHARE)
                group_arrive_share(reinterpret_cast<unsigned long long*>(ctr), split, nSplit);
            else
                group_arrive_epoch(ctr, epoch0, nSplit);
        }
        __syncthreads();
        MTRACE(mla_trace, 4);  // every split of the group has arrived
        merge_columns<R, DISCARD>(OLat, partO, partML, reinterpret_cast<float*>(Cs), b, H, h0, split, nSplit, rOut);
        MTRACE(mla_trace, 5);  // this block's columns are merged
    }
}
