package org.ccalab.engine.backend.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds libcublas for the FFM binding without hard-coding a CUDA version path. Order: the system property
 * {@code ccalab.cublas} or env {@code CCALAB_CUBLAS} (a file), then {@code lib64} and {@code lib} under
 * {@code CUDA_HOME} and {@code CUDA_PATH}, then /usr/local/cuda/lib64; in each directory libcublas.so.13, then
 * .so.12, then the unversioned libcublas.so. JCuda's own jcublas cannot be used on CUDA 13 hosts (it links
 * libcublas.so.12), hence this.
 */
final class CublasLocator {
    static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so");

    private CublasLocator() {}

    static Path locate() {
        return locate(System.getProperty("ccalab.cublas"), System.getenv());
    }

    static Path locate(String explicit, Map<String, String> env) {
        return locate(explicit, env, List.of(Path.of("/usr/local/cuda/lib64")));
    }

    static Path locate(String explicit, Map<String, String> env, List<Path> defaultDirs) {
        if (explicit == null || explicit.isBlank()) explicit = env.get("CCALAB_CUBLAS");
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            if (Files.isRegularFile(p)) return p;
            throw new CudaUnavailableException("cuBLAS not found: ccalab.cublas / CCALAB_CUBLAS names " + p
                    + ", which is not a file");
        }
        List<Path> dirs = new ArrayList<>();
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = env.get(var);
            if (home != null && !home.isBlank()) {
                dirs.add(Path.of(home, "lib64"));
                dirs.add(Path.of(home, "lib"));
            }
        }
        dirs.addAll(defaultDirs);
        List<Path> tried = new ArrayList<>();
        for (Path d : dirs)
            for (String n : NAMES) {
                Path p = d.resolve(n);
                tried.add(p);
                if (Files.isRegularFile(p)) return p;
            }
        throw new CudaUnavailableException("cuBLAS not found: looked for " + tried
                + "; set CUDA_HOME to the CUDA toolkit, or -Dccalab.cublas=/path/to/libcublas.so.13");
    }
}
