package org.ccalab.common.variant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.stream.Collectors;
import org.ccalab.common.sweep.VariantBinder;
import org.ccalab.common.validation.InvalidConfigException;
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

    /**
     * Every descriptor names a field of the config; its default is the value the config takes when the request leaves
     * it out (a nested field: its enclosing object), and a required one (no default) is refused when left out.
     */
    @Test
    @SuppressWarnings("unchecked")
    void shouldDescribeFieldsThatExistWithTheValueTheyTakeWhenLeftOut() {
        JsonMapper json = JsonMapper.builder().build();
        for (FamilyDescriptor f : VariantCatalog.families()) {
            var tree = json.valueToTree(f.defaultConfig());
            for (ParameterDescriptor p : f.parameters()) {
                String label = f.family() + "." + p.name();
                var node = tree;
                for (String part : p.name().split("\\.")) node = node.path(part);
                assertThat(node.isMissingNode()).as(label).isFalse();
                assertThat(p.required()).as(label + " required <=> no default").isEqualTo(p.defaultValue() == null);
                Map<String, Object> config = json.convertValue(f.defaultConfig(), Map.class);
                config.put("family", f.family());
                config.remove(p.name().split("\\.")[0]);
                if (p.required()) {
                    assertThatThrownBy(() -> VariantBinder.bind(config, "v")).as(label)
                            .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.all())
                                    .anySatisfy(x -> {
                                        assertThat(x.field()).isEqualTo("v." + p.name());
                                        assertThat(x.reason()).startsWith("is required");
                                    }));
                    continue;
                }
                var bound = json.valueToTree(VariantBinder.bind(config, "v"));
                for (String part : p.name().split("\\.")) bound = bound.path(part);
                String actual = bound.isNumber() ? String.valueOf(bound.numberValue().doubleValue()) : bound.asString();
                String expected = p.defaultValue() instanceof Number n ? String.valueOf(n.doubleValue())
                        : String.valueOf(p.defaultValue());
                assertThat(actual).as(label).isEqualTo(expected);
            }
        }
    }

    @Test
    void shouldListMlaLatentRankAndValueWidthAsRequired() {
        FamilyDescriptor mla = VariantCatalog.family("mla").orElseThrow();
        assertThat(mla.parameters()).filteredOn(ParameterDescriptor::required).extracting(ParameterDescriptor::name)
                .containsExactly("dModel", "nHeads", "kvLoraRank", "vHeadDim");
        assertThat(mla.parameters()).filteredOn(p -> p.name().startsWith("qk")).extracting(ParameterDescriptor::defaultValue)
                .containsOnly(0);
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
