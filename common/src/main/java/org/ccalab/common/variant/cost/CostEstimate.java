package org.ccalab.common.variant.cost;

/**
 * The cost of one attention layer for one sequence (batch 1) at a given length S and storage dtype. FLOPs
 * count a multiply-add as 2 and include matmuls and the CCA convolutions; softmax, norms and RoPE
 * (lower-order, O(S) per head) are not counted, like the paper's Table II.
 *
 * @param family                   wire name of the variant
 * @param seqLen                   S: tokens of the prefill, and the context length of the decode step
 * @param dtypeBytes               bytes per stored element (bf16: 2)
 * @param parameters               exact trainable parameter count (weights, biases, temperatures, norm weights)
 * @param kvCacheBytesPerToken     cache growth per token per layer
 * @param kvCacheBytes             cache for S tokens (= S * kvCacheBytesPerToken)
 * @param decodeStateBytes         per-sequence decode state besides the cache: CCA conv window + value shift
 *                                 (independent of S); OVQ: its whole state after S tokens (dictionary and the
 *                                 open chunk's raw keys and values), bounded once the dictionary is full
 * @param prefillFlops             prefill of S tokens, non-causal Table II convention (every query sees S keys)
 * @param prefillFlopsCausal       prefill of S tokens, exact causal count (query t sees t + 1 keys)
 * @param prefillAttentionFlops    the S^2 part of {@code prefillFlops} (scores and weighted values)
 * @param prefillConvFlops         the CCA/CCGQA convolution part of {@code prefillFlops} (0 elsewhere)
 * @param decodeFlops              one decode step attending to S cached tokens (MLA: absorbed form)
 * @param decodeCacheBytesRead     cache bytes one decode step reads (S * kvCacheBytesPerToken; OVQ: its state)
 */
public record CostEstimate(String family, int seqLen, int dtypeBytes, long parameters, long kvCacheBytesPerToken,
                           long kvCacheBytes, long decodeStateBytes, long prefillFlops, long prefillFlopsCausal,
                           long prefillAttentionFlops, long prefillConvFlops, long decodeFlops,
                           long decodeCacheBytesRead) {

    /** Decode FLOPs per byte of cache read: the arithmetic intensity that decides memory- vs compute-bound. */
    public double decodeArithmeticIntensity() {
        return decodeCacheBytesRead == 0 ? Double.POSITIVE_INFINITY : (double) decodeFlops / decodeCacheBytesRead;
    }
}
