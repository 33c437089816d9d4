package org.ccalab.engine.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.io.DType;
import org.ccalab.engine.io.DeepSeekRopeLayout;
import org.ccalab.engine.io.InvalidWeightsException;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.io.SafeTensors;
import org.ccalab.engine.tensor.Tensor;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs one attention layer on the CPU reference, for cross-checks against other implementations:
 * <pre>
 * layer --config CONFIG.json --input X.safetensors --output OUT.safetensors
 *       [--weights W.safetensors | --seed N [--save-weights W.safetensors]]
 *       [--grad-output DY.safetensors] [--mode prefill|decode] [--dtype F64|F32] [--rope-layout half|interleaved]
 * </pre>
 * CONFIG is an {@code AttentionConfig} as JSON (a file, or the JSON itself), e.g.
 * {@code {"family":"ccgqa","dModel":64,"nQHeads":4,"nKvHeads":2,"headDim":16}}. Weights use the layer's
 * safetensors names (see {@link LayerWeights}); without them the layer is initialised from {@code --seed}.
 * Input and output gradient files hold a tensor named {@code input} / {@code grad_output} (or exactly one
 * tensor) of shape [B, T, E] or [T, E]. OUT receives {@code output} of the input's shape and, with an output
 * gradient, {@code grad_input} and {@code grad.<parameter name>} for every parameter. {@code --mode decode}
 * computes the output token by token through the decode path instead of prefill. {@code --rope-layout
 * interleaved} reads MLA weights saved by Hugging Face DeepSeek code (see {@link DeepSeekRopeLayout}).
 * Exit codes: 0 done, 2 bad arguments, config, weights or tensors (the message names the culprit).
 */
public final class LayerCli {
    private static final String USAGE = "usage: layer --config CONFIG.json --input X.safetensors --output OUT.safetensors "
            + "[--weights W.safetensors | --seed N [--save-weights W.safetensors]] [--grad-output DY.safetensors] "
            + "[--mode prefill|decode] [--dtype F64|F32] [--rope-layout half|interleaved]";
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    private LayerCli() {}

    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) System.exit(code);
    }

    /** A usage or input error, reported as one line and exit code 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    private record Options(String config, Path input, Path output, Path weights, long seed, Path saveWeights,
                           Path gradOutput, boolean decode, DType dtype, boolean interleavedRope) {}

    public static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            Options o = parse(args);
            if (o == null) {
                out.println(USAGE);
                return 0;
            }
            execute(o, out);
            return 0;
        } catch (UsageException | InvalidWeightsException e) {
            err.println("layer: " + e.getMessage());
            return 2;
        } catch (InvalidConfigException e) {
            err.println("layer: config: " + e.getMessage());
            return 2;
        }
    }

    private static Options parse(String[] args) {
        Map<String, String> kv = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) return null;
            if (!a.startsWith("--")) throw new UsageException("unexpected argument '" + a + "'\n" + USAGE);
            if (i + 1 >= args.length) throw new UsageException(a + " needs a value\n" + USAGE);
            if (kv.put(a, args[++i]) != null) throw new UsageException(a + " given twice");
        }
        for (String k : kv.keySet())
            if (!java.util.Set.of("--config", "--input", "--output", "--weights", "--seed", "--save-weights",
                    "--grad-output", "--mode", "--dtype", "--rope-layout").contains(k))
                throw new UsageException("unknown option " + k + "\n" + USAGE);
        for (String req : new String[] {"--config", "--input", "--output"})
            if (!kv.containsKey(req)) throw new UsageException(req + " is required\n" + USAGE);
        if (kv.containsKey("--weights") && kv.containsKey("--seed"))
            throw new UsageException("--weights and --seed exclude each other");
        long seed;
        try {
            seed = Long.parseLong(kv.getOrDefault("--seed", "0"));
        } catch (NumberFormatException e) {
            throw new UsageException("--seed: not an integer: " + kv.get("--seed"));
        }
        String mode = kv.getOrDefault("--mode", "prefill");
        if (!mode.equals("prefill") && !mode.equals("decode"))
            throw new UsageException("--mode: expected prefill or decode, got " + mode);
        DType dtype;
        try {
            dtype = DType.valueOf(kv.getOrDefault("--dtype", "F64"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--dtype: expected F64 or F32, got " + kv.get("--dtype"));
        }
        if (!dtype.writable()) throw new UsageException("--dtype: expected F64 or F32, got " + dtype);
        String layout = kv.getOrDefault("--rope-layout", "half");
        if (!layout.equals("half") && !layout.equals("interleaved"))
            throw new UsageException("--rope-layout: expected half or interleaved, got " + layout);
        return new Options(kv.get("--config"), Path.of(kv.get("--input")), Path.of(kv.get("--output")),
                kv.containsKey("--weights") ? Path.of(kv.get("--weights")) : null, seed,
                kv.containsKey("--save-weights") ? Path.of(kv.get("--save-weights")) : null,
                kv.containsKey("--grad-output") ? Path.of(kv.get("--grad-output")) : null, mode.equals("decode"), dtype,
                layout.equals("interleaved"));
    }

    /** Reads an AttentionConfig from a JSON file or inline JSON, surfacing the validation message. */
    static AttentionConfig readConfig(String arg) {
        String json;
        if (arg.stripLeading().startsWith("{")) {
            json = arg;
        } else {
            try {
                json = Files.readString(Path.of(arg), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UsageException("--config: cannot read " + arg + ": " + e.getMessage());
            }
        }
        try {
            return JSON.readValue(json, AttentionConfig.class);
        } catch (JacksonException e) {
            for (Throwable c = e; c != null; c = c.getCause())
                if (c instanceof InvalidConfigException ice) throw ice;
            String where = e.getPath().stream()
                    .map(r -> r.getPropertyName() != null ? r.getPropertyName() : "[" + r.getIndex() + "]")
                    .collect(java.util.stream.Collectors.joining("."));
            throw new UsageException("--config" + (where.isEmpty() ? "" : " at " + where) + ": " + e.getOriginalMessage());
        }
    }

    /** The tensor called {@code name}, or the only tensor of the file. */
    private static Tensor tensor(Path file, String name, String option) {
        Map<String, Tensor> all = SafeTensors.read(file);
        if (all.containsKey(name)) return all.get(name);
        if (all.size() == 1) return all.values().iterator().next();
        throw new UsageException(option + ": " + file + " has no tensor '" + name + "' (found " + all.keySet() + ")");
    }

    private static void execute(Options o, PrintStream out) {
        AttentionConfig config = readConfig(o.config);
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(o.seed));
        if (o.interleavedRope && !(config instanceof MlaConfig))
            throw new UsageException("--rope-layout interleaved applies to MLA weights only, the config is " + config.family());
        if (o.weights != null && o.interleavedRope) {
            try {
                LayerWeights.load(layer, DeepSeekRopeLayout.fromInterleaved(SafeTensors.read(o.weights), (MlaConfig) config), true);
            } catch (InvalidWeightsException e) {
                throw new InvalidWeightsException(o.weights + ": " + e.getMessage(), e);
            }
        } else if (o.weights != null) {
            LayerWeights.load(layer, o.weights);
        }
        if (o.saveWeights != null) LayerWeights.save(layer, o.saveWeights, o.dtype);

        Tensor x = tensor(o.input, "input", "--input");
        int[] shape = x.shape();
        Tensor x3 = asSequence(x, config.dModel(), "--input");
        Map<String, Tensor> result = new LinkedHashMap<>();
        ForwardPass pass = o.decode && o.gradOutput == null ? null : layer.forward(x3);
        Tensor y = o.decode ? decodeAll(layer, x3) : pass.output();
        result.put("output", y.reshape(shape));
        if (o.gradOutput != null) {
            Tensor dy = tensor(o.gradOutput, "grad_output", "--grad-output");
            if (!Arrays.equals(dy.shape(), shape))
                throw new UsageException("--grad-output: shape " + Arrays.toString(dy.shape()) + " must equal the input's "
                        + Arrays.toString(shape));
            layer.parameters().forEach(Parameter::zeroGrad);
            result.put("grad_input", layer.backward(pass, dy.reshape(x3.shape())).reshape(shape));
            for (Parameter p : layer.parameters()) result.put("grad." + p.name(), p.grad());
        }
        SafeTensors.write(o.output, result, o.dtype, Map.of("family", config.family(), "mode", o.decode ? "decode" : "prefill"));
        out.println("layer: " + config.family() + " " + Arrays.toString(shape) + " -> " + o.output + " (" + result.size()
                + " tensors)");
    }

    private static Tensor asSequence(Tensor x, int width, String option) {
        int[] s = x.shape();
        if (s.length == 2 && s[1] == width && s[0] > 0) return x.reshape(1, s[0], s[1]);
        if (s.length == 3 && s[2] == width && s[0] > 0 && s[1] > 0) return x;
        throw new UsageException(option + ": expected shape [B, T, " + width + "] or [T, " + width + "], got "
                + Arrays.toString(s));
    }

    private static Tensor decodeAll(AttentionLayer layer, Tensor x) {
        int b = x.dim(0), t = x.dim(1), e = x.dim(2);
        double[] y = new double[b * t * e];
        DecodeState state = layer.newDecodeState(b);
        for (int step = 0; step < t; step++) {
            Tensor xt = Tensor.zeros(b, e);
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * t + step) * e, xt.data(), i * e, e);
            double[] yt = layer.decode(state, xt).data();
            for (int i = 0; i < b; i++) System.arraycopy(yt, i * e, y, (i * t + step) * e, e);
        }
        return Tensor.wrap(y, b, t, e);
    }
}
