package org.ccalab.engine.io;

/** Element types of safetensors files this engine reads; F64 and F32 are also written. */
public enum DType {
    F64(8), F32(4), BF16(2), F16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean writable() {
        return this == F64 || this == F32;
    }

    /** The dtype for a header string, or null when this engine does not read it (I32, BOOL, F8_*, ...). */
    static DType parse(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}
