package org.ccalab.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cpu.ReferenceAttention;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The core each layer exposes for CORE benchmarks: it is the layer's own computation between its input and
 * output projections, and its backward gives the gradients of its inputs.
 */
class AttentionCoreTest {
    /** Every layer with a separable core: OVQ has none (its reads are not a softmax over a KV cache). */
    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> configs() {
        return AttentionLayerTest.configs().filter(a -> !(a.get()[1] instanceof org.ccalab.common.variant.OvqConfig));
    }

    private static AttentionLayer layer(AttentionConfig c) {
        AttentionLayer l = AttentionLayers.create(c, new SplittableRandom(7));
        LayerChecks.scrambleParameters(l, 8);
        return l;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void coreThenOutputProjectionIsTheLayerOutput(String name, AttentionConfig config) {
        AttentionLayer layer = layer(config);
        AttentionCore<?> core = layer.core().orElseThrow();
        Tensor x = LayerChecks.randn(new SplittableRandom(3), 1.0, 2, 7, config.dModel());
        assertThat(projectedCore(core, x)).as(name).containsExactly(layer.forward(x).output().data());
    }

    private static <I> double[] projectedCore(AttentionCore<I> core, Tensor x) {
        return core.project(core.forward(core.prepare(x)).output()).data();
    }

    /** MHA/GQA's core is exactly the plain softmax attention over the projected q, k, v (the reference loops). */
    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void softmaxCoreMatchesTheReferenceAttention(String name, AttentionConfig config) {
        if (!(config instanceof GqaConfig) && !(config instanceof org.ccalab.common.variant.MhaConfig)) return;
        GqaConfig g = config instanceof org.ccalab.common.variant.MhaConfig m ? m.asGqa() : (GqaConfig) config;
        var core = (AttentionCore<Object>) layer(config).core().orElseThrow();
        Tensor x = LayerChecks.randn(new SplittableRandom(4), 1.0, 2, 9, config.dModel());
        Object in = core.prepare(x);
        List<double[]> qkv = core.buffers(in);
        int b = 2, t = 9, hd = g.headDim();
        double[] o = new double[b * t * g.nHeads() * hd], lse = new double[b * g.nHeads() * t];
        new ReferenceAttention(CpuBackend.create().parallel()).forward(o, lse, qkv.get(0), qkv.get(1), qkv.get(2),
                new AttentionKernel.Dims(b, t, g.nHeads(), g.nKvHeads(), hd, hd, 1 / Math.sqrt(hd), true));
        double[] actual = core.forward(in).output().data();
        for (int i = 0; i < o.length; i++) assertThat(actual[i]).as(name + " [%d]", i).isCloseTo(o[i], org.assertj.core.data.Offset.offset(1e-12));
    }

    /** Core backward against central finite differences of L = sum(out * r) in every input buffer. */
    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void coreBackwardGivesTheInputGradients(String name, AttentionConfig config) {
        var core = (AttentionCore<Object>) layer(config).core().orElseThrow();
        RandomGenerator rng = new SplittableRandom(5);
        Tensor x = LayerChecks.randn(rng, 1.0, 2, 6, config.dModel());
        Object in = core.prepare(x);
        ForwardPass pass = core.forward(in);
        Tensor r = LayerChecks.randn(rng, 1.0, pass.output().shape());
        List<double[]> grads = core.buffers(core.backward(pass, r));
        List<double[]> inputs = core.buffers(in);
        double h = 1e-5;
        int checked = 0;
        for (int bi = 0; bi < inputs.size(); bi++) {
            double[] buf = inputs.get(bi);
            for (int n = 0; n < Math.min(buf.length, 24); n++) {
                int i = rng.nextInt(buf.length);
                double keep = buf[i];
                buf[i] = keep + h;
                double up = dot(core.forward(in).output().data(), r.data());
                buf[i] = keep - h;
                double down = dot(core.forward(in).output().data(), r.data());
                buf[i] = keep;
                double fd = (up - down) / (2 * h);
                assertThat(grads.get(bi)[i]).as("%s input %d [%d]", name, bi, i)
                        .isCloseTo(fd, org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(fd))));
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(24);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
