package org.ccalab.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.engine.tensor.Tensor;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * JSON {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}}, then the
 * little-endian tensor bytes, offsets relative to the end of the header. Reads F64, F32, BF16 and F16 into
 * float64 tensors; writes F64 (exact) or F32. Every malformed file is refused with the file and tensor named.
 */
public final class SafeTensors {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String METADATA = "__metadata__";
    /** Larger headers are refused as the reference implementation does (100 MB). */
    private static final long MAX_HEADER = 100_000_000L;

    private SafeTensors() {}

    /** A file's tensors in header order and its free-form metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata, Map<String, DType> dtypes) {}

    public static Map<String, Tensor> read(Path file) {
        return readAll(file).tensors();
    }

    public static Contents readAll(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(file, "too short for a safetensors header (" + size + " bytes)");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen < 2 || headerLen > MAX_HEADER || 8 + headerLen > size)
                throw bad(file, "header length " + headerLen + " does not fit a file of " + size + " bytes");
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            ch.read(hb, 8);
            JsonNode header;
            try {
                header = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
            } catch (JacksonException e) {
                throw bad(file, "header is not JSON: " + e.getOriginalMessage());
            }
            if (!header.isObject()) throw bad(file, "header is not a JSON object");
            long dataStart = 8 + headerLen, dataLen = size - dataStart;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, DType> dtypes = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (var entry : header.properties()) {
                String name = entry.getKey();
                JsonNode info = entry.getValue();
                if (name.equals(METADATA)) {
                    for (var m : info.properties()) metadata.put(m.getKey(), m.getValue().asString());
                    continue;
                }
                DType dtype = DType.parse(info.path("dtype").asString(""));
                if (dtype == null)
                    throw bad(file, "tensor " + name + ": dtype " + info.path("dtype") + " is not supported (F64, F32, BF16, F16)");
                JsonNode shapeNode = info.path("shape"), offs = info.path("data_offsets");
                if (!shapeNode.isArray() || !offs.isArray() || offs.size() != 2)
                    throw bad(file, "tensor " + name + ": needs a shape array and two data_offsets");
                int[] shape = new int[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) {
                    long d = shapeNode.get(i).asLong(-1);
                    if (d < 0 || d > Integer.MAX_VALUE) throw bad(file, "tensor " + name + ": bad dimension " + shapeNode.get(i));
                    shape[i] = (int) d;
                }
                long begin = offs.get(0).asLong(-1), end = offs.get(1).asLong(-1);
                long count = Tensor.size(shape);
                if (begin < 0 || end < begin || end > dataLen)
                    throw bad(file, "tensor " + name + ": data_offsets [" + begin + ", " + end + "] outside the "
                            + dataLen + " data bytes");
                if (end - begin != count * dtype.bytes())
                    throw bad(file, "tensor " + name + ": " + (end - begin) + " bytes do not hold " + Arrays.toString(shape)
                            + " of " + dtype);
                ByteBuffer raw = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
                while (raw.hasRemaining()) if (ch.read(raw, dataStart + begin + raw.position()) < 0) break;
                raw.flip();
                tensors.put(name, Tensor.wrap(decode(raw, dtype, (int) count), shape));
                dtypes.put(name, dtype);
            }
            return new Contents(tensors, metadata, dtypes);
        } catch (IOException e) {
            throw new InvalidWeightsException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static InvalidWeightsException bad(Path file, String message) {
        return new InvalidWeightsException(file + ": " + message);
    }

    private static double[] decode(ByteBuffer raw, DType dtype, int count) {
        double[] out = new double[count];
        switch (dtype) {
            case F64 -> raw.asDoubleBuffer().get(out);
            case F32 -> {
                for (int i = 0; i < count; i++) out[i] = raw.getFloat();
            }
            case BF16 -> {
                // bfloat16 is the upper half of a float32.
                for (int i = 0; i < count; i++) out[i] = Float.intBitsToFloat((raw.getShort() & 0xffff) << 16);
            }
            case F16 -> {
                for (int i = 0; i < count; i++) out[i] = Float.float16ToFloat(raw.getShort());
            }
        }
        return out;
    }

    /** Writes tensors in map order at {@code dtype} (F64 or F32) with optional string metadata. */
    public static void write(Path file, Map<String, Tensor> tensors, DType dtype, Map<String, String> metadata) {
        if (!dtype.writable()) throw new IllegalArgumentException("dtype: only F64 and F32 are written, got " + dtype);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject(METADATA);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            if (e.getKey().equals(METADATA)) throw new IllegalArgumentException("tensor name " + METADATA + " is reserved");
            ObjectNode info = header.putObject(e.getKey());
            info.put("dtype", dtype.name());
            var shape = info.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            long bytes = (long) e.getValue().length() * dtype.bytes();
            info.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        // Pad the header with spaces to a multiple of 8 so the data is aligned, as the reference writer does.
        int padded = (json.length + 7) / 8 * 8;
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Path tmp = Files.createTempFile(parent, file.getFileName().toString(), ".part");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) head.put((byte) ' ');
                writeFully(ch, head.flip());
                for (Tensor t : tensors.values()) {
                    double[] d = t.data();
                    ByteBuffer buf = ByteBuffer.allocate(d.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                    if (dtype == DType.F64) buf.asDoubleBuffer().put(d);
                    else for (double v : d) buf.putFloat((float) v);
                    writeFully(ch, buf.position(0));
                }
            }
            // Readers never see a half-written file.
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new InvalidWeightsException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}
