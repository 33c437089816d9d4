package org.ccalab.engine.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.attention.Parameter;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A training checkpoint as one safetensors file: every model tensor under its own name (so PyTorch's
 * {@code safetensors.torch.load_file} reads the weights directly), the AdamW moments under
 * {@code optimizer.m.<name>} and {@code optimizer.v.<name>}, all F64 so that a resume is bit-exact, and
 * the scalar state (step, optimizer updates, data generator state, tokens seen) in {@code __metadata__}.
 * Files are written to a temporary name and moved into place, so a crash never leaves a torn checkpoint.
 */
public final class Checkpoint {
    public static final String FORMAT = "cca-lab-checkpoint/1";
    private static final JsonMapper JSON = JsonMapper.shared();

    private Checkpoint() {}

    /** The scalar part of the training state. */
    public record State(long step, long optimizerUpdates, long dataRngState, long tokensSeen, String modelConfig) {}

    public static void write(Path file, List<Parameter> parameters, AdamW optimizer, State state) {
        List<String> names = new ArrayList<>();
        List<double[]> arrays = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            names.add(p.name());
            arrays.add(p.value().data());
            shapes.add(p.value().shape());
        }
        if (optimizer != null) {
            for (int i = 0; i < parameters.size(); i++) {
                Parameter p = parameters.get(i);
                names.add("optimizer.m." + p.name());
                arrays.add(optimizer.firstMoment(i));
                shapes.add(p.value().shape());
                names.add("optimizer.v." + p.name());
                arrays.add(optimizer.secondMoment(i));
                shapes.add(p.value().shape());
            }
        }
        Map<String, Object> header = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("step", Long.toString(state.step()));
        meta.put("optimizer_updates", Long.toString(state.optimizerUpdates()));
        meta.put("data_rng_state", Long.toString(state.dataRngState()));
        meta.put("tokens_seen", Long.toString(state.tokensSeen()));
        meta.put("model_config", state.modelConfig());
        header.put("__metadata__", meta);
        long offset = 0;
        for (int i = 0; i < names.size(); i++) {
            long bytes = arrays.get(i).length * 8L;
            header.put(names.get(i), Map.of("dtype", "F64", "shape", shapes.get(i),
                    "data_offsets", List.of(offset, offset + bytes)));
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8; // safetensors pads the header with spaces to 8 bytes
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".part");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) head.put((byte) ' ');
                head.flip();
                writeFully(ch, head);
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (double[] a : arrays) {
                    for (double d : a) {
                        if (!buf.hasRemaining()) {
                            buf.flip();
                            writeFully(ch, buf);
                            buf.clear();
                        }
                        buf.putDouble(d);
                    }
                }
                buf.flip();
                writeFully(ch, buf);
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + file, e);
        }
    }

    /**
     * Loads the tensors into {@code parameters} (and the moments into {@code optimizer} when given) and
     * returns the scalar state. Every tensor is checked before anything is overwritten, so a checkpoint of
     * another model is refused with the tensor at fault and leaves the model untouched. When
     * {@code expectedModelConfig} is not null the checkpoint must have been written by that model
     * configuration (same variant, vocabulary, depth), which also catches same-shaped mismatches.
     */
    public static State read(Path file, List<Parameter> parameters, AdamW optimizer, String expectedModelConfig) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > (1 << 26) || headerLen + 8 > ch.size())
                throw new InvalidConfigException("resumeFrom", file + " is not a safetensors file (header length " + headerLen + ")");
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            JsonNode header = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
            JsonNode meta = header.get("__metadata__");
            if (meta == null || !FORMAT.equals(meta.path("format").asString(null)))
                throw new InvalidConfigException("resumeFrom", file + " is not a " + FORMAT + " file");
            String written = meta.path("model_config").asString("");
            if (expectedModelConfig != null && !expectedModelConfig.equals(written))
                throw new InvalidConfigException("resumeFrom", "checkpoint was written by model " + written
                        + ", this run builds " + expectedModelConfig);
            long base = 8 + headerLen;
            List<Runnable> loads = new ArrayList<>();
            for (int i = 0; i < parameters.size(); i++) {
                Parameter p = parameters.get(i);
                loads.add(planLoad(ch, header, base, p.name(), p.value().shape(), p.value().data()));
                if (optimizer != null) {
                    loads.add(planLoad(ch, header, base, "optimizer.m." + p.name(), p.value().shape(), optimizer.firstMoment(i)));
                    loads.add(planLoad(ch, header, base, "optimizer.v." + p.name(), p.value().shape(), optimizer.secondMoment(i)));
                }
            }
            State state = new State(meta.get("step").asLong(), meta.get("optimizer_updates").asLong(),
                    Long.parseLong(meta.get("data_rng_state").asString()), meta.get("tokens_seen").asLong(),
                    written);
            for (Runnable r : loads) r.run();
            if (optimizer != null) optimizer.setUpdates(state.optimizerUpdates());
            return state;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint " + file, e);
        }
    }

    private static Runnable planLoad(FileChannel ch, JsonNode header, long base, String name, int[] shape, double[] into)
            throws IOException {
        JsonNode t = header.get(name);
        if (t == null) throw new InvalidConfigException("resumeFrom", "checkpoint has no tensor " + name);
        if (!"F64".equals(t.path("dtype").asString(null)))
            throw new InvalidConfigException("resumeFrom", "tensor " + name + " has dtype " + t.path("dtype") + ", expected F64");
        int[] actual = new int[t.path("shape").size()];
        for (int i = 0; i < actual.length; i++) actual[i] = t.path("shape").get(i).asInt();
        if (!java.util.Arrays.equals(actual, shape))
            throw new InvalidConfigException("resumeFrom", "tensor " + name + " has shape " + java.util.Arrays.toString(actual)
                    + ", the model expects " + java.util.Arrays.toString(shape));
        long start = t.path("data_offsets").get(0).asLong();
        long end = t.path("data_offsets").get(1).asLong();
        if (start < 0 || end > ch.size() - base)
            throw new InvalidConfigException("resumeFrom", "tensor " + name + " lies outside the file (truncated?)");
        if (end - start != into.length * 8L)
            throw new InvalidConfigException("resumeFrom", "tensor " + name + " has " + (end - start) + " bytes, expected " + into.length * 8L);
        return () -> {
            try {
                ByteBuffer buf = ByteBuffer.allocate(into.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, buf, base + start);
                buf.flip().asDoubleBuffer().get(into);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("unexpected end of file at " + pos);
            pos += n;
        }
    }
}
