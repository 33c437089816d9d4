package org.ccalab.common.variant;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.stream.Collectors;
import org.ccalab.common.variant.cost.CostModel;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class VariantCatalogTest {
    @Test
    void shouldListEveryFamilyOfTheSealedConfig() {
        assertThat(VariantCatalog.families()).extracting(FamilyDescriptor::family)
                .containsExactly("mha", "gqa", "mla", "cca", "ccgqa", "ovq");
        for (FamilyDescriptor f : VariantCatalog.families()) {
            assertThat(f.defaultConfig().family()).isEqualTo(f.family());
            assertThat(f.presets()).isNotEmpty().allSatisfy(p -> assertThat(p.config().family()).isEqualTo(f.family()));
        }
    }

    @Test
    void shouldOfferThePaperKernelBenchmarkSetAtWidth2048() {
        Map<String, Long> kvElements = VariantCatalog.kernelBenchmarkSet().stream().collect(Collectors.toMap(
                Preset::name, p -> CostModel.kvCacheBytesPerToken(p.config(), 1)));
        assertThat(kvElements).containsExactlyInAnyOrderEntriesOf(Map.of(
                "MHA", 4096L, "GQA-4", 1024L, "GQA-8", 512L, "MLA-4", 1024L, "CCA-4x", 1024L, "CCGQA-2x8x", 512L));
        assertThat(VariantCatalog.kernelBenchmarkSet()).allSatisfy(p -> assertThat(p.config().dModel()).isEqualTo(2048));
        CcgqaConfig c = (CcgqaConfig) VariantCatalog.preset("CCGQA-2x8x").orElseThrow().config();
        assertThat(c.queryCompression()).isEqualTo(2);
        assertThat(c.kvCompression()).isEqualTo(8);
    }

    /** Every descriptor's default must be the value the default config actually holds, at its JSON path. */
    @Test
    void shouldDescribeFieldsThatExistWithTheirDefaults() {
        JsonMapper json = JsonMapper.builder().build();
        for (FamilyDescriptor f : VariantCatalog.families()) {
            var tree = json.valueToTree(f.defaultConfig());
            for (ParameterDescriptor p : f.parameters()) {
                var node = tree;
                for (String part : p.name().split("\\.")) node = node.path(part);
                assertThat(node.isMissingNode()).as(f.family() + "." + p.name()).isFalse();
                String actual = node.isNumber() ? String.valueOf(node.numberValue().doubleValue()) : node.asString();
                String expected = p.defaultValue() instanceof Number n ? String.valueOf(n.doubleValue())
                        : String.valueOf(p.defaultValue());
                assertThat(actual).as(f.family() + "." + p.name()).isEqualTo(expected);
            }
        }
    }

    @Test
    void shouldRoundTripPresetsThroughJson() throws Exception {
        JsonMapper json = JsonMapper.builder().build();
        for (Preset p : VariantCatalog.presets()) {
            String text = json.writeValueAsString(p.config());
            assertThat(json.readValue(text, AttentionConfig.class)).as(p.name()).isEqualTo(p.config());
        }
    }
}
