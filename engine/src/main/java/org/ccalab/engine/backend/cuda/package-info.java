/**
 * The CUDA backend: our kernels (engine/src/main/cuda, compiled ahead of time into {@code cuda/ccalab.fatbin}
 * inside this jar) launched through JCuda's driver API, and cuBLAS 13 GEMMs through java.lang.foreign.
 *
 * <p>Letters as in the kernels: B batch, T tokens, Hq query heads, Hkv key/value heads, D head dim, E model
 * width. Device tensors are bf16 unless named otherwise; activations are token-major ({@code [B, T, H, D]}),
 * the layout the projections produce, so no transposes run between a GEMM and the attention kernel.
 *
 * <p>Entry points: {@link org.ccalab.engine.backend.cuda.CudaBackend#probe()} (never throws; CI has no GPU),
 * {@link org.ccalab.engine.backend.cuda.CudaBackend#open()}, and {@link org.ccalab.engine.backend.cuda.CudaBenchCli}.
 */
package org.ccalab.engine.backend.cuda;
