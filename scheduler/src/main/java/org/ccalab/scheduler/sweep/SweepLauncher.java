package org.ccalab.scheduler.sweep;

import java.util.List;
import java.util.UUID;
import org.ccalab.scheduler.system.SchedulerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.batch.core.job.Job;
import org.springframework.batch.core.job.JobExecution;
import org.springframework.batch.core.job.parameters.JobParameters;
import org.springframework.batch.core.job.parameters.JobParametersBuilder;
import org.springframework.batch.core.launch.JobExecutionAlreadyRunningException;
import org.springframework.batch.core.launch.JobInstanceAlreadyCompleteException;
import org.springframework.batch.core.launch.JobOperator;
import org.springframework.batch.core.repository.JobRepository;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Decides which sweep jobs to run, reading the job repository itself so that several scheduler
 * replicas agree (Batch's unique job instance key lets only one of them run an instance):
 * <ul>
 *   <li>an experiment with QUEUED runs not yet admitted gets a job pass: its first pass when the api
 *       has just created it, a further pass when runs were re-queued after the last completed one
 *       ({@code pass} = completed passes + 1, so a FAILED pass is restarted, not replaced);</li>
 *   <li>a FAILED pass is restarted once {@code sweep.restart-delay} has passed since it ended, and
 *       Batch resumes it from its last committed chunk;</li>
 *   <li>an execution left STARTED by a scheduler that died (no chunk committed for
 *       {@code sweep.stale-after}) is recovered to FAILED so that it can be restarted.</li>
 * </ul>
 */
@Component
public class SweepLauncher {
    private static final Logger log = LoggerFactory.getLogger(SweepLauncher.class);

    /** The experiment's sweep executions, one row per execution. */
    private static final String SWEEPS = """
            with sweep as (
                select p.parameter_value as experiment, x.job_instance_id, x.job_execution_id, x.status, x.end_time,
                       x.last_updated
                from batch_job_instance i
                join batch_job_execution x on x.job_instance_id = i.job_instance_id
                join batch_job_execution_params p on p.job_execution_id = x.job_execution_id
                                                 and p.parameter_name = :param
                where i.job_name = :job)
            """;

    private final JobOperator jobOperator;
    private final JobRepository jobRepository;
    private final Job sweepJob;
    private final JdbcClient jdbc;
    private final SchedulerProperties properties;

    SweepLauncher(JobOperator jobOperator, JobRepository jobRepository, Job sweepJob, JdbcClient jdbc,
                  SchedulerProperties properties) {
        this.jobOperator = jobOperator;
        this.jobRepository = jobRepository;
        this.sweepJob = sweepJob;
        this.jdbc = jdbc;
        this.properties = properties;
    }

    /** Runs (or restarts) pass {@code pass} of the experiment's sweep job in the calling thread. */
    public JobExecution launch(UUID experimentId, long pass) throws Exception {
        JobParameters params = new JobParametersBuilder()
                .addString(SweepJobConfig.EXPERIMENT_ID, experimentId.toString(), true)
                .addLong(SweepJobConfig.PASS, pass, true)
                .toJobParameters();
        JobExecution execution = jobOperator.start(sweepJob, params);
        log.info("sweep job of experiment {} pass {}: {}", experimentId, pass, execution.getStatus());
        return execution;
    }

    /** The first pass, as the loop starts it for a new experiment. */
    public JobExecution launch(UUID experimentId) throws Exception {
        return launch(experimentId, 1);
    }

    record Pending(UUID experimentId, long pass) {}

    List<Pending> pending() {
        return jdbc.sql(SWEEPS + """
                        select e.id,
                               1 + (select count(distinct s.job_instance_id) from sweep s
                                    where s.experiment = e.id::text and s.status = 'COMPLETED') as pass
                        from experiment e
                        where e.cancel_requested_at is null
                          and exists (select 1 from run r
                                      where r.experiment_id = e.id and r.status = 'QUEUED' and r.admitted_at is null)
                          and not exists (
                            select 1 from sweep s
                            where s.experiment = e.id::text
                              and (s.status not in ('COMPLETED', 'FAILED', 'STOPPED', 'ABANDONED')
                                   or (s.status = 'FAILED'
                                       and coalesce(s.end_time, s.last_updated)
                                           > localtimestamp - make_interval(secs => :delay))))
                        order by e.priority desc, e.created_at
                        limit 20""")
                .param("job", SweepJobConfig.JOB).param("param", SweepJobConfig.EXPERIMENT_ID)
                .param("delay", properties.sweep().restartDelay().toMillis() / 1000.0)
                .query((rs, i) -> new Pending(rs.getObject(1, UUID.class), rs.getLong(2))).list();
    }

    /** Executions still marked running although nothing was committed for {@code stale-after}. */
    List<Long> stale() {
        return jdbc.sql(SWEEPS + """
                        select job_execution_id from sweep
                        where status in ('STARTING', 'STARTED', 'STOPPING')
                          and last_updated < localtimestamp - make_interval(secs => :stale)""")
                .param("job", SweepJobConfig.JOB).param("param", SweepJobConfig.EXPERIMENT_ID)
                .param("stale", properties.sweep().staleAfter().toMillis() / 1000.0)
                .query(Long.class).list();
    }

    public void tick() {
        for (long id : stale()) {
            JobExecution execution = jobRepository.getJobExecution(id);
            if (execution == null) continue;
            log.warn("sweep execution {} was left {} by a scheduler that stopped; recovering it", id, execution.getStatus());
            jobOperator.recover(execution);
        }
        for (Pending p : pending()) {
            try {
                launch(p.experimentId(), p.pass());
            } catch (JobExecutionAlreadyRunningException | JobInstanceAlreadyCompleteException e) {
                log.debug("sweep job of experiment {} taken by another replica: {}", p.experimentId(), e.getMessage());
            } catch (Exception e) {
                log.warn("sweep job of experiment {} could not start: {}", p.experimentId(), e.toString());
            }
        }
    }
}
