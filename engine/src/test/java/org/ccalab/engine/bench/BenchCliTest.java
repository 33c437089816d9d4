package org.ccalab.engine.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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

    /** The scaling mode prints one measured row per family and length (figures are not asserted). */
    @Test
    void scalingPrintsAForwardAndADecodeFigureForEveryFamilyAndLength() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BenchCli.scaling(true, new PrintStream(buf, true, StandardCharsets.UTF_8));
        List<String[]> rows = buf.toString(StandardCharsets.UTF_8).lines()
                .map(l -> l.trim().split("\\s+"))
                .filter(c -> c.length == 5 && (c[0].equals("mha") || c[0].equals("ovq")))
                .toList();
        assertThat(rows).extracting(c -> c[0] + "@" + c[1])
                .containsExactly("mha@128", "mha@256", "mha@512", "ovq@128", "ovq@256", "ovq@512");
        for (String[] c : rows)
            assertThat(Arrays.stream(c, 2, 5).mapToDouble(Double::parseDouble)).allMatch(v -> v > 0 && Double.isFinite(v));
    }
}
