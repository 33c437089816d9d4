package org.ccalab.api.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import org.ccalab.api.support.FreshDatabase;
import org.ccalab.api.support.Fixtures;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The series queries on real PostgreSQL: M4 extremes, incremental reads for live streams, ranges. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class RunRepositoryTest {
    static final FreshDatabase db = new FreshDatabase();

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        db.register(registry);
    }

    @Autowired
    RunRepository runs;
    @Autowired
    JdbcTemplate jdbc;
    UUID run;

    @BeforeEach
    void newRun() {
        UUID experiment = UUID.randomUUID();
        run = UUID.randomUUID();
        jdbc.update("INSERT INTO experiment (id, name, kind, request) VALUES (?, 'repo', 'TRAINING', '{}')", experiment);
        jdbc.update("""
                INSERT INTO run (id, experiment_id, ordinal, kind, family, variant, spec, config_hash, seed)
                VALUES (?, ?, 0, 'TRAINING', 'mha', '{}', '{}', 'h', 0)
                """, run, experiment);
    }

    @Test
    void shouldKeepTheFirstLastLowestAndHighestPointOfEveryBucket() {
        // 1000 steps in 10 buckets of 100; value = a zigzag whose extremes sit at known steps.
        jdbc.update("""
                INSERT INTO metric_point (run_id, name, step, value, attempt)
                SELECT ?, 'loss', s, ((s * 37) % 101)::float8, 1 FROM generate_series(0, 999) s
                """, run);
        RunRepository.SeriesRange range = runs.range(run, "loss", 0, Long.MAX_VALUE);
        assertThat(range).isEqualTo(new RunRepository.SeriesRange(1000, 0, 999));

        List<MetricPointView> kept = runs.extremes(run, "loss", range, 10);
        assertThat(kept.size()).isLessThanOrEqualTo(40);
        assertThat(kept).extracting(MetricPointView::step).isSorted().doesNotHaveDuplicates();
        for (int b = 0; b < 10; b++) {
            int lo = b * 100, hi = lo + 99;
            List<MetricPointView> bucket = IntStream.rangeClosed(lo, hi)
                    .mapToObj(s -> new MetricPointView(s, (s * 37L) % 101, null, null)).toList();
            double min = bucket.stream().mapToDouble(MetricPointView::value).min().orElseThrow();
            double max = bucket.stream().mapToDouble(MetricPointView::value).max().orElseThrow();
            List<MetricPointView> keptHere = kept.stream().filter(p -> p.step() >= lo && p.step() <= hi).toList();
            assertThat(keptHere).as("bucket " + b).extracting(MetricPointView::step).contains((long) lo, (long) hi);
            assertThat(keptHere).as("bucket " + b).extracting(MetricPointView::value).contains(min, max);
        }
    }

    @Test
    void shouldReadOnlyWhatIsPastTheLastSentStepOfEachSeries() {
        Fixtures f = new Fixtures(jdbc);
        for (int s = 0; s < 5; s++) f.point(run, "train/loss", s, 5 - s);
        f.point(run, "val/loss", 2, 4.0);
        assertThat(runs.lastSteps(run)).containsExactlyInAnyOrderEntriesOf(Map.of("train/loss", 4L, "val/loss", 2L));

        assertThat(runs.pointsAfter(run, Map.of("train/loss", 2L, "val/loss", 2L), 100))
                .extracting(e -> e.getKey() + "@" + e.getValue().step()).containsExactly("train/loss@3", "train/loss@4");
        // A series the stream has not seen yet comes whole, interleaved by step.
        assertThat(runs.pointsAfter(run, Map.of("train/loss", 3L), 100))
                .extracting(e -> e.getKey() + "@" + e.getValue().step()).containsExactly("val/loss@2", "train/loss@4");
        assertThat(runs.pointsAfter(run, Map.of(), 3)).hasSize(3);
        assertThat(runs.pointsAfter(run, Map.of("train/loss", 4L, "val/loss", 2L), 100)).isEmpty();
    }

    @Test
    void shouldDescribeAnEmptyRange() {
        assertThat(runs.range(run, "nothing", 0, 10)).isEqualTo(new RunRepository.SeriesRange(0, 0, 0));
        assertThat(runs.lastSteps(run)).isEmpty();
        assertThat(runs.metricSeries(run)).isEmpty();
    }
}
