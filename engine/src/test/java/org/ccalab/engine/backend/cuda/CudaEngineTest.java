package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.engine.run.CpuEngine;
import org.ccalab.engine.run.Engines;
import org.junit.jupiter.api.Test;

class CudaEngineTest {
    @Test
    void withoutADeviceCreateThrowsTheProbeReasonAndAutoFallsBackToTheCpu() {
        CudaProbe p = CudaBackend.probe();
        if (p.available()) return; // a GPU host: CudaBackendGpuTest covers this engine there
        assertThatThrownBy(CudaEngine::create).isInstanceOf(CudaUnavailableException.class).hasMessageContaining(p.reason());
        assertThat(Engines.create("auto")).isInstanceOf(CpuEngine.class);
        assertThatThrownBy(() -> Engines.create("cuda")).hasMessageContaining(p.reason());
    }
}
