package org.ccalab.engine.run;

import java.util.Locale;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.model.ModelConfig;

/**
 * Admission of a CPU run by its working set, before anything is allocated. The CPU engine holds every tensor as a
 * float64 Java array on the heap of the JVM it runs in, and that JVM is shared (the launcher runs the api, the
 * scheduler, the Kafka broker and the worker in one process): a run that does not fit does not just fail, it
 * starves everything else for the seconds it takes the collector to give up (consumer groups lost, cancels late).
 * So a run whose estimated peak exceeds {@link #budgetBytes()} fails at once as {@code OUT_OF_MEMORY} (not
 * retryable: the shape is the problem), naming the estimate and the budget.
 *
 * <p>Admission is the worker's, not the api's: at submission nobody knows which backend will take the run (a
 * CUDA worker with 80 GB of device memory runs shapes this heap cannot), nor the heap of the worker that will.
 * The scheduler does not retry OUT_OF_MEMORY, so a refused run fails once, in milliseconds, with the reason.
 *
 * <p>The estimate is an upper bound built from the cost model's shape facts of the variant (attention width
 * {@code n_q (d_qk + d_v)}, cache elements per token, linear weights) rather than from the layer code; the engine's
 * test ({@code CpuMemoryTest}) checks it against what the layers of every family really allocate. Per token of
 * {@code batch * seqLen}, in float64 elements:
 * <ul>
 *   <li>one forward pass keeps {@code 2 A} where {@code A = 2E + attentionWidth + cacheElements + linearWeights / E}
 *       (input and output, q/k/v and the attention output, projection outputs; doubled for rotated copies and the
 *       MLA / CCA intermediates); OVQ counts its q, k, v and fold records as {@code attentionWidth + cacheElements =
 *       4E} plus its per-sequence dictionary state;</li>
 *   <li>a backward needs about as much again for the gradients while the forward pass is alive;</li>
 *   <li>the run itself holds x, dy, the float64 reference and the dtype-rounded copy of the error check
 *       ({@code 4E}) and the CORE cells' output gradient ({@code attentionWidth / 2}).</li>
 * </ul>
 * Plus the parameters three times (values, gradients, the copy the error check restores) and the attention
 * kernel's per-task score blocks, {@code 4 x 64 x seqLen} per worker thread.
 */
final class CpuMemory {
    /** Rows of the CPU attention kernel's score block (backend.cpu.AttentionKernel.BLOCK). */
    private static final int KERNEL_BLOCK = 64;
    /** Heap the run must leave to the rest of the JVM: at least this much, or a quarter of the heap. */
    static final long MIN_RESERVE = 256L << 20;

    private CpuMemory() {}

    /** Peak working-set bytes of one BENCHMARK run on the CPU engine (an upper bound; see the class comment). */
    static long benchmarkBytes(AttentionConfig cfg, BenchmarkSpec bs) {
        double e = cfg.dModel();
        double tokens = (double) bs.batch() * bs.seqLen();
        double a = activationElementsPerToken(cfg);
        boolean backward = bs.phases().contains(Phase.BACKWARD);
        double perToken = 4 * e + attentionWidth(cfg) / 2 + (backward ? 4 : 2) * a;
        if (bs.phases().contains(Phase.DECODE)) perToken = Math.max(perToken, 4 * e + 2 * a + cacheElements(cfg));
        double bytes = 8 * (tokens * perToken + 3.0 * CostModel.parameters(cfg))
                + kernelScratchBytes(bs.seqLen()) + stateBytes(cfg, bs.batch());
        return saturate(bytes);
    }

    /**
     * Peak working-set bytes of one TRAINING run on the CPU trainer: parameters with gradients and AdamW's two
     * moments (4x), per layer the attention's forward pass and the block's norms and SwiGLU activations kept for
     * backward, the logits with their probabilities and gradient, and one layer's backward in flight.
     */
    static long trainingBytes(ModelConfig mc, TrainingSpec ts) {
        AttentionConfig cfg = mc.attention();
        double e = cfg.dModel(), h = mc.mlpHidden(), v = mc.vocabSize();
        double tokens = (double) ts.batch() * ts.seqLen();
        double a = activationElementsPerToken(cfg);
        double perLayer = 2 * a + 4 * e + 4 * h;             // attention pass, two norms + residual, gate/up/act/down
        double perToken = mc.nLayers() * perLayer + 3 * v + 2 * e // logits, softmax, dlogits; embedding out, final norm
                + 2 * a + 4 * h;                               // the backward of one layer at a time
        double parameters = mc.nLayers() * (CostModel.parameters(cfg) + 3 * e * h + 2 * e) + v * e + e;
        double bytes = 8 * (tokens * perToken + 4 * parameters)
                + kernelScratchBytes(ts.seqLen()) + mc.nLayers() * stateBytes(cfg, ts.batch());
        return saturate(bytes);
    }

    /** The heap a run may use: the JVM's maximum less a reserve for the rest of the process. */
    static long budgetBytes() {
        return budgetBytes(Runtime.getRuntime().maxMemory());
    }

    static long budgetBytes(long maxHeap) {
        if (maxHeap == Long.MAX_VALUE) return Long.MAX_VALUE; // no limit configured
        return Math.max(0, maxHeap - Math.max(MIN_RESERVE, maxHeap / 4));
    }

    /** Fails the run as OUT_OF_MEMORY, before allocation, when {@code estimate} exceeds the heap budget. */
    static void require(String what, long estimate) {
        require(what, estimate, Runtime.getRuntime().maxMemory());
    }

    static void require(String what, long estimate, long maxHeap) {
        long budget = budgetBytes(maxHeap);
        if (estimate > budget)
            throw new RunFailedException(FailureClass.OUT_OF_MEMORY, String.format(Locale.ROOT,
                    "%s needs an estimated %s of float64 working set on the CPU engine, over the %s it may use"
                            + " (max heap %s less a %s reserve for the rest of this JVM); use a smaller batch,"
                            + " seqLen or width, or a CUDA worker", what, mib(estimate), mib(budget), mib(maxHeap),
                    mib(maxHeap - budget)));
    }

    /** Elements one forward pass of the layer keeps per token ({@code 2 A}, see the class comment). */
    static double activationElementsPerToken(AttentionConfig cfg) {
        double e = cfg.dModel();
        return 2 * (2 * e + attentionWidth(cfg) + cacheElements(cfg) + CostModel.linearWeights(cfg) / e);
    }

    /** {@code n_q (d_qk + d_v)} from the cost model's S^2 term; OVQ: q, k (2E). */
    static double attentionWidth(AttentionConfig cfg) {
        if (cfg instanceof OvqConfig) return 2.0 * cfg.dModel();
        CostEstimate c = CostModel.estimate(cfg, 1, 1);
        return c.prefillAttentionFlops() / 2.0;
    }

    /** Cache elements per token; OVQ: v and the fold records (2E), its cache being a bounded state instead. */
    static double cacheElements(AttentionConfig cfg) {
        if (cfg instanceof OvqConfig) return 2.0 * cfg.dModel();
        return CostModel.kvCacheBytesPerToken(cfg, 1);
    }

    /** OVQ's per-sequence dictionary (the cost model's bound, float32 there) as float64, with its gradient. */
    private static double stateBytes(AttentionConfig cfg, int batch) {
        return cfg instanceof OvqConfig ? 4.0 * batch * CostModel.decodeStateBytes(cfg, 8) : 0;
    }

    /** The attention kernel's live score blocks: 4 arrays of 64 x seqLen per worker thread (and the caller). */
    static double kernelScratchBytes(int seqLen) {
        int threads = Integer.getInteger("engine.cpu.threads", Runtime.getRuntime().availableProcessors());
        return 8.0 * (threads + 1) * 4 * KERNEL_BLOCK * seqLen;
    }

    static String mib(long bytes) {
        if (bytes >= 10L << 30) return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        return String.format(Locale.ROOT, "%d MiB", (bytes + (1 << 20) - 1) >> 20);
    }

    private static long saturate(double bytes) {
        return bytes >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) Math.ceil(bytes);
    }
}
