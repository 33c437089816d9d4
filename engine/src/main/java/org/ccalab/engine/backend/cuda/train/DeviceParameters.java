package org.ccalab.engine.backend.cuda.train;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.DeviceBuffer;
import org.ccalab.engine.train.AdamW;

/**
 * The LM's parameters on the device, one set of buffers per tensor of the {@link ParameterLayout}: the fp32
 * master value, its bf16 copy (matrices only: what the GEMMs and the tied head read; the norm kernels read the
 * fp32 gains), the fp32 gradient and the two fp32 AdamW moments. Separate allocations keep every tensor
 * 256-byte aligned, which the vectorised kernels need.
 */
final class DeviceParameters implements AutoCloseable {
    /** One tensor's device state. {@code bf16} is null for vectors. */
    record Tensor(ParameterLayout.Entry entry, DeviceBuffer value, DeviceBuffer bf16, DeviceBuffer grad, DeviceBuffer m,
                  DeviceBuffer v) {}

    private final CudaBackend cuda;
    private final ParameterLayout layout;
    private final List<Tensor> tensors;

    /** Allocates and uploads the CPU model's current values; gradients and moments start at zero. */
    DeviceParameters(CudaBackend cuda, ParameterLayout layout, List<Parameter> initial) {
        layout.requireMatches(initial);
        this.cuda = cuda;
        this.layout = layout;
        List<Tensor> ts = new ArrayList<>();
        for (ParameterLayout.Entry e : layout.entries()) {
            long bytes = e.elements() * 4;
            ts.add(new Tensor(e, cuda.allocate(bytes), e.isMatrix() ? cuda.allocate(e.elements() * 2) : null,
                    cuda.allocate(bytes), cuda.allocate(bytes), cuda.allocate(bytes)));
        }
        this.tensors = List.copyOf(ts);
        uploadValues(initial);
        for (Tensor t : tensors) {
            cuda.zero(t.grad());
            cuda.zero(t.m());
            cuda.zero(t.v());
        }
    }

    ParameterLayout layout() {
        return layout;
    }

    List<Tensor> tensors() {
        return tensors;
    }

    Tensor get(int index) {
        return tensors.get(index);
    }

    void zeroGrads() {
        for (Tensor t : tensors) cuda.zero(t.grad());
    }

    /** Sets the master values (and bf16 copies) from float64 CPU tensors of the same layout. */
    void uploadValues(List<Parameter> values) {
        layout.requireMatches(values);
        for (Tensor t : tensors) {
            float[] f = ParameterLayout.toDevice(t.entry(), ParameterLayout.toFloats(values.get(t.entry().index()).value().data()));
            Transfers.upload(cuda, t.value(), f);
            if (t.bf16() != null) Transfers.upload(cuda, t.bf16(), ParameterLayout.toBf16(f));
        }
    }

    /** Copies the master values into the CPU tensors (for a checkpoint, or a comparison). */
    void downloadValues(List<Parameter> into) {
        layout.requireMatches(into);
        for (Tensor t : tensors)
            ParameterLayout.toDoubles(download(t, t.value()), into.get(t.entry().index()).value().data());
    }

    /** A tensor's gradient in the CPU layout. */
    float[] downloadGrad(int index) {
        Tensor t = tensors.get(index);
        return download(t, t.grad());
    }

    /** One of a tensor's fp32 buffers, in the CPU layout ({@link ParameterLayout#toHost}). */
    private float[] download(Tensor t, DeviceBuffer b) {
        return ParameterLayout.toHost(t.entry(), cuda.downloadFloats(b, count(t)));
    }

    /** Copies the AdamW moments into a CPU optimizer over the same layout (Checkpoint writes them from there). */
    void downloadMoments(AdamW into) {
        for (Tensor t : tensors) {
            int i = t.entry().index();
            ParameterLayout.toDoubles(download(t, t.m()), into.firstMoment(i));
            ParameterLayout.toDoubles(download(t, t.v()), into.secondMoment(i));
        }
    }

    void uploadMoments(AdamW from) {
        for (Tensor t : tensors) {
            int i = t.entry().index();
            Transfers.upload(cuda, t.m(), ParameterLayout.toDevice(t.entry(), ParameterLayout.toFloats(from.firstMoment(i))));
            Transfers.upload(cuda, t.v(), ParameterLayout.toDevice(t.entry(), ParameterLayout.toFloats(from.secondMoment(i))));
        }
    }

    private static int count(Tensor t) {
        return Math.toIntExact(t.entry().elements());
    }

    @Override
    public void close() {
        for (Tensor t : tensors) {
            t.value().close();
            if (t.bf16() != null) t.bf16().close();
            t.grad().close();
            t.m().close();
            t.v().close();
        }
    }
}
