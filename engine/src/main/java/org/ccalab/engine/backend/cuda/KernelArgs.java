package org.ccalab.engine.backend.cuda;

import jcuda.Pointer;

/**
 * The JCuda kernel-parameter pointers every launcher builds (a kernel's argument list is a {@link Pointer} to these):
 * a device buffer's address, an int, a long, a float.
 */
final class KernelArgs {
    private KernelArgs() {}

    static Pointer ptr(DeviceBuffer b) {
        return Pointer.to(b.pointer());
    }

    static Pointer ints(int v) {
        return Pointer.to(new int[] {v});
    }

    static Pointer longs(long v) {
        return Pointer.to(new long[] {v});
    }

    static Pointer floats(float v) {
        return Pointer.to(new float[] {v});
    }
}
