package org.ccalab.engine.io;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;

/**
 * Moves an attention layer's parameters to and from safetensors under their own names (PyTorch layouts,
 * see each layer's class comment): MHA/GQA {@code q_proj k_proj v_proj o_proj .weight}; CCA/CCGQA the ZAYA1
 * names; MLA the Hugging Face DeepSeek-V2 names. Loading checks every tensor before copying any, so a bad
 * file never leaves the layer half-loaded.
 */
public final class LayerWeights {
    private LayerWeights() {}

    /** The layer's parameters by name, in {@link AttentionLayer#parameters()} order (shared, not copied). */
    public static Map<String, Tensor> of(AttentionLayer layer) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Parameter p : layer.parameters()) m.put(p.name(), p.value());
        return m;
    }

    /** The layer's gradients under the parameter names. */
    public static Map<String, Tensor> gradients(AttentionLayer layer) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Parameter p : layer.parameters()) m.put(p.name(), p.grad());
        return m;
    }

    public static void save(AttentionLayer layer, Path file, DType dtype) {
        SafeTensors.write(file, of(layer), dtype, Map.of("family", layer.config().family()));
    }

    /**
     * Copies {@code tensors} into the layer. Every parameter must be present with its exact shape; with
     * {@code strict}, a tensor the layer has no parameter for is refused too (weights of another config).
     */
    public static void load(AttentionLayer layer, Map<String, Tensor> tensors, boolean strict) {
        List<Parameter> params = layer.parameters();
        String family = layer.config().family();
        for (Parameter p : params) {
            Tensor t = tensors.get(p.name());
            if (t == null)
                throw new InvalidWeightsException("missing tensor " + p.name() + " " + Arrays.toString(p.value().shape())
                        + " for " + family + " " + layer.config());
            if (!Arrays.equals(t.shape(), p.value().shape()))
                throw new InvalidWeightsException("tensor " + p.name() + " has shape " + Arrays.toString(t.shape())
                        + " but the config " + layer.config() + " needs " + Arrays.toString(p.value().shape()));
        }
        if (strict) {
            Set<String> names = new java.util.HashSet<>();
            params.forEach(p -> names.add(p.name()));
            for (String n : tensors.keySet())
                if (!names.contains(n))
                    throw new InvalidWeightsException("unexpected tensor " + n + ": a " + family + " layer has parameters "
                            + names.stream().sorted().toList());
        }
        for (Parameter p : params) System.arraycopy(tensors.get(p.name()).data(), 0, p.value().data(), 0, p.value().length());
    }

    public static void load(AttentionLayer layer, Path file) {
        try {
            load(layer, SafeTensors.read(file), true);
        } catch (InvalidWeightsException e) {
            throw e.getMessage().startsWith(file.toString()) ? e : new InvalidWeightsException(file + ": " + e.getMessage(), e);
        }
    }
}
