package org.ccalab.engine.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchCliTest {
    @Test
    void quickRunMeasuresMatmulEveryVariantAndATrainingStep() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BenchCli.run(true, new PrintStream(buf, true, StandardCharsets.UTF_8));
        List<String> rows = buf.toString(StandardCharsets.UTF_8).lines().toList();
        for (String kernel : List.of("matmul", "mha", "gqa", "mla", "cca", "ccgqa", "ovq", "swa", "train step")) {
            String row = rows.stream().filter(r -> r.startsWith(kernel + " ")).findFirst().orElseThrow(
                    () -> new AssertionError("no row for " + kernel + " in\n" + String.join("\n", rows)));
            String[] cols = row.trim().split("\\s+");
            double gflops = Double.parseDouble(cols[cols.length - 1]);
            double tokensPerS = Double.parseDouble(cols[cols.length - 2]);
            assertThat(gflops).as(row).isPositive();
            assertThat(tokensPerS).as(row).isPositive();
        }
    }
}
