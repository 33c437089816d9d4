// defines: rope_kernel<T> — rotate-half rotary embedding in place, forward or inverse (the backward).
//
// As backend/cpu/Rope.java: x [B, T, H, headDim]; channels [offset, offset + dims) of every head; pair i couples
// offset + i and offset + i + dims/2 at angle (pos0 + t) * base^(-2i / dims); inverse rotates by -angle, which
// is the gradient of the forward map (it is orthogonal). GQA rotates q and k (bf16) after the projections and
// their fp32 gradients from flash backward; MLA rotates its rope slice (offset = qk_nope) the same way. The CCA
// prologue applies its own RoPE and does not use this.
// One block per token row (all heads of it): the angles are computed once per row in double, so positions in
// the tens of thousands keep full fp32 accuracy in cos/sin.
#pragma once
#include "vec.cuh"

namespace rope {
constexpr int THREADS = 128, MAX_HALF = 256;  // dims <= 512
}

template <typename T>
__device__ __forceinline__ void rope_kernel(T* __restrict__ x, int T_, int H, int headDim, int offset, int dims,
                                            int pos0, float base, int inverse) {
    using namespace train;
    __shared__ float cosv[rope::MAX_HALF], sinv[rope::MAX_HALF];
    const long row = blockIdx.x;  // b * T + t
    const int half = dims / 2;
    const double pos = (double)(pos0 + (int)(row % T_));
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double s, c;
        sincos(pos * pow((double)base, -2.0 * i / dims), &s, &c);
        cosv[i] = (float)c;
        sinv[i] = (float)(inverse ? -s : s);
    }
    __syncthreads();
    T* xr = x + row * H * headDim + offset;
    for (int k = threadIdx.x; k < H * half; k += blockDim.x) {
        const int h = k / half, i = k - h * half;
        T* p = xr + (long)h * headDim + i;
        const float a = to_f(p[0]), b = to_f(p[half]);
        p[0] = from_f<T>(a * cosv[i] - b * sinv[i]);
        p[half] = from_f<T>(b * cosv[i] + a * sinv[i]);
    }
}
