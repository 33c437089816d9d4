package org.ccalab.engine.backend.cuda.train;

import java.util.HashMap;
import java.util.Map;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.DeviceBuffer;

/** The buffers of an {@link ActivationPlan}, allocated once and looked up by name; closing returns them. */
final class Activations implements AutoCloseable {
    private final Map<String, DeviceBuffer> buffers = new HashMap<>();

    Activations(CudaBackend cuda, ActivationPlan plan) {
        try {
            for (ActivationPlan.Buffer b : plan.buffers()) buffers.put(b.name(), cuda.allocate(b.bytes()));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    DeviceBuffer get(String name) {
        DeviceBuffer b = buffers.get(name);
        if (b == null) throw new IllegalArgumentException("no activation buffer " + name);
        return b;
    }

    DeviceBuffer layer(int layer, String name) {
        return get(ActivationPlan.layerName(layer, name));
    }

    @Override
    public void close() {
        for (DeviceBuffer b : buffers.values()) b.close();
        buffers.clear();
    }
}
