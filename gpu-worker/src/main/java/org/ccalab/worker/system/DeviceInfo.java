package org.ccalab.worker.system;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.ccalab.common.event.EnvironmentFingerprint;

/**
 * The device a worker announces. The engine's fingerprint names the backend and GPU; the memory comes from
 * nvidia-smi for CUDA (the engine does not report it) and from the heap limit for the CPU backend.
 */
public record DeviceInfo(String backend, String device, long memoryBytes) {

    public static DeviceInfo of(EnvironmentFingerprint env) {
        if ("cpu".equalsIgnoreCase(env.backend())) {
            return new DeviceInfo(env.backend(), "cpu x" + Runtime.getRuntime().availableProcessors(),
                    Runtime.getRuntime().maxMemory());
        }
        return new DeviceInfo(env.backend(), env.gpuModel(), gpuMemoryBytes());
    }

    private static long gpuMemoryBytes() {
        try {
            Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
                    "-i", "0").redirectErrorStream(true).start();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return 0;
            }
            String mib = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return Long.parseLong(mib) * 1024 * 1024;
        } catch (IOException | NumberFormatException e) {
            return 0; // unknown: nvidia-smi absent or unparsable; the status says 0 rather than guessing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }
}
