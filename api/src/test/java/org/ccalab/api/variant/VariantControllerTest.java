package org.ccalab.api.variant;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.hasSize;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.util.Map;
import org.ccalab.api.support.TestProperties;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.ResultActions;

@WebMvcTest(VariantController.class)
class VariantControllerTest {
    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of());
        }
    }

    @Autowired
    MockMvc mvc;

    private ResultActions cost(String body) throws Exception {
        return mvc.perform(post("/api/variants/cost").contentType(MediaType.APPLICATION_JSON).content(body));
    }

    @Test
    void shouldListEveryFamilyWithParametersPresetsAndGridKeys() throws Exception {
        mvc.perform(get("/api/variants"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.families", hasSize(6)))
                .andExpect(jsonPath("$.families[1].family").value("gqa"))
                .andExpect(jsonPath("$.families[1].parameters[2].name").value("nKvHeads"))
                .andExpect(jsonPath("$.families[1].parameters[2].min").value(1))
                .andExpect(jsonPath("$.families[2].parameters[3].name").value("kvLoraRank"))
                .andExpect(jsonPath("$.families[2].parameters[3].required").value(true))
                .andExpect(jsonPath("$.families[2].parameters[4].name").value("qkNopeHeadDim"))
                .andExpect(jsonPath("$.families[2].parameters[4].required").value(false))
                .andExpect(jsonPath("$.families[2].parameters[4].defaultValue").value(0))
                .andExpect(jsonPath("$.families[3].presets[0].config.family").value("cca"))
                .andExpect(jsonPath("$.families[5].family").value("ovq"))
                .andExpect(jsonPath("$.families[5].parameters[2].name").value("ovq.chunkLength"))
                .andExpect(jsonPath("$.families[5].parameters[*].name", org.hamcrest.Matchers.hasItems("ovq.dictionarySize", "ovq.swaWindow")))
                .andExpect(jsonPath("$.families[5].defaultConfig.ovq.growth").value("LOG"))
                .andExpect(jsonPath("$.kernelBenchmarkSet[0]").value("MHA"))
                .andExpect(jsonPath("$.gridKeys.TRAINING", org.hamcrest.Matchers.hasItem("learningRate")));
    }

    @Test
    void shouldComputeTheExactCostOfAVariant() throws Exception {
        long params = CostModel.parameters(new CcaConfig(2048, 4, 128));
        cost("{\"variant\": {\"family\": \"cca\", \"dModel\": 2048, \"nHeads\": 4, \"headDim\": 128}, \"seqLen\": 4096, \"dtype\": \"fp32\"}")
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.variant.family").value("cca"))
                .andExpect(jsonPath("$.dtype").value("fp32"))
                .andExpect(jsonPath("$.cost.parameters").value(params))
                // K and V latents of 4 x 128 channels at 4 bytes.
                .andExpect(jsonPath("$.cost.kvCacheBytesPerToken").value(2 * 512 * 4))
                .andExpect(jsonPath("$.cost.seqLen").value(4096));
    }

    @Test
    void shouldNameTheFieldAtFault() throws Exception {
        cost("{\"variant\": {\"family\": \"mqa\", \"dModel\": 64}, \"seqLen\": 8}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:unknown-variant-family"))
                .andExpect(jsonPath("$.errors[0].field").value("variant.family"));
        cost("{\"variant\": {\"family\": \"cca\", \"dModel\": 2048, \"nHeads\": 4, \"headDim\": 128, \"conv\": {\"convSeqKernel\": 0}}, \"seqLen\": 8}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("variant.conv.convSeqKernel"));
        cost("{\"variant\": {\"family\": \"mha\", \"dModel\": 64, \"nHeads\": 2}, \"seqLen\": 0, \"dtype\": \"int4\"}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[*].field", org.hamcrest.Matchers.containsInAnyOrder("seqLen", "dtype")))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.startsWith("2 faults (each in errors); the first: seqLen: ")));
        cost("{\"seqLen\": 8}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("variant"));
    }

    @Test
    void shouldRefuseAnUnknownTopLevelPropertyRatherThanPriceTheDefaultDtype() throws Exception {
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":64,\"nHeads\":4},\"seqLen\":64,\"dtpye\":\"fp32\"}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("dtpye"))
                .andExpect(jsonPath("$.errors[0].message").value("unknown property; expected variant, seqLen, dtype"))
                .andExpect(jsonPath("$.detail", containsString("dtpye: unknown property; expected variant, seqLen, dtype")));
    }

    @Test
    void shouldBindTheCostRequestStrictly() throws Exception {
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":64,\"nHeads\":4},\"seqLen\":64,\"seqLen\":128}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("seqLen"))
                .andExpect(jsonPath("$.errors[0].message", containsString("appears more than once")));
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":64,\"nHeads\":4},\"seqLen\":\"64\"}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("seqLen"));
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":64,\"nHeads\":4},\"seqLen\":64,\"dtype\":32}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("dtype"));
    }

    @Test
    void shouldReportEveryFaultOfACostRequestInOneProblem() throws Exception {
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":\"64\",\"nHeads\":4,\"bogus\":1},\"seqLen\":0,\"dtpye\":\"fp32\"}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[*].field", org.hamcrest.Matchers.containsInAnyOrder(
                        "dtpye", "seqLen", "variant.bogus", "variant.dModel")));
    }

    @Test
    void shouldReportEveryRangeFaultOfTheVariantTogether() throws Exception {
        cost("{\"variant\":{\"family\":\"mha\",\"dModel\":0,\"nHeads\":0},\"seqLen\":64}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[*].field", org.hamcrest.Matchers.contains("variant.dModel", "variant.nHeads")));
    }
}
