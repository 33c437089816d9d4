package org.ccalab.engine.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    /** The independent safetensors reader of engine/io (the PyTorch-interop one) reads a checkpoint as-is. */
    @Test
    void checkpointIsAPlainSafetensorsFile() {
        Trainer t = TinyTraining.trainer(new CcaConfig(32, 4, 4), TinyTraining.text(), TinyTraining.spec(3, 16, 2, 1e-2), 2);
        t.step();
        t.step();
        Path file = dir.resolve("ckpt.safetensors");
        t.save(file);
        SafeTensors.Contents c = SafeTensors.readAll(file);
        for (Parameter p : t.model().parameters()) {
            assertThat(c.tensors()).containsKey(p.name());
            assertThat(c.tensors().get(p.name()).shape()).containsExactly(p.value().shape());
            assertThat(c.tensors().get(p.name()).data()).containsExactly(p.value().data());
            assertThat(c.tensors()).containsKeys("optimizer.m." + p.name(), "optimizer.v." + p.name());
        }
        assertThat(c.tensors().keySet()).contains("layers.0.attn.conv_qk_depthwise.weight", "layers.1.mlp.down_proj.weight");
        assertThat(c.metadata()).containsEntry("step", "2").containsEntry("format", Checkpoint.FORMAT);
    }

    @Test
    void truncatedOrForeignFilesAreRefusedWithTheField() throws Exception {
        Trainer t = TinyTraining.trainer(new CcaConfig(32, 4, 4), TinyTraining.text(), TinyTraining.spec(3, 16, 2, 1e-2), 2);
        Path file = dir.resolve("ckpt.safetensors");
        t.save(file);
        byte[] all = Files.readAllBytes(file);
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(all, all.length - 100));
        double[] before = t.model().parameters().getFirst().value().data().clone();
        assertThatThrownBy(() -> t.restore(truncated)).isInstanceOf(InvalidConfigException.class)
                .hasMessageStartingWith("resumeFrom:").hasMessageContaining("truncated");
        assertThat(t.model().parameters().getFirst().value().data()).containsExactly(before);
        Path garbage = dir.resolve("garbage.safetensors");
        Files.writeString(garbage, "not a checkpoint at all");
        assertThatThrownBy(() -> t.restore(garbage)).isInstanceOf(InvalidConfigException.class)
                .hasMessageStartingWith("resumeFrom:");
    }
}
