package org.ccalab.scheduler.sweep;

import org.ccalab.common.run.RunSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.springframework.batch.infrastructure.item.ItemProcessor;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Checks a stored run before it may be dispatched: its spec must read back into a RunSpec (whose records
 * validate every field) and agree with the run's own columns, which the api derived from it. A run the
 * api already took out of the queue (cancelled) is passed over.
 */
class RunValidator implements ItemProcessor<SweepRun, Verdict> {
    private final JsonMapper json;

    RunValidator(JsonMapper json) {
        this.json = json;
    }

    @Override
    public Verdict process(SweepRun run) {
        if (!"QUEUED".equals(run.status())) return null;
        RunSpec spec;
        try {
            spec = json.readValue(run.spec(), RunSpec.class);
        } catch (InvalidConfigException e) {
            return new Verdict(run.id(), "spec." + e.getMessage());
        } catch (JacksonException e) {
            Throwable cause = e.getCause();
            if (cause instanceof InvalidConfigException ice) return new Verdict(run.id(), "spec." + ice.getMessage());
            return new Verdict(run.id(), "spec does not read as a RunSpec: " + e.getOriginalMessage());
        }
        if (!spec.kind().name().equals(run.kind()))
            return new Verdict(run.id(), "kind: run says " + run.kind() + ", spec says " + spec.kind());
        if (!spec.variant().family().equals(run.family()))
            return new Verdict(run.id(), "family: run says " + run.family() + ", spec says " + spec.variant().family());
        if (spec.seed() != run.seed())
            return new Verdict(run.id(), "seed: run says " + run.seed() + ", spec says " + spec.seed());
        return new Verdict(run.id(), null);
    }
}
