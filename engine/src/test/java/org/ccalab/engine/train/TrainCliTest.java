package org.ccalab.engine.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCliTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String json) throws Exception {
        Path spec = dir.resolve("spec.json");
        Files.writeString(spec, json);
        System.setProperty("engine.backend", "cpu");
        try {
            return TrainCli.run(new String[] {spec.toString(), "--work", dir.resolve("work").toString()},
                    new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        } finally {
            System.clearProperty("engine.backend");
        }
    }

    @Test
    void trainsFromAJsonSpecAndPrintsTheLoss() throws Exception {
        int code = run("""
                {"kind":"TRAINING","seed":3,"variant":{"family":"gqa","dModel":32,"nHeads":4,"nKvHeads":2},
                 "training":{"dataset":"recall:8","steps":3,"seqLen":16,"batch":4,"evalEvery":3,"checkpointEvery":3}}
                """);
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(printed).contains("step      3  train/loss").contains("recall/accuracy").contains("checkpoint step 3");
        assertThat(dir.resolve("work/checkpoints/step-00000003.safetensors")).exists();
    }

    /** An OVQ hybrid from its wire form: the [ours] choices under "ovq", SWA window 8 over chunks of 4. */
    @Test
    void trainsAnOvqHybridFromAJsonSpec() throws Exception {
        int code = run("""
                {"kind":"TRAINING","seed":3,"variant":{"family":"ovq","dModel":32,"nHeads":4,
                  "ovq":{"chunkLength":4,"dictionarySize":8,"growthLength":16,"swaWindow":8}},
                 "training":{"dataset":"recall:8","nLayers":2,"steps":3,"seqLen":16,"batch":4,"evalEvery":3,"checkpointEvery":3}}
                """);
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("training ovq").contains("step      3  train/loss");
        assertThat(dir.resolve("work/checkpoints/step-00000003.safetensors")).exists();
    }

    @Test
    void invalidSpecNamesTheField() throws Exception {
        int code = run("""
                {"kind":"TRAINING","seed":3,"variant":{"family":"gqa","dModel":32,"nHeads":4,"nKvHeads":3},
                 "training":{"steps":3}}
                """);
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("nKvHeads");
    }
}
