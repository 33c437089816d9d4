package org.ccalab.engine.backend.cuda.train;

import static org.ccalab.engine.backend.cuda.train.ActivationPlan.ATT;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.ATT_LO;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.GATE;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.H1;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.H2;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.HM;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.K;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.LSE;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.Q;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.RSTD1;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.RSTD2;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.UP;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.V;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.X;
import static org.ccalab.engine.backend.cuda.train.ActivationPlan.X2;

import java.util.List;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cuda.AttentionShape;
import org.ccalab.engine.backend.cuda.CcaPrologueWeights;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.CudaCcaLayer;
import org.ccalab.engine.backend.cuda.CudaMlaLayer;
import org.ccalab.engine.backend.cuda.CudaOvqLayer;
import org.ccalab.engine.backend.cuda.CudaTrainingKernels;
import org.ccalab.engine.backend.cuda.CudaTrainingKernels.Dtype;
import org.ccalab.engine.backend.cuda.DeviceBuffer;
import org.ccalab.engine.backend.cuda.Gemm;

/**
 * model/LanguageModel on the GPU: token embedding, L pre-norm blocks (GQA attention with RoPE, CCA/CCGQA
 * attention through {@link CudaCcaLayer}, MLA through {@link CudaMlaLayer} or OVQ through {@link CudaOvqLayer} (the
 * hybrid's sliding-window blocks on the GQA path) on the layer's parameter buffers; SwiGLU MLP),
 * final RMSNorm, output head tied to the embedding; forward, fused softmax cross-entropy, and backward that
 * ADDS into the fp32 parameter gradients. Activations live in buffers planned once ({@link ActivationPlan}) for
 * the run's B and T; nothing is allocated per step (the kernels' small scratch comes from the pool's cache).
 *
 * <p>Precision: activations and GEMM operands bf16 with fp32 accumulation, norm statistics and every
 * parameter gradient fp32; the residual stream and its gradient are bf16 (as llm.c). Everything is queued on the
 * backend's one stream; only the host reads (loss, correct, the grad norm) wait.
 */
final class GpuLanguageModel implements AutoCloseable {
    private final CudaBackend cuda;
    private final CudaTrainingKernels k;
    private final Gemm gemm;
    private final ModelShape s;
    private final ParameterLayout layout;
    private final DeviceParameters params;
    private final Activations act;
    private final AttentionShape attention;
    /** CCA/CCGQA: one layer object per block (its saved activations; the tensors are params'), else null. */
    private final CudaCcaLayer[] cca;
    /** MLA: one layer object per block (its latent cache and saved activations; the tensors are params'), else null. */
    private final CudaMlaLayer[] mla;
    /**
     * OVQ: a layer object per OVQ block (null at the hybrid's sliding-window blocks, which take the flash path), its
     * saved activations and its beta [H] (exp of beta_log, refreshed before each forward when learnt); else null.
     */
    private final CudaOvqLayer[] ovq;
    private final CudaOvqLayer.Training[] ovqSaved;
    private final DeviceBuffer[] ovqBeta;

    GpuLanguageModel(CudaBackend cuda, ModelShape shape, List<Parameter> initial) {
        this.cuda = cuda;
        this.k = cuda.trainingKernels();
        this.s = shape;
        this.layout = new ParameterLayout(shape);
        // the GQA path's flash shape; MLA's value head dim may be any multiple of 8 (its layer pads the core itself)
        this.attention = shape.mla() != null ? null
                : new AttentionShape(shape.batch(), shape.tokens(), shape.qHeads(), shape.kvHeads(), shape.headDim());
        this.gemm = new Gemm(cuda);
        DeviceParameters p = null;
        Activations a = null;
        CudaCcaLayer[] layers = shape.cca() == null ? null : new CudaCcaLayer[shape.layers()];
        CudaMlaLayer[] mlaLayers = shape.mla() == null ? null : new CudaMlaLayer[shape.layers()];
        int ovqBlocks = shape.ovq() == null ? 0 : shape.layers();
        CudaOvqLayer[] ovqLayers = shape.ovq() == null ? null : new CudaOvqLayer[ovqBlocks];
        CudaOvqLayer.Training[] saved = shape.ovq() == null ? null : new CudaOvqLayer.Training[ovqBlocks];
        DeviceBuffer[] betas = shape.ovq() == null ? null : new DeviceBuffer[ovqBlocks];
        try {
            p = new DeviceParameters(cuda, layout, initial);
            a = new Activations(cuda, new ActivationPlan(shape));
            if (layers != null)
                for (int i = 0; i < layers.length; i++)
                    layers[i] = new CudaCcaLayer(cuda, shape.cca(), ccaTensors(p, i), shape.batch(), shape.tokens());
            if (mlaLayers != null)
                for (int i = 0; i < mlaLayers.length; i++)
                    mlaLayers[i] = new CudaMlaLayer(cuda, shape.mla(), mlaTensors(p, i, false), mlaTensors(p, i, true), shape.batch(),
                            shape.tokens());
            for (int i = 0; i < ovqBlocks; i++) {
                if (!shape.ovqLayer(i)) continue;
                float[] fixed = new float[shape.qHeads()];
                java.util.Arrays.fill(fixed, (float) Math.sqrt(shape.headDim()));  // beta when not learnt (OvqAttention)
                betas[i] = cuda.uploadFloats(fixed);
                ovqLayers[i] = new CudaOvqLayer(cuda, shape.ovq(), p.get(layout.layer(i, ParameterLayout.Q)).bf16(),
                        p.get(layout.layer(i, ParameterLayout.K)).bf16(), p.get(layout.layer(i, ParameterLayout.V)).bf16(),
                        p.get(layout.layer(i, ParameterLayout.O)).bf16(), betas[i]);
                saved[i] = ovqLayers[i].newTraining(shape.batch(), shape.tokens());
            }
        } catch (RuntimeException e) {
            if (layers != null) for (CudaCcaLayer l : layers) if (l != null) l.close();
            if (mlaLayers != null) for (CudaMlaLayer l : mlaLayers) if (l != null) l.close();
            closeAll(ovqLayers, saved, betas);
            if (a != null) a.close();
            if (p != null) p.close();
            throw e;
        }
        this.params = p;
        this.act = a;
        this.cca = layers;
        this.mla = mlaLayers;
        this.ovq = ovqLayers;
        this.ovqSaved = saved;
        this.ovqBeta = betas;
    }

    private static void closeAll(AutoCloseable[]... groups) {
        for (AutoCloseable[] g : groups)
            if (g != null)
                for (AutoCloseable c : g)
                    if (c != null) {
                        try {
                            c.close();
                        } catch (Exception e) {
                            throw new IllegalStateException("closing an OVQ layer's buffers", e);
                        }
                    }
    }

    /** Layer i's beta_log tensor, or null when beta is fixed (or the layer is not OVQ). */
    private DeviceParameters.Tensor betaLog(int i) {
        return s.ovqLayer(i) && s.ovq().ovq().learnBeta() ? params.get(layout.attention(i, ParameterLayout.OVQ_BETA_LOG)) : null;
    }

    /**
     * Layer i's MLA tensors: the values the layer reads (bf16 copies of the matrices, the fp32 norm gains) or the fp32
     * gradients; null where the config's query path has no such tensor.
     */
    private CudaMlaLayer.Weights mlaTensors(DeviceParameters p, int i, boolean gradients) {
        java.util.function.Function<String, DeviceBuffer> get = name -> {
            int idx = layout.mlaAttention(i, name);
            if (idx < 0) return null;
            DeviceParameters.Tensor t = p.get(idx);
            return gradients ? t.grad() : t.bf16() != null ? t.bf16() : t.value();
        };
        return new CudaMlaLayer.Weights(get.apply("q_proj.weight"), get.apply("q_a_proj.weight"), get.apply("q_a_layernorm.weight"),
                get.apply("q_b_proj.weight"), get.apply("kv_a_proj_with_mqa.weight"), get.apply("kv_a_layernorm.weight"),
                get.apply("kv_b_proj.weight"), get.apply("o_proj.weight"));
    }

    /** Layer i's CCA tensors: bf16 copies of the projections, fp32 convs and temperature, fp32 gradients. */
    private CudaCcaLayer.Tensors ccaTensors(DeviceParameters p, int i) {
        var c = s.cca();
        DeviceParameters.Tensor q = p.get(layout.attention(i, ParameterLayout.CCA_Q)), k = p.get(layout.attention(i, ParameterLayout.CCA_K)),
                vc = p.get(layout.attention(i, ParameterLayout.CCA_V_CURRENT)),
                vd = p.get(layout.attention(i, ParameterLayout.CCA_V_DELAYED)), o = p.get(layout.attention(i, ParameterLayout.CCA_O)),
                w0 = p.get(layout.attention(i, ParameterLayout.CCA_W0)), b0 = p.get(layout.attention(i, ParameterLayout.CCA_B0)),
                w1 = p.get(layout.attention(i, ParameterLayout.CCA_W1)), b1 = p.get(layout.attention(i, ParameterLayout.CCA_B1)),
                temp = p.get(layout.attention(i, ParameterLayout.CCA_TEMP));
        CcaPrologueWeights conv = new CcaPrologueWeights(w0.value(), b0.value(), w1.value(), b1.value(), temp.value(),
                c.conv().convSeqKernel(), c.conv().convChannelKernel());
        return new CudaCcaLayer.Tensors(q.bf16(), k.bf16(), vc.bf16(), vd.bf16(), o.bf16(), conv, q.grad(), k.grad(), vc.grad(),
                vd.grad(), o.grad(), w0.grad(), b0.grad(), w1.grad(), b1.grad(), temp.grad());
    }

    ModelShape shape() {
        return s;
    }

    DeviceParameters parameters() {
        return params;
    }

    private DeviceParameters.Tensor param(int layer, int which) {
        return params.get(layout.layer(layer, which));
    }

    /** logits [N, V] bf16 (in the "logits" buffer) from tokens [N] = [B*T]. */
    void forward(int[] tokens) {
        int n = s.rows(), e = s.width(), f = s.hidden();
        if (tokens.length != n) throw new IllegalArgumentException("tokens length " + tokens.length + " != B*T = " + n);
        DeviceBuffer ids = act.get("ids");
        Transfers.upload(cuda, ids, tokens);
        DeviceParameters.Tensor emb = params.get(ParameterLayout.EMBEDDING);
        k.embeddingForward(act.layer(0, X), ids, emb.value(), Dtype.F32, n, s.vocab(), e);
        DeviceParameters.Tensor norm0 = param(0, ParameterLayout.ATTN_NORM);
        k.rmsnormForward(act.layer(0, H1), act.layer(0, RSTD1), act.layer(0, X), norm0.value(), n, e, s.normEps());
        DeviceBuffer branch = act.get("branch");
        for (int i = 0; i < s.layers(); i++) {
            if (ovq != null && ovq[i] != null) {
                DeviceParameters.Tensor bl = betaLog(i);
                if (bl != null) ovq[i].betaFromLog(bl.value());
                ovq[i].forwardForTraining(branch, act.layer(i, H1), ovqSaved[i]);  // OVQ attention, o_proj included
            } else if (cca != null) {
                cca[i].forward(branch, act.layer(i, H1));  // CCA/CCGQA attention, o_proj included
            } else if (mla != null) {
                mla[i].forward(branch, act.layer(i, H1), s.tokens());  // MLA attention, o_proj included
            } else {
            // attention: q, k, v = h1 W^T, RoPE on q and k, causal flash attention, then o_proj into the branch
            gemm.forward(act.layer(i, Q), act.layer(i, H1), param(i, ParameterLayout.Q).bf16(), n, e, s.qWidth());
            gemm.forward(act.layer(i, K), act.layer(i, H1), param(i, ParameterLayout.K).bf16(), n, e, s.kvWidth());
            gemm.forward(act.layer(i, V), act.layer(i, H1), param(i, ParameterLayout.V).bf16(), n, e, s.kvWidth());
            rope(act.layer(i, Q), Dtype.BF16, s.qHeads(), false);
            rope(act.layer(i, K), Dtype.BF16, s.kvHeads(), false);
            // with att's rounding residual: the backward's Dv from att + attLo (CudaBackend.flashForward); the OVQ
            // hybrid's SWA blocks over their window
            if (s.window(i) > 0)
                cuda.flashForwardWindowed(act.layer(i, ATT), act.layer(i, ATT_LO), act.layer(i, LSE), act.layer(i, Q),
                        act.layer(i, K), act.layer(i, V), attention, s.window(i));
            else
                cuda.flashForward(act.layer(i, ATT), act.layer(i, ATT_LO), act.layer(i, LSE), act.layer(i, Q), act.layer(i, K),
                        act.layer(i, V), attention, true, s.kvHeads());
            gemm.forward(branch, act.layer(i, ATT), param(i, ParameterLayout.O).bf16(), n, s.qWidth(), e);
            }
            // x2 = x + attn; h2 = norm2(x2)
            k.rmsnormResidualForward(act.layer(i, H2), act.layer(i, RSTD2), act.layer(i, X2), act.layer(i, X), branch,
                    param(i, ParameterLayout.MLP_NORM).value(), n, e, s.normEps());
            // MLP: down(silu(gate(h2)) * up(h2)) into the branch
            gemm.forward(act.layer(i, GATE), act.layer(i, H2), param(i, ParameterLayout.GATE).bf16(), n, e, f);
            gemm.forward(act.layer(i, UP), act.layer(i, H2), param(i, ParameterLayout.UP).bf16(), n, e, f);
            k.swigluForward(act.layer(i, HM), act.layer(i, GATE), act.layer(i, UP), n, f);
            gemm.forward(branch, act.layer(i, HM), param(i, ParameterLayout.DOWN).bf16(), n, f, e);
            // next block's input x = x2 + mlp, normed by the next block's first norm (or the final norm)
            boolean last = i == s.layers() - 1;
            DeviceBuffer next = last ? act.get("xFinal") : act.layer(i + 1, X);
            DeviceBuffer h = last ? act.get("hFinal") : act.layer(i + 1, H1);
            DeviceBuffer rstd = last ? act.get("rstdFinal") : act.layer(i + 1, RSTD1);
            DeviceBuffer w = last ? params.get(layout.finalNorm()).value() : param(i + 1, ParameterLayout.ATTN_NORM).value();
            k.rmsnormResidualForward(h, rstd, next, act.layer(i, X2), branch, w, n, e, s.normEps());
        }
        gemm.forward(act.get("logits"), act.get("hFinal"), emb.bf16(), n, e, s.vocab());
    }

    /**
     * Per-row loss [N] (and correct [N]) of the last forward's logits against targets [N] (-1 not scored); with
     * {@code grad} the logits are overwritten by dLoss/dlogits = (softmax - onehot) / scored, which backward reads.
     */
    void crossEntropy(int[] targets, int scored, boolean grad) {
        int n = s.rows();
        if (targets.length != n) throw new IllegalArgumentException("targets length " + targets.length + " != B*T = " + n);
        DeviceBuffer t = act.get("targets");
        Transfers.upload(cuda, t, targets);
        DeviceBuffer logits = act.get("logits");
        k.crossEntropy(act.get("loss"), grad ? logits : null, act.get("correct"), logits, Dtype.BF16, t, n, s.vocab(),
                scored == 0 ? 0f : 1f / scored);
    }

    /** The last forward's logits [N, V] (before {@link #crossEntropy} with grad overwrites them), for comparisons. */
    double[] logits() {
        return org.ccalab.engine.backend.cuda.Bf16.toDoubles(cuda.downloadBf16(act.get("logits"), s.rows() * s.vocab()));
    }

        float[] rowLoss() {
        return cuda.downloadFloats(act.get("loss"), s.rows());
    }

    int[] rowCorrect() {
        return Transfers.downloadInts(cuda, act.get("correct"), s.rows());
    }

    /** Adds every parameter's gradient from the dlogits that {@link #crossEntropy} left in the logits buffer. */
    void backward() {
        int n = s.rows(), e = s.width(), f = s.hidden();
        DeviceBuffer dlogits = act.get("logits"), dres = act.get("dres"), dnorm = act.get("dnorm");
        DeviceParameters.Tensor emb = params.get(ParameterLayout.EMBEDDING);
        DeviceParameters.Tensor finalNorm = params.get(layout.finalNorm());
        // tied head: dE += dlogits^T hFinal; dhFinal = dlogits E
        gemm.backwardWeight(emb.grad(), dlogits, act.get("hFinal"), n, e, s.vocab());
        gemm.backwardInput(dnorm, dlogits, emb.bf16(), n, e, s.vocab(), false);
        k.rmsnormBackward(dres, Dtype.BF16, finalNorm.grad(), null, dnorm, act.get("xFinal"), finalNorm.value(),
                act.get("rstdFinal"), n, e);
        for (int i = s.layers() - 1; i >= 0; i--) {
            // dres is the gradient at this block's output y = x2 + down(hm)
            DeviceParameters.Tensor down = param(i, ParameterLayout.DOWN), gate = param(i, ParameterLayout.GATE),
                    up = param(i, ParameterLayout.UP), mlpNorm = param(i, ParameterLayout.MLP_NORM);
            DeviceBuffer dhm = act.get("dhm");
            gemm.backwardWeight(down.grad(), dres, act.layer(i, HM), n, f, e);
            gemm.backwardInput(dhm, dres, down.bf16(), n, f, e, false);
            // SwiGLU backward in place: the saved gate and up become their gradients
            k.swigluBackward(act.layer(i, GATE), act.layer(i, UP), dhm, act.layer(i, GATE), act.layer(i, UP), n, f);
            gemm.backwardWeight(gate.grad(), act.layer(i, GATE), act.layer(i, H2), n, e, f);
            gemm.backwardWeight(up.grad(), act.layer(i, UP), act.layer(i, H2), n, e, f);
            gemm.backwardInput(dnorm, act.layer(i, GATE), gate.bf16(), n, e, f, false);
            gemm.backwardInput(dnorm, act.layer(i, UP), up.bf16(), n, e, f, true);
            // the residual carries dres through; the norm adds its input gradient: dres = gradient at x2
            k.rmsnormBackward(dres, Dtype.BF16, mlpNorm.grad(), dres, dnorm, act.layer(i, X2), mlpNorm.value(),
                    act.layer(i, RSTD2), n, e);
            attentionBackward(i, dres, dnorm);
            DeviceParameters.Tensor attnNorm = param(i, ParameterLayout.ATTN_NORM);
            k.rmsnormBackward(dres, Dtype.BF16, attnNorm.grad(), dres, dnorm, act.layer(i, X), attnNorm.value(),
                    act.layer(i, RSTD1), n, e);
        }
        k.embeddingBackward(emb.grad(), dres, Dtype.BF16, act.get("ids"), n, s.vocab(), e);
    }

    /** dnorm [N, E] = gradient at h1 from dres (gradient at the attention output's residual sum x2). */
    private void attentionBackward(int i, DeviceBuffer dres, DeviceBuffer dnorm) {
        if (cca != null) {
            cca[i].backward(dnorm, dres);  // adds into the layer's parameter gradients
            return;
        }
        if (mla != null) {
            mla[i].backward(dnorm, dres);
            return;
        }
        if (ovq != null && ovq[i] != null) {
            ovq[i].backward(dnorm, dres, ovqSaved[i], new CudaOvqLayer.Gradients(param(i, ParameterLayout.Q).grad(),
                    param(i, ParameterLayout.K).grad(), param(i, ParameterLayout.V).grad(), param(i, ParameterLayout.O).grad()));
            DeviceParameters.Tensor bl = betaLog(i);
            if (bl != null) ovq[i].addBetaLogGradient(bl.grad(), ovqSaved[i]);
            return;
        }
        int n = s.rows(), e = s.width();
        DeviceParameters.Tensor wq = param(i, ParameterLayout.Q), wk = param(i, ParameterLayout.K),
                wv = param(i, ParameterLayout.V), wo = param(i, ParameterLayout.O);
        DeviceBuffer dAtt = act.get("dAtt");
        gemm.backwardWeight(wo.grad(), dres, act.layer(i, ATT), n, s.qWidth(), e);
        gemm.backwardInput(dAtt, dres, wo.bf16(), n, s.qWidth(), e, false);
        DeviceBuffer dq32 = act.get("dq32"), dk32 = act.get("dk32"), dv32 = act.get("dv32");
        if (s.window(i) > 0)
            cuda.flashBackwardWindowed(dq32, dk32, dv32, act.layer(i, Q), act.layer(i, K), act.layer(i, V), act.layer(i, ATT),
                    act.layer(i, ATT_LO), act.layer(i, LSE), dAtt, attention, s.window(i));
        else
            cuda.flashBackward(dq32, dk32, dv32, act.layer(i, Q), act.layer(i, K), act.layer(i, V), act.layer(i, ATT),
                    act.layer(i, ATT_LO), act.layer(i, LSE), dAtt, attention, true);
        // RoPE is orthogonal: its backward rotates the gradients of the rotated q and k back
        rope(dq32, Dtype.F32, s.qHeads(), true);
        rope(dk32, Dtype.F32, s.kvHeads(), true);
        DeviceBuffer dq = act.get("dq"), dk = act.get("dk"), dv = act.get("dv");
        k.castToBf16(dq, dq32, (long) n * s.qWidth());
        k.castToBf16(dk, dk32, (long) n * s.kvWidth());
        k.castToBf16(dv, dv32, (long) n * s.kvWidth());
        gemm.backwardWeight(wq.grad(), dq, act.layer(i, H1), n, e, s.qWidth());
        gemm.backwardWeight(wk.grad(), dk, act.layer(i, H1), n, e, s.kvWidth());
        gemm.backwardWeight(wv.grad(), dv, act.layer(i, H1), n, e, s.kvWidth());
        gemm.backwardInput(dnorm, dq, wq.bf16(), n, e, s.qWidth(), false);
        gemm.backwardInput(dnorm, dk, wk.bf16(), n, e, s.kvWidth(), true);
        gemm.backwardInput(dnorm, dv, wv.bf16(), n, e, s.kvWidth(), true);
    }

    private void rope(DeviceBuffer x, Dtype dtype, int heads, boolean inverse) {
        if (s.rotaryDims() == 0) return;
        k.rope(x, dtype, s.batch(), s.tokens(), heads, s.headDim(), 0, s.rotaryDims(), 0, s.ropeBase(), inverse);
    }

    /** The global L2 norm of every gradient, summed in fp64 in parameter order (a fixed order: deterministic). */
    double gradNorm() {
        DeviceBuffer total = act.get("sumsq");
        cuda.zero(total);
        for (DeviceParameters.Tensor t : params.tensors())
            k.addGradSumSquares(total, t.grad(), Math.toIntExact(t.entry().elements()));
        return Math.sqrt(Transfers.downloadDoubles(cuda, total, 1)[0]);
    }

    @Override
    public void close() {
        if (cca != null) for (CudaCcaLayer l : cca) l.close();
        if (mla != null) for (CudaMlaLayer l : mla) l.close();
        closeAll(ovq, ovqSaved, ovqBeta);
        act.close();
        params.close();
    }
}
