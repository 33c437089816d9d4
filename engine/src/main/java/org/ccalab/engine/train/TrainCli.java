package org.ccalab.engine.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.run.Engine;
import org.ccalab.engine.run.Engines;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.engine.run.RunObserver;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Trains from the command line: {@code train SPEC.json [--work DIR] [--resume CHECKPOINT_URI]} where SPEC
 * is a TRAINING {@code RunSpec} as JSON (a file, or {@code -} for stdin), e.g.
 * <pre>{"kind":"TRAINING","seed":1,"variant":{"family":"mha","dModel":64,"nHeads":4},
 *  "training":{"dataset":"brown","tokenizer":"gpt2","steps":200}}</pre>
 * Prints the loss as it trains; the backend follows {@code engine.backend} / {@code ENGINE_BACKEND}.
 * Exit codes: 0 done, 1 run failed, 2 bad arguments or spec.
 */
public final class TrainCli {
    private TrainCli() {}

    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) System.exit(code);
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        String specArg = null;
        Path work = Path.of("runs", "cli");
        String resume = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--work" -> work = Path.of(value(args, ++i, "--work"));
                case "--resume" -> resume = value(args, ++i, "--resume");
                case "-h", "--help" -> {
                    out.println("usage: train SPEC.json|- [--work DIR] [--resume CHECKPOINT_URI]");
                    return 0;
                }
                default -> specArg = args[i];
            }
        }
        if (specArg == null) {
            err.println("usage: train SPEC.json|- [--work DIR] [--resume CHECKPOINT_URI]");
            return 2;
        }
        RunSpec spec;
        try {
            String json = specArg.equals("-")
                    ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                    : Files.readString(Path.of(specArg));
            spec = JsonMapper.shared().readValue(json, RunSpec.class);
        } catch (IOException e) {
            err.println("cannot read spec " + specArg + ": " + e.getMessage());
            return 2;
        } catch (JacksonException e) {
            Throwable cause = e.getCause() instanceof InvalidConfigException ic ? ic : e;
            err.println("invalid spec: " + cause.getMessage());
            return 2;
        } catch (InvalidConfigException e) {
            err.println("invalid spec: " + e.getMessage());
            return 2;
        }
        if (spec.kind() != RunKind.TRAINING) {
            err.println("invalid spec: kind must be TRAINING for train (use bench for BENCHMARK runs)");
            return 2;
        }
        Engine engine = Engines.create();
        out.printf("training %s on %s, %d steps, backend %s%n", spec.variant().family(),
                spec.training().dataset(), spec.training().steps(), engine.environment().backend());
        try {
            engine.run(spec, work, resume, new Printer(out));
            return 0;
        } catch (RunFailedException e) {
            err.println("run failed (" + e.failureClass() + "): " + e.getMessage());
            return 1;
        }
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
        return args[i];
    }

    /** One line per step with loss, lr and throughput; evaluation and checkpoints on their own lines. */
    private record Printer(PrintStream out) implements RunObserver {
        @Override
        public void metrics(List<MetricPoint> points) {
            long step = -1;
            StringBuilder line = new StringBuilder();
            for (MetricPoint p : points) {
                if (p.step() != step) {
                    if (!line.isEmpty()) out.println(line);
                    line.setLength(0);
                    step = p.step();
                    line.append(String.format("step %6d", step));
                }
                line.append(String.format("  %s %.4g", p.name(), p.value()));
            }
            if (!line.isEmpty()) out.println(line);
        }

        @Override
        public void cells(List<BenchmarkCell> cells) {}

        @Override
        public void checkpoint(CheckpointRef c) {
            out.printf("checkpoint step %d: %s (%d bytes, sha256 %s)%n", c.step(), c.uri(), c.bytes(), c.sha256());
        }

        @Override
        public boolean stopRequested() {
            return false;
        }
    }
}
