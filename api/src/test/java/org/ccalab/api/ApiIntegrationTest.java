package org.ccalab.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.ccalab.api.support.FreshDatabase;
import org.ccalab.api.support.Fixtures;
import org.ccalab.api.support.Http;
import org.ccalab.api.system.CanonicalJson;
import org.ccalab.common.run.RunSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The api over HTTP on a fresh, Flyway-migrated PostgreSQL database; scheduler-side rows written by {@link Fixtures}. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class ApiIntegrationTest {
    static final FreshDatabase db = new FreshDatabase();

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        db.register(registry);
    }

    @LocalServerPort
    int port;
    @Autowired
    JdbcTemplate jdbc;
    @Autowired
    JsonMapper json;
    @Autowired
    CanonicalJson canonical;
    Http http;
    Fixtures fixtures;

    @BeforeEach
    void setUp() {
        http = new Http(port);
        fixtures = new Fixtures(jdbc);
    }

    static String benchmark(String name, String gridSeqLens) {
        return """
                {"name": "%s", "kind": "BENCHMARK", "priority": 5, "maxAttempts": 2,
                 "variants": [{"family": "mha", "dModel": 256, "nHeads": 4},
                              {"family": "gqa", "dModel": 256, "nHeads": 4, "nKvHeads": 2}],
                 "grid": {"seqLen": [%s]},
                 "benchmark": {"batch": 1, "phases": ["FORWARD", "DECODE"], "scopes": ["CORE"]}}
                """.formatted(name, gridSeqLens);
    }

    static String training(String name) {
        return """
                {"name": "%s", "kind": "TRAINING", "description": "equal-KV quality",
                 "variants": [{"family": "mha", "dModel": 64, "nHeads": 2},
                              {"family": "cca", "dModel": 64, "nHeads": 1, "headDim": 16}],
                 "grid": {"seed": [1, 2]},
                 "training": {"steps": 20, "seqLen": 32, "batch": 4}}
                """.formatted(name);
    }

    private JsonNode create(String body) {
        Http.Response r = http.post("/api/experiments", body);
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json();
    }

    private long count(String table) {
        return jdbc.queryForObject("SELECT count(*) FROM " + table, Long.class);
    }

    private UUID runId(JsonNode created, int i) {
        return UUID.fromString(created.get("runs").get(i).get("id").asString());
    }

    @Test
    void shouldStoreTheExperimentAndEveryRunQueuedWithTheHashOfItsCanonicalSpec() {
        Http.Response r = http.post("/api/experiments", benchmark("stored", "128, 256"));

        assertThat(r.status()).isEqualTo(201);
        UUID id = UUID.fromString(r.json().get("id").asString());
        assertThat(r.location()).isEqualTo("/api/experiments/" + id);
        Map<String, Object> e = jdbc.queryForMap("SELECT * FROM experiment WHERE id = ?", id);
        assertThat(e).containsEntry("status", "QUEUED").containsEntry("kind", "BENCHMARK").containsEntry("priority", 5);
        List<Map<String, Object>> runs = jdbc.queryForList(
                "SELECT id, ordinal, family, status, attempt, max_attempts, priority, admitted_at, config_hash, spec::text AS spec, seed "
                        + "FROM run WHERE experiment_id = ? ORDER BY ordinal", id);
        assertThat(runs).hasSize(4);
        assertThat(runs).extracting(m -> m.get("family")).containsExactly("mha", "mha", "gqa", "gqa");
        assertThat(runs).allSatisfy(m -> {
            assertThat(m).containsEntry("status", "QUEUED").containsEntry("attempt", 1).containsEntry("max_attempts", 2)
                    .containsEntry("priority", 5);
            assertThat(m.get("admitted_at")).isNull();
            // The stored spec reads back as a RunSpec whose canonical JSON hashes to config_hash.
            RunSpec spec = json.readValue((String) m.get("spec"), RunSpec.class);
            assertThat(canonical.sha256(canonical.write(spec))).isEqualTo(m.get("config_hash"));
        });
        assertThat(runs.get(1).get("config_hash")).isNotEqualTo(runs.get(0).get("config_hash"));
        assertThat(r.json().get("runs").get(1).get("configHash").asString()).isEqualTo(runs.get(1).get("config_hash"));

        // The same spec in another experiment hashes the same, whatever the order of its fields.
        JsonNode again = create(benchmark("stored again", "256").replace("{\"family\": \"mha\", \"dModel\": 256, \"nHeads\": 4}",
                "{\"nHeads\": 4, \"dModel\": 256, \"family\": \"mha\"}"));
        assertThat(again.get("runs").get(0).get("configHash").asString()).isEqualTo(runs.get(1).get("config_hash"));
    }

    @Test
    void shouldStoreNothingForAnyRejectedRequest() {
        long experiments = count("experiment"), runs = count("run");
        String big = IntStream.rangeClosed(1, 600).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("body", "{\"name\": \"x\", \"kind\": ");
        bad.put("variants[1].family", benchmark("x", "128").replace("\"gqa\"", "\"linear\""));
        bad.put("variants[1].nKvHeads", benchmark("x", "128").replace("\"nKvHeads\": 2", "\"nKvHeads\": 3"));
        bad.put("variants[0].nHeads", benchmark("x", "128").replace("\"nHeads\": 4}", "\"nHeads\": 3}"));
        bad.put("grid", benchmark("x", big));
        bad.put("grid.seqLen[1]", benchmark("x", "128, -5"));
        bad.put("benchmark.seqLen", benchmark("x", "1024, 2048").replace("\"batch\": 1", "\"batch\": 1, \"seqLen\": -5"));
        bad.put("name", benchmark("n".repeat(201), "128"));
        bad.put("description", benchmark("x", "128").replace("\"kind\"", "\"description\": \"" + "d".repeat(4001) + "\", \"kind\""));
        bad.put("benchmark.batch", benchmark("x", "128").replace("\"batch\": 1", "\"batch\": 100000"));
        bad.put("training", benchmark("x", "128").replace("\"kind\"", "\"training\": {}, \"kind\""));
        for (Map.Entry<String, String> c : bad.entrySet()) {
            Http.Response r = http.post("/api/experiments", c.getValue());
            assertThat(r.status()).as(c.getKey() + ": " + r.body()).isEqualTo(400);
            assertThat(r.contentType()).startsWith("application/problem+json");
            assertThat(r.json().get("type").asString()).startsWith("urn:ccalab:problem:");
            List<String> fields = new ArrayList<>();
            r.json().get("errors").forEach(err -> fields.add(err.get("field").asString()));
            assertThat(fields).as(c.getKey()).contains(c.getKey());
        }
        assertThat(count("experiment")).isEqualTo(experiments);
        assertThat(count("run")).isEqualTo(runs);
    }

    @Test
    void shouldRefuseAnInvalidOverriddenBaseValueAndStoreAValidOneWithTheSpecsAndHashesOfARequestWithoutIt() {
        long experiments = count("experiment"), runs = count("run");
        Http.Response refused = http.post("/api/experiments",
                benchmark("bad base", "1024, 2048").replace("\"batch\": 1", "\"batch\": 1, \"seqLen\": -5"));
        assertThat(refused.status()).as(refused.body()).isEqualTo(400);
        assertThat(refused.contentType()).startsWith("application/problem+json");
        assertThat(refused.json().get("type").asString()).isEqualTo("urn:ccalab:problem:validation-failed");
        assertThat(refused.json().get("errors").size()).isEqualTo(1);
        assertThat(refused.json().get("errors").get(0).get("field").asString()).isEqualTo("benchmark.seqLen");
        assertThat(refused.json().get("errors").get(0).get("message").asString()).isEqualTo("must be in [1, 131072], got -5");
        assertThat(count("experiment")).isEqualTo(experiments);
        assertThat(count("run")).isEqualTo(runs);

        UUID plain = UUID.fromString(create(benchmark("no base seqLen", "1024, 2048")).get("id").asString());
        String withBase = benchmark("valid base seqLen", "1024, 2048").replace("\"batch\": 1", "\"batch\": 1, \"seqLen\": 4096");
        UUID overridden = UUID.fromString(create(withBase).get("id").asString());
        String specs = "SELECT ordinal, spec::text AS spec, config_hash FROM run WHERE experiment_id = ? ORDER BY ordinal";
        List<Map<String, Object>> a = jdbc.queryForList(specs, plain), b = jdbc.queryForList(specs, overridden);
        assertThat(b).hasSize(4).isEqualTo(a);
        // The request is stored as received, the overridden base value with it.
        JsonNode request = json.readTree(jdbc.queryForObject("SELECT request::text FROM experiment WHERE id = ?", String.class, overridden));
        assertThat(request.get("benchmark").get("seqLen").asInt()).isEqualTo(4096);
    }

    /**
     * Property: whatever a request is corrupted into, the api answers 201 (and stores exactly one
     * experiment) or a 4xx problem naming a field (and stores nothing); never a 5xx. Seeded, so a failure
     * reproduces.
     */
    @Test
    void shouldStoreExactlyTheAcceptedRequestsUnderRandomCorruption() {
        java.util.Random random = new java.util.Random(20261123);
        Object[] replacements = {-1, 0, 1, 1_000_000_000_000L, 2.5, "x", "", null, true, List.of(), Map.of(), List.of(1, 1), "FORWARD"};
        long before = count("experiment");
        int accepted = 0;
        for (int i = 0; i < 80; i++) {
            @SuppressWarnings("unchecked")
            Map<String, Object> body = json.readValue(benchmark("fuzz-" + i, "64, 128"), Map.class);
            List<List<Object>> paths = new ArrayList<>();
            leaves(body, new ArrayList<>(), paths);
            List<Object> path = paths.get(random.nextInt(paths.size()));
            int action = random.nextInt(3);
            Object replacement = replacements[random.nextInt(replacements.length)];
            mutate(body, path, action, replacement);
            Http.Response r = http.post("/api/experiments", json.writeValueAsString(body));
            String what = path + " action " + action + " -> " + replacement + ": " + r.body();
            assertThat(r.status()).as(what).isIn(201, 400);
            if (r.status() == 201) {
                accepted++;
            } else {
                assertThat(r.contentType()).as(what).startsWith("application/problem+json");
                assertThat(r.json().get("errors").size()).as(what).isPositive();
                assertThat(r.json().get("errors").get(0).get("field").asString()).as(what).isNotBlank();
            }
        }
        assertThat(count("experiment") - before).isEqualTo(accepted);
        assertThat(accepted).as("some corruptions are harmless (e.g. priority 1), most are not").isBetween(1, 79);
    }

    @SuppressWarnings("unchecked")
    private static void leaves(Object node, List<Object> at, List<List<Object>> out) {
        if (node instanceof Map<?, ?> m) {
            if (!at.isEmpty()) out.add(List.copyOf(at));
            for (Object k : m.keySet()) {
                at.add(k);
                leaves(m.get(k), at, out);
                at.removeLast();
            }
        } else if (node instanceof List<?> l) {
            out.add(List.copyOf(at));
            for (int i = 0; i < l.size(); i++) {
                at.add(i);
                leaves(l.get(i), at, out);
                at.removeLast();
            }
        } else {
            out.add(List.copyOf(at));
        }
    }

    /** action 0: replace the value; 1: remove it; 2: add an unknown sibling property next to it. */
    @SuppressWarnings("unchecked")
    private static void mutate(Map<String, Object> root, List<Object> path, int action, Object replacement) {
        Object parent = root;
        for (int i = 0; i < path.size() - 1; i++) {
            Object key = path.get(i);
            parent = parent instanceof Map<?, ?> m ? m.get(key) : ((List<?>) parent).get((Integer) key);
        }
        Object last = path.getLast();
        if (parent instanceof Map<?, ?> m) {
            Map<String, Object> map = (Map<String, Object>) m;
            if (action == 0) map.put((String) last, replacement);
            else if (action == 1) map.remove(last);
            else map.put("unexpected" + last, replacement);
        } else {
            List<Object> list = (List<Object>) parent;
            if (action == 1 && list.size() > 0) list.remove((int) (Integer) last);
            else list.set((Integer) last, replacement);
        }
    }

    @Test
    void shouldRefuseAChunkedBodyOverTheLimitWhileReadingIt() throws Exception {
        long experiments = count("experiment");
        // No Content-Length: the limit is enforced on the bytes as they are read.
        byte[] big = ("{\"name\": \"" + "n".repeat(2 * 1024 * 1024) + "\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(http.uri("/api/experiments"))
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(big)))
                .build();
        java.net.http.HttpResponse<String> r = http.client().send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(json.readTree(r.body()).get("type").asString()).isEqualTo("urn:ccalab:problem:body-too-large");
        assertThat(count("experiment")).isEqualTo(experiments);
    }

    @Test
    void shouldListFilterSortAndPageExperimentsAndRunsServerSide() {
        String tag = UUID.randomUUID().toString().substring(0, 8);
        create(benchmark(tag + "-alpha", "128"));
        create(benchmark(tag + "-beta", "128, 256, 512"));
        JsonNode gamma = create(training(tag + "-gamma"));

        JsonNode page = http.get("/api/experiments?q=" + tag + "&sort=name,asc&size=2").json();
        assertThat(page.get("totalElements").asLong()).isEqualTo(3);
        assertThat(page.get("totalPages").asInt()).isEqualTo(2);
        assertThat(page.get("items")).extracting(n -> n.get("name").asString()).containsExactly(tag + "-alpha", tag + "-beta");
        assertThat(page.get("items").get(1).get("runCount").asLong()).isEqualTo(6);
        assertThat(page.get("items").get(1).get("runCounts").get("queued").asLong()).isEqualTo(6);
        JsonNode second = http.get("/api/experiments?q=" + tag.toUpperCase() + "&sort=name,asc&size=2&page=1").json();
        assertThat(second.get("items")).extracting(n -> n.get("name").asString()).containsExactly(tag + "-gamma");
        JsonNode training = http.get("/api/experiments?q=" + tag + "&kind=training").json();
        assertThat(training.get("items")).extracting(n -> n.get("id").asString()).containsExactly(gamma.get("id").asString());
        assertThat(http.get("/api/experiments?q=%25&size=1").json().get("totalElements").asLong()).isZero();

        UUID gammaId = UUID.fromString(gamma.get("id").asString());
        JsonNode runs = http.get("/api/runs?experimentId=" + gammaId + "&family=cca&sort=ordinal,asc").json();
        assertThat(runs.get("totalElements").asLong()).isEqualTo(2);
        assertThat(runs.get("items")).extracting(n -> n.get("ordinal").asInt()).containsExactly(2, 3);
        assertThat(runs.get("items").get(0).get("spec").get("training").get("steps").asInt()).isEqualTo(20);
        assertThat(runs.get("items").get(0).get("experimentName").asString()).isEqualTo(tag + "-gamma");
        JsonNode desc = http.get("/api/runs?experimentId=" + gammaId + "&sort=ordinal,desc&size=3&page=0").json();
        assertThat(desc.get("items")).extracting(n -> n.get("ordinal").asInt()).containsExactly(3, 2, 1);

        fixtures.status(runId(gamma, 1), "FAILED");
        JsonNode failed = http.get("/api/runs?experimentId=" + gammaId + "&status=failed&failureClass=DIVERGED").json();
        assertThat(failed.get("items")).extracting(n -> n.get("id").asString()).containsExactly(runId(gamma, 1).toString());
        assertThat(failed.get("items").get(0).get("failure").get("message").asString()).contains("NaN");

        Http.Response badSort = http.get("/api/runs?sort=config_hash");
        assertThat(badSort.status()).isEqualTo(400);
        assertThat(badSort.json().get("errors").get(0).get("field").asString()).isEqualTo("sort");
        assertThat(http.get("/api/runs?family=rwkv").json().get("errors").get(0).get("field").asString()).isEqualTo("family");
    }

    @Test
    void shouldListEachRunWithItsPointOfTheExperimentsGrid() {
        // Two swept keys and two variants: runs differ only by (variant, seqLen, seed), which the grid must tell apart.
        JsonNode sweep = create("""
                {"name": "grid-%s", "kind": "TRAINING",
                 "variants": [{"family": "mha", "dModel": 64, "nHeads": 2},
                              {"family": "cca", "dModel": 64, "nHeads": 1, "headDim": 16}],
                 "grid": {"seqLen": [32, 64], "seed": [7, 8]},
                 "training": {"steps": 20, "seqLen": 16, "batch": 4}}
                """.formatted(UUID.randomUUID()));
        JsonNode runs = http.get("/api/runs?experimentId=" + sweep.get("id").asString() + "&sort=ordinal,asc").json().get("items");
        assertThat(runs).hasSize(8);
        assertThat(runs).extracting(n -> n.get("grid").get("seqLen").asInt() + "/" + n.get("grid").get("seed").asLong())
                .containsExactly("32/7", "32/8", "64/7", "64/8", "32/7", "32/8", "64/7", "64/8");
        assertThat(runs).allSatisfy(n -> assertThat(n.get("grid").propertyNames()).containsExactlyInAnyOrder("seqLen", "seed"));
        assertThat(runs).extracting(n -> n.get("family").asString()).containsExactly("mha", "mha", "mha", "mha", "cca", "cca", "cca", "cca");
        // The detail carries it too, and it agrees with what the creation answered for that run.
        UUID third = runId(sweep, 2);
        JsonNode detail = http.get("/api/runs/" + third).json();
        assertThat(detail.get("grid")).isEqualTo(sweep.get("runs").get(2).get("grid"));
        assertThat(detail.get("grid").get("seqLen").asInt()).isEqualTo(64);

        // Any base-spec field can be swept, strings included; a submission without a grid has no grid field.
        JsonNode dtypes = create(benchmark("grid-dtype-" + UUID.randomUUID(), "128").replace("\"seqLen\": [128]", "\"dtype\": [\"fp32\", \"bf16\"]")
                .replace("\"batch\": 1,", "\"batch\": 1, \"seqLen\": 128,"));
        JsonNode dtypeRuns = http.get("/api/runs?experimentId=" + dtypes.get("id").asString() + "&sort=ordinal,asc").json().get("items");
        assertThat(dtypeRuns).extracting(n -> n.get("grid").get("dtype").asString()).containsExactly("fp32", "bf16", "fp32", "bf16");
        JsonNode single = create(benchmark("grid-none-" + UUID.randomUUID(), "128").replace("\"grid\": {\"seqLen\": [128]},", "")
                .replace("\"batch\": 1,", "\"batch\": 1, \"seqLen\": 128,"));
        JsonNode singleRun = http.get("/api/runs/" + runId(single, 0)).json();
        assertThat(singleRun.has("grid")).as(singleRun.toString()).isFalse();
        // ... and the creation answer says the same (it answered "grid": {} per run).
        assertThat(single.get("runs").get(0).has("grid")).as(single.toString()).isFalse();
        JsonNode singleList = http.get("/api/runs?experimentId=" + single.get("id").asString()).json().get("items").get(0);
        assertThat(singleList.has("grid")).as(singleList.toString()).isFalse();
    }

    @Test
    void shouldStoreAndShowEachRunsDeterministicOptionAndWhetherItsAttemptWasDeterministic() {
        // deterministic swept as a grid axis of a benchmark; a training run takes it from its base; absent = false.
        JsonNode bench = create(benchmark("det-" + UUID.randomUUID(), "128").replace("\"grid\": {\"seqLen\": [128]},",
                "\"grid\": {\"deterministic\": [false, true]},").replace("\"batch\": 1,", "\"batch\": 1, \"seqLen\": 128,"));
        List<Map<String, Object>> stored = jdbc.queryForList(
                "SELECT spec::text AS spec, config_hash FROM run WHERE experiment_id = ? ORDER BY ordinal",
                UUID.fromString(bench.get("id").asString()));
        assertThat(stored).extracting(m -> json.readValue((String) m.get("spec"), RunSpec.class).deterministic())
                .containsExactly(false, true, false, true);
        assertThat(stored.get(1).get("config_hash")).as("the option is part of what the hash identifies")
                .isNotEqualTo(stored.get(0).get("config_hash"));
        JsonNode runs = http.get("/api/runs?experimentId=" + bench.get("id").asString() + "&sort=ordinal,asc").json().get("items");
        // Written only when true: a spec that does not ask keeps the JSON (and hash) it had before the option.
        assertThat(runs).extracting(n -> n.get("spec").get("benchmark").path("deterministic").asBoolean(false))
                .containsExactly(false, true, false, true);
        assertThat(runs.get(0).get("spec").get("benchmark").has("deterministic")).isFalse();
        assertThat(runs).extracting(n -> n.get("grid").get("deterministic").asBoolean()).containsExactly(false, true, false, true);

        JsonNode train = create(training("det-train-" + UUID.randomUUID()).replace("\"batch\": 4}", "\"batch\": 4, \"deterministic\": true}"));
        UUID run = runId(train, 0);
        assertThat(http.get("/api/runs/" + run).json().get("spec").get("training").get("deterministic").asBoolean()).isTrue();
        JsonNode plain = create(training("det-plain-" + UUID.randomUUID()));
        assertThat(http.get("/api/runs/" + runId(plain, 0)).json().get("spec").get("training").path("deterministic").asBoolean(false))
                .isFalse();

        // What the worker recorded per attempt: attempt 1 by an older worker (unknown), attempt 2 deterministic.
        fixtures.environment(run, 1, null);
        fixtures.environment(run, 2, true);
        JsonNode envs = http.get("/api/runs/" + run).json().get("environments");
        assertThat(envs.get(0).get("deterministicBackward") == null || envs.get(0).get("deterministicBackward").isNull()).isTrue();
        assertThat(envs.get(1).get("deterministicBackward").asBoolean()).isTrue();

        Http.Response bad = http.post("/api/experiments", training("det-bad-" + UUID.randomUUID())
                .replace("\"batch\": 4}", "\"batch\": 4, \"deterministic\": \"yes\"}"));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("errors").get(0).get("field").asString()).isEqualTo("training.deterministic");
    }

    @Test
    void shouldReadARunWithItsEnvironmentCheckpointsSeriesCellsAndEvents() {
        JsonNode created = create(training("detail-" + UUID.randomUUID()));
        UUID run = runId(created, 0);
        fixtures.status(run, "RUNNING");
        fixtures.environment(run, 1);
        fixtures.checkpoint(run, 10);
        for (int s = 0; s < 20; s++) fixtures.point(run, "train/loss", s, 5.0 - s * 0.1);
        fixtures.point(run, "val/loss", 10, 4.2);
        fixtures.cell(run, "FORWARD", 128, 1.5, 2.0);
        fixtures.event(run, 1, 0, "STARTED", "{\"workerId\": \"w-1\"}");
        fixtures.event(run, 1, 1, "HEARTBEAT", "{}");
        fixtures.event(run, 1, 2, "METRICS", "{\"metrics\": []}");

        JsonNode r = http.get("/api/runs/" + run).json();
        assertThat(r.get("status").asString()).isEqualTo("RUNNING");
        assertThat(r.get("variant").get("family").asString()).isEqualTo("mha");
        assertThat(r.get("spec").get("kind").asString()).isEqualTo("TRAINING");
        assertThat(r.get("environments").get(0).get("gitCommit").asString()).isEqualTo("abc123");
        assertThat(r.get("checkpoints").get(0).get("uri").asString()).endsWith("/10");
        assertThat(r.get("metrics")).extracting(m -> m.get("name").asString()).containsExactly("train/loss", "val/loss");
        assertThat(r.get("metrics").get(0).get("points").asLong()).isEqualTo(20);
        assertThat(r.get("metrics").get(0).get("lastValue").asDouble()).isCloseTo(3.1, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(r.get("cellCount").asLong()).isEqualTo(1);
        assertThat(r.get("_links").get("live").get("href").asString()).isEqualTo("/api/live/runs/" + run);

        JsonNode cells = http.get("/api/runs/" + run + "/cells").json().get("cells");
        assertThat(cells.get(0).get("p50Ms").asDouble()).isEqualTo(1.5);
        assertThat(cells.get(0).get("maxRelError").asString()).isEqualTo("NaN");

        JsonNode events = http.get("/api/runs/" + run + "/events?type=STARTED,METRICS").json();
        assertThat(events.get("totalElements").asLong()).isEqualTo(2);
        assertThat(events.get("items")).extracting(e -> e.get("type").asString()).containsExactly("STARTED", "METRICS");

        JsonNode ranged = http.get("/api/runs/" + run + "/metrics?name=train/loss&fromStep=5&toStep=9").json();
        JsonNode points = ranged.get("series").get(0).get("points");
        assertThat(points).extracting(p -> p.get("step").asLong()).containsExactly(5L, 6L, 7L, 8L, 9L);
        assertThat(ranged.get("series").get(0).get("downsampled").asBoolean()).isFalse();

        assertThat(http.get("/api/runs/" + UUID.randomUUID()).status()).isEqualTo(404);
        assertThat(http.get("/api/runs/" + UUID.randomUUID() + "/metrics").status()).isEqualTo(404);
        Http.Response badRange = http.get("/api/runs/" + run + "/metrics?fromStep=9&toStep=5");
        assertThat(badRange.json().get("errors").get(0).get("field").asString()).isEqualTo("toStep");
        // A misspelt series is refused with the recorded ones, as /api/compare refuses a misspelt metric.
        Http.Response misspelt = http.get("/api/runs/" + run + "/metrics?name=train/los");
        assertThat(misspelt.status()).isEqualTo(400);
        assertThat(misspelt.json().get("errors").get(0).get("message").asString())
                .isEqualTo("the run records no series \"train/los\"; it records train/loss, val/loss");
    }

    @Test
    void shouldDownsampleALongSeriesOnTheServer() {
        JsonNode created = create(training("long-" + UUID.randomUUID()));
        UUID run = runId(created, 0);
        jdbc.update("""
                INSERT INTO metric_point (run_id, name, step, value, attempt)
                SELECT ?, 'train/loss', s, CASE WHEN s = 77777 THEN 'NaN'::float8
                                                ELSE 10.0 / (1 + s) + CASE WHEN s = 31337 THEN 50 ELSE 0 END END, 1
                  FROM generate_series(0, 99999) s
                """, run);

        JsonNode series = http.get("/api/runs/" + run + "/metrics?name=train/loss&maxPoints=500").json().get("series").get(0);
        assertThat(series.get("totalPoints").asLong()).isEqualTo(100_000);
        assertThat(series.get("returnedPoints").asInt()).isEqualTo(500);
        assertThat(series.get("downsampled").asBoolean()).isTrue();
        // 100k > 8 x 500: the extremes of 1000 buckets are cut in PostgreSQL, then LTTB picks 500.
        assertThat(series.get("method").asString()).isEqualTo("m4+lttb");
        List<Long> steps = new ArrayList<>();
        series.get("points").forEach(p -> steps.add(p.get("step").asLong()));
        assertThat(steps.getFirst()).isZero();
        assertThat(steps.getLast()).isEqualTo(99_999);
        assertThat(steps).isSorted().doesNotHaveDuplicates().contains(31337L, 77777L);
        JsonNode window = http.get("/api/runs/" + run + "/metrics?name=train/loss&fromStep=1000&toStep=2999&maxPoints=300").json()
                .get("series").get(0);
        // 2000 points <= 8 x 300: read as they are and thinned by LTTB alone.
        assertThat(window.get("method").asString()).isEqualTo("lttb");
        assertThat(window.get("totalPoints").asLong()).isEqualTo(2000);
        assertThat(window.get("points")).hasSize(300);
        assertThat(window.get("points").get(0).get("step").asLong()).isEqualTo(1000);
        assertThat(window.get("points").get(299).get("step").asLong()).isEqualTo(2999);
        JsonNode defaults = http.get("/api/runs/" + run + "/metrics?name=train/loss").json();
        assertThat(defaults.get("series").get(0).get("returnedPoints").asInt()).isEqualTo(1000);
        assertThat(http.get("/api/runs/" + run + "/metrics?maxPoints=2").json().get("errors").get(0).get("field").asString())
                .isEqualTo("maxPoints");
    }

    @Test
    void shouldRecordCancellationAndRefuseItForATerminalRun() {
        JsonNode created = create(benchmark("cancel-" + UUID.randomUUID(), "128"));
        UUID running = runId(created, 0), done = runId(created, 1);
        fixtures.status(running, "RUNNING");
        fixtures.status(done, "SUCCEEDED");

        Http.Response ok = http.post("/api/runs/" + running + "/cancel");
        assertThat(ok.status()).isEqualTo(202);
        assertThat(jdbc.queryForObject("SELECT cancel_requested_at IS NOT NULL FROM run WHERE id = ?", Boolean.class, running)).isTrue();
        assertThat(jdbc.queryForObject("SELECT status FROM run WHERE id = ?", String.class, running)).isEqualTo("RUNNING");
        assertThat(http.post("/api/runs/" + running + "/cancel").status()).as("a repeated cancel is accepted").isEqualTo(202);

        Http.Response conflict = http.post("/api/runs/" + done + "/cancel");
        assertThat(conflict.status()).isEqualTo(409);
        assertThat(conflict.json().get("type").asString()).isEqualTo("urn:ccalab:problem:state-conflict");
        assertThat(jdbc.queryForObject("SELECT cancel_requested_at FROM run WHERE id = ?", Instant.class, done)).isNull();
        assertThat(http.post("/api/runs/" + UUID.randomUUID() + "/cancel").status()).isEqualTo(404);
    }

    @Test
    void shouldCancelEveryLiveRunOfAnExperiment() {
        JsonNode created = create(benchmark("cancel-all-" + UUID.randomUUID(), "128, 256"));
        UUID id = UUID.fromString(created.get("id").asString());
        fixtures.status(runId(created, 0), "SUCCEEDED");
        fixtures.status(runId(created, 1), "RUNNING");

        Http.Response r = http.post("/api/experiments/" + id + "/cancel");
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.json().get("runsCancelled")).hasSize(3);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM run WHERE experiment_id = ? AND cancel_requested_at IS NOT NULL",
                Long.class, id)).isEqualTo(3);
        assertThat(jdbc.queryForObject("SELECT cancel_requested_at IS NOT NULL FROM experiment WHERE id = ?", Boolean.class, id)).isTrue();

        for (int i = 1; i < 4; i++) fixtures.status(runId(created, i), "CANCELLED");
        assertThat(http.post("/api/experiments/" + id + "/cancel").status()).isEqualTo(409);
    }

    @Test
    void shouldRequeueOnlyTheFailedRunsWithAFreshAttemptBudget() {
        JsonNode created = create(benchmark("rerun-" + UUID.randomUUID(), "128, 256"));
        UUID id = UUID.fromString(created.get("id").asString());
        assertThat(http.post("/api/experiments/" + id + "/rerun-failed").status()).isEqualTo(409);
        jdbc.update("UPDATE run SET admitted_at = now() WHERE experiment_id = ?", id);
        fixtures.status(runId(created, 0), "FAILED");
        fixtures.status(runId(created, 2), "FAILED");
        fixtures.status(runId(created, 1), "SUCCEEDED");
        jdbc.update("UPDATE run SET attempt = 2 WHERE id = ?", runId(created, 2));

        Http.Response r = http.post("/api/experiments/" + id + "/rerun-failed");
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.json().get("runs")).extracting(JsonNode::asString)
                .containsExactlyInAnyOrder(runId(created, 0).toString(), runId(created, 2).toString());
        List<Map<String, Object>> rows = jdbc.queryForList(
                "SELECT ordinal, status, attempt, max_attempts, failure_class, finished_at, admitted_at FROM run WHERE experiment_id = ? ORDER BY ordinal", id);
        assertThat(rows.get(0)).containsEntry("status", "QUEUED").containsEntry("attempt", 2).containsEntry("max_attempts", 3)
                .containsEntry("failure_class", null).containsEntry("finished_at", null);
        assertThat(rows.get(0).get("admitted_at")).isNotNull();
        assertThat(rows.get(2)).containsEntry("status", "QUEUED").containsEntry("attempt", 3).containsEntry("max_attempts", 4);
        assertThat(rows.get(1)).containsEntry("status", "SUCCEEDED");
        assertThat(http.post("/api/experiments/" + id + "/rerun-failed").status()).isEqualTo(409);
    }

    @Test
    void shouldCompareCellsAndLossesAgainstABaseline() {
        JsonNode bench = create(benchmark("compare-" + UUID.randomUUID(), "128, 256"));
        UUID mha128 = runId(bench, 0), gqa128 = runId(bench, 2);
        fixtures.cell(mha128, "FORWARD", 128, 2.0, 4.0);
        fixtures.cell(mha128, "DECODE", 128, 0.5, 1.0);
        fixtures.cell(gqa128, "FORWARD", 128, 1.0, 5.0);
        fixtures.cell(gqa128, "BACKWARD", 128, 3.0, 5.0);

        JsonNode c = http.get("/api/compare?runs=" + mha128 + "," + gqa128 + "&baseline=" + mha128).json();
        assertThat(c.get("baseline").get("id").asString()).isEqualTo(mha128.toString());
        JsonNode gqa = c.get("runs").get(1);
        assertThat(gqa.get("runId").asString()).isEqualTo(gqa128.toString());
        assertThat(gqa.get("cells")).hasSize(1);
        assertThat(gqa.get("cells").get(0).get("latencyRatio").asDouble()).isEqualTo(0.5);
        assertThat(gqa.get("cells").get(0).get("tflopsRatio").asDouble()).isEqualTo(1.25);
        assertThat(gqa.get("unmatchedCells").asInt()).isEqualTo(1);
        assertThat(c.get("runs").get(0).get("baseline").asBoolean()).isTrue();
        assertThat(c.get("runs").get(0).get("cells").get(0).get("latencyRatio").asDouble()).isEqualTo(1.0);

        JsonNode train = create(training("compare-train-" + UUID.randomUUID()));
        UUID a = runId(train, 0), b = runId(train, 2);
        for (int s = 0; s <= 4; s++) {
            fixtures.point(a, "val/loss", s, 4.0 - 0.5 * s);      // final 2.0, min 2.0
            fixtures.point(b, "val/loss", s, s == 2 ? 1.0 : 3.0); // final 3.0, min 1.0
        }
        fixtures.point(b, "val/loss", 5, Double.NaN);             // diverged at the end: final NaN, min stays 1.0
        UUID trainId = UUID.fromString(train.get("id").asString());
        JsonNode t = http.get("/api/compare?experiments=" + trainId + "&baseline=" + a).json();
        JsonNode rb = null;
        for (JsonNode n : t.get("runs")) if (n.get("runId").asString().equals(b.toString())) rb = n;
        assertThat(rb).isNotNull();
        assertThat(rb.get("training").get("minRatio").asDouble()).isEqualTo(0.5);
        assertThat(rb.get("training").get("finalRatio").isNull()).isTrue();
        assertThat(rb.get("training").get("finalStep").asLong()).isEqualTo(5);
        assertThat(t.get("runs")).hasSize(4);
        // A loss is better lower: the best value and ratio are the minimum's.
        assertThat(t.get("direction").asString()).isEqualTo("LOWER_IS_BETTER");
        assertThat(rb.get("training").get("direction").asString()).isEqualTo("LOWER_IS_BETTER");
        assertThat(rb.get("training").get("bestValue").asDouble()).isEqualTo(1.0);
        assertThat(rb.get("training").get("bestRatio").asDouble()).isEqualTo(0.5);

        // An accuracy is better higher: the best value is the maximum, its ratio against the baseline's maximum.
        for (int s = 0; s <= 2; s++) {
            fixtures.point(a, "recall/accuracy", s, 0.2 + 0.2 * s);   // max 0.6, final 0.6
            fixtures.point(b, "recall/accuracy", s, s == 1 ? 0.9 : 0.3); // max 0.9, final 0.3
        }
        JsonNode acc = http.get("/api/compare?experiments=" + trainId + "&baseline=" + a + "&metric=recall/accuracy").json();
        assertThat(acc.get("direction").asString()).isEqualTo("HIGHER_IS_BETTER");
        JsonNode ab = null;
        for (JsonNode n : acc.get("runs")) if (n.get("runId").asString().equals(b.toString())) ab = n;
        assertThat(ab.get("training").get("bestValue").asDouble()).isEqualTo(0.9);
        assertThat(ab.get("training").get("baselineBestValue").asDouble()).isCloseTo(0.6, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(ab.get("training").get("bestRatio").asDouble()).isCloseTo(1.5, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(ab.get("training").get("maxValue").asDouble()).isEqualTo(0.9);
        assertThat(ab.get("training").get("minValue").asDouble()).isEqualTo(0.3);

        // No baseline named: per kind, the first MHA run in the order listed (not the order stored, where the
        // benchmark gqa run comes first), so the training run b gets its ratio against a, the gqa run against itself.
        JsonNode d = http.get("/api/compare?runs=" + b + "," + gqa128 + "," + a).json();
        assertThat(d.get("baseline").get("id").asString()).isEqualTo(a.toString());
        assertThat(d.get("baseline").get("runIds")).extracting(JsonNode::asString).containsExactly(a.toString(), gqa128.toString());
        JsonNode db = null, dg = null;
        for (JsonNode n : d.get("runs")) {
            if (n.get("runId").asString().equals(b.toString())) db = n;
            if (n.get("runId").asString().equals(gqa128.toString())) dg = n;
        }
        assertThat(db.get("training").get("minRatio").asDouble()).isEqualTo(0.5);
        assertThat(db.get("baseline").asBoolean()).isFalse();
        assertThat(dg.get("baseline").asBoolean()).isTrue();
        assertThat(dg.get("cells").get(0).get("latencyRatio").asDouble()).isEqualTo(1.0);

        // A named run is the baseline of its own kind only: the training run b keeps its default (a), so it still
        // gets a ratio when the baseline named is the benchmark run gqa128.
        JsonNode n = http.get("/api/compare?runs=" + b + "," + gqa128 + "," + a + "&baseline=" + gqa128).json();
        assertThat(n.get("baseline").get("id").asString()).isEqualTo(gqa128.toString());
        assertThat(n.get("baseline").get("runIds")).extracting(JsonNode::asString).containsExactly(gqa128.toString(), a.toString());
        JsonNode nb = null;
        for (JsonNode x : n.get("runs")) if (x.get("runId").asString().equals(b.toString())) nb = x;
        assertThat(nb.get("training").get("minRatio").asDouble()).isEqualTo(0.5);

        Http.Response bad = http.get("/api/compare?runs=" + a + "&experiments=" + trainId);
        assertThat(bad.status()).isEqualTo(400);
        assertThat(http.get("/api/compare?runs=" + UUID.randomUUID()).status()).isEqualTo(404);
        assertThat(http.get("/api/compare?runs=nope").json().get("errors").get(0).get("field").asString()).isEqualTo("runs");
    }

    @Test
    void shouldMatchEveryPointOfASeqLenSweepAgainstTheDefaultBaselineVariant() {
        // README's mha-vs-gqa example: MHA and GQA at seqLen 256 and 512; without a baseline every run at 512 must find
        // the MHA run at 512, not only the one at 256.
        JsonNode bench = create(benchmark("compare-sweep-" + UUID.randomUUID(), "256, 512"));
        UUID mha256 = runId(bench, 0), mha512 = runId(bench, 1), gqa256 = runId(bench, 2), gqa512 = runId(bench, 3);
        fixtures.cell(mha256, "FORWARD", 256, 2.0, 4.0);
        fixtures.cell(mha512, "FORWARD", 512, 8.0, 4.0);
        fixtures.cell(gqa256, "FORWARD", 256, 1.0, 8.0);
        fixtures.cell(gqa512, "FORWARD", 512, 2.0, 16.0);

        JsonNode c = http.get("/api/compare?experiments=" + bench.get("id").asString()).json();
        assertThat(c.get("baseline").get("id").asString()).isEqualTo(mha256.toString());
        assertThat(c.get("baseline").get("runIds")).extracting(JsonNode::asString)
                .containsExactly(mha256.toString(), mha512.toString());
        Map<String, JsonNode> byRun = new java.util.HashMap<>();
        for (JsonNode n : c.get("runs")) byRun.put(n.get("runId").asString(), n);
        for (UUID run : List.of(mha256, mha512, gqa256, gqa512)) {
            JsonNode r = byRun.get(run.toString());
            assertThat(r.get("unmatchedCells").asInt()).as("unmatched cells of %s", run).isZero();
            assertThat(r.get("cells")).as("cells of %s", run).hasSize(1);
        }
        assertThat(byRun.get(mha512.toString()).get("baseline").asBoolean()).isTrue();
        assertThat(byRun.get(gqa512.toString()).get("cells").get(0).get("latencyRatio").asDouble()).isEqualTo(0.25);
        assertThat(byRun.get(gqa512.toString()).get("cells").get(0).get("tflopsRatio").asDouble()).isEqualTo(4.0);
        assertThat(byRun.get(gqa256.toString()).get("cells").get(0).get("latencyRatio").asDouble()).isEqualTo(0.5);

        // A named run stands for its variant too, as on the dashboard.
        JsonNode n = http.get("/api/compare?runs=" + gqa256 + "," + gqa512 + "," + mha256 + "," + mha512 + "&baseline=" + mha256).json();
        assertThat(n.get("baseline").get("runIds")).extracting(JsonNode::asString)
                .containsExactly(mha256.toString(), mha512.toString());
        for (JsonNode r : n.get("runs")) assertThat(r.get("unmatchedCells").asInt()).isZero();

        // A metric no compared run records is a 400 naming `metric`, not a comparison of nulls.
        Http.Response nope = http.get("/api/compare?experiments=" + bench.get("id").asString() + "&metric=nope");
        assertThat(nope.status()).isEqualTo(400);
        assertThat(nope.json().get("errors").get(0).get("field").asString()).isEqualTo("metric");
        assertThat(nope.json().get("errors").get(0).get("message").asString()).contains("nope");
    }

    @Test
    void shouldShowTheQueueWorkersAndDeadLetters() {
        JsonNode created = create(benchmark("queue-" + UUID.randomUUID(), "128"));
        UUID running = runId(created, 0);
        fixtures.status(running, "RUNNING");
        fixtures.worker("w-live-" + running, Instant.now(), running);
        fixtures.worker("w-gone-" + running, Instant.now().minusSeconds(3600), null);
        fixtures.deadLetter("runs.events", running.getMostSignificantBits() & 0xffff, "{not json");

        JsonNode q = http.get("/api/queue").json();
        assertThat(q.get("running").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(q.get("items").get(0).get("status").asString()).isEqualTo("RUNNING");
        boolean found = false;
        for (JsonNode i : q.get("items")) {
            if (i.get("runId").asString().equals(runId(created, 1).toString())) {
                found = true;
                assertThat(i.get("status").asString()).isEqualTo("QUEUED");
                assertThat(i.get("waitSeconds").asDouble()).isGreaterThanOrEqualTo(0);
                assertThat(i.get("experimentName").asString()).startsWith("queue-");
            }
        }
        assertThat(found).isTrue();

        JsonNode workers = http.get("/api/workers").json().get("items");
        Map<String, Boolean> alive = new java.util.HashMap<>();
        workers.forEach(w -> alive.put(w.get("id").asString(), w.get("alive").asBoolean()));
        assertThat(alive).containsEntry("w-live-" + running, true).containsEntry("w-gone-" + running, false);

        JsonNode dead = http.get("/api/dead-letters?topic=runs.events").json();
        assertThat(dead.get("totalElements").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(dead.get("items").get(0).get("recordValue").asString()).isEqualTo("{not json");
    }

    @Test
    void shouldServeTheCatalogAndCostModel() {
        JsonNode catalog = http.get("/api/variants").json();
        assertThat(catalog.get("families")).extracting(f -> f.get("family").asString()).containsExactly("mha", "gqa", "mla", "cca", "ccgqa", "ovq");
        assertThat(catalog.get("families").get(0).get("defaultConfig").get("family").asString()).isEqualTo("mha");
        assertThat(catalog.get("gridKeys").get("BENCHMARK")).extracting(JsonNode::asString).contains("seed", "seqLen", "batch");
        assertThat(catalog.get("maxRunsPerExperiment").asInt()).isEqualTo(1000);

        JsonNode cost = http.post("/api/variants/cost", """
                {"variant": {"family": "gqa", "dModel": 2048, "nHeads": 16, "nKvHeads": 4}, "seqLen": 1024}
                """).json();
        // K and V of 4 heads x 128 channels, bf16: 2 * 512 * 2 bytes per token.
        assertThat(cost.get("cost").get("kvCacheBytesPerToken").asLong()).isEqualTo(2048);
        assertThat(cost.get("dtype").asString()).isEqualTo("bf16");
        Http.Response bad = http.post("/api/variants/cost", "{\"variant\": {\"family\": \"gqa\", \"dModel\": 2048, \"nHeads\": 16, \"nKvHeads\": 5}, \"seqLen\": 8}");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("errors").get(0).get("field").asString()).isEqualTo("variant.nKvHeads");

        // OVQ keeps no per-token cache, only its dictionary state: 4 heads x 256 centroids x (2 * 64 + 1) fp32 once full.
        JsonNode ovq = http.post("/api/variants/cost", """
                {"variant": {"family": "ovq", "dModel": 256, "nHeads": 4,
                             "ovq": {"chunkLength": 64, "dictionarySize": 256, "growthLength": 1024}}, "seqLen": 4096}
                """).json();
        assertThat(ovq.get("cost").get("kvCacheBytesPerToken").asLong()).isZero();
        assertThat(ovq.get("cost").get("decodeStateBytes").asLong()).isEqualTo(4L * 256 * 129 * 4);
    }

    @Test
    void shouldServeTheDashboardWithAnSpaFallbackButNotForApiPaths() {
        Http.Response deep = http.get("/runs/" + UUID.randomUUID());
        assertThat(deep.status()).isEqualTo(200);
        assertThat(deep.body()).contains("spa-index");
        assertThat(http.get("/").body()).contains("spa-index");
        Http.Response api = http.get("/api/no-such-endpoint");
        assertThat(api.status()).isEqualTo(404);
        assertThat(api.contentType()).startsWith("application/problem+json");
        assertThat(http.get("/assets/missing-file.js").status()).isEqualTo(404);
    }

    @Test
    void shouldPublishAnOpenApiDocumentCoveringEveryEndpoint(
            @Autowired org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping mappings) {
        Http.Response r = http.get("/api/openapi.json");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().get("info").get("title").asString()).isEqualTo("cca-lab api");
        assertThat(r.json().get("info").get("version").asString()).isNotEqualTo("v0");
        assertThat(r.json().get("info").get("description").asString()).isNotBlank();
        JsonNode paths = r.json().get("paths");
        List<String> expected = new ArrayList<>();
        mappings.getHandlerMethods().keySet().forEach(info -> info.getPatternValues().stream()
                .filter(p -> p.startsWith("/api/") && !p.startsWith("/api/openapi")).forEach(expected::add));
        assertThat(expected).contains("/api/experiments", "/api/runs/{id}/metrics", "/api/live/runs/{id}", "/api/compare");
        for (String p : expected) assertThat(paths.has(p)).as("OpenAPI path " + p).isTrue();
    }
}
