package org.ccalab.common.variant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.stream.Stream;
import org.ccalab.common.validation.InvalidConfigException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.json.JsonMapper;

/** Every impossible configuration is refused on construction, naming the parameter at fault. */
class VariantValidationTest {
    private static OvqSpec ovq(Integer chunk, Integer cap, Integer growthLength, OvqGrowth growth, Double rate,
                               Integer window) {
        return new OvqSpec(chunk, cap, growthLength, growth, null, null, rate, null, null, null, null, window);
    }

    static Stream<Arguments> invalid() {
        return Stream.of(
                Arguments.of("width 0", (Runnable) () -> new MhaConfig(0, 4), "dModel"),
                Arguments.of("heads not dividing width", (Runnable) () -> new MhaConfig(64, 3), "nHeads"),
                Arguments.of("head dim above limit", (Runnable) () -> new MhaConfig(4096, 2), "nHeads"),
                Arguments.of("kv heads not dividing q heads", (Runnable) () -> new GqaConfig(64, 4, 3), "nKvHeads"),
                Arguments.of("no kv heads", (Runnable) () -> new GqaConfig(64, 4, 0), "nKvHeads"),
                Arguments.of("CCA latent not dividing width (compression)", (Runnable) () -> new CcaConfig(96, 1, 64), "nHeads"),
                Arguments.of("CCA head dim 0", (Runnable) () -> new CcaConfig(64, 4, 0), "headDim"),
                Arguments.of("CCGQA kv heads not dividing q heads", (Runnable) () -> new CcgqaConfig(64, 4, 3, 16), "nKvHeads"),
                Arguments.of("CCGQA query latent not dividing width", (Runnable) () -> new CcgqaConfig(64, 4, 2, 24), "nQHeads"),
                Arguments.of("value shift with odd kv heads", (Runnable) () -> new CcgqaConfig(96, 3, 3, 16), "nKvHeads"),
                Arguments.of("value shift with odd value latent",
                        (Runnable) () -> new CcgqaConfig(15, 1, 1, 5, CompressedConvSpec.DEFAULT), "headDim"),
                Arguments.of("depthwise conv width 0",
                        (Runnable) () -> new CompressedConvSpec(0, 2, null, null, null, null, null), "convSeqKernel"),
                Arguments.of("grouped conv width 0",
                        (Runnable) () -> new CompressedConvSpec(2, 0, null, null, null, null, null), "convChannelKernel"),
                Arguments.of("negative norm eps",
                        (Runnable) () -> new CompressedConvSpec(2, 2, null, null, -1.0, null, null), "normEps"),
                Arguments.of("RoPE fraction above 1", (Runnable) () -> new RopeSpec(1.5, 10_000), "fraction"),
                Arguments.of("RoPE base below 1", (Runnable) () -> new RopeSpec(0.5, 0.5), "base"),
                Arguments.of("MLA odd rope dims", (Runnable) () -> new MlaConfig(64, 4, 0, 32, 16, 7, 16, 1e4, 1e-6), "qkRopeHeadDim"),
                Arguments.of("MLA zero kv rank", (Runnable) () -> new MlaConfig(64, 4, 0, 0, 16, 8, 16, 1e4, 1e-6), "kvLoraRank"),
                Arguments.of("MLA zero value dim", (Runnable) () -> new MlaConfig(64, 4, 0, 32, 16, 8, 0, 1e4, 1e-6), "vHeadDim"),
                Arguments.of("MLA negative query rank", (Runnable) () -> new MlaConfig(64, 4, -1, 32, 16, 8, 16, 1e4, 1e-6), "qLoraRank"),
                Arguments.of("OVQ heads not dividing width", (Runnable) () -> new OvqConfig(64, 3), "nHeads"),
                Arguments.of("OVQ chunk 0", (Runnable) () -> ovq(0, null, null, null, null, null), "chunkLength"),
                Arguments.of("OVQ empty dictionary", (Runnable) () -> ovq(null, 0, null, null, null, null), "dictionarySize"),
                Arguments.of("OVQ log growth that cannot reach its cap",
                        (Runnable) () -> ovq(null, 1024, 1024, OvqGrowth.LOG, null, null), "growthLength"),
                Arguments.of("OVQ linear growth faster than a centroid per token",
                        (Runnable) () -> ovq(null, 1024, 1000, OvqGrowth.LINEAR, null, null), "growthLength"),
                Arguments.of("OVQ constant rate 0", (Runnable) () -> ovq(null, null, null, null, 0.0, null), "constantRate"),
                Arguments.of("OVQ constant rate above 1", (Runnable) () -> ovq(null, null, null, null, 1.5, null), "constantRate"),
                Arguments.of("OVQ SWA window shorter than a chunk", (Runnable) () -> ovq(64, null, null, null, null, 32), "swaWindow"),
                Arguments.of("OVQ negative SWA window", (Runnable) () -> ovq(null, null, null, null, null, -1), "swaWindow"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalid")
    void shouldRefuseNamingTheParameter(String name, Runnable construct, String field) {
        InvalidConfigException e = catchThrowableOfType(InvalidConfigException.class, construct::run);
        assertThat(e).as(name).isNotNull();
        assertThat(e.field()).isEqualTo(field);
        assertThat(e.getMessage()).startsWith(field + ": ");
    }

    @org.junit.jupiter.api.Test
    void shouldRefuseInvalidJsonWithTheSameField() {
        JsonMapper json = JsonMapper.builder().build();
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> json.readValue(
                "{\"family\":\"ccgqa\",\"dModel\":64,\"nQHeads\":4,\"nKvHeads\":3,\"headDim\":16}", AttentionConfig.class));
        while (t != null && !(t instanceof InvalidConfigException)) t = t.getCause();
        assertThat(t).isNotNull();
        assertThat(((InvalidConfigException) t).field()).isEqualTo("nKvHeads");
    }
}
