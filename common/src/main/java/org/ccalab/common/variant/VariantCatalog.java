package org.ccalab.common.variant;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The variant families with their configurable fields and named presets. Presets at E = 2048 are the paper's
 * kernel-benchmark set (cca.md section 9, MHA = 16 heads x 128) and the KV-matched MLA baselines of mla.md
 * section 6. Bounds mirror the records' own validation, which stays the authority; a parameter's default is the value a
 * config takes when the request leaves it out (not the default config's, which the form starts from), and one the
 * config refuses to leave out is listed required, without a default.
 */
public final class VariantCatalog {
    /** The width of the paper's benchmarks and of every preset here. */
    public static final int PAPER_WIDTH = 2048;

    private static final List<FamilyDescriptor> FAMILIES = List.of(mha(), gqa(), mla(), cca(), ccgqa(), ovq());

    private VariantCatalog() {}

    public static List<FamilyDescriptor> families() {
        return FAMILIES;
    }

    public static Optional<FamilyDescriptor> family(String name) {
        return FAMILIES.stream().filter(f -> f.family().equals(name)).findFirst();
    }

    /** Every preset of every family, in catalog order. */
    public static List<Preset> presets() {
        return FAMILIES.stream().flatMap(f -> f.presets().stream()).toList();
    }

    public static Optional<Preset> preset(String name) {
        return presets().stream().filter(p -> p.name().equals(name)).findFirst();
    }

    /** The paper's kernel-benchmark comparison set at E = 2048 (cca.md section 9 plus MLA-4 of mla.md). */
    public static List<Preset> kernelBenchmarkSet() {
        return Stream.of("MHA", "GQA-4", "GQA-8", "MLA-4", "CCA-4x", "CCGQA-2x8x")
                .map(n -> preset(n).orElseThrow()).toList();
    }

    private static FamilyDescriptor mha() {
        List<ParameterDescriptor> p = new ArrayList<>(List.of(
                ParameterDescriptor.required("dModel", 1, AttentionConfig.MAX_WIDTH, "residual width E"),
                ParameterDescriptor.required("nHeads", 1, AttentionConfig.MAX_HEADS,
                        "attention heads; head dim = dModel / nHeads")));
        p.addAll(rope("rope.", 1.0));
        MhaConfig def = new MhaConfig(PAPER_WIDTH, 16);
        return new FamilyDescriptor("mha", "Multi-head attention",
                "E x E projections, every head its own keys and values (cca.md section 5).", p, def,
                List.of(new Preset("MHA", "16 heads x 128, KV cache 2E per token", def)));
    }

    private static FamilyDescriptor gqa() {
        List<ParameterDescriptor> p = new ArrayList<>(List.of(
                ParameterDescriptor.required("dModel", 1, AttentionConfig.MAX_WIDTH, "residual width E"),
                ParameterDescriptor.required("nHeads", 1, AttentionConfig.MAX_HEADS,
                        "query heads; head dim = dModel / nHeads"),
                ParameterDescriptor.required("nKvHeads", 1, AttentionConfig.MAX_HEADS,
                        "key/value heads, must divide nHeads; 1 = MQA, nHeads = MHA")));
        p.addAll(rope("rope.", 1.0));
        GqaConfig gqa4 = new GqaConfig(PAPER_WIDTH, 16, 4);
        return new FamilyDescriptor("gqa", "Grouped-query attention",
                "Query heads share key/value heads in groups of nHeads / nKvHeads; MQA is one KV head.", p, gqa4,
                List.of(new Preset("GQA-4", "16 query heads share 4 KV heads (KV cache MHA/4)", gqa4),
                        new Preset("GQA-8", "16 query heads share 2 KV heads (KV cache MHA/8)",
                                new GqaConfig(PAPER_WIDTH, 16, 2)),
                        new Preset("MQA", "16 query heads share 1 KV head", new GqaConfig(PAPER_WIDTH, 16, 1))));
    }

    private static FamilyDescriptor mla() {
        int w = AttentionConfig.MAX_WIDTH, hd = AttentionConfig.MAX_HEAD_DIM;
        List<ParameterDescriptor> p = List.of(
                ParameterDescriptor.required("dModel", 1, w, "residual width E"),
                ParameterDescriptor.required("nHeads", 1, AttentionConfig.MAX_HEADS, "attention heads n"),
                ParameterDescriptor.integer("qLoraRank", 0, 0, w, "query low-rank r_q; 0 = direct query projection"),
                ParameterDescriptor.required("kvLoraRank", 1, w, "KV latent rank r_kv (cached per token)"),
                ParameterDescriptor.integer("qkNopeHeadDim", 0, 0, hd,
                        "per-head query/key channels without RoPE d_n; qkNopeHeadDim + qkRopeHeadDim >= 1"),
                ParameterDescriptor.integer("qkRopeHeadDim", 0, 0, hd,
                        "decoupled RoPE channels d_r (even; one shared key per token, cached)"),
                ParameterDescriptor.required("vHeadDim", 1, hd, "per-head value width d_v"),
                ParameterDescriptor.real("ropeBase", 10_000.0, 1.0, 1e9, "RoPE base theta"),
                ParameterDescriptor.real("normEps", 1e-6, 1e-30, 1e-2, "epsilon of the inner RMSNorms"));
        MlaConfig mla4 = MlaConfig.kvMatched(PAPER_WIDTH, 16, 960);
        MlaConfig mla8 = MlaConfig.kvMatched(PAPER_WIDTH, 16, 448);
        return new FamilyDescriptor("mla", "Multi-head latent attention",
                "DeepSeek-V2 MLA: KV compressed to a latent plus a shared decoupled RoPE key (mla.md).", p, mla4,
                List.of(new Preset("MLA-4", "r_kv 960 + d_r 64 = 1024 cached elements (MHA/4)", mla4),
                        new Preset("MLA-4q", "MLA-4 with query low-rank 1024", withQueryRank(mla4, 1024)),
                        new Preset("MLA-8", "r_kv 448 + d_r 64 = 512 cached elements (MHA/8)", mla8),
                        new Preset("MLA-8q", "MLA-8 with query low-rank 1024", withQueryRank(mla8, 1024)),
                        new Preset("V2-Lite", "DeepSeek-V2-Lite attention shape: r_kv 512, d_r 64",
                                MlaConfig.kvMatched(PAPER_WIDTH, 16, 512))));
    }

    private static FamilyDescriptor cca() {
        List<ParameterDescriptor> p = new ArrayList<>(List.of(
                ParameterDescriptor.required("dModel", 1, AttentionConfig.MAX_WIDTH, "residual width E"),
                ParameterDescriptor.required("nHeads", 1, AttentionConfig.MAX_HEADS,
                        "latent query heads = latent key/value heads"),
                ParameterDescriptor.required("headDim", 1, AttentionConfig.MAX_HEAD_DIM,
                        "latent head dim d; compression C = dModel / (nHeads * headDim)")));
        p.addAll(conv());
        CcaConfig cca4 = new CcaConfig(PAPER_WIDTH, 4, 128);
        return new FamilyDescriptor("cca", "Compressed convolutional attention",
                "Attention in a latent of E / C channels with two causal convs on q and k (cca.md).", p, cca4,
                List.of(new Preset("CCA-4x", "4 query / 4 KV heads x 128: C = 4", cca4),
                        new Preset("CCA-2x", "8 query / 8 KV heads x 128: C = 2", new CcaConfig(PAPER_WIDTH, 8, 128)),
                        new Preset("CCA-8x", "2 query / 2 KV heads x 128: C = 8", new CcaConfig(PAPER_WIDTH, 2, 128))));
    }

    private static FamilyDescriptor ccgqa() {
        List<ParameterDescriptor> p = new ArrayList<>(List.of(
                ParameterDescriptor.required("dModel", 1, AttentionConfig.MAX_WIDTH, "residual width E"),
                ParameterDescriptor.required("nQHeads", 1, AttentionConfig.MAX_HEADS, "latent query heads n_q"),
                ParameterDescriptor.required("nKvHeads", 1, AttentionConfig.MAX_HEADS,
                        "latent key/value heads n_kv; must divide nQHeads; even or 1 with the value shift"),
                ParameterDescriptor.required("headDim", 1, AttentionConfig.MAX_HEAD_DIM, "latent head dim d")));
        p.addAll(conv());
        CcgqaConfig c2x8 = new CcgqaConfig(PAPER_WIDTH, 8, 2, 128);
        CompressedConvSpec zaya = new CompressedConvSpec(2, 2, new RopeSpec(0.5, 1e6), KeyTemperature.LINEAR,
                1e-12, true, true);
        return new FamilyDescriptor("ccgqa", "Compressed convolutional grouped-query attention",
                "CCA's compression with GQA's grouping: C1 on queries, C2 on keys and values (cca.md).", p, c2x8,
                List.of(new Preset("CCGQA-2x8x", "8 query / 2 KV heads x 128: C1 = 2, C2 = 8 (paper MoE, ZAYA1)", c2x8),
                        new Preset("CCGQA-1x4x", "16 query / 4 KV heads x 128: C1 = 1, C2 = 4 (paper dense)",
                                new CcgqaConfig(PAPER_WIDTH, 16, 4, 128)),
                        new Preset("ZAYA1", "ZAYA1-8B layer: 8q/2kv x 128, linear temperature, RoPE base 1e6",
                                new CcgqaConfig(PAPER_WIDTH, 8, 2, 128, zaya))));
    }

    private static FamilyDescriptor ovq() {
        List<ParameterDescriptor> p = List.of(
                ParameterDescriptor.required("dModel", 1, AttentionConfig.MAX_WIDTH, "residual width E"),
                ParameterDescriptor.required("nHeads", 1, AttentionConfig.MAX_HEADS,
                        "heads; head dim d = d_v = dModel / nHeads"),
                ParameterDescriptor.integer("ovq.chunkLength", 64, 1, OvqSpec.MAX_CHUNK,
                        "chunk L: tokens read their chunk exactly, the dictionary is folded at chunk ends"),
                ParameterDescriptor.integer("ovq.dictionarySize", 1024, 1, OvqSpec.MAX_DICTIONARY,
                        "dictionary cap N_max: centroids per head (the state's size once full)"),
                ParameterDescriptor.integer("ovq.growthLength", 4096, 1, OvqSpec.MAX_LENGTH,
                        "tokens after which the growth schedule reaches N_max (the training length)"),
                ParameterDescriptor.choice("ovq.growth", OvqGrowth.LOG,
                        Arrays.stream(OvqGrowth.values()).map(Enum::name).toList(),
                        "dictionary growth: LOG plateau (CRP-like, default) or LINEAR (ablation)"),
                ParameterDescriptor.choice("ovq.assignment", OvqAssignment.EUCLIDEAN,
                        Arrays.stream(OvqAssignment.values()).map(Enum::name).toList(),
                        "a key joins its nearest centroid (EUCLIDEAN, k-means) or its largest dot product (DOT)"),
                ParameterDescriptor.choice("ovq.update", OvqUpdate.NEWTON,
                        Arrays.stream(OvqUpdate.values()).map(Enum::name).toList(),
                        "centroid step: NEWTON running mean (1 / count) or CONSTANT learning rate (ablation)"),
                ParameterDescriptor.real("ovq.constantRate", 0.1, 1e-6, 1.0, "eta of the CONSTANT update"),
                ParameterDescriptor.bool("ovq.stateOnly", false, "read the dictionary only, not the current chunk"),
                ParameterDescriptor.bool("ovq.renormalizeCentroids", false, "read with unit-norm centroids"),
                ParameterDescriptor.bool("ovq.learnBeta", true, "learn beta = exp(b) per head (else beta = sqrt(d))"),
                ParameterDescriptor.bool("ovq.stateGradient", true,
                        "backpropagate through the dictionary into earlier keys and values (chunk-level BPTT)"),
                ParameterDescriptor.integer("ovq.swaWindow", 512, 0, OvqSpec.MAX_LENGTH,
                        "language models alternate sliding-window attention layers of this window with OVQ layers; 0 = OVQ only"));
        OvqConfig def = new OvqConfig(PAPER_WIDTH, 32);
        return new FamilyDescriptor("ovq", "Online vector-quantized attention",
                "Queries read a per-sequence dictionary of key centroids and value sums learned online, plus their own"
                        + " chunk: linear compute, constant memory (ovq.md; [ours] choices configurable).", p, def,
                List.of(new Preset("OVQ-1k", "32 heads x 64, N_max 1024 reached at 4k tokens, chunk 64", def),
                        new Preset("OVQ-4k", "32 heads x 64, N_max 4096 reached at 16k tokens",
                                new OvqConfig(PAPER_WIDTH, 32, new OvqSpec(null, 4096, 16384, null, null, null, null,
                                        null, null, null, null, null))),
                        new Preset("OVQ-linear", "OVQ-1k with the linear growth ablation",
                                new OvqConfig(PAPER_WIDTH, 32, new OvqSpec(null, null, null, OvqGrowth.LINEAR, null, null,
                                        null, null, null, null, null, null)))));
    }

    private static List<ParameterDescriptor> rope(String prefix, double fraction) {
        return List.of(
                ParameterDescriptor.real(prefix + "fraction", fraction, 0.0, 1.0,
                        "share of each head's channels rotated by RoPE (rotate-half); 0 = none"),
                ParameterDescriptor.real(prefix + "base", 10_000.0, 1.0, 1e9, "RoPE base theta"));
    }

    private static List<ParameterDescriptor> conv() {
        List<ParameterDescriptor> p = new ArrayList<>(List.of(
                ParameterDescriptor.integer("conv.convSeqKernel", 2, 1, CompressedConvSpec.MAX_CONV_KERNEL,
                        "k0: depthwise conv width over time"),
                ParameterDescriptor.integer("conv.convChannelKernel", 2, 1, CompressedConvSpec.MAX_CONV_KERNEL,
                        "k1: grouped (per head) conv width over time")));
        p.addAll(rope("conv.rope.", 0.5));
        p.addAll(List.of(
                ParameterDescriptor.choice("conv.keyTemperature", KeyTemperature.EXP,
                        Arrays.stream(KeyTemperature.values()).map(Enum::name).toList(),
                        "key scale beta from theta: EXP exp(theta) (paper), LINEAR theta (ZAYA1), CLAMPED_EXP"),
                ParameterDescriptor.real("conv.normEps", 1e-12, 0.0, 1e-2, "epsilon added to the squared L2 norm"),
                ParameterDescriptor.bool("conv.qkMean", true, "add the pre-conv q-k mean to q and k (ablation switch)"),
                ParameterDescriptor.bool("conv.valueShift", true,
                        "second half of the value latent from the previous token (ablation switch)")));
        return p;
    }

    private static MlaConfig withQueryRank(MlaConfig m, int qLoraRank) {
        return new MlaConfig(m.dModel(), m.nHeads(), qLoraRank, m.kvLoraRank(), m.qkNopeHeadDim(),
                m.qkRopeHeadDim(), m.vHeadDim(), m.ropeBase(), m.normEps());
    }
}
