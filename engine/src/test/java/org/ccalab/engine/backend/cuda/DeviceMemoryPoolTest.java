package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DeviceMemoryPoolTest {
    @Test
    void sizeClassesArePowersOfTwoThenTwoMebibyteSteps() {
        assertThat(DeviceMemoryPool.sizeClass(1)).isEqualTo(256);
        assertThat(DeviceMemoryPool.sizeClass(256)).isEqualTo(256);
        assertThat(DeviceMemoryPool.sizeClass(257)).isEqualTo(512);
        assertThat(DeviceMemoryPool.sizeClass(1 << 20)).isEqualTo(1 << 20);
        assertThat(DeviceMemoryPool.sizeClass((1 << 20) + 1)).isEqualTo(2 << 20);
        assertThat(DeviceMemoryPool.sizeClass((2 << 20) + 1)).isEqualTo(4 << 20);
        assertThat(DeviceMemoryPool.sizeClass(5L << 30)).isEqualTo(5L << 30);
        assertThatThrownBy(() -> DeviceMemoryPool.sizeClass(0)).hasMessageContaining("0 bytes");
    }
}
