package org.ccalab.engine.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The compiled kernels: {@code cuda/ccalab.fatbin} from this jar (built by bench/build-kernels.sh when nvcc
 * was present at build time), or a file named by the system property {@code ccalab.kernels} / environment
 * variable {@code CCALAB_KERNELS} (for kernel development without rebuilding the jar).
 *
 * @param bytes  the fatbin image, as cuModuleLoadData takes it
 * @param source where it came from, for logs and the run environment
 * @param sha256 hex digest, recorded as the run's kernel build hash
 */
public record KernelImage(byte[] bytes, String source, String sha256) {
    public static final String RESOURCE = "cuda/ccalab.fatbin";

    /** Finds the image or throws {@link CudaUnavailableException} saying how to get one. */
    public static KernelImage locate() {
        String override = System.getProperty("ccalab.kernels", System.getenv("CCALAB_KERNELS"));
        return locate(override, KernelImage.class.getClassLoader());
    }

    static KernelImage locate(String overridePath, ClassLoader loader) {
        if (overridePath != null && !overridePath.isBlank()) {
            Path p = Path.of(overridePath);
            if (!Files.isRegularFile(p))
                throw new CudaUnavailableException("CUDA kernels not found: ccalab.kernels points to " + p.toAbsolutePath()
                        + ", which is not a file");
            try {
                return of(Files.readAllBytes(p), p.toAbsolutePath().toString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        try (InputStream in = loader.getResourceAsStream(RESOURCE)) {
            if (in == null)
                throw new CudaUnavailableException("CUDA kernels missing: this engine jar has no " + RESOURCE
                        + " (nvcc was not found when it was built; build where nvcc exists, see bench/build-kernels.sh,"
                        + " or point -Dccalab.kernels at a fatbin)");
            return of(in.readAllBytes(), "classpath:" + RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static KernelImage of(byte[] bytes, String source) {
        if (bytes.length == 0) throw new CudaUnavailableException("CUDA kernels missing: " + source + " is empty");
        try {
            return new KernelImage(bytes, source, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
