package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class CudaProbeTest {
    private static boolean driverInstalled() {
        return List.of("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1")
                .stream().anyMatch(p -> Files.exists(Path.of(p)));
    }

    @Test
    void probeNeverThrowsAndExplainsItself() {
        CudaProbe p = CudaBackend.probe();
        // Twice: after a failed native load JCuda's classes fail differently (NoClassDefFoundError).
        CudaProbe again = CudaBackend.probe();
        assertThat(p.available()).isEqualTo(again.available());
        assertThat(p.reason()).isNotBlank();
        assertThat(p.available()).isEqualTo(p.reason().equals("ok"));
        if (!driverInstalled()) {
            assertThat(p.available()).isFalse();
            assertThat(p.reason()).contains("no CUDA driver");
            assertThat(again.reason()).contains("no CUDA driver");
            assertThat(p.describe()).startsWith("no CUDA device");
        }
    }

    @Test
    void openFailsWithTheProbeReasonWhenUnavailable() {
        CudaProbe p = CudaBackend.probe();
        if (!p.available())
            assertThatThrownBy(CudaBackend::open).isInstanceOf(CudaUnavailableException.class)
                    .hasMessageContaining(p.reason());
    }
}
