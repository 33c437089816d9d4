package org.ccalab.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * TMA tensor maps (the driver's CUtensorMap) for the Hopper attention kernels' "t" instances, encoded by
 * cuTensorMapEncodeTiled of the installed driver through java.lang.foreign (JCuda does not wrap it).
 *
 * <p>A map describes a [B, T, H, D] tensor as 4 dimensions, innermost first (D, H, T, B), and a box of one head's
 * 128-byte row slices (64 bf16 or 32 fp32 columns) x {@code boxRows} rows with the 128-byte swizzle: one box fills
 * one 64-column half of a kernel's swizzled tile exactly (wgfa::tile_off's layout; the backward's 64-row Q / dO tiles,
 * its fp32 dQ staging). Rows outside [0, T) (a tail, a value-shifted V's row -1) land as zeros on a load and are
 * dropped on a reduce-add. The 128 bytes returned are passed as a {@code __grid_constant__} kernel argument.
 */
final class CudaTensorMaps {
    /** cuda.h's enums: CU_TENSOR_MAP_DATA_TYPE_FLOAT32 / _BFLOAT16, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B. */
    private static final int FLOAT32 = 7, BFLOAT16 = 9, SWIZZLE_128B = 3, L2_PROMOTION_256B = 3;
    static final int MAP_BYTES = 128, BOX_BYTES = 128, BOX_COLUMNS = 64, BOX_ROWS = 128;

    private static volatile MethodHandle encode;

    private CudaTensorMaps() {}

    /** Whether a tensor at this address can be mapped (TMA needs 16-byte aligned global addresses and strides). */
    static boolean mappable(long address, int headDim) {
        return address % 16 == 0 && headDim % BOX_COLUMNS == 0;
    }

    /** The map of a [batch, tokens, heads, headDim] bf16 tensor at device address {@code address}, 128-row boxes. */
    static byte[] encode(long address, int batch, int tokens, int heads, int headDim) {
        return encode(address, batch, tokens, heads, headDim, BOX_ROWS, false);
    }

    /** As above with boxes of {@code boxRows} rows, of an fp32 tensor where {@code fp32} (32-column boxes). */
    static byte[] encode(long address, int batch, int tokens, int heads, int headDim, int boxRows, boolean fp32) {
        if (!mappable(address, headDim))
            throw new IllegalArgumentException("a TMA map needs a 16-byte aligned address and a head dim divisible by "
                    + BOX_COLUMNS + " (address 0x" + Long.toHexString(address) + ", headDim " + headDim + ")");
        int elementBytes = fp32 ? 4 : 2;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = arena.allocate(MAP_BYTES, 64);
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, headDim, heads, tokens, batch);
            long row = (long) elementBytes * headDim;
            MemorySegment strides = arena.allocateFrom(JAVA_LONG, row, row * heads, row * heads * tokens);
            MemorySegment box = arena.allocateFrom(JAVA_INT, BOX_BYTES / elementBytes, 1, boxRows, 1);
            MemorySegment elementStrides = arena.allocateFrom(JAVA_INT, 1, 1, 1, 1);
            int rc;
            try {
                rc = (int) handle().invokeExact(map, fp32 ? FLOAT32 : BFLOAT16, 4, MemorySegment.ofAddress(address), dims, strides, box,
                        elementStrides, 0, SWIZZLE_128B, L2_PROMOTION_256B, 0);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("cuTensorMapEncodeTiled", t);
            }
            if (rc != 0)
                throw new IllegalStateException("cuTensorMapEncodeTiled failed with CUresult " + rc + " for [" + batch
                        + ", " + tokens + ", " + heads + ", " + headDim + "] " + (fp32 ? "fp32" : "bf16") + " at 0x"
                        + Long.toHexString(address));
            return map.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private static MethodHandle handle() {
        MethodHandle h = encode;
        if (h == null) {
            synchronized (CudaTensorMaps.class) {
                h = encode;
                if (h == null) {
                    // libcuda is already loaded by JCuda's driver binding; the global arena keeps the lookup open
                    SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
                    MemorySegment fn = lib.find("cuTensorMapEncodeTiled").orElseThrow(() -> new CudaUnavailableException(
                            "libcuda.so.1 has no cuTensorMapEncodeTiled (a driver older than CUDA 12)"));
                    h = Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
                            JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
                    encode = h;
                }
            }
        }
        return h;
    }
}
