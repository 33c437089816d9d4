package org.ccalab.engine.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private static Map<String, Tensor> sample() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", Tensor.wrap(new double[] {1.0 / 3, -2.5, 1e-300, 7}, 2, 2));
        m.put("scalar_row", Tensor.wrap(new double[] {Math.PI}, 1));
        m.put("empty", Tensor.zeros(0, 3));
        return m;
    }

    @Test
    void shouldRoundTripF64ExactlyWithMetadataAndOrder() {
        Path f = dir.resolve("a.safetensors");
        SafeTensors.write(f, sample(), DType.F64, Map.of("family", "cca"));
        SafeTensors.Contents c = SafeTensors.readAll(f);
        assertThat(c.tensors().keySet()).containsExactly("w", "scalar_row", "empty");
        assertThat(c.tensors().get("w").data()).containsExactly(1.0 / 3, -2.5, 1e-300, 7);
        assertThat(c.tensors().get("w").shape()).containsExactly(2, 2);
        assertThat(c.tensors().get("empty").shape()).containsExactly(0, 3);
        assertThat(c.metadata()).containsEntry("family", "cca");
        assertThat(c.dtypes()).containsEntry("w", DType.F64);
    }

    @Test
    void shouldWriteF32RoundedToFloatAndAlignData() throws IOException {
        Path f = dir.resolve("b.safetensors");
        SafeTensors.write(f, sample(), DType.F32, Map.of());
        assertThat(SafeTensors.read(f).get("w").data()).containsExactly((float) (1.0 / 3), -2.5, 0.0, 7);
        long header = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(header % 8).isZero();
        assertThat(Files.size(f)).isEqualTo(8 + header + 4 * (4 + 1));
    }

    /** Builds a file by hand so the reader is checked against the format, not against our writer. */
    private Path handMade(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path f = Files.createTempFile(dir, "hand", ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    @Test
    void shouldReadBf16AndF16() throws IOException {
        // bf16 0x3FC0 = 1.5, 0xC040 = -3; f16 0x3C00 = 1, 0xC500 = -5.
        byte[] data = {(byte) 0xC0, 0x3F, 0x40, (byte) 0xC0, 0x00, 0x3C, 0x00, (byte) 0xC5};
        Path f = handMade("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[4,8]}}", data);
        Map<String, Tensor> t = SafeTensors.read(f);
        assertThat(t.get("a").data()).containsExactly(1.5, -3);
        assertThat(t.get("b").data()).containsExactly(1, -5);
    }

    @Test
    void shouldRefuseMalformedFilesNamingTheProblem() throws IOException {
        Path shortFile = Files.write(dir.resolve("s.safetensors"), new byte[] {1, 2});
        assertThatThrownBy(() -> SafeTensors.read(shortFile)).isInstanceOf(InvalidWeightsException.class)
                .hasMessageContaining("too short");
        assertThatThrownBy(() -> SafeTensors.read(handMade("{not json", new byte[0])))
                .hasMessageContaining("header is not JSON");
        assertThatThrownBy(() -> SafeTensors.read(handMade(
                "{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4])))
                .hasMessageContaining("tensor x: dtype").hasMessageContaining("not supported");
        assertThatThrownBy(() -> SafeTensors.read(handMade(
                "{\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[8])))
                .hasMessageContaining("tensor x: data_offsets [0, 16] outside");
        assertThatThrownBy(() -> SafeTensors.read(handMade(
                "{\"x\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,16]}}", new byte[16])))
                .hasMessageContaining("tensor x: 16 bytes do not hold [3] of F64");
    }

    @Test
    void shouldRefuseToWriteUnsupportedDtype() {
        assertThatThrownBy(() -> SafeTensors.write(dir.resolve("c"), sample(), DType.BF16, Map.of()))
                .hasMessageStartingWith("dtype:");
    }
}
