package org.ccalab.engine.cli;

import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The engine jar's entry point: {@code java -jar engine.jar <subcommand> args...}. {@code layer} runs one
 * attention layer ({@link LayerCli}); {@code train} and {@code bench} are looked up by class name, so this
 * dispatcher compiles and runs whether or not those modules are in the build.
 */
public final class Main {
    /** Subcommand -> class with a {@code public static void main(String[])}, in usage order. */
    static final Map<String, String> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("layer", "org.ccalab.engine.cli.LayerCli");
        COMMANDS.put("train", "org.ccalab.engine.train.TrainCli");
        COMMANDS.put("bench", "org.ccalab.engine.bench.BenchCli");
    }

    private Main() {}

    public static void main(String[] args) {
        int code = dispatch(args, System.err);
        if (code != 0) System.exit(code);
    }

    /** Runs the subcommand's main (which exits by itself on failure); returns 2 for a usage error. */
    static int dispatch(String[] args, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            err.println("usage: java -jar engine.jar <" + String.join("|", COMMANDS.keySet()) + "> [args...]");
            return args.length == 0 ? 2 : 0;
        }
        String target = COMMANDS.get(args[0]);
        if (target == null) {
            err.println("unknown subcommand '" + args[0] + "'; expected one of " + COMMANDS.keySet());
            return 2;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            Class.forName(target).getMethod("main", String[].class).invoke(null, (Object) rest);
            return 0;
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            err.println("subcommand '" + args[0] + "' is not available in this build (" + target + " not found)");
            return 2;
        } catch (IllegalAccessException e) {
            err.println("subcommand '" + args[0] + "': " + target + ".main is not public");
            return 2;
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error er) throw er;
            throw new IllegalStateException(cause);
        }
    }
}
