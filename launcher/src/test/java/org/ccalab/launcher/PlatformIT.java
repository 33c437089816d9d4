package org.ccalab.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.ccalab.launcher.infra.FreePorts;
import org.ccalab.launcher.platform.Platform;
import org.ccalab.launcher.platform.PlatformSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * The platform for real, as the launcher runs it: an embedded PostgreSQL and an in-process Kafka broker
 * under a fresh state directory, the scheduler, two workers on the CPU engine and the api, in one JVM.
 * Everything goes through HTTP (and, for the poison record, Kafka) as an outside client would; the database
 * is read only to prove that rejected requests stored nothing. The dashboard's browser tests run last
 * against the same platform.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PlatformIT {
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(4);

    private Platform platform;
    private ApiClient api;
    private String trainedRunId;
    private PlatformSettings settings;
    private final Map<String, Object> overrides = Map.of(
            "engine.backend", "cpu",
            // Short leases so that a killed worker's run is retried within seconds.
            "ccalab.worker.heartbeat-interval", "1s",
            "ccalab.worker.status-interval", "1s",
            "ccalab.worker.release-on-shutdown", "false",
            "ccalab.scheduler.lease-timeout", "6s",
            "ccalab.scheduler.worker-freshness", "5s");

    @BeforeAll
    void startPlatform() throws IOException {
        Path home = Files.createDirectories(Path.of("target", "platform-it")).resolve("home-" + System.currentTimeMillis());
        settings = new PlatformSettings(home, FreePorts.next(), null, "postgres", "", "ccalab",
                FreePorts.next(), null, FreePorts.next(), FreePorts.next(), 2);
        platform = Platform.start(settings, overrides);
        api = new ApiClient(platform.apiUrl());
    }

    @AfterAll
    void stopPlatform() {
        if (platform != null) platform.close();
    }

    // ---- bad input: 4xx problem details naming the field, nothing stored ----

    static List<Arguments> badSubmissions() {
        String mha = "{\"family\":\"mha\",\"dModel\":64,\"nHeads\":4}";
        String bench = "\"benchmark\":{\"batch\":1,\"seqLen\":32}";
        String hugeGrid = IntStream.rangeClosed(1, 1001).mapToObj(Integer::toString)
                .reduce((a, b) -> a + "," + b).orElseThrow();
        return List.of(
                Arguments.of("malformed JSON", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",", null),
                Arguments.of("unknown variant", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",\"variants\":[{\"family\":\"xformer\",\"dModel\":64}]," + bench + "}",
                        "variants[0]"),
                Arguments.of("heads not dividing the width", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",\"variants\":[{\"family\":\"mha\",\"dModel\":64,\"nHeads\":5}]," + bench + "}",
                        "variants[0].nHeads"),
                Arguments.of("oversized grid", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",\"variants\":[" + mha + "],\"grid\":{\"seed\":[" + hugeGrid + "]}," + bench + "}",
                        "grid"),
                Arguments.of("negative batch", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",\"variants\":[" + mha + "],\"benchmark\":{\"batch\":-1,\"seqLen\":32}}",
                        "batch"),
                Arguments.of("absurd sequence length", "{\"name\":\"x\",\"kind\":\"BENCHMARK\",\"variants\":[" + mha + "],\"benchmark\":{\"batch\":1,\"seqLen\":100000000}}",
                        "seqLen"),
                Arguments.of("missing name", "{\"kind\":\"BENCHMARK\",\"variants\":[" + mha + "]," + bench + "}", "name"));
    }

    @Order(1)
    @ParameterizedTest(name = "{0}")
    @MethodSource("badSubmissions")
    void badInputIsAProblemNamingTheFieldAndStoresNothing(String what, String body, String field) throws Exception {
        long experiments = count("experiment");
        long runs = count("run");

        ApiClient.Response r = api.post("/api/experiments", body);

        assertThat(r.status()).as(what + ": " + r.body()).isBetween(400, 499);
        assertThat(r.contentType()).startsWith("application/problem+json");
        JsonNode problem = r.tree();
        assertThat(problem.path("status").asInt()).isEqualTo(r.status());
        assertThat(problem.path("title").asString()).isNotBlank();
        if (field != null) {
            List<String> fields = new ArrayList<>();
            problem.path("errors").forEach(e -> fields.add(e.path("field").asString()));
            assertThat(fields).as(what + ": " + r.body()).anyMatch(f -> f.contains(field));
        }
        assertThat(count("experiment")).isEqualTo(experiments);
        assertThat(count("run")).isEqualTo(runs);
    }

    // ---- a benchmark and a training experiment, submitted over HTTP, complete with real numbers ----

    @Order(2)
    @Test
    void benchmarkExperimentCompletesWithMeasuredCells() {
        JsonNode created = submit("""
                {"name":"it-bench","kind":"BENCHMARK",
                 "variants":[{"family":"mha","dModel":64,"nHeads":4},{"family":"gqa","dModel":64,"nHeads":4,"nKvHeads":2},
                             {"family":"ovq","dModel":64,"nHeads":4,"ovq":{"chunkLength":8,"dictionarySize":16,"growthLength":64}}],
                 "grid":{"seqLen":[32,64]},
                 "benchmark":{"batch":1,"seqLen":32,"dtype":"fp32","warmup":1,"iterations":3}}""");
        assertThat(created.path("runCount").asInt()).isEqualTo(6);

        JsonNode experiment = awaitExperiment(created.path("id").asString());
        assertThat(experiment.path("status").asString()).isEqualTo("SUCCEEDED");

        for (JsonNode run : runsOf(created.path("id").asString())) {
            String runId = run.path("id").asString();
            JsonNode detail = api.getJson("/api/runs/" + runId);
            assertThat(detail.path("status").asString()).isEqualTo("SUCCEEDED");
            assertThat(detail.path("environments").get(0).path("backend").asString()).isEqualTo("cpu");
            // The CPU backend is deterministic by construction: every attempt records it, asked for or not.
            assertThat(detail.path("environments").get(0).path("deterministicBackward").asBoolean(false)).isTrue();
            JsonNode cells = api.getJson("/api/runs/" + runId + "/cells").path("cells");
            assertThat(cells.size()).as("cells of " + runId).isPositive();
            // OVQ keeps a bounded dictionary state instead of a per-token cache.
            boolean ovq = detail.path("family").asString().equals("ovq");
            for (JsonNode cell : cells) {
                assertThat(cell.path("p50Ms").asDouble()).isPositive();
                assertThat(cell.path("p10Ms").asDouble()).isLessThanOrEqualTo(cell.path("p90Ms").asDouble());
                assertThat(cell.path("tflops").asDouble()).isPositive();
                if (ovq) assertThat(cell.path("kvBytesPerToken").asLong()).isZero();
                else assertThat(cell.path("kvBytesPerToken").asLong()).isPositive();
                assertThat(cell.path("peakMemoryBytes").asLong()).isPositive();
                assertThat(cell.path("backend").asString()).startsWith("cpu");
            }
        }
    }

    @Order(3)
    @Test
    void trainingExperimentCompletesWithADecreasingLoss() {
        int steps = 60;
        JsonNode created = submit("""
                {"name":"it-train","kind":"TRAINING",
                 "variants":[{"family":"mha","dModel":32,"nHeads":4}],
                 "training":{"dataset":"recall","nLayers":1,"seqLen":32,"batch":4,"steps":%d,"learningRate":0.01,
                             "evalEvery":30,"checkpointEvery":30}}""".formatted(steps));

        JsonNode experiment = awaitExperiment(created.path("id").asString());
        assertThat(experiment.path("status").asString()).isEqualTo("SUCCEEDED");

        String runId = runsOf(created.path("id").asString()).getFirst().path("id").asString();
        trainedRunId = runId;
        List<double[]> loss = lossCurve(runId);
        assertThat(loss).hasSize(steps);
        double first = mean(loss.subList(0, 10));
        double last = mean(loss.subList(steps - 10, steps));
        assertThat(last).as("mean loss of the last 10 steps vs the first 10").isLessThan(first * 0.9);
        assertThat(api.getJson("/api/runs/" + runId).path("checkpoints").size()).isPositive();
    }

    /**
     * The OVQ hybrid (an SWA block, then an OVQ block) trains on ovq.md's in-context recall task through the whole
     * platform: the answer loss falls from about ln 64 towards ln 32 as it learns the values' half of the vocabulary
     * (a mean ratio of 0.86-0.87 over seeds 0, 1, 2 and 42 from the engine's CLI).
     */
    @Order(3)
    @Test
    void ovqHybridTrainsOnInContextRecall() {
        int steps = 60;
        JsonNode created = submit("""
                {"name":"it-ovq","kind":"TRAINING",
                 "variants":[{"family":"ovq","dModel":32,"nHeads":4,
                              "ovq":{"chunkLength":8,"dictionarySize":16,"growthLength":64,"swaWindow":8}}],
                 "training":{"dataset":"icr:64","nLayers":2,"seqLen":64,"batch":4,"steps":%d,"learningRate":0.01,
                             "evalEvery":30,"checkpointEvery":30}}""".formatted(steps));

        JsonNode experiment = awaitExperiment(created.path("id").asString());
        assertThat(experiment.path("status").asString()).isEqualTo("SUCCEEDED");

        String runId = runsOf(created.path("id").asString()).getFirst().path("id").asString();
        List<double[]> loss = lossCurve(runId);
        assertThat(loss).hasSize(steps);
        assertThat(mean(loss.subList(steps - 10, steps))).as("mean loss of the last 10 steps vs the first 10")
                .isLessThan(mean(loss.subList(0, 10)) * 0.9);
        JsonNode accuracy = api.getJson("/api/runs/" + runId + "/metrics?name=recall/accuracy").path("series").get(0);
        assertThat(accuracy.path("points").size()).as("evaluations at steps 30 and 60").isEqualTo(2);
        accuracy.path("points").forEach(p -> assertThat(p.path("value").asDouble()).isBetween(0.0, 1.0));
        assertThat(api.getJson("/api/runs/" + runId).path("checkpoints").size()).isPositive();
    }

    // ---- idempotent ingestion: every event of a finished run delivered three more times changes nothing ----

    @Order(4)
    @Test
    void replayedEventsLeaveOneRowEach() throws Exception {
        assertThat(trainedRunId).as("set by the training test").isNotNull();
        List<String> events = strings("select payload::text from run_event where run_id = '" + trainedRunId + "' order by attempt, seq");
        String before = snapshot(trainedRunId);

        try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers()),
                new StringSerializer(), new StringSerializer())) {
            for (int copy = 0; copy < 3; copy++) {
                for (String event : events) producer.send(new ProducerRecord<>("runs.events", trainedRunId, event));
            }
            producer.flush();
        }
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(300)).until(this::ingestCaughtUp);

        // Negative control: the broker now holds four copies of each event for this run, so a consumer that
        // stored what it received would show four times the rows.
        assertThat(recordsOnTopicFor(trainedRunId)).isGreaterThanOrEqualTo(4L * events.size());
        assertThat(snapshot(trainedRunId)).isEqualTo(before);
    }

    // ---- a worker killed mid-run: the watchdog retries the run elsewhere, no metric point lost or doubled ----

    @Order(5)
    @Test
    void aRunWhoseWorkerDiesIsRetriedOnAnotherWorkerWithEveryPointOnce() {
        int steps = 400;
        JsonNode created = submit("""
                {"name":"it-kill","kind":"TRAINING","maxAttempts":3,
                 "variants":[{"family":"mha","dModel":32,"nHeads":4}],
                 "training":{"dataset":"recall","nLayers":1,"seqLen":32,"batch":4,"steps":%d,
                             "evalEvery":100,"checkpointEvery":20}}""".formatted(steps));
        String runId = runsOf(created.path("id").asString()).getFirst().path("id").asString();

        // Past a checkpoint, so the retry resumes rather than restarts.
        JsonNode running = await().atMost(RUN_TIMEOUT).pollInterval(Duration.ofMillis(200))
                .until(() -> api.getJson("/api/runs/" + runId),
                        r -> "RUNNING".equals(r.path("status").asString()) && r.path("checkpoints").size() > 0);
        assertThat(running.path("status").asString()).as("run still running when its worker is killed").isEqualTo("RUNNING");
        String victim = running.path("workerId").asString();
        platform.stopWorker(victim);

        JsonNode done = await().atMost(RUN_TIMEOUT).pollInterval(Duration.ofMillis(500))
                .until(() -> api.getJson("/api/runs/" + runId), r -> terminal(r.path("status").asString()));
        assertThat(done.path("status").asString()).as(done.toString()).isEqualTo("SUCCEEDED");
        assertThat(done.path("attempt").asInt()).isGreaterThanOrEqualTo(2);
        assertThat(done.path("workerId").asString()).isNotEqualTo(victim);

        List<Long> stepsSeen = lossCurve(runId).stream().map(p -> (long) p[0]).toList();
        assertThat(stepsSeen).containsExactlyElementsOf(firstSteps(stepsSeen, steps));
        platform.startWorker(Map.of()); // back to two workers for what follows
    }

    // ---- cancelling a running run over HTTP reaches its worker, which stops at the next step ----

    @Order(6)
    @Test
    void aCancelledRunStopsOnItsWorker() {
        int steps = 100_000;
        JsonNode created = submit("""
                {"name":"it-cancel","kind":"TRAINING",
                 "variants":[{"family":"mha","dModel":32,"nHeads":4}],
                 "training":{"dataset":"recall","nLayers":1,"seqLen":32,"batch":4,"steps":%d,"evalEvery":100000,
                             "checkpointEvery":100000}}""".formatted(steps));
        String runId = runsOf(created.path("id").asString()).getFirst().path("id").asString();
        await().atMost(RUN_TIMEOUT).pollInterval(Duration.ofMillis(200))
                .until(() -> api.getJson("/api/runs/" + runId).path("status").asString(), "RUNNING"::equals);

        ApiClient.Response cancel = api.post("/api/runs/" + runId + "/cancel", "");
        assertThat(cancel.status()).as(cancel.body()).isBetween(200, 299);

        JsonNode done = await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(300))
                .until(() -> api.getJson("/api/runs/" + runId), r -> terminal(r.path("status").asString()));
        assertThat(done.path("status").asString()).isEqualTo("CANCELLED");
        List<String> types = new ArrayList<>();
        api.getJson("/api/runs/" + runId + "/events?size=1000").path("items").forEach(e -> types.add(e.path("type").asString()));
        assertThat(types).as("the worker reported the stop itself").contains("STARTED", "CANCELLED");
        for (JsonNode series : api.getJson("/api/runs/" + runId).path("metrics")) {
            assertThat(series.path("lastStep").asLong()).as(series.toString()).isLessThan(steps);
        }
    }

    // ---- a poison record on runs.events is dead-lettered and visible through the api ----

    @Order(7)
    @Test
    void aPoisonEventLandsInTheDeadLetterTopicAndTheApi() throws Exception {
        String marker = "poison-" + UUID.randomUUID();
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers()),
                new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("runs.events", marker, "{ this is not a run event " + marker)).get(10, TimeUnit.SECONDS);
        }

        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertThat(api.get("/api/dead-letters").body()).contains(marker));
        JsonNode letters = api.getJson("/api/dead-letters");
        assertThat(letters.toString()).contains("runs.events");
    }

    // ---- the dashboard's browser tests against the same running platform ----

    @Order(8)
    @Test
    void dashboardBrowserTestsPass() throws Exception {
        Path dashboard = Path.of("..", "dashboard").toAbsolutePath().normalize();
        assertThat(dashboard.resolve("package.json")).as("dashboard module").exists();
        assertThat(Path.of("/usr/bin/chromium")).as("Chromium for the browser tests (apt-get install -y chromium; .ci/run does)").exists();
        Path log = Path.of("target", "dashboard-e2e.log").toAbsolutePath();
        ProcessBuilder e2e = new ProcessBuilder("npm", "run", "e2e").directory(dashboard.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        e2e.environment().put("BASE_URL", platform.apiUrl());
        Process npm = e2e.start();
        npm.getOutputStream().close();
        boolean finished = npm.waitFor(10, TimeUnit.MINUTES);
        if (!finished) npm.destroyForcibly();
        String output = Files.readString(log);
        System.out.println(output);
        assertThat(finished).as("npm run e2e finished within 10 minutes").isTrue();
        assertThat(npm.exitValue()).as("npm run e2e exit code; output in " + log + ":\n" + output).isZero();
    }

    // ---- the state directory keeps everything across a restart of the platform ----

    @Order(9)
    @Test
    void everythingStoredSurvivesARestart() throws Exception {
        assertThat(trainedRunId).as("set by the training test").isNotNull();
        String before = snapshot(trainedRunId);
        long experiments = count("experiment");
        platform.close();

        platform = Platform.start(settings, overrides);

        assertThat(count("experiment")).isEqualTo(experiments);
        assertThat(snapshot(trainedRunId)).isEqualTo(before);
        JsonNode run = api.getJson("/api/runs/" + trainedRunId);
        assertThat(run.path("status").asString()).isEqualTo("SUCCEEDED");
        assertThat(lossCurve(trainedRunId)).isNotEmpty();
    }

    // ---- helpers ----

    private JsonNode submit(String body) {
        ApiClient.Response r = api.post("/api/experiments", body);
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        assertThat(r.location()).contains("/api/experiments/");
        return r.tree();
    }

    private JsonNode awaitExperiment(String id) {
        return await().atMost(RUN_TIMEOUT).pollInterval(Duration.ofMillis(500))
                .until(() -> api.getJson("/api/experiments/" + id), e -> terminal(e.path("status").asString()));
    }

    private List<JsonNode> runsOf(String experimentId) {
        List<JsonNode> runs = new ArrayList<>();
        api.getJson("/api/runs?experimentId=" + experimentId + "&size=100").path("items").forEach(runs::add);
        assertThat(runs).isNotEmpty();
        return runs;
    }

    /** (step, value) of train/loss, every point (no downsampling). */
    private List<double[]> lossCurve(String runId) {
        JsonNode series = api.getJson("/api/runs/" + runId + "/metrics?name=train/loss&maxPoints=10000").path("series").get(0);
        assertThat(series.path("downsampled").asBoolean()).isFalse();
        List<double[]> points = new ArrayList<>();
        series.path("points").forEach(p -> points.add(new double[] {p.path("step").asLong(), p.path("value").asDouble()}));
        return points;
    }

    /** The steps a run of {@code steps} steps must have reported, numbered from whichever base the engine uses. */
    private static List<Long> firstSteps(List<Long> seen, int steps) {
        long base = seen.isEmpty() ? 1 : seen.getFirst();
        assertThat(base).isBetween(0L, 1L);
        return LongStream.range(base, base + steps).boxed().toList();
    }

    private static boolean terminal(String status) {
        return List.of("SUCCEEDED", "FAILED", "CANCELLED").contains(status);
    }

    private static double mean(List<double[]> points) {
        return points.stream().mapToDouble(p -> p[1]).average().orElseThrow();
    }

    /** What ingestion derived from a run's events: rows per table, the metric values, the run's state. */
    private String snapshot(String runId) throws Exception {
        String where = " where run_id = '" + runId + "'";
        return String.join(" | ",
                strings("select count(*) from run_event" + where).getFirst(),
                strings("select count(*) || ' ' || coalesce(sum(value), 0) from metric_point" + where).getFirst(),
                strings("select count(*) from checkpoint" + where).getFirst(),
                strings("select count(*) from run_environment" + where).getFirst(),
                strings("select status || ' ' || attempt || ' ' || finished_at from run where id = '" + runId + "'").getFirst());
    }

    /** The scheduler's ingest group has consumed runs.events to its end. */
    private boolean ingestCaughtUp() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers()))) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("ingest")
                    .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
            admin.describeTopics(List.of("runs.events")).allTopicNames().get(10, TimeUnit.SECONDS).get("runs.events")
                    .partitions().forEach(p -> latest.put(new TopicPartition("runs.events", p.partition()), OffsetSpec.latest()));
            var ends = admin.listOffsets(latest).all().get(10, TimeUnit.SECONDS);
            return ends.entrySet().stream().allMatch(e -> {
                OffsetAndMetadata c = committed.get(e.getKey());
                return e.getValue().offset() == 0 || (c != null && c.offset() >= e.getValue().offset());
            });
        }
    }

    private long recordsOnTopicFor(String key) {
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "platform-it-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        long count = 0;
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("runs.events"));
            int idle = 0;
            while (idle < 5) {
                var records = consumer.poll(Duration.ofMillis(500));
                idle = records.isEmpty() ? idle + 1 : 0;
                for (var r : records) if (key.equals(r.key())) count++;
            }
        }
        return count;
    }

    private List<String> strings(String sql) throws Exception {
        List<String> values = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(platform.jdbcUrl()); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) values.add(rs.getString(1));
        }
        return values;
    }

    private long count(String table) throws Exception {
        try (Connection c = DriverManager.getConnection(platform.jdbcUrl()); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
