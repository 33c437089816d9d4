package org.ccalab.api.comparison;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MetricDirectionTest {
    @ParameterizedTest
    @ValueSource(strings = {"recall/accuracy", "val/accuracy", "icr/acc", "train/top1_accuracy", "throughput/tokens_per_s",
            "perf/tflops", "Val/Accuracy"})
    void accuracyAndThroughputAreBetterHigher(String metric) {
        assertThat(MetricDirection.of(metric)).isEqualTo(MetricDirection.HIGHER_IS_BETTER);
        assertThat(MetricDirection.of(metric).best(1.0, 2.0)).isEqualTo(2.0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"val/loss", "train/loss", "val/ppl", "decode/latency_ms", "kv/bytes", "lr", "cache/accesses"})
    void lossesLatencyAndBytesAreBetterLower(String metric) {
        assertThat(MetricDirection.of(metric)).isEqualTo(MetricDirection.LOWER_IS_BETTER);
        assertThat(MetricDirection.of(metric).best(1.0, 2.0)).isEqualTo(1.0);
    }
}
