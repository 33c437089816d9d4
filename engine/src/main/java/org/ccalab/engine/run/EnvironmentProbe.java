package org.ccalab.engine.run;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.ccalab.common.event.EnvironmentFingerprint;

/**
 * The software and machine facts recorded with every run. The git commit comes from system properties
 * {@code ccalab.git.commit} / {@code ccalab.git.dirty} (set by a packager) or else from {@code git} in
 * the working directory; the engine version from the jar's Maven metadata. Anything unknowable is
 * "unknown", never null.
 */
public final class EnvironmentProbe {
    public static final String UNKNOWN = "unknown";

    private EnvironmentProbe() {}

    /** The fingerprint of the CPU engine: no GPU, so GPU, driver, CUDA and kernel build are "none". */
    public static EnvironmentFingerprint cpu() {
        GitState git = git();
        return new EnvironmentFingerprint(git.commit(), git.dirty(), engineVersion(), "none", "cpu", "none", "none",
                "none", jvm(), host());
    }

    public record GitState(String commit, boolean dirty) {}

    public static GitState git() {
        String commit = System.getProperty("ccalab.git.commit");
        if (commit != null) return new GitState(commit, Boolean.getBoolean("ccalab.git.dirty"));
        String head = command(List.of("git", "rev-parse", "HEAD"));
        if (head == null || !head.matches("[0-9a-f]{40}")) return new GitState(UNKNOWN, false);
        String status = command(List.of("git", "status", "--porcelain", "--untracked-files=no"));
        return new GitState(head, status != null && !status.isBlank());
    }

    public static String engineVersion() {
        String v = EnvironmentProbe.class.getPackage().getImplementationVersion();
        if (v != null) return v;
        try (InputStream in = EnvironmentProbe.class.getResourceAsStream("/META-INF/maven/org.ccalab/engine/pom.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", UNKNOWN);
            }
        } catch (IOException ignored) {
            // fall through: the version is simply unknown
        }
        return UNKNOWN;
    }

    public static String jvm() {
        return System.getProperty("java.vm.name", UNKNOWN) + " " + System.getProperty("java.runtime.version", UNKNOWN);
    }

    public static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            String env = System.getenv("HOSTNAME");
            return env != null ? env : UNKNOWN;
        }
    }

    /** Trimmed stdout of a short command, or null when it fails or takes over 5 s. */
    private static String command(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8).trim() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
