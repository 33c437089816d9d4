package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.io.DType;
import org.ccalab.engine.io.SafeTensors;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A tool, not a check: with {@code -Dccalab.dumpCcaCase=DIR} it writes one {@link CudaCcaLayerGpuTest} case's exact
 * inputs (the {@link CudaCcaLayerCheck} parameters as the GPU stores them, x and g, and the 1-3-ulp-nudged x' and g'
 * of the noise estimate) and the float64 CPU layer's out, dx and parameter gradients at (x, g) to DIR/case.safetensors
 * (F32: parameters and inputs are bf16 / fp32 values, exact; the float64 results rounded to fp32, 6e-8 relative;
 * CPU names, PyTorch layouts), so that a plain bf16 PyTorch layer and the Python-launched kernels can be run on
 * the very inputs the Java GPU layer is checked on (bench/cca_case_floor.py). Default case: CCA-4x at E = 2048,
 * B1 T256, seeds as the gpu test (7 + T, 300 + T); -Dccalab.dump.e/hq/hkv/d/k0/k1/b/t/temp pick another (the D = 256
 * CCA 2q/2kv case with the q-k mean: e=1024 hq=2 hkv=2 d=256 k0=3 k1=2 b=2 t=150 temp=LINEAR). Skipped without the
 * property.
 */
class CcaLayerCaseDump {
    @Test
    void dump() throws Exception {
        String dir = System.getProperty("ccalab.dumpCcaCase");
        Assumptions.assumeTrue(dir != null, "tool: set -Dccalab.dumpCcaCase=DIR");
        int e = Integer.getInteger("ccalab.dump.e", 2048), hq = Integer.getInteger("ccalab.dump.hq", 4);
        int hkv = Integer.getInteger("ccalab.dump.hkv", 4), d = Integer.getInteger("ccalab.dump.d", 128);
        int b = Integer.getInteger("ccalab.dump.b", 1), t = Integer.getInteger("ccalab.dump.t", 256);
        int k0 = Integer.getInteger("ccalab.dump.k0", 2), k1 = Integer.getInteger("ccalab.dump.k1", 2);
        KeyTemperature temp = KeyTemperature.valueOf(System.getProperty("ccalab.dump.temp", "EXP"));
        CcgqaConfig cfg = new CcgqaConfig(e, hq, hkv, d, new CompressedConvSpec(k0, k1, RopeSpec.HALF, temp, 1e-12, true, true));
        long cfgSeed = 7 + t, seed = 300 + t;
        CudaCcaLayerCheck check = new CudaCcaLayerCheck(cfg, cfgSeed);
        AttentionLayer cpu = AttentionLayers.create(cfg, new java.util.Random(cfgSeed));
        for (Parameter p : cpu.parameters()) {
            double[] v = check.parameters().get(p.name());
            System.arraycopy(v, 0, p.value().data(), 0, v.length);
        }
        int rows = b * t;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed), g = CudaBenchCli.Random.bf16((long) rows * e, seed + 1);
        short[] xp = CudaCcaLayerCheck.nudge(x, seed + 2), gp = CudaCcaLayerCheck.nudge(g, seed + 3);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Parameter p : cpu.parameters()) out.put("param." + p.name(), p.value());
        run(cpu, x, g, b, t, e, "", out);
        out.put("nudged.x", Tensor.wrap(Bf16.toDoubles(xp), b, t, e));
        out.put("nudged.g", Tensor.wrap(Bf16.toDoubles(gp), b, t, e));
        Files.createDirectories(Path.of(dir));
        Path file = Path.of(dir, "case.safetensors");
        SafeTensors.write(file, out, DType.F32, Map.of("case", check.describe() + " B" + b + " T" + t,
                "cfgSeed", "" + cfgSeed, "seed", "" + seed, "e", "" + e, "hq", "" + hq, "hkv", "" + hkv, "d", "" + d,
                "k0", "" + k0, "k1", "" + k1, "temp", temp.name()));
        System.out.println("wrote " + file + ": " + check.describe() + " B" + b + " T" + t);
        assertThat(Files.size(file)).isPositive();
    }

    private static void run(AttentionLayer cpu, short[] x, short[] g, int b, int t, int e, String prefix, Map<String, Tensor> out) {
        for (Parameter p : cpu.parameters()) p.zeroGrad();
        Tensor xt = Tensor.wrap(Bf16.toDoubles(x), b, t, e), gt = Tensor.wrap(Bf16.toDoubles(g), b, t, e);
        ForwardPass pass = cpu.forward(xt);
        out.put(prefix + "x", xt);
        out.put(prefix + "g", gt);
        out.put(prefix + "f64.out", Tensor.wrap(pass.output().data().clone(), b, t, e));
        out.put(prefix + "f64.dx", Tensor.wrap(cpu.backward(pass, gt).data().clone(), b, t, e));
        for (Parameter p : cpu.parameters()) {
            double[] gr = p.grad().data().clone();
            out.put(prefix + "f64.grad." + p.name(), Tensor.wrap(gr, p.value().shape()));
        }
    }
}
