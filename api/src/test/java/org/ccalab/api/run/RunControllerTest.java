package org.ccalab.api.run;

import static org.hamcrest.Matchers.hasSize;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.api.support.TestProperties;
import org.ccalab.api.system.ApiException;
import org.ccalab.api.system.ApiProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

@WebMvcTest(RunController.class)
class RunControllerTest {
    @TestConfiguration
    static class Config {
        @Bean
        ApiProperties apiProperties() {
            return TestProperties.bind(Map.of("ccalab.api.limits.default-max-points", "50"));
        }
    }

    @Autowired
    MockMvc mvc;
    @MockitoBean
    RunRepository runs;
    @MockitoBean
    RunService service;

    private final UUID id = UUID.randomUUID();

    private RunRow row() {
        return new RunRow(id, UUID.randomUUID(), "exp", 0, "TRAINING", "mha", "RUNNING", 0, 1, 3, "w-1", null, null, 7,
                "ab", "{\"family\":\"mha\",\"dModel\":64,\"nHeads\":2}", "{\"kind\":\"TRAINING\"}", Instant.now(), null,
                null, null, null, null, null, null, Instant.now(), null);
    }

    @Test
    void shouldDownsampleEachRequestedSeriesToMaxPoints() throws Exception {
        when(runs.find(id)).thenReturn(Optional.of(row()));
        List<MetricPointView> points = new ArrayList<>();
        for (int i = 0; i < 5000; i++) points.add(new MetricPointView(i, Math.sin(i / 50.0), null, null));
        when(runs.range(eq(id), eq("train/loss"), anyLong(), anyLong())).thenReturn(new RunRepository.SeriesRange(5000, 0, 4999));
        when(runs.range(eq(id), eq("lr"), anyLong(), anyLong())).thenReturn(new RunRepository.SeriesRange(10, 0, 9));
        when(runs.points(eq(id), eq("train/loss"), anyLong(), anyLong())).thenReturn(points);
        when(runs.points(eq(id), eq("lr"), anyLong(), anyLong())).thenReturn(points.subList(0, 10));
        when(runs.extremes(eq(id), eq("train/loss"), org.mockito.ArgumentMatchers.any(), org.mockito.ArgumentMatchers.anyInt()))
                .thenReturn(points.subList(0, 800));

        mvc.perform(get("/api/runs/" + id + "/metrics").param("name", "train/loss,lr").param("maxPoints", "200"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.series", hasSize(2)))
                .andExpect(jsonPath("$.series[0].totalPoints").value(5000))
                .andExpect(jsonPath("$.series[0].points", hasSize(200)))
                .andExpect(jsonPath("$.series[0].downsampled").value(true))
                .andExpect(jsonPath("$.series[1].points", hasSize(10)))
                .andExpect(jsonPath("$.series[1].method").value("none"));
        // 5000 > 8 x 50: the database cuts the extremes of 100 buckets first.
        mvc.perform(get("/api/runs/" + id + "/metrics").param("name", "train/loss"))
                .andExpect(jsonPath("$.maxPoints").value(50))
                .andExpect(jsonPath("$.series[0].method").value("m4+lttb"))
                .andExpect(jsonPath("$.series[0].totalPoints").value(5000))
                .andExpect(jsonPath("$.series[0].points", hasSize(50)));
        verify(runs, org.mockito.Mockito.atLeastOnce()).range(id, "train/loss", 0, Long.MAX_VALUE);
        verify(runs).extremes(eq(id), eq("train/loss"), org.mockito.ArgumentMatchers.any(), eq(400));
        verify(runs).extremes(eq(id), eq("train/loss"), org.mockito.ArgumentMatchers.any(), eq(100));
    }

    @Test
    void shouldValidateMetricParameters() throws Exception {
        when(runs.find(id)).thenReturn(Optional.of(row()));
        mvc.perform(get("/api/runs/" + id + "/metrics").param("maxPoints", "1000000"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("maxPoints"));
        mvc.perform(get("/api/runs/" + id + "/metrics").param("fromStep", "-1"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("fromStep"));
        mvc.perform(get("/api/runs/" + id + "/metrics").param("toStep", "ten"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("toStep"));
    }

    @Test
    void shouldRefuseASeriesNameTheRunDoesNotRecordListingTheRecordedOnes() throws Exception {
        when(runs.find(id)).thenReturn(Optional.of(row()));
        when(runs.metricNames(id)).thenReturn(List.of("lr", "train/loss"));
        mvc.perform(get("/api/runs/" + id + "/metrics").param("name", "train/los"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:bad-parameter"))
                .andExpect(jsonPath("$.errors", hasSize(1)))
                .andExpect(jsonPath("$.errors[0].field").value("name"))
                .andExpect(jsonPath("$.errors[0].message").value("the run records no series \"train/los\"; it records lr, train/loss"));
        // Every unknown name of a list in one problem; a known one beside them does not hide them.
        mvc.perform(get("/api/runs/" + id + "/metrics").param("name", "train/loss,foo").param("name", "bar"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors", hasSize(2)));
    }

    @Test
    void shouldAnswerEmptySeriesForARunThatHasRecordedNothingYet() throws Exception {
        when(runs.find(id)).thenReturn(Optional.of(row()));
        when(runs.metricNames(id)).thenReturn(List.of());
        when(runs.range(eq(id), eq("train/loss"), anyLong(), anyLong())).thenReturn(new RunRepository.SeriesRange(0, 0, 0));
        mvc.perform(get("/api/runs/" + id + "/metrics").param("name", "train/loss"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.series[0].totalPoints").value(0));
    }

    @Test
    void shouldAnswer404ForAnUnknownRunOnEveryReadPath() throws Exception {
        UUID unknown = UUID.randomUUID();
        when(runs.find(unknown)).thenReturn(Optional.empty());
        for (String path : List.of("", "/metrics", "/cells", "/events")) {
            mvc.perform(get("/api/runs/" + unknown + path))
                    .andExpect(status().isNotFound())
                    .andExpect(jsonPath("$.type").value("urn:ccalab:problem:not-found"));
        }
    }

    @Test
    void shouldMapCancelOutcomesTo202And409() throws Exception {
        when(service.cancel(id)).thenReturn(new RunService.CancelResult(id, "RUNNING", Instant.now()));
        mvc.perform(post("/api/runs/" + id + "/cancel")).andExpect(status().isAccepted())
                .andExpect(jsonPath("$.status").value("RUNNING"));
        UUID done = UUID.randomUUID();
        when(service.cancel(done)).thenThrow(ApiException.conflict("run is SUCCEEDED"));
        mvc.perform(post("/api/runs/" + done + "/cancel")).andExpect(status().isConflict())
                .andExpect(jsonPath("$.type").value("urn:ccalab:problem:state-conflict"));
    }

    @Test
    void shouldValidateListFilters() throws Exception {
        mvc.perform(get("/api/runs").param("status", "RUNNING,SLEEPING"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("status"))
                .andExpect(jsonPath("$.errors[0].message", org.hamcrest.Matchers.containsString("SLEEPING")));
        mvc.perform(get("/api/runs").param("failureClass", "BORED"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("failureClass"));
        mvc.perform(get("/api/runs").param("experimentId", "123"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("experimentId"));
        mvc.perform(get("/api/runs").param("sort", "createdAt,sideways"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("sort"));
        mvc.perform(get("/api/runs").param("page", "-1"))
                .andExpect(status().isBadRequest()).andExpect(jsonPath("$.errors[0].field").value("page"));
    }
}
