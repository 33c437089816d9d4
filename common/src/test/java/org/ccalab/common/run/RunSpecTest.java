package org.ccalab.common.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.junit.jupiter.api.Test;

class RunSpecTest {
    private static TrainingSpec layers(int nLayers) {
        return new TrainingSpec(null, null, nLayers, null, null, null, null, null, null, null, null, null, null);
    }

    private static OvqConfig ovq(int swaWindow) {
        return new OvqConfig(64, 2, new OvqSpec(16, 16, 256, null, null, null, null, null, null, null, null, swaWindow));
    }

    @Test
    void shouldRefuseAOneLayerOvqHybridAtTrainingNLayers() {
        assertThatThrownBy(() -> new RunSpec(RunKind.TRAINING, ovq(32), 0, null, layers(1)))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> {
                    assertThat(e.field()).isEqualTo("training.nLayers");
                    assertThat(e.reason()).contains("swaWindow 32").contains("nLayers >= 2").contains("ovq.swaWindow to 0");
                });
    }

    @Test
    void shouldAcceptAOneLayerModelOfOvqLayersOnlyOrOfAnotherFamilyAndATwoLayerHybrid() {
        assertThat(new RunSpec(RunKind.TRAINING, ovq(0), 0, null, layers(1)).training().nLayers()).isEqualTo(1);
        assertThat(new RunSpec(RunKind.TRAINING, new MhaConfig(64, 2), 0, null, layers(1)).training().nLayers()).isEqualTo(1);
        assertThat(new RunSpec(RunKind.TRAINING, ovq(32), 0, null, layers(2)).training().nLayers()).isEqualTo(2);
    }
}
