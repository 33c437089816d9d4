/**
 * GPU training of the decoder-only LM ({@code model/LanguageModel}) with MHA/GQA/MQA attention: the same model,
 * initial parameters (copied from the CPU model built from the run seed), data, AdamW, schedule and clipping as
 * {@code train/Trainer}, at mixed precision: fp32 master weights, gradients and AdamW moments on the device;
 * bf16 activations and GEMM operands with fp32 accumulation (cuBLAS); attention through the flash kernels.
 *
 * <p>Letters, as everywhere: B batch, T tokens per sequence, N = B*T rows, E width, Hq query heads, Hkv KV heads,
 * D head dim, F MLP hidden width, V vocabulary, L layers.
 */
package org.ccalab.engine.backend.cuda.train;
