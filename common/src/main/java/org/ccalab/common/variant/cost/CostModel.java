package org.ccalab.common.variant.cost;

import org.ccalab.common.validation.Check;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;

/**
 * Exact per-layer cost of every variant, following cca.md section 6 (Table II, with the exact conv count) and
 * mla.md section 5. The numbers match the layers the engine builds: no biases on linears, CCA/CCGQA convs with
 * biases and one temperature per KV head, MLA with its two RMSNorm weight vectors.
 *
 * <p>Each variant reduces to four shape facts: linear weights W (a token costs 2W FLOPs through them),
 * per-score matmul width a (the S^2 term is 2a per query-key pair), conv weights per token, and cache
 * elements per token. Attention width a is n_q * (d_qk + d_v) for all families.
 *
 * <p>OVQ (ovq.md section 7) is not quadratic and keeps no per-token cache: its cache is the state, centroids
 * mu, value sums U and counts c in float32 for the active dictionary plus the raw k, v of the unfinished chunk
 * at the storage dtype; its attention FLOPs are the reads (2 (d + d_v) per query and centroid or chunk key) and
 * the folds (2 d per key and centroid for the assignment, again per key and founder for the farthest-point
 * distances and the re-assignment).
 */
public final class CostModel {
    private CostModel() {}

    /** The full estimate for one sequence of {@code seqLen} tokens stored at {@code dtypeBytes} per element. */
    public static CostEstimate estimate(AttentionConfig config, int seqLen, int dtypeBytes) {
        Check.inRange("seqLen", seqLen, 1, 1 << 24);
        Check.inRange("dtypeBytes", dtypeBytes, 1, 8);
        if (config instanceof OvqConfig o) return ovqEstimate(o, seqLen, dtypeBytes);
        Shape s = shape(config);
        long kvPerToken = s.cacheElementsPerToken * dtypeBytes;
        long attention = 2L * s.attentionWidth * (long) seqLen * seqLen;
        long attentionCausal = s.attentionWidth * (long) seqLen * (seqLen + 1);
        long perToken = 2L * s.linearWeights + 2L * s.convWeights;
        long conv = 2L * s.convWeights * seqLen;
        return new CostEstimate(config.family(), seqLen, dtypeBytes, parameters(config), kvPerToken,
                kvPerToken * seqLen, decodeStateBytes(config, dtypeBytes),
                perToken * seqLen + attention, perToken * seqLen + attentionCausal, attention, conv,
                decodeFlops(config, seqLen), kvPerToken * seqLen);
    }

    /** Exact trainable parameters: linear weights, conv weights and biases, temperatures, norm weights. */
    public static long parameters(AttentionConfig config) {
        if (config instanceof OvqConfig o) return 4L * o.dModel() * o.dModel() + (o.ovq().learnBeta() ? o.nHeads() : 0);
        Shape s = shape(config);
        return s.linearWeights + s.convWeights + s.otherParameters;
    }

    /** Weights of the linear projections only (what Table II's parameter column counts). */
    public static long linearWeights(AttentionConfig config) {
        if (config instanceof OvqConfig o) return 4L * o.dModel() * o.dModel();
        return shape(config).linearWeights;
    }

    /** Cache bytes added per token per layer: K and V (MHA/GQA/CCA), latent c and rope key (MLA). */
    public static long kvCacheBytesPerToken(AttentionConfig config, int dtypeBytes) {
        if (config instanceof OvqConfig) return 0;
        return shape(config).cacheElementsPerToken * dtypeBytes;
    }

    /**
     * Decode state per sequence that does not grow with S (cca.md section 3): the conv window of P raw packed
     * projections and, with the value shift, the delayed projection W_vd x_{t-1} of D_k / 2 values. 0 for
     * MHA, GQA and MLA. OVQ: its whole state with a full dictionary, the bound its state never exceeds.
     */
    public static long decodeStateBytes(AttentionConfig config, int dtypeBytes) {
        if (config instanceof OvqConfig o) return ovqStateBytes(o, o.ovq().dictionarySize(), o.ovq().chunkLength(), dtypeBytes);
        if (!(toGrouped(config) instanceof CcgqaConfig c)) return 0;
        long window = (long) c.conv().convStateLength() * c.packedWidth();
        long shift = c.conv().valueShift() ? c.kvWidth() / 2 : 0;
        return (window + shift) * dtypeBytes;
    }

    /** Non-causal prefill FLOPs of S tokens (Table II convention; includes CCA convs). */
    public static long prefillFlops(AttentionConfig config, int seqLen) {
        return estimate(config, seqLen, 2).prefillFlops();
    }

    /** Exact causal prefill FLOPs of S tokens: the S^2 term becomes S(S+1)/2 query-key pairs. */
    public static long prefillFlopsCausal(AttentionConfig config, int seqLen) {
        return estimate(config, seqLen, 2).prefillFlopsCausal();
    }

    /**
     * One decode step for a new token attending to {@code context} cached tokens: 2W through the projections,
     * the per-token conv, and the attention over the cache. MLA uses the absorbed form of mla.md section 3,
     * whose per-key width is 2 r_kv + d_r per head.
     */
    public static long decodeFlops(AttentionConfig config, int context) {
        Check.inRange("seqLen", context, 0, 1 << 24);
        if (config instanceof OvqConfig o) {
            // The read of the new token at position `context`: the folded dictionary and the open chunk with itself.
            OvqSpec v = o.ovq();
            long chunkKeys = v.stateOnly() ? 0 : context % v.chunkLength() + 1;
            long read = 2L * o.nHeads() * (v.dictionaryAfterChunks(context / v.chunkLength()) + chunkKeys) * 2L * o.headDim();
            return 2L * linearWeights(o) + read;
        }
        Shape s = shape(config);
        long perKey = config instanceof MlaConfig m
                ? 2L * m.nHeads() * (2L * m.kvLoraRank() + m.qkRopeHeadDim())
                : 2L * s.attentionWidth;
        return 2L * s.linearWeights + 2L * s.convWeights + perKey * context;
    }

    /** Prefill of S tokens, causal by construction: non-causal and causal counts coincide. */
    private static CostEstimate ovqEstimate(OvqConfig o, int seqLen, int dtypeBytes) {
        OvqSpec v = o.ovq();
        int chunk = v.chunkLength();
        long h = o.nHeads(), d = o.headDim();
        long read = 0, fold = 0;
        int n = 0;
        for (long start = 0; start < seqLen; start += chunk) {
            long len = Math.min(chunk, seqLen - start);
            long chunkPairs = v.stateOnly() ? 0 : len * (len + 1) / 2;
            read += 2L * 2 * d * (len * n + chunkPairs);
            if (len == chunk) {
                int grown = v.dictionaryAfterChunks(start / chunk + 1) - n;
                // Assignment against the n old centroids, farthest-point distances and re-assignment per founder.
                fold += 2L * d * len * n + 2L * 2 * d * len * grown;
                n += grown;
            }
        }
        read *= h;
        fold *= h;
        long linear = 2L * linearWeights(o) * seqLen;
        long prefill = linear + read + fold;
        long state = ovqStateBytes(o, n, seqLen % chunk, dtypeBytes);
        return new CostEstimate(o.family(), seqLen, dtypeBytes, parameters(o), 0, 0, state, prefill, prefill,
                read + fold, 0, decodeFlops(o, seqLen), state);
    }

    /** Centroids, value sums and counts in float32 for {@code centroids} rows, plus {@code buffered} raw k, v. */
    private static long ovqStateBytes(OvqConfig o, int centroids, int buffered, int dtypeBytes) {
        long d = o.headDim();
        return o.nHeads() * (centroids * (2 * d + 1) * 4L + buffered * 2 * d * dtypeBytes);
    }

    private record Shape(long linearWeights, long convWeights, long otherParameters, long attentionWidth,
                         long cacheElementsPerToken) {}

    private static AttentionConfig toGrouped(AttentionConfig config) {
        return switch (config) {
            case MhaConfig m -> m.asGqa();
            case CcaConfig c -> c.asGrouped();
            default -> config;
        };
    }

    private static Shape shape(AttentionConfig config) {
        return switch (toGrouped(config)) {
            case GqaConfig g -> {
                long e = g.dModel(), kv = (long) g.nKvHeads() * g.headDim();
                // W_q, W_o: E x E; W_k, W_v: (nKv d) x E.
                yield new Shape(2 * e * e + 2 * kv * e, 0, 0, 2L * e, 2 * kv);
            }
            case CcgqaConfig c -> {
                long e = c.dModel(), dq = c.queryWidth(), dk = c.kvWidth(), cqk = c.packedWidth(), d = c.headDim();
                int k0 = c.conv().convSeqKernel(), k1 = c.conv().convChannelKernel();
                // W_q [D_q,E], W_k [D_k,E], W_vc + W_vd [D_k/2,E] each, W_o [E,D_q].
                long linear = dq * e + dk * e + dk * e + e * dq;
                // Depthwise w0 [C_qk,1,k0]; grouped W1 [C_qk,d,k1] (groups of d channels).
                long conv = cqk * k0 + cqk * d * k1;
                long biasesAndTemps = 2 * cqk + c.nKvHeads();
                yield new Shape(linear, conv, biasesAndTemps, 2 * dq, 2 * dk);
            }
            case MlaConfig m -> {
                long e = m.dModel(), n = m.nHeads(), dqk = m.qkHeadDim(), rq = m.qLoraRank(), rkv = m.kvLoraRank();
                long query = m.hasQueryCompression() ? e * rq + rq * n * dqk : e * n * dqk;
                long linear = query + e * (rkv + m.qkRopeHeadDim()) + rkv * n * (m.qkNopeHeadDim() + m.vHeadDim())
                        + n * m.vHeadDim() * e;
                long norms = rkv + (m.hasQueryCompression() ? rq : 0);
                yield new Shape(linear, 0, norms, n * (dqk + m.vHeadDim()), rkv + m.qkRopeHeadDim());
            }
            default -> throw new IllegalStateException("unreachable: " + config.family());
        };
    }
}
