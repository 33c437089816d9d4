package org.ccalab.engine.run;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Locale;
import org.ccalab.common.validation.InvalidConfigException;

/**
 * Picks the engine backend once, logs the choice and why: system property {@code engine.backend}, else
 * env {@code ENGINE_BACKEND}, else {@code auto}. {@code cpu} is the float64 reference; {@code cuda} must
 * work or fails; {@code auto} tries CUDA and falls back to the CPU when the CUDA engine is absent from the
 * build or no device answers. The CUDA engine is found by reflection so that the engine jar has no hard
 * dependency on it: {@value #CUDA_ENGINE}, through a static {@code create()} or a public no-arg
 * constructor, which throw when no device answers.
 */
public final class Engines {
    static final String CUDA_ENGINE = "org.ccalab.engine.backend.cuda.CudaEngine";
    private static final System.Logger LOG = System.getLogger(Engines.class.getName());

    private Engines() {}

    public static Engine create() {
        String prop = System.getProperty("engine.backend");
        String choice = prop != null ? prop : System.getenv("ENGINE_BACKEND");
        return create(choice == null || choice.isBlank() ? "auto" : choice);
    }

    public static Engine create(String backend) {
        String b = backend.trim().toLowerCase(Locale.ROOT);
        return switch (b) {
            case "cpu" -> {
                LOG.log(System.Logger.Level.INFO, "engine backend: cpu (requested)");
                yield new CpuEngine();
            }
            case "cuda" -> {
                try {
                    Engine e = cuda();
                    LOG.log(System.Logger.Level.INFO, "engine backend: cuda (requested)");
                    yield e;
                } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                    throw new IllegalStateException("engine.backend=cuda but CUDA is unavailable: " + reason(e), e);
                }
            }
            case "auto" -> {
                try {
                    Engine e = cuda();
                    LOG.log(System.Logger.Level.INFO, "engine backend: cuda (auto: a device answered)");
                    yield e;
                } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                    LOG.log(System.Logger.Level.INFO, "engine backend: cpu (auto: CUDA unavailable: {0})", reason(e));
                    yield new CpuEngine();
                }
            }
            default -> throw new InvalidConfigException("engine.backend", "must be cpu, cuda or auto, got " + backend);
        };
    }

    private static Engine cuda() throws ReflectiveOperationException {
        Class<?> cls = Class.forName(CUDA_ENGINE);
        try {
            Method factory = cls.getMethod("create");
            if (Modifier.isStatic(factory.getModifiers()) && Engine.class.isAssignableFrom(factory.getReturnType()))
                return (Engine) factory.invoke(null);
        } catch (NoSuchMethodException ignored) {
            // no factory: use the constructor
        }
        return (Engine) cls.getConstructor().newInstance();
    }

    private static String reason(Throwable e) {
        Throwable t = e;
        while (t instanceof InvocationTargetException && t.getCause() != null) t = t.getCause();
        if (t instanceof ClassNotFoundException) return CUDA_ENGINE + " is not in this build";
        return t.getClass().getSimpleName() + (t.getMessage() != null ? ": " + t.getMessage() : "");
    }
}
