package org.ccalab.api.experiment;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.api.live.ChangeNotifier;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.CanonicalJson;
import org.ccalab.api.support.TestProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.ResultActions;

@WebMvcTest(ExperimentController.class)
@Import({ExperimentService.class, CanonicalJson.class})
class ExperimentControllerTest {
    private static final String PROBLEM = "application/problem+json";

    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of("ccalab.api.limits.max-body-bytes", "4096"));
        }
    }

    @Autowired
    MockMvc mvc;
    @MockitoBean
    ExperimentRepository experiments;
    @MockitoBean
    ChangeNotifier notifier;

    private ResultActions postJson(String body) throws Exception {
        return mvc.perform(post("/api/experiments").contentType(MediaType.APPLICATION_JSON).content(body));
    }

    private static final String VALID = """
            {"name": "kernel curve", "kind": "BENCHMARK",
             "variants": [{"family": "mha", "dModel": 256, "nHeads": 4},
                          {"family": "gqa", "dModel": 256, "nHeads": 4, "nKvHeads": 2}],
             "grid": {"seqLen": [128, 256, 512]},
             "benchmark": {"batch": 1, "phases": ["FORWARD"]}}
            """;

    @Test
    void shouldCreateAnExperimentWith201LocationIdsAndLinks() throws Exception {
        postJson(VALID)
                .andExpect(status().isCreated())
                .andExpect(header().string("Location", startsWith("/api/experiments/")))
                .andExpect(jsonPath("$.kind").value("BENCHMARK"))
                .andExpect(jsonPath("$.status").value("QUEUED"))
                .andExpect(jsonPath("$.runCount").value(6))
                .andExpect(jsonPath("$.runs", hasSize(6)))
                .andExpect(jsonPath("$.runs[0].family").value("mha"))
                .andExpect(jsonPath("$.runs[5].family").value("gqa"))
                .andExpect(jsonPath("$.runs[2].grid.seqLen").value(512))
                .andExpect(jsonPath("$.runs[0].configHash").value(org.hamcrest.Matchers.matchesPattern("[0-9a-f]{64}")))
                .andExpect(jsonPath("$.runs[0]._links.self.href", startsWith("/api/runs/")))
                .andExpect(jsonPath("$._links.runs.href", startsWith("/api/runs?experimentId=")));
        verify(experiments).insertExperiment(any(), eq("kernel curve"), eq(null), eq("BENCHMARK"), eq(0), anyString());
        verify(experiments).insertRuns(any(), org.mockito.ArgumentMatchers.argThat(l -> l.size() == 6));
        verify(notifier).queueChanged();
    }

    @Test
    void shouldNameTheVariantFieldAtFault() throws Exception {
        postJson(VALID.replace("\"nKvHeads\": 2", "\"nKvHeads\": 3"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.status").value(400))
                .andExpect(jsonPath("$.title").exists())
                .andExpect(jsonPath("$.detail", containsString("variants[1].nKvHeads")))
                .andExpect(jsonPath("$.errors[0].field").value("variants[1].nKvHeads"))
                .andExpect(jsonPath("$.errors[0].message", containsString("must divide nHeads")));
        verifyNothingStored();
    }

    @Test
    void shouldRefuseAnOvqTrainingSweepTheEngineCouldNotRunNamingEachField() throws Exception {
        // icr:abc is a malformed task size; one block of an SWA/OVQ hybrid has no OVQ layer. Both are known here.
        postJson("""
                {"name": "ovq recall", "kind": "TRAINING",
                 "variants": [{"family": "ovq", "dModel": 64, "nHeads": 2,
                               "ovq": {"chunkLength": 16, "dictionarySize": 16, "growthLength": 256, "swaWindow": 32}}],
                 "grid": {"nLayers": [2, 1]},
                 "training": {"dataset": "icr:abc", "seqLen": 64, "steps": 10}}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors[*].field", hasItem("training.dataset")))
                .andExpect(jsonPath("$.errors[0].message", containsString("icr:<vocab> needs a positive integer")));
        verifyNothingStored();

        postJson("""
                {"name": "ovq recall", "kind": "TRAINING",
                 "variants": [{"family": "ovq", "dModel": 64, "nHeads": 2,
                               "ovq": {"chunkLength": 16, "dictionarySize": 16, "growthLength": 256, "swaWindow": 32}}],
                 "grid": {"nLayers": [2, 1]},
                 "training": {"dataset": "icr:256", "seqLen": 64, "steps": 10}}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("grid.nLayers[1]"))
                .andExpect(jsonPath("$.errors[0].message", containsString("needs nLayers >= 2")));
        verifyNothingStored();
    }

    @Test
    void shouldRejectAnUnknownFamilyWithItsOwnType() throws Exception {
        postJson(VALID.replace("\"family\": \"gqa\"", "\"family\": \"rwkv\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:unknown-variant-family"))
                .andExpect(jsonPath("$.errors[0].field").value("variants[1].family"))
                .andExpect(jsonPath("$.errors[0].message", containsString("rwkv")));
        verifyNothingStored();
    }

    @Test
    void shouldRejectAnOversizedGridAtGrid() throws Exception {
        String values = java.util.stream.IntStream.rangeClosed(1, 501).mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(","));
        postJson(VALID.replace("\"grid\": {\"seqLen\": [128, 256, 512]}", "\"grid\": {\"seed\": [" + values + "]}"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:grid-too-large"))
                .andExpect(jsonPath("$.errors[0].field").value("grid"))
                .andExpect(jsonPath("$.errors[0].message", containsString("1002 runs")));
        verifyNothingStored();
    }

    @Test
    void shouldRejectStringLimitsAndAbsurdValuesByBeanValidation() throws Exception {
        String longName = "x".repeat(201);
        postJson(VALID.replace("\"kernel curve\"", "\"" + longName + "\"").replace("\"kind\"", "\"priority\": 5000, \"maxAttempts\": 0, \"kind\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors[*].field", hasItem("name")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("priority")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("maxAttempts")));
        postJson(VALID.replace("\"kind\"", "\"description\": \"" + "d".repeat(4001) + "\", \"kind\""))
                .andExpect(status().isContentTooLarge());
        verifyNothingStored();
    }

    @Test
    void shouldAcceptADescriptionWithinItsLimit() throws Exception {
        // The description limit itself (4000) is tested against the real body limit in ApiIntegrationTest.
        postJson("{\"name\":\"n\",\"kind\":\"TRAINING\",\"variants\":[{\"family\":\"mha\",\"dModel\":64,\"nHeads\":2}],\"description\":\""
                + "d".repeat(3900) + "\"}")
                .andExpect(status().isCreated());
    }

    @Test
    void shouldReportMalformedJsonWithItsLocation() throws Exception {
        postJson("{\"name\": \"x\",\n \"kind\": BENCH}")
                .andExpect(status().isBadRequest())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:malformed-json"))
                .andExpect(jsonPath("$.detail", containsString("line 2")))
                .andExpect(jsonPath("$.errors[0].field").exists());
        verifyNothingStored();
    }

    @Test
    void shouldNameAWronglyTypedTopLevelField() throws Exception {
        postJson(VALID.replace("\"kind\": \"BENCHMARK\"", "\"kind\": \"SOMETIMES\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors[0].field").value("kind"));
        postJson(VALID.replace("\"kind\"", "\"priority\": \"high\", \"kind\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("priority"));
        verifyNothingStored();
    }

    @Test
    void shouldSayTheNameLengthAs1To200() throws Exception {
        postJson(VALID.replaceFirst("\"name\": \"[^\"]*\"", "\"name\": \"" + "n".repeat(201) + "\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("name"))
                .andExpect(jsonPath("$.errors[0].message").value("must be 1..200 characters"));
        verifyNothingStored();
    }

    @Test
    void shouldRefuseUnknownTopLevelProperties() throws Exception {
        postJson(VALID.replace("\"grid\"", "\"gird\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("gird"))
                .andExpect(jsonPath("$.errors[0].message", containsString("unknown property")));
        verifyNothingStored();
    }

    @Test
    void shouldAnswer413ForABodyOverTheLimit() throws Exception {
        postJson("{\"name\": \"" + "n".repeat(5000) + "\"}")
                .andExpect(status().isContentTooLarge())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:body-too-large"))
                .andExpect(jsonPath("$.errors[0].field").value("body"));
        verifyNothingStored();
    }

    @Test
    void shouldAnswer404ProblemForAnUnknownExperiment() throws Exception {
        UUID id = UUID.randomUUID();
        when(experiments.find(id)).thenReturn(Optional.empty());
        mvc.perform(get("/api/experiments/" + id))
                .andExpect(status().isNotFound())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:not-found"))
                .andExpect(jsonPath("$.detail", containsString(id.toString())));
        mvc.perform(post("/api/experiments/" + id + "/cancel")).andExpect(status().isNotFound());
        mvc.perform(get("/api/experiments/not-a-uuid"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("id"));
    }

    @Test
    void shouldAnswer409WhenNothingIsLeftToCancelOrRerun() throws Exception {
        UUID id = UUID.randomUUID();
        ExperimentRow done = new ExperimentRow(id, "done", null, "BENCHMARK", "SUCCEEDED", 0, "{}", null, null, null,
                new RunCounts(2, 0, 0, 0, 0, 2, 0, 0));
        when(experiments.findForUpdate(id)).thenReturn(Optional.of(done));
        mvc.perform(post("/api/experiments/" + id + "/cancel"))
                .andExpect(status().isConflict())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:state-conflict"));
        mvc.perform(post("/api/experiments/" + id + "/rerun-failed"))
                .andExpect(status().isConflict())
                .andExpect(jsonPath("$.detail", containsString("no FAILED runs")));
        verify(experiments, never()).requestCancel(any());
        verify(experiments, never()).requeueFailed(any(), anyInt());
    }

    @Test
    void shouldValidateListParameters() throws Exception {
        mvc.perform(get("/api/experiments").param("sort", "password,asc"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:bad-parameter"))
                .andExpect(jsonPath("$.errors[0].field").value("sort"));
        mvc.perform(get("/api/experiments").param("size", "100000"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("size"));
        mvc.perform(get("/api/experiments").param("status", "DONE"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("status"));
        mvc.perform(get("/api/experiments").param("page", "x"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("page"));
    }

    @Test
    void shouldAnswer405And415AsProblems() throws Exception {
        mvc.perform(org.springframework.test.web.servlet.request.MockMvcRequestBuilders.delete("/api/experiments"))
                .andExpect(status().isMethodNotAllowed())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:method-not-allowed"))
                .andExpect(jsonPath("$.detail").value("DELETE is not allowed here; allowed: GET, POST"))
                .andExpect(org.springframework.test.web.servlet.result.MockMvcResultMatchers.header()
                        .string("Allow", containsString("POST")));
        mvc.perform(post("/api/experiments").contentType(MediaType.TEXT_PLAIN).content("hello"))
                .andExpect(status().isUnsupportedMediaType())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:unsupported-media-type"))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.startsWith("the request body must be application/json, got Content-Type text/plain")));
    }

    @Test
    void shouldGrantNoCrossOriginAccessByDefault() throws Exception {
        // Without an Access-Control-Allow-Origin header a browser refuses the cross-origin call.
        mvc.perform(org.springframework.test.web.servlet.request.MockMvcRequestBuilders.options("/api/experiments")
                        .header("Origin", "https://elsewhere.example").header("Access-Control-Request-Method", "POST"))
                .andExpect(header().doesNotExist("Access-Control-Allow-Origin"));
        mvc.perform(get("/api/experiments/" + UUID.randomUUID()).header("Origin", "https://elsewhere.example"))
                .andExpect(header().doesNotExist("Access-Control-Allow-Origin"));
    }

    @Test
    void shouldReportBeanValidationAndSweepFaultsInOneProblem() throws Exception {
        postJson("""
                {"name": "", "kind": "BENCHMARK", "variants": [{"family": "mha", "dModel": 64, "nHeads": 5}],
                 "benchmark": {"batch": 1, "seqLen": "abc"}, "colour": "red"}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors[*].field", hasItem("colour")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("name")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("variants[0].nHeads")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("benchmark.seqLen")))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.startsWith("4 faults (each in errors); the first: colour: ")));
        // A field both sides check is named once.
        postJson("{\"name\": \"n\", \"kind\": \"BENCHMARK\", \"variants\": [], \"benchmark\": {\"batch\": 1, \"seqLen\": 64}}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("variants"));
        verifyNothingStored();
    }

    @Test
    void shouldRefuseCoercedScalarsAndDuplicateKeysNamingTheField() throws Exception {
        String base = "{\"name\": \"n\", \"kind\": \"TRAINING\", \"variants\": [{\"family\": \"mha\", \"dModel\": 64, \"nHeads\": 2}]";
        for (String[] c : new String[][] {{", \"priority\": \"7\"}", "priority", "must be an integer"},
                {", \"priority\": 7.9}", "priority", "must be an integer"},
                {", \"maxAttempts\": 2.0}", "maxAttempts", "must be an integer"},
                {", \"description\": 5}", "description", "must be a string"},
                {", \"name\": \"m\"}", "name", "more than once"}}) {
            postJson(base + c[0])
                    .andExpect(status().isBadRequest())
                    .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                    .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                    .andExpect(jsonPath("$.errors[0].field").value(c[1]))
                    .andExpect(jsonPath("$.errors[0].message", containsString(c[2])));
        }
        postJson("{\"name\": 5, \"kind\": \"TRAINING\", \"variants\": [{\"family\": \"mha\", \"dModel\": 64, \"nHeads\": 2}]}")
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("name"));
        postJson("{\"name\": \"n\", \"kind\": \"TRAINING\", \"variants\": [{\"family\": \"mha\", \"dModel\": 64, \"dModel\": 128, \"nHeads\": 2}]}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("variants[0].dModel"))
                .andExpect(jsonPath("$.errors[0].message", containsString("more than once")));
        verifyNothingStored();
    }

    @Test
    void shouldSayWhatAValueMustBeWithoutJavaInternals() throws Exception {
        postJson(VALID.replace("\"kind\": \"BENCHMARK\"", "\"kind\": \"BENCH\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("kind"))
                .andExpect(jsonPath("$.errors[0].message", startsWith("must be one of BENCHMARK, TRAINING")))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.not(containsString("org.ccalab"))));
        postJson("[]")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("body"))
                .andExpect(jsonPath("$.errors[0].message").value("the request body must be a JSON object"));
        postJson(VALID.replace("\"kind\"", "\"priority\": NaN, \"kind\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("priority"))
                .andExpect(jsonPath("$.errors[0].message", containsString("finite number")))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.not(containsString("JsonReadFeature"))));
        postJson(VALID.replace("\"kind\"", "\"priority\": 99999999999, \"kind\""))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("priority"))
                .andExpect(jsonPath("$.errors[0].message", containsString("[-1000, 1000]")));
        postJson(VALID.replace("\"grid\": {\"seqLen\": [128, 256, 512]},", "").replace("\"phases\": [\"FORWARD\"]", "\"seqLen\": 99999999999"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("benchmark.seqLen"))
                .andExpect(jsonPath("$.errors[0].message", startsWith("must be in [1, 131072]")));
        postJson(VALID.replace("{\"family\": \"mha\", \"dModel\": 256, \"nHeads\": 4}", "{\"family\": \"mha\", \"dModel\": 16384, \"nHeads\": 1}"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("variants[0].nHeads"))
                .andExpect(jsonPath("$.errors[0].message", containsString("dModel/nHeads")));
        postJson(VALID.replace("{\"family\": \"mha\", \"dModel\": 256, \"nHeads\": 4}",
                "{\"family\": \"ovq\", \"dModel\": 64, \"nHeads\": 2, \"ovq\": {\"chunkLength\": 0, \"growth\": \"EXP\"}}"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[*].field", hasItem("variants[0].ovq.growth")))
                .andExpect(jsonPath("$.errors[*].field", hasItem("variants[0].ovq.chunkLength")));
        verifyNothingStored();
    }

    @Test
    void shouldReadKindCaseInsensitivelyAsFamiliesAre() throws Exception {
        postJson(VALID.replace("\"kind\": \"BENCHMARK\"", "\"kind\": \"benchmark\"").replace("\"family\": \"mha\"", "\"family\": \"MHA\""))
                .andExpect(status().isCreated())
                .andExpect(jsonPath("$.kind").value("BENCHMARK"))
                .andExpect(jsonPath("$.runs[0].family").value("mha"));
    }

    @Test
    void shouldRefuseAnInvalidBaseValueThatEveryGridPointOverridesNamingItAtTheBase() throws Exception {
        postJson("""
                {"name": "curve", "kind": "BENCHMARK", "variants": [{"family": "mha", "dModel": 256, "nHeads": 4}],
                 "grid": {"seqLen": [1024, 2048]}, "benchmark": {"batch": 1, "seqLen": -5}}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(content().contentTypeCompatibleWith(PROBLEM))
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.status").value(400))
                .andExpect(jsonPath("$.detail").value("benchmark.seqLen: must be in [1, 131072], got -5"))
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("benchmark.seqLen"))
                .andExpect(jsonPath("$.errors[0].message").value("must be in [1, 131072], got -5"));
        postJson("""
                {"name": "lr", "kind": "TRAINING", "variants": [{"family": "mha", "dModel": 64, "nHeads": 2}],
                 "grid": {"learningRate": [0.001, 0.003]}, "training": {"steps": 10, "learningRate": "fast"}}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("training.learningRate"))
                .andExpect(jsonPath("$.errors[0].message").value("must be a number, got \"fast\""));
        verifyNothingStored();
    }

    @Test
    void shouldListAnOverriddenBaseFaultWithEveryOtherFaultInOneProblem() throws Exception {
        postJson("""
                {"name": "", "kind": "BENCHMARK", "colour": "red",
                 "variants": [{"family": "mha", "dModel": 256, "nHeads": 4},
                              {"family": "gqa", "dModel": 256, "nHeads": 4, "nKvHeads": 3}],
                 "grid": {"seqLen": [1024, 0]}, "benchmark": {"batch": 1, "seqLen": -5, "dtype": "fp8"}}
                """)
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:validation-failed"))
                .andExpect(jsonPath("$.errors[*].field").value(org.hamcrest.Matchers.contains("colour", "name",
                        "variants[1].nKvHeads", "benchmark.dtype", "grid.seqLen[1]", "benchmark.seqLen")))
                .andExpect(jsonPath("$.errors[5].message").value("must be in [1, 131072], got -5"))
                .andExpect(jsonPath("$.detail", org.hamcrest.Matchers.startsWith("6 faults (each in errors); the first: colour: ")));
        verifyNothingStored();
    }

    @Test
    void shouldAcceptAValidOverriddenBaseValueWithTheSameRunsAsWithoutIt() throws Exception {
        String without = """
                {"name": "curve", "kind": "BENCHMARK", "variants": [{"family": "mha", "dModel": 256, "nHeads": 4}],
                 "grid": {"seqLen": [1024, 2048]}, "benchmark": {"batch": 1}}
                """;
        String hashes = "$.runs[*].configHash";
        String expected = com.jayway.jsonpath.JsonPath.read(postJson(without).andExpect(status().isCreated())
                .andReturn().getResponse().getContentAsString(), hashes).toString();
        postJson(without.replace("\"batch\": 1", "\"batch\": 1, \"seqLen\": 4096"))
                .andExpect(status().isCreated())
                .andExpect(jsonPath("$.runCount").value(2))
                .andExpect(jsonPath("$.runs[1].grid.seqLen").value(2048))
                .andExpect(result -> org.assertj.core.api.Assertions.assertThat(com.jayway.jsonpath.JsonPath.read(
                        result.getResponse().getContentAsString(), hashes).toString()).isEqualTo(expected));
    }

    private void verifyNothingStored() {
        verify(experiments, never()).insertExperiment(any(), any(), any(), any(), anyInt(), any());
        verify(experiments, never()).insertRuns(any(), any());
    }
}
