package org.ccalab.engine.backend.cuda;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.util.HashMap;
import java.util.Map;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * Our fatbin loaded into the current context, with its functions looked up once by name. A name the image
 * does not hold fails naming it and the image, which is what a stale jar or a half-built fatbin looks like.
 */
final class KernelModule implements AutoCloseable {
    private final CUmodule module = new CUmodule();
    private final KernelImage image;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, Integer> smemLimit = new HashMap<>();

    KernelModule(KernelImage image) {
        this.image = image;
        try {
            cuModuleLoadData(module, image.bytes());
        } catch (CudaException e) {
            throw new CudaUnavailableException("CUDA kernels could not be loaded from " + image.source()
                    + " (no machine code or PTX for this GPU?): " + e.getMessage(), e);
        }
    }

    KernelImage image() {
        return image;
    }

    synchronized CUfunction function(String name, int dynamicSmemBytes) {
        CUfunction f = functions.get(name);
        if (f == null) {
            f = new CUfunction();
            try {
                cuModuleGetFunction(f, module, name);
            } catch (CudaException e) {
                throw new CudaUnavailableException("CUDA kernel '" + name + "' missing from " + image.source()
                        + " (sha256 " + image.sha256().substring(0, 12) + "): rebuild the kernels", e);
            }
            functions.put(name, f);
        }
        // Above 48 KiB a block gets dynamic shared memory only after raising the function's limit; a lookup
        // without launch (the check at open) must not leave a launch with more shared memory unraised.
        if (dynamicSmemBytes > 48 * 1024 && smemLimit.getOrDefault(name, 0) < dynamicSmemBytes) {
            cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamicSmemBytes);
            smemLimit.put(name, dynamicSmemBytes);
        }
        return f;
    }

    void launch(String name, int[] grid, int block, int smem, CUstream stream, Pointer params) {
        cuLaunchKernel(function(name, smem), grid[0], grid[1], grid[2], block, 1, 1, smem, stream, params, null);
    }

    @Override
    public void close() {
        cuModuleUnload(module);
    }
}
