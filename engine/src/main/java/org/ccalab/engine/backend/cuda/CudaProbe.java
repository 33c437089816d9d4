package org.ccalab.engine.backend.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;

import java.nio.charset.StandardCharsets;
import jcuda.CudaException;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * What this machine offers the CUDA backend, found without ever throwing: on a machine with no driver JCuda's
 * first call fails with UnsatisfiedLinkError (later ones with NoClassDefFoundError), both LinkageErrors.
 *
 * @param available     a device is usable AND our kernels are present
 * @param reason        why not, in words a person can act on; "ok" when available
 * @param kernelsSource where the fatbin comes from, or null when missing
 */
public record CudaProbe(boolean available, String reason, String device, int computeMajor, int computeMinor,
                        long memoryBytes, int driverVersion, String kernelsSource) {

    static CudaProbe run() {
        String device;
        int major, minor, driver;
        long mem;
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (count[0] == 0) return unavailable("CUDA driver present but no CUDA device is visible");
            CUdevice dev = new CUdevice();
            cuDeviceGet(dev, 0);
            byte[] name = new byte[256];
            cuDeviceGetName(name, name.length, dev);
            device = new String(name, StandardCharsets.US_ASCII).trim().replace("\0", "");
            int[] v = new int[1];
            cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
            major = v[0];
            cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
            minor = v[0];
            long[] m = new long[1];
            cuDeviceTotalMem(m, dev);
            mem = m[0];
            cuDriverGetVersion(v);
            driver = v[0];
        } catch (LinkageError e) {
            // The LinkageError's text holds JCuda's nested stack traces; the first line is what matters.
            String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            return unavailable("no CUDA driver: libcuda.so.1 could not be loaded (" + e.getClass().getSimpleName()
                    + ": " + first + ")");
        } catch (CudaException e) {
            return unavailable("CUDA driver refused: " + e.getMessage());
        }
        if (major < 8)
            return new CudaProbe(false, "GPU " + device + " is compute capability " + major + "." + minor
                    + "; the kernels need 8.0 or newer (bf16 mma.sync)", device, major, minor, mem, driver, null);
        try {
            KernelImage img = KernelImage.locate();
            return new CudaProbe(true, "ok", device, major, minor, mem, driver, img.source());
        } catch (CudaUnavailableException e) {
            return new CudaProbe(false, e.getMessage(), device, major, minor, mem, driver, null);
        }
    }

    static CudaProbe unavailable(String reason) {
        return new CudaProbe(false, reason, null, 0, 0, 0, 0, null);
    }

    /** e.g. {@code NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, driver 13.0)}. */
    public String describe() {
        if (device == null) return "no CUDA device: " + reason;
        return String.format("%s (sm_%d%d, %.1f GiB, driver %d.%d)%s", device, computeMajor, computeMinor,
                memoryBytes / (double) (1L << 30), driverVersion / 1000, driverVersion % 1000 / 10,
                available ? "" : ": " + reason);
    }
}
