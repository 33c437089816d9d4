package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelImageTest {
    private static final ClassLoader EMPTY = new URLClassLoader(new URL[0], null);

    @Test
    void aJarWithoutTheFatbinReportsKernelsMissingAndHowToBuildThem() {
        assertThatThrownBy(() -> KernelImage.locate(null, EMPTY))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining("CUDA kernels missing")
                .hasMessageContaining(KernelImage.RESOURCE)
                .hasMessageContaining("nvcc");
    }

    @Test
    void anOverrideThatIsNotAFileIsNamed(@TempDir Path dir) {
        Path nowhere = dir.resolve("nope.fatbin");
        assertThatThrownBy(() -> KernelImage.locate(nowhere.toString(), EMPTY))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining(nowhere.toString());
    }

    @Test
    void anOverrideFileIsReadAndHashed(@TempDir Path dir) throws Exception {
        Path f = Files.write(dir.resolve("k.fatbin"), "abc".getBytes());
        KernelImage img = KernelImage.locate(f.toString(), EMPTY);
        assertThat(img.bytes()).containsExactly('a', 'b', 'c');
        assertThat(img.source()).isEqualTo(f.toAbsolutePath().toString());
        assertThat(img.sha256()).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void anEmptyImageIsRefused(@TempDir Path dir) throws Exception {
        Path f = Files.write(dir.resolve("k.fatbin"), new byte[0]);
        assertThatThrownBy(() -> KernelImage.locate(f.toString(), EMPTY)).hasMessageContaining("is empty");
    }

    @Test
    void theClasspathResourceIsFoundWhenPresent(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("cuda"));
        Files.write(dir.resolve(KernelImage.RESOURCE), new byte[] {1, 2, 3});
        try (URLClassLoader cl = new URLClassLoader(new URL[] {dir.toUri().toURL()}, null)) {
            KernelImage img = KernelImage.locate(null, cl);
            assertThat(img.bytes()).containsExactly(1, 2, 3);
            assertThat(img.source()).isEqualTo("classpath:" + KernelImage.RESOURCE);
        }
    }
}
