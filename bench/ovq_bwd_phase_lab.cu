// The OVQ backward's per-chunk chain taken apart (session 16): ovq_bwd_kernel built with OVQ_PHASE_CLOCK, so that
// thread 0 of (rank 0, head 0) adds clock64 deltas per phase (attention/ovq_bwd.cuh's OVQ_PHASE marks) over every
// chunk. The training forward (ovq_run_kernel with TRAIN) fills the records once; each timed backward starts from a
// copy of the state it left (the backward rewinds its state in place). Random unit q / k, Gaussian v and dO, the
// platform's defaults (chunk 64, N_max 1024 reached at 4096 tokens, LOG growth, Euclidean, Newton, beta = sqrt(D),
// gradients through the folds); timing only (the Java gpu tests and the CLI's ovq phase check the kernel).
//   nvcc -O3 -std=c++17 -arch=sm_90a -DOVQ_PHASE_CLOCK -Iengine/src/main/cuda bench/ovq_bwd_phase_lab.cu -o ovq_bwd_phase_lab
//   ./ovq_bwd_phase_lab [T=16384] [H=16]
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "attention/ovq_bwd.cuh"

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

template <int D>
__global__ void __cluster_dims__(8, 1, 1) __launch_bounds__(ovq::NT, 2)
lab_fwd(__nv_bfloat16* O, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, const float* beta,
        float* mu, float* val, float* cnt, int* meta, __nv_bfloat16* bufK, __nv_bfloat16* bufV, const int* targets,
        int nTargets, int T, int H, int NMAX, int L, int flags, float eta, ovq::Records rec) {
    ovq::ovq_run_kernel<D, 8, true>(O, Q, K, V, beta, mu, val, cnt, meta, bufK, bufV, targets, nTargets, T, H, NMAX, L,
                                    flags, eta, rec);
}

template <int D>
__global__ void __cluster_dims__(8, 1, 1) __launch_bounds__(ovq::NT, 2)
lab_bwd(float* dQ, float* dK, float* dV, float* dBeta, const __nv_bfloat16* Q, const __nv_bfloat16* K,
        const __nv_bfloat16* V, const __nv_bfloat16* dO, const float* beta, float* mu, float* val, float* cnt,
        const int* meta, ovq::Records rec, float* dMuG, float* dValG, int T, int H, int NMAX, int L, int flags, float eta) {
    ovq::ovq_bwd_kernel<D, 8>(dQ, dK, dV, dBeta, Q, K, V, dO, beta, mu, val, cnt, meta, rec, dMuG, dValG, T, H, NMAX, L,
                              flags, eta);
}

static int target(long tokens, int nmax, long growthLength) {  // OvqSpec.dictionaryTarget, LOG growth
    double lo = 1e-9, hi = 1;
    while (hi * std::log1p(growthLength / hi) < nmax) hi *= 2;
    for (int i = 0; i < 200; i++) {
        const double mid = 0.5 * (lo + hi);
        (mid * std::log1p(growthLength / mid) < nmax ? lo : hi) = mid;
    }
    const double n = std::ceil(hi * std::log1p(tokens / hi));
    return n >= nmax ? nmax : (int)n;
}

static const char* NAMES[16] = {"chunk load, dO . o", "fold backward + rewind", "cluster wait (sX free)",
                                "tile staging", "scores, dz, a (A)", "partial dq (B)", "rows' dVal / dKey (C)",
                                "dq exchange + cluster sync", "finish query (warp 0)", "finish key (warp 0)",
                                "-", "-", "-", "-", "-", "chunk"};

template <int D>
void run(int T, int H) {
    const int L = 64, NMAX = 1024, C = 8, F = T / L;
    const long n = (long)T * H * D, rows = (long)H * NMAX;
    std::mt19937 rng(42);
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<__nv_bfloat16> q(n), k(n), v(n), go(n);
    for (long r = 0; r < (long)T * H; r++) {
        float a[D], c[D], na = 0, nc = 0;
        for (int i = 0; i < D; i++) { a[i] = g(rng); c[i] = g(rng); na += a[i] * a[i]; nc += c[i] * c[i]; }
        for (int i = 0; i < D; i++) {
            q[r * D + i] = __float2bfloat16(a[i] / std::sqrt(na));
            k[r * D + i] = __float2bfloat16(c[i] / std::sqrt(nc));
            v[r * D + i] = __float2bfloat16(g(rng));
            go[r * D + i] = __float2bfloat16(g(rng));
        }
    }
    const int nTargets = F + 1;
    std::vector<int> tg(nTargets);
    for (int f = 0; f < nTargets; f++) tg[f] = target((long)(f + 1) * L, NMAX, 4096);
    std::vector<float> beta(H, std::sqrt((float)D));
    __nv_bfloat16 *dq, *dk, *dv, *dgo, *dO, *bk, *bv;
    float *dmu, *dval, *dcnt, *db, *smu, *sval, *scnt, *gq, *gk, *gv, *gb, *gmu, *gval;
    int *dmeta, *dt;
    ovq::Records rec{};
    rec.folds = F;
    CK(cudaMalloc(&dq, n * 2)); CK(cudaMalloc(&dk, n * 2)); CK(cudaMalloc(&dv, n * 2)); CK(cudaMalloc(&dgo, n * 2));
    CK(cudaMalloc(&dO, n * 2));
    for (float** p : {&dmu, &dval, &smu, &sval, &gmu, &gval}) CK(cudaMalloc(p, rows * D * 4));
    CK(cudaMalloc(&dcnt, rows * 4)); CK(cudaMalloc(&scnt, rows * 4));
    CK(cudaMalloc(&dmeta, H * 16)); CK(cudaMalloc(&db, H * 4)); CK(cudaMalloc(&gb, H * 4));
    CK(cudaMalloc(&bk, (long)H * L * D * 2)); CK(cudaMalloc(&bv, (long)H * L * D * 2)); CK(cudaMalloc(&dt, nTargets * 4));
    for (float** p : {&gq, &gk, &gv}) CK(cudaMalloc(p, n * 4));
    CK(cudaMalloc(&rec.code, (long)H * F * L * 4)); CK(cudaMalloc(&rec.nOld, (long)H * F * 4));
    CK(cudaMalloc(&rec.prev, (long)H * F * L * ovq::prev_stride<D>() * 4));
    CK(cudaMalloc(&rec.stats, (long)T * H * 2 * 4)); CK(cudaMalloc(&rec.oF, n * 4));
    CK(cudaMemcpy(dq, q.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dk, k.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dv, v.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dgo, go.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, beta.data(), H * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dt, tg.data(), nTargets * 4, cudaMemcpyHostToDevice));
    const int smemF = ovq::smem_bytes<D>(), smemB = ovq::bwd_smem_bytes<D>();
    CK(cudaFuncSetAttribute(lab_fwd<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemF));
    CK(cudaFuncSetAttribute(lab_bwd<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemB));
    const int flags = ovq::F_EUCLIDEAN | ovq::F_NEWTON;
    CK(cudaMemset(dmeta, 0, H * 16));
    lab_fwd<D><<<dim3(C, H, 1), ovq::NT, smemF>>>(dO, dq, dk, dv, db, dmu, dval, dcnt, dmeta, bk, bv, dt, nTargets, T, H,
                                                  NMAX, L, flags, 0.1f, rec);
    CK(cudaGetLastError());
    CK(cudaMemcpy(smu, dmu, rows * D * 4, cudaMemcpyDeviceToDevice));
    CK(cudaMemcpy(sval, dval, rows * D * 4, cudaMemcpyDeviceToDevice));
    CK(cudaMemcpy(scnt, dcnt, rows * 4, cudaMemcpyDeviceToDevice));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    float best = 1e30f;
    unsigned long long ph[16];
    for (int rep = 0; rep < 4; rep++) {
        CK(cudaMemcpy(dmu, smu, rows * D * 4, cudaMemcpyDeviceToDevice));  // the forward's state again
        CK(cudaMemcpy(dval, sval, rows * D * 4, cudaMemcpyDeviceToDevice));
        CK(cudaMemcpy(dcnt, scnt, rows * 4, cudaMemcpyDeviceToDevice));
        const unsigned long long zero[16] = {};
        CK(cudaMemcpyToSymbol(ovq::ovq_phase_cycles, zero, sizeof zero));
        CK(cudaEventRecord(e0));
        lab_bwd<D><<<dim3(C, H, 1), ovq::NT, smemB>>>(gq, gk, gv, gb, dq, dk, dv, dgo, db, dmu, dval, dcnt, dmeta, rec, gmu,
                                                      gval, T, H, NMAX, L, flags | ovq::F_STATE_GRAD, 0.1f);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaGetLastError());
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best) { best = ms; CK(cudaMemcpyFromSymbol(ph, ovq::ovq_phase_cycles, sizeof ph)); }
    }
    const long chunks = ph[15] >> 40;
    const double all = (double)(ph[15] & ((1ull << 40) - 1));
    const double cyclesPerUs = all / (best * 1e3);
    printf("D %d  T %d  H %d: backward %.3f ms (best of 4); thread 0 of head 0: %ld chunks, %.0f cycles/chunk, clock ~%.2f GHz\n",
           D, T, H, best, chunks, all / chunks, cyclesPerUs / 1e3);
    for (int i = 0; i < 10; i++)
        printf("  %2d %-28s %9.0f cycles/chunk  %7.2f us/chunk  %5.1f %%\n", i, NAMES[i], (double)ph[i] / chunks,
               (double)ph[i] / chunks / cyclesPerUs, 100.0 * ph[i] / all);
}

int main(int argc, char** argv) {
    const int T = argc > 1 ? atoi(argv[1]) : 16384, H = argc > 2 ? atoi(argv[2]) : 16;
    run<64>(T, H);
    run<128>(T, H);
    return 0;
}
