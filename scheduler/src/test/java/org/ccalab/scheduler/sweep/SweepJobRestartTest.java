package org.ccalab.scheduler.sweep;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.scheduler.support.SchedulerIntegrationTest;
import org.ccalab.scheduler.support.TestRuns;
import org.junit.jupiter.api.Test;
import org.springframework.batch.core.BatchStatus;
import org.springframework.batch.core.job.JobExecution;
import org.springframework.batch.core.launch.JobInstanceAlreadyCompleteException;
import org.springframework.batch.core.step.StepExecution;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

/**
 * The sweep job's restart, in the style of Spring Batch's RestartFunctionalTests: the database refuses a
 * write mid-way through the admit step (a trigger stands in for a full disk or a lost connection), the
 * job FAILS with the chunks before it committed; after the fault is gone the same job instance is run
 * again, resumes after the last committed chunk, and COMPLETES with every valid run admitted once.
 */
@SchedulerIntegrationTest
@TestPropertySource(properties = {"ccalab.scheduler.loops.sweep=false", "ccalab.scheduler.sweep.chunk-size=2",
        "ccalab.scheduler.sweep.restart-delay=0s"})
class SweepJobRestartTest {
    @Autowired TestRuns runs;
    @Autowired SweepLauncher launcher;

    @Test
    void aFailedSweepRestartsFromItsLastCommittedChunkAndCompletes() throws Exception {
        UUID experiment = runs.experiment(0);
        List<UUID> ids = new ArrayList<>();
        for (int ordinal = 0; ordinal < 10; ordinal++) {
            String spec = ordinal == 3 ? TestRuns.invalidSpec(ordinal) : runs.validSpec(ordinal);
            ids.add(runs.run(experiment, ordinal, 0, spec, false, 3));
        }
        runs.jdbc().sql("""
                create function refuse_admission() returns trigger language plpgsql as $$
                begin
                    if new.admitted_at is not null and old.admitted_at is null and new.ordinal = 6 then
                        raise exception 'test fault: could not extend file';
                    end if;
                    return new;
                end $$""").update();
        runs.jdbc().sql("create trigger refuse_admission before update on run for each row execute function refuse_admission()")
                .update();

        JobExecution first = launcher.launch(experiment);

        assertThat(first.getStatus()).isEqualTo(BatchStatus.FAILED);
        assertThat(step(first, "validateRuns").getStatus()).isEqualTo(BatchStatus.COMPLETED);
        assertThat(step(first, "validateRuns").getReadCount()).isEqualTo(10);
        assertThat(step(first, "admitRuns").getStatus()).isEqualTo(BatchStatus.FAILED);
        // Chunks of 2: [0,1] [2,(3 invalid)] [4,5] committed; [6,7] rolled back.
        assertThat(admittedOrdinals(experiment)).containsExactly(0, 1, 2, 4, 5);
        Map<String, Object> invalid = runs.row(ids.get(3));
        assertThat(invalid).containsEntry("status", "FAILED").containsEntry("failure_class", "INVALID_CONFIG");
        assertThat((String) invalid.get("failure_message")).contains("nHeads");

        runs.jdbc().sql("drop trigger refuse_admission on run").update();
        JobExecution second = launcher.launch(experiment);

        assertThat(second.getStatus()).isEqualTo(BatchStatus.COMPLETED);
        assertThat(second.getJobInstanceId()).isEqualTo(first.getJobInstanceId());
        assertThat(second.getStepExecutions()).extracting(StepExecution::getStepName)
                .as("the completed validation step is not run again").containsExactly("admitRuns");
        assertThat(step(second, "admitRuns").getReadCount())
                .as("the restart reads on from the last committed chunk").isEqualTo(4);
        assertThat(admittedOrdinals(experiment)).containsExactly(0, 1, 2, 4, 5, 6, 7, 8, 9);
        assertThat(runs.count("select count(*) from batch_job_execution where job_instance_id = ?",
                first.getJobInstanceId())).as("two executions of one job instance: the history").isEqualTo(2);
        assertThat(runs.count("""
                select count(distinct x.job_instance_id) from batch_job_execution x
                join batch_job_execution_params p on p.job_execution_id = x.job_execution_id
                where p.parameter_name = 'experimentId' and p.parameter_value = ?""", experiment.toString())).isEqualTo(1);

        assertThatThrownBy(() -> launcher.launch(experiment)).isInstanceOf(JobInstanceAlreadyCompleteException.class);
    }

    @Test
    void theLauncherFindsExperimentsWithoutASweepJob() throws Exception {
        UUID waiting = runs.experiment(0);
        runs.run(waiting, 0, 0, runs.validSpec(1), false, 3);
        assertThat(launcher.pending()).contains(new SweepLauncher.Pending(waiting, 1));
        assertThat(launcher.launch(waiting).getStatus()).isEqualTo(BatchStatus.COMPLETED);
        assertThat(launcher.pending()).extracting(SweepLauncher.Pending::experimentId).doesNotContain(waiting);
    }

    @Test
    void runsRequeuedAfterACompletedSweepGetASecondPass() throws Exception {
        UUID experiment = runs.experiment(0);
        UUID valid = runs.run(experiment, 0, 0, runs.validSpec(0), false, 3);
        UUID invalid = runs.run(experiment, 1, 0, TestRuns.invalidSpec(1), false, 3);
        assertThat(launcher.launch(experiment).getStatus()).isEqualTo(BatchStatus.COMPLETED);
        assertThat(runs.status(invalid)).isEqualTo("FAILED");

        // The api's rerun-failed: the next attempt, queued again; this run was never admitted.
        runs.jdbc().sql("""
                update run set status = 'QUEUED', attempt = attempt + 1, failure_class = null, failure_message = null,
                               finished_at = null where id = ?""").param(invalid).update();
        assertThat(launcher.pending()).contains(new SweepLauncher.Pending(experiment, 2));
        launcher.tick();

        assertThat(runs.row(invalid)).containsEntry("status", "FAILED").containsEntry("failure_class", "INVALID_CONFIG")
                .containsEntry("attempt", 2);
        assertThat(runs.row(valid).get("admitted_at")).isNotNull();
        assertThat(launcher.pending()).extracting(SweepLauncher.Pending::experimentId).doesNotContain(experiment);
    }

    @Test
    void anExecutionLeftRunningByADeadSchedulerIsRecoveredAndRestarted() throws Exception {
        UUID experiment = runs.experiment(0);
        for (int ordinal = 0; ordinal < 4; ordinal++) runs.run(experiment, ordinal, 0, runs.validSpec(ordinal), false, 3);
        JobExecution crashed = launcher.launch(experiment);
        assertThat(crashed.getStatus()).isEqualTo(BatchStatus.COMPLETED);
        // What a JVM killed mid-step leaves behind: an execution STARTED forever, the runs not yet admitted.
        runs.jdbc().sql("update run set admitted_at = null where experiment_id = ?").param(experiment).update();
        runs.jdbc().sql("delete from batch_step_execution_context where step_execution_id in "
                + "(select step_execution_id from batch_step_execution where job_execution_id = ?)")
                .param(crashed.getId()).update();
        runs.jdbc().sql("delete from batch_step_execution where job_execution_id = ?").param(crashed.getId()).update();
        runs.jdbc().sql("""
                update batch_job_execution set status = 'STARTED', exit_code = 'UNKNOWN', end_time = null,
                       last_updated = localtimestamp - interval '1 hour' where job_execution_id = ?""")
                .param(crashed.getId()).update();
        assertThat(launcher.pending()).extracting(SweepLauncher.Pending::experimentId)
                .as("a running execution blocks a new pass").doesNotContain(experiment);

        launcher.tick();

        assertThat(runs.count("select count(*) from run where experiment_id = ? and admitted_at is not null", experiment))
                .isEqualTo(4);
        assertThat(runs.jdbc().sql("select status from batch_job_execution where job_instance_id = ? order by job_execution_id")
                .param(crashed.getJobInstanceId()).query(String.class).list()).containsExactly("FAILED", "COMPLETED");
    }

    private static StepExecution step(JobExecution execution, String name) {
        return execution.getStepExecutions().stream().filter(s -> s.getStepName().equals(name)).findFirst().orElseThrow();
    }

    private List<Integer> admittedOrdinals(UUID experiment) {
        return runs.jdbc().sql("select ordinal from run where experiment_id = ? and admitted_at is not null order by ordinal")
                .param(experiment).query(Integer.class).list();
    }
}
