package org.ccalab.engine.backend.cuda;

/**
 * The CUDA backend cannot run here, with the reason a person can act on: no driver, no device, kernels not
 * built into this jar, cuBLAS not found, or device memory exhausted (with the size asked and what was free).
 */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) {
        super(message);
    }

    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
