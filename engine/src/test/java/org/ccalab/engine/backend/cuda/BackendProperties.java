package org.ccalab.engine.backend.cuda;

import java.util.HashMap;
import java.util.Map;

/**
 * Opens a {@link CudaBackend} with JVM properties set for its construction only: the backend reads its switches
 * (ccalab.flash.*) once, when it opens, so a test can hold two backends with different switches side by side.
 */
final class BackendProperties {
    private BackendProperties() {}

    static CudaBackend open(Map<String, String> properties) {
        Map<String, String> saved = new HashMap<>();
        properties.forEach((key, value) -> {
            saved.put(key, System.getProperty(key));
            System.setProperty(key, value);
        });
        try {
            return CudaBackend.open();
        } finally {
            saved.forEach((key, value) -> {
                if (value == null) System.clearProperty(key);
                else System.setProperty(key, value);
            });
        }
    }
}
