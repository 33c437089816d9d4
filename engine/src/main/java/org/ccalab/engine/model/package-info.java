/**
 * The decoder-only language model on the CPU, float64. Letters: B batch, T sequence length, N = B * T
 * token rows, E model width, H MLP hidden width, V vocabulary. Activations are row-major [N, E].
 * Parameter names follow the Hugging Face Llama layout so that safetensors files interoperate:
 * {@code embed_tokens.weight}, {@code layers.i.input_layernorm.weight}, {@code layers.i.attn.<variant names>},
 * {@code layers.i.post_attention_layernorm.weight}, {@code layers.i.mlp.{gate,up,down}_proj.weight},
 * {@code norm.weight}; the output head is tied to the embedding.
 */
package org.ccalab.engine.model;
