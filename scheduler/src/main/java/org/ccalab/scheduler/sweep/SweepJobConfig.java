package org.ccalab.scheduler.sweep;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.ccalab.scheduler.run.RunNotifications;
import org.ccalab.scheduler.system.SchedulerProperties;
import org.springframework.batch.core.configuration.annotation.StepScope;
import org.springframework.batch.core.job.Job;
import org.springframework.batch.core.job.builder.JobBuilder;
import org.springframework.batch.core.job.parameters.DefaultJobParametersValidator;
import org.springframework.batch.core.repository.JobRepository;
import org.springframework.batch.core.step.Step;
import org.springframework.batch.core.step.builder.StepBuilder;
import org.springframework.batch.infrastructure.item.ItemWriter;
import org.springframework.batch.infrastructure.item.database.JdbcPagingItemReader;
import org.springframework.batch.infrastructure.item.database.Order;
import org.springframework.batch.infrastructure.item.database.builder.JdbcPagingItemReaderBuilder;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.PlatformTransactionManager;
import tools.jackson.databind.json.JsonMapper;

/**
 * The sweep job: one job instance per experiment and pass (identifying parameters {@code experimentId},
 * {@code pass}), so its executions in the PostgreSQL job repository are the experiment's orchestration
 * history. Two
 * chunk-oriented steps over the experiment's runs in ordinal order, both restartable from the last
 * committed chunk:
 * <ol>
 *   <li>{@code validateRuns}: reads every run back into a RunSpec; a run that does not validate is
 *       FAILED INVALID_CONFIG with the field at fault, before it could waste a worker;</li>
 *   <li>{@code admitRuns}: admits the valid queued runs to the dispatch queue ({@code admitted_at}),
 *       from where the dispatcher sends them in priority order as workers free up.</li>
 * </ol>
 * Both writers are idempotent, so a chunk redone after a crash changes nothing twice. README.md here
 * names the test that fails and restarts it.
 */
@Configuration(proxyBeanMethods = false)
class SweepJobConfig {
    static final String JOB = "sweepJob";
    static final String EXPERIMENT_ID = "experimentId";
    /** 1 for the experiment's first sweep; a later pass validates and admits runs re-queued since. */
    static final String PASS = "pass";

    @Bean
    Job sweepJob(JobRepository jobRepository, Step validateRuns, Step admitRuns) {
        return new JobBuilder(JOB, jobRepository)
                .validator(new DefaultJobParametersValidator(new String[] {EXPERIMENT_ID, PASS}, new String[0]))
                .start(validateRuns)
                .next(admitRuns)
                .build();
    }

    @Bean
    Step validateRuns(JobRepository jobRepository, PlatformTransactionManager transactionManager,
                      JdbcPagingItemReader<SweepRun> sweepRunsReader, JdbcClient jdbc, JsonMapper json,
                      RunNotifications notifications, SchedulerProperties properties) {
        ItemWriter<Verdict> failInvalid = chunk -> {
            for (Verdict v : chunk.getItems()) {
                if (v.valid()) continue;
                int changed = jdbc.sql("""
                                update run set status = 'FAILED', failure_class = 'INVALID_CONFIG', failure_message = ?,
                                               finished_at = now(), updated_at = now()
                                where id = ? and status = 'QUEUED'""")
                        .params(v.problem(), v.runId()).update();
                if (changed > 0) notifications.runUpdated(v.runId());
            }
        };
        return new StepBuilder("validateRuns", jobRepository)
                .<SweepRun, Verdict>chunk(properties.sweep().chunkSize())
                .transactionManager(transactionManager)
                .reader(sweepRunsReader)
                .processor(new RunValidator(json))
                .writer(failInvalid)
                .build();
    }

    @Bean
    Step admitRuns(JobRepository jobRepository, PlatformTransactionManager transactionManager,
                   JdbcPagingItemReader<SweepRun> sweepRunsReader, JdbcClient jdbc, RunNotifications notifications,
                   SchedulerProperties properties) {
        ItemWriter<SweepRun> admit = chunk -> {
            List<UUID> ids = chunk.getItems().stream().map(SweepRun::id).toList();
            if (ids.isEmpty()) return;
            int admitted = jdbc.sql("""
                            update run set admitted_at = now(), updated_at = now()
                            where id in (:ids) and status = 'QUEUED' and admitted_at is null""")
                    .param("ids", ids).update();
            if (admitted > 0) notifications.queueUpdated();
        };
        return new StepBuilder("admitRuns", jobRepository)
                .<SweepRun, SweepRun>chunk(properties.sweep().chunkSize())
                .transactionManager(transactionManager)
                .reader(sweepRunsReader)
                .processor(run -> "QUEUED".equals(run.status()) ? run : null)
                .writer(admit)
                .build();
    }

    /**
     * Every run of the experiment by ordinal. Keyset paging on the ordinal (not offsets) keeps the
     * restart position right while the dispatcher changes the rows' status under the reader.
     */
    @Bean
    @StepScope
    JdbcPagingItemReader<SweepRun> sweepRunsReader(DataSource dataSource, SchedulerProperties properties,
                                                   @Value("#{jobParameters['experimentId']}") String experimentId)
            throws Exception {
        return new JdbcPagingItemReaderBuilder<SweepRun>()
                .name("sweepRuns")
                .dataSource(dataSource)
                .selectClause("select id, ordinal, kind, family, seed, status, spec::text as spec")
                .fromClause("from run")
                .whereClause("where experiment_id = :experimentId")
                .parameterValues(Map.of("experimentId", UUID.fromString(experimentId)))
                .sortKeys(Map.of("ordinal", Order.ASCENDING))
                .pageSize(properties.sweep().chunkSize())
                .rowMapper((rs, i) -> new SweepRun(rs.getObject("id", UUID.class), rs.getInt("ordinal"),
                        rs.getString("kind"), rs.getString("family"), rs.getLong("seed"), rs.getString("status"),
                        rs.getString("spec")))
                .build();
    }
}
