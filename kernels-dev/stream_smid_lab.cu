// Stream-imbalance lab (session 12): is a batch-1 decode's slow tail the same SMs every launch? One block per SM (the
// dynamic shared memory keeps a second off) streams its contiguous chunk of a buffer, like a split decode's chunk,
// and thread 0 records (%smid, start, end) in globaltimer ns. bench/stream_smid_lab.py launches it repeatedly over
// rotated cold buffers and asks whether an SM's finish rank carries over from launch to launch.
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/stream_smid.fatbin kernels-dev/stream_smid_lab.cu
#include <cstdint>

__device__ __forceinline__ unsigned long long gtime() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// out[block * 4 + {0, 1, 2}] = smid, start ns, end ns; 256 threads, 4 16-byte loads in flight per thread.
extern "C" __global__ void __launch_bounds__(256) stream_smid(const uint4* __restrict__ a, long n16, long chunk16,
                                                              unsigned long long* out) {
    const unsigned long long t0 = gtime();
    const long s = blockIdx.x * chunk16, e = min(n16, s + chunk16);
    unsigned x = 0;
    for (long i = s + threadIdx.x; i < e; i += 256 * 4) {
        uint4 v[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const long j = i + (long)u * 256;
            v[u] = j < e ? __ldg(a + j) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < 4; u++) x ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned smid;
        asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
        out[blockIdx.x * 4] = smid;
        out[blockIdx.x * 4 + 1] = t0;
        out[blockIdx.x * 4 + 2] = gtime();
        out[blockIdx.x * 4 + 3] = x;  // keeps the loads
    }
}
