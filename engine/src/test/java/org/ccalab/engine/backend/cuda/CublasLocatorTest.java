package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CublasLocatorTest {
    @Test
    void prefersCudaHomeAndTheNewestSoname(@TempDir Path home) throws Exception {
        Files.createDirectories(home.resolve("lib64"));
        Files.createFile(home.resolve("lib64/libcublas.so.12"));
        Files.createFile(home.resolve("lib64/libcublas.so.13"));
        Path found = CublasLocator.locate(null, Map.of("CUDA_HOME", home.toString()), List.of());
        assertThat(found).isEqualTo(home.resolve("lib64/libcublas.so.13"));
    }

    @Test
    void fallsBackToOlderSonamesAndLibDirs(@TempDir Path home) throws Exception {
        Files.createDirectories(home.resolve("lib"));
        Files.createFile(home.resolve("lib/libcublas.so.12"));
        assertThat(CublasLocator.locate(null, Map.of("CUDA_PATH", home.toString()), List.of()))
                .isEqualTo(home.resolve("lib/libcublas.so.12"));
    }

    @Test
    void notFoundListsEveryPlaceItLookedAndWhatToSet(@TempDir Path home) {
        Path dflt = home.resolve("default-lib64");
        assertThatThrownBy(() -> CublasLocator.locate(null, Map.of("CUDA_HOME", home.toString()), List.of(dflt)))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining("cuBLAS not found")
                .hasMessageContaining(home.resolve("lib64/libcublas.so.13").toString())
                .hasMessageContaining(dflt.resolve("libcublas.so").toString())
                .hasMessageContaining("CUDA_HOME");
    }

    @Test
    void anExplicitPathMustExist(@TempDir Path dir) {
        Path missing = dir.resolve("libcublas.so.13");
        assertThatThrownBy(() -> CublasLocator.locate(missing.toString(), Map.of(), List.of()))
                .hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> CublasLocator.locate(null, Map.of("CCALAB_CUBLAS", missing.toString()), List.of()))
                .hasMessageContaining(missing.toString());
    }

    @Test
    void aFileThatIsNotALibraryFailsClearly(@TempDir Path dir) throws Exception {
        Path fake = Files.writeString(dir.resolve("libcublas.so.13"), "not an ELF file");
        assertThatThrownBy(() -> new Cublas(fake, 0))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining("could not be loaded")
                .hasMessageContaining(fake.toString());
    }

    @Test
    void aLibraryWithoutCublasSymbolsIsNamed() {
        // The JDK's own libjava.so: a real shared library that is not cuBLAS.
        Path libjava = Path.of(System.getProperty("java.home"), "lib", "libjava.so");
        assertThatThrownBy(() -> new Cublas(libjava, 0))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining("has no symbol cublasCreate_v2");
    }
}
