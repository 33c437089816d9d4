// defines: swiglu_fwd_kernel, swiglu_bwd_kernel.
//
// Letters: N rows, F hidden width. gate, up [N, F] bf16 with row stride ldIn (F for separate tensors, 2F when
// both halves of one fused gate|up GEMM output [N, 2F] are passed, up = gate + F); h, dh [N, F] bf16 (stride F);
// dgate, dup with row stride ldOut (may alias gate, up: each element is read before it is written, by the same
// thread).
//   h = silu(a) * b;   da = dh * b * sig(a) * (1 + a * (1 - sig(a))),  db = dh * silu(a)   (model/SwiGluMlp.java)
// Elementwise and memory-bound: 16-byte vectors when F, the strides and the pointers allow them, else a scalar
// path (any F, any view). Grid-stride over 64-bit element indices.
#pragma once
#include "vec.cuh"

namespace swiglu {
constexpr int THREADS = 256;
}

namespace train {
TDEVI float sigmoid(float a) { return 1.f / (1.f + __expf(-a)); }
}

__device__ __forceinline__ void swiglu_fwd_kernel(__nv_bfloat16* __restrict__ h, const __nv_bfloat16* __restrict__ gate,
                                                  const __nv_bfloat16* __restrict__ up, int N, int F, int ldIn) {
    using namespace train;
    const long stride = (long)gridDim.x * blockDim.x;
    if ((F & 7) == 0 && (ldIn & 7) == 0 && aligned16(h, gate, up)) {
        const long F8 = F / 8, total = (long)N * F8;
        for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
            const long row = k / F8, c = (k - row * F8) * 8;
            float a[8], b[8];
            load8(gate + row * ldIn + c, a);
            load8(up + row * ldIn + c, b);
#pragma unroll
            for (int i = 0; i < 8; i++) a[i] = a[i] * sigmoid(a[i]) * b[i];
            store8(h + row * F + c, a);
        }
    } else {
        const long total = (long)N * F;
        for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
            const long row = k / F, c = k - row * F;
            const float a = to_f(gate[row * ldIn + c]), b = to_f(up[row * ldIn + c]);
            h[k] = from_f<__nv_bfloat16>(a * sigmoid(a) * b);
        }
    }
}

__device__ __forceinline__ void swiglu_bwd_elem(float dh, float a, float b, float& da, float& db) {
    const float sig = train::sigmoid(a);
    db = dh * a * sig;
    da = dh * b * sig * (1.f + a * (1.f - sig));
}

__device__ __forceinline__ void swiglu_bwd_kernel(__nv_bfloat16* dgate, __nv_bfloat16* dup,
                                                  const __nv_bfloat16* __restrict__ dh, const __nv_bfloat16* gate,
                                                  const __nv_bfloat16* up, int N, int F, int ldIn, int ldOut) {
    using namespace train;
    const long stride = (long)gridDim.x * blockDim.x;
    if ((F & 7) == 0 && (ldIn & 7) == 0 && (ldOut & 7) == 0 && aligned16(dgate, dup, gate, up) && aligned16(dh)) {
        const long F8 = F / 8, total = (long)N * F8;
        for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
            const long row = k / F8, c = (k - row * F8) * 8;
            float d[8], a[8], b[8], da[8], db[8];
            load8(dh + row * F + c, d);
            load8(gate + row * ldIn + c, a);
            load8(up + row * ldIn + c, b);
#pragma unroll
            for (int i = 0; i < 8; i++) swiglu_bwd_elem(d[i], a[i], b[i], da[i], db[i]);
            store8(dgate + row * ldOut + c, da);
            store8(dup + row * ldOut + c, db);
        }
    } else {
        const long total = (long)N * F;
        for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
            const long row = k / F, c = k - row * F;
            float da, db;
            swiglu_bwd_elem(to_f(dh[k]), to_f(gate[row * ldIn + c]), to_f(up[row * ldIn + c]), da, db);
            dgate[row * ldOut + c] = from_f<__nv_bfloat16>(da);
            dup[row * ldOut + c] = from_f<__nv_bfloat16>(db);
        }
    }
}
