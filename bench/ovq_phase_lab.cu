// The OVQ prefill's per-chunk chain taken apart (session 15): ovq_run_kernel built with OVQ_PHASE_CLOCK, so that
// thread 0 of (rank 0, head 0) adds clock64 deltas per phase (attention/ovq.cuh's OVQ_PHASE marks) over the chunks
// that run at the dictionary's cap. Random unit q / k, Gaussian v, the platform's defaults (chunk 64, N_max 1024
// reached at 4096 tokens, LOG growth, Euclidean assignment, Newton update, beta = sqrt(D)); timing only, no check
// (the Java gpu tests and the CLI's ovq phase check the same kernel against float64).
//   nvcc -O3 -std=c++17 -arch=sm_90a -DOVQ_PHASE_CLOCK -Iengine/src/main/cuda bench/ovq_phase_lab.cu -o ovq_phase_lab
//   ./ovq_phase_lab [T=16384] [H=16]
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "attention/ovq.cuh"

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

__device__ int lab_smid[4096];  // the SM of every block (blockIdx.x + 8 blockIdx.y): are two blocks sharing an SM?

template <int D>
__global__ void __cluster_dims__(8, 1, 1) __launch_bounds__(ovq::NT, 2)
lab_run(__nv_bfloat16* O, const __nv_bfloat16* Q, const __nv_bfloat16* K, const __nv_bfloat16* V, const float* beta,
        float* mu, float* val, float* cnt, int* meta, __nv_bfloat16* bufK, __nv_bfloat16* bufV, const int* targets,
        int nTargets, int T, int H, int NMAX, int L, int flags, float eta) {
    if (threadIdx.x == 0) {
        int smid;
        asm("mov.u32 %0, %%smid;" : "=r"(smid));
        lab_smid[blockIdx.x + 8 * blockIdx.y] = smid;
    }
    ovq::ovq_run_kernel<D, 8>(O, Q, K, V, beta, mu, val, cnt, meta, bufK, bufV, targets, nTargets, T, H, NMAX, L, flags, eta, ovq::Records{});
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

static const char* NAMES[16] = {"chunk load", "stage mu planes", "q / k scores, softmax, assign", "-",
                                "stage val planes", "P V", "partials + cluster sync", "finish tokens (warp 0)",
                                "merge + cluster sync", "grow", "re-assign", "slot table (thread 0)",
                                "slot counts + sums", "counts + sync", "growing chunks", "capped chunks"};

template <int D>
void run(int T, int H, int growing) {
    CK(cudaMemcpyToSymbol(ovq::ovq_phase_growing, &growing, sizeof growing));
    const int L = 64, NMAX = 1024, C = 8;
    const long n = (long)T * H * D;
    std::mt19937 rng(42);
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<__nv_bfloat16> q(n), k(n), v(n);
    for (long r = 0; r < (long)T * H; r++) {
        float a[D], b[D], na = 0, nb = 0;
        for (int i = 0; i < D; i++) { a[i] = g(rng); b[i] = g(rng); na += a[i] * a[i]; nb += b[i] * b[i]; }
        for (int i = 0; i < D; i++) {
            q[r * D + i] = __float2bfloat16(a[i] / std::sqrt(na));
            k[r * D + i] = __float2bfloat16(b[i] / std::sqrt(nb));
            v[r * D + i] = __float2bfloat16(g(rng));
        }
    }
    const int nTargets = T / L + 1;
    std::vector<int> tg(nTargets);
    for (int f = 0; f < nTargets; f++) tg[f] = target((long)(f + 1) * L, NMAX, 4096);
    std::vector<float> beta(H, std::sqrt((float)D));
    __nv_bfloat16 *dq, *dk, *dv, *dO, *bk, *bv;
    float *dmu, *dval, *dcnt, *db;
    int *dmeta, *dt;
    CK(cudaMalloc(&dq, n * 2)); CK(cudaMalloc(&dk, n * 2)); CK(cudaMalloc(&dv, n * 2)); CK(cudaMalloc(&dO, n * 2));
    CK(cudaMalloc(&dmu, (long)H * NMAX * D * 4)); CK(cudaMalloc(&dval, (long)H * NMAX * D * 4));
    CK(cudaMalloc(&dcnt, (long)H * NMAX * 4)); CK(cudaMalloc(&dmeta, H * 16)); CK(cudaMalloc(&db, H * 4));
    CK(cudaMalloc(&bk, (long)H * L * D * 2)); CK(cudaMalloc(&bv, (long)H * L * D * 2)); CK(cudaMalloc(&dt, nTargets * 4));
    CK(cudaMemcpy(dq, q.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dk, k.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dv, v.data(), n * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, beta.data(), H * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dt, tg.data(), nTargets * 4, cudaMemcpyHostToDevice));
    const int smem = ovq::smem_bytes<D>();
    CK(cudaFuncSetAttribute(lab_run<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const int flags = ovq::F_EUCLIDEAN | ovq::F_NEWTON;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    float best = 1e30f;
    unsigned long long ph[16];
    for (int rep = 0; rep < 4; rep++) {
        CK(cudaMemset(dmeta, 0, H * 16));
        const unsigned long long zero[16] = {};
        CK(cudaMemcpyToSymbol(ovq::ovq_phase_cycles, zero, sizeof zero));
        CK(cudaEventRecord(e0));
        lab_run<D><<<dim3(C, H, 1), ovq::NT, smem>>>(dO, dq, dk, dv, db, dmu, dval, dcnt, dmeta, bk, bv, dt, nTargets,
                                                     T, H, NMAX, L, flags, 0.1f);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaGetLastError());
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best) { best = ms; CK(cudaMemcpyFromSymbol(ph, ovq::ovq_phase_cycles, sizeof ph)); }
    }
    const long capped = ph[15] >> 40;
    const double cappedCycles = (double)(ph[15] & ((1ull << 40) - 1));
    const double all = cappedCycles + (double)ph[14];
    printf("D %d  T %d  H %d: %.3f ms (best of 4); thread 0 of head 0: %.0f cycles; phases of %ld %s chunks\n", D, T,
           H, best, all, capped, growing ? "growing" : "capped");
    const double cyclesPerUs = all / (best * 1e3);
    printf("  clock ~%.2f GHz (cycles / launch time)\n", cyclesPerUs / 1e3);
    for (int i = 0; i < 16; i++) {
        const double c = i == 15 ? cappedCycles : (double)ph[i];
        const double perChunk = i < 14 ? c / capped : c;
        const char* name = !growing || i < 14 ? NAMES[i] : i == 14 ? "capped chunks" : "growing chunks";
        printf("  %2d %-26s %10.0f cycles%s  %7.2f us%s  %5.1f %%\n", i, name, perChunk, i < 14 ? "/chunk" : "      ",
               perChunk / cyclesPerUs, i < 14 ? "/chunk" : "      ", 100.0 * c / (i < 14 ? cappedCycles : all));
    }
    std::vector<int> sm(8 * H), per(256, 0);
    CK(cudaMemcpyFromSymbol(sm.data(), lab_smid, 8 * H * sizeof(int)));
    for (int x : sm) per[x & 255]++;
    int shared = 0, used = 0;
    for (int c : per) { used += c > 0; shared += c > 1; }
    printf("  placement (last launch): %d blocks on %d SMs, %d SMs hold two or more\n", 8 * H, used, shared);
    cudaFree(dq); cudaFree(dk); cudaFree(dv); cudaFree(dO); cudaFree(dmu); cudaFree(dval); cudaFree(dcnt);
    cudaFree(dmeta); cudaFree(db); cudaFree(bk); cudaFree(bv); cudaFree(dt);
}

int main(int argc, char** argv) {
    const int T = argc > 1 ? atoi(argv[1]) : 16384, H = argc > 2 ? atoi(argv[2]) : 16;
    run<64>(T, H, 0);
    run<64>(T, H, 1);
    run<128>(T, H, 0);
    run<128>(T, H, 1);
    return 0;
}
