package org.ccalab.engine.attention.ovq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.junit.jupiter.api.Test;

/**
 * One head's state machine on hand-computed cases (d = 2, L = 2, beta = 1): founders, assignments, counts, mu,
 * U after each fold and the read values; L = 1 against the per-token recurrence written out.
 */
class OvqHeadTest {
    private static final double S = Math.sqrt(0.5);

    private static OvqSpec spec(int chunk, int nMax, int growthLength, OvqAssignment assignment, OvqUpdate update,
                                double eta) {
        return new OvqSpec(chunk, nMax, growthLength, OvqGrowth.LINEAR, assignment, update, eta, false, false, true,
                true, null);
    }

    /** Feeds (q, k, v) rows; returns the read of each token. */
    private static double[][] feed(OvqHead head, double[][] q, double[][] k, double[][] v, List<OvqHead.FoldRecord> folds) {
        double[][] out = new double[q.length][2];
        for (int t = 0; t < q.length; t++) head.step(q[t], 0, k[t], 0, v[t], 0, 1.0, out[t], 0, folds);
        return out;
    }

    private static double[] row(double[] a, int j) {
        return Arrays.copyOfRange(a, 2 * j, 2 * j + 2);
    }

    private static void assertRow(double[] actual, double... expected) {
        // A few roundings of values up to 20.
        assertThat(actual[0]).isCloseTo(expected[0], within(1e-14 * (1 + Math.abs(expected[0]))));
        assertThat(actual[1]).isCloseTo(expected[1], within(1e-14 * (1 + Math.abs(expected[1]))));
    }

    /**
     * LINEAR growth with N_max = 3 over 6 tokens: target ceil(t / 2), so one founder per chunk for three chunks,
     * then updates only.
     * <pre>
     * fold 1: k0 = (1,0), k1 = (0,1); n = 0: both scores +inf, founder k0 (lowest index); k1 joins row 0:
     *         c0 = 2, mu0 = (1,0) + ((0,1) - (1,0)) / 2 = (.5,.5), U0 = v0 + v1 = (4,6)
     * fold 2: k2 = (0,-1) (|k - mu0|^2 = 2.5), k3 = (0,1) (.5): founder k2 = row 1; k3 -> row 0 (.5 < 4):
     *         c0 = 3, mu0 = (.5,.5) + ((0,1) - (.5,.5)) / 3 = (1/3, 2/3), U0 = (11,14); row 1 = ((0,-1), (5,6), 1)
     * fold 3: k4 = (1,0) (min 8/9), k5 = (-1,0) (min(20/9, 2) = 2): founder k5 = row 2; k4 -> row 0:
     *         c0 = 4, mu0 = (1/3,2/3) + ((1,0) - (1/3,2/3)) / 4 = (1/2, 1/2), U0 = (12,15)
     * fold 4: full; k6 = (-s,-s) is exactly as near rows 1 and 2 -> row 1 (lowest); k7 = (1,0) -> row 0:
     *         c1 = 2, mu1 = (-s/2, (-1-s)/2), U1 = (8,9); c0 = 5, mu0 = (.6,.4), U0 = (16,19)
     * </pre>
     */
    @Test
    void shouldFoldTheHandComputedNewtonCase() {
        OvqHead head = new OvqHead(spec(2, 3, 6, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, 0.1), 2);
        double[][] k = {{1, 0}, {0, 1}, {0, -1}, {0, 1}, {1, 0}, {-1, 0}, {-S, -S}, {1, 0}};
        double[][] v = {{1, 2}, {3, 4}, {5, 6}, {7, 8}, {1, 1}, {2, 2}, {3, 3}, {4, 4}};
        double[][] q = new double[8][];
        Arrays.fill(q, new double[] {1, 0});
        List<OvqHead.FoldRecord> folds = new ArrayList<>();

        double[][] o = feed(head, Arrays.copyOfRange(q, 0, 2), Arrays.copyOfRange(k, 0, 2), Arrays.copyOfRange(v, 0, 2), folds);
        // Chunk 0 reads only itself: o0 = v0; o1 = (e^1 v0 + e^0 v1) / (e + 1).
        assertRow(o[0], 1, 2);
        double e = Math.E;
        assertRow(o[1], (e * 1 + 3) / (e + 1), (e * 2 + 4) / (e + 1));
        assertThat(folds.getFirst().founderToken()).containsExactly(0);
        assertThat(folds.getFirst().slot()).containsExactly(-1, 0);
        assertThat(head.size()).isEqualTo(1);
        assertRow(row(head.mu(), 0), .5, .5);
        assertRow(row(head.values(), 0), 4, 6);
        assertThat(head.counts()[0]).isEqualTo(2);

        o = feed(head, Arrays.copyOfRange(q, 2, 4), Arrays.copyOfRange(k, 2, 4), Arrays.copyOfRange(v, 2, 4), folds);
        // Token 2: state (mu0 = (.5,.5), U0 = (4,6), c0 = 2) plus itself (q.k2 = 0).
        double a = Math.exp(.5);
        assertRow(o[0], (a * 4 + 5) / (2 * a + 1), (a * 6 + 6) / (2 * a + 1));
        assertRow(o[1], (a * 4 + 5 + 7) / (2 * a + 2), (a * 6 + 6 + 8) / (2 * a + 2));
        OvqHead.FoldRecord f2 = folds.get(1);
        assertThat(f2.nBefore()).isEqualTo(1);
        assertThat(f2.rows()).containsExactly(0, 1);
        assertThat(f2.founderToken()).containsExactly(-1, 0);
        assertThat(f2.slot()).containsExactly(-1, 0);
        assertRow(row(head.mu(), 0), 1.0 / 3, 2.0 / 3);
        assertRow(row(head.values(), 0), 11, 14);
        assertRow(row(head.mu(), 1), 0, -1);
        assertRow(row(head.values(), 1), 5, 6);
        assertThat(Arrays.copyOf(head.counts(), 2)).containsExactly(3, 1);

        feed(head, Arrays.copyOfRange(q, 4, 6), Arrays.copyOfRange(k, 4, 6), Arrays.copyOfRange(v, 4, 6), folds);
        assertThat(folds.get(2).founderToken()).containsExactly(-1, 1);
        assertThat(folds.get(2).slot()).containsExactly(0, -1);
        assertRow(row(head.mu(), 0), .5, .5);
        assertRow(row(head.values(), 0), 12, 15);
        assertRow(row(head.mu(), 2), -1, 0);
        assertThat(Arrays.copyOf(head.counts(), 3)).containsExactly(4, 1, 1);

        feed(head, Arrays.copyOfRange(q, 6, 8), Arrays.copyOfRange(k, 6, 8), Arrays.copyOfRange(v, 6, 8), folds);
        OvqHead.FoldRecord f4 = folds.get(3);
        assertThat(head.size()).isEqualTo(3);
        assertThat(f4.founderToken()).containsExactly(-1, -1);
        assertThat(f4.rows()).containsExactly(0, 1);
        assertThat(f4.slot()).containsExactly(1, 0);
        assertRow(row(head.mu(), 1), -S / 2, (-1 - S) / 2);
        assertRow(row(head.values(), 1), 8, 9);
        assertRow(row(head.mu(), 0), .6, .4);
        assertRow(row(head.values(), 0), 16, 19);
        assertThat(Arrays.copyOf(head.counts(), 3)).containsExactly(5, 2, 1);
        assertThat(head.foldedChunks()).isEqualTo(4);

        // Rewinding the last two folds gives back the state after fold 2 exactly.
        head.rewind(folds.get(3));
        head.rewind(folds.get(2));
        assertThat(head.size()).isEqualTo(2);
        assertRow(row(head.mu(), 0), 1.0 / 3, 2.0 / 3);
        assertRow(row(head.values(), 0), 11, 14);
        assertThat(Arrays.copyOf(head.counts(), 2)).containsExactly(3, 1);
    }

    /**
     * CONSTANT rate 0.5 on fold 1 of the case above: mu0 = (1,0) + .5((0,1) - (1,0)) = (.5,.5), nu0 = (1,2) +
     * .5((3,4) - (1,2)) = (2,3), c0 = 2, so the read's U0 = c0 nu0 = (4,6) as with NEWTON.
     */
    @Test
    void shouldKeepValueMeansWithTheConstantRate() {
        OvqHead head = new OvqHead(spec(2, 3, 6, OvqAssignment.EUCLIDEAN, OvqUpdate.CONSTANT, 0.5), 2);
        double[][] q = {{1, 0}, {1, 0}, {1, 0}};
        feed(head, q, new double[][] {{1, 0}, {0, 1}, {0, -1}}, new double[][] {{1, 2}, {3, 4}, {5, 6}}, null);
        assertRow(row(head.mu(), 0), .5, .5);
        assertRow(row(head.values(), 0), 2, 3);
        assertThat(head.counts()[0]).isEqualTo(2);
        double[] out = new double[2];
        head.readOver(out, 0, new double[] {1, 0}, 0, 1.0, new double[] {0, -1}, new double[] {5, 6}, 1);
        double a = Math.exp(.5);
        assertRow(out, (a * 4 + 5) / (2 * a + 1), (a * 6 + 6) / (2 * a + 1));
    }

    /**
     * Euclidean and dot assignment part ways when centroid norms differ. N_max = 2, one founder per chunk:
     * fold 1 gives mu0 = (.5,.5) (c 2); fold 2 has k2 = (0,-1) and k3 = (0,-1), a farthest-point tie (2.5 each)
     * won by k2, and k3 joins it: mu1 = (0,-1), c1 = 2. Fold 3: k4 = (1,-.375): Euclidean scores k.mu - |mu|^2/2
     * are .0625 (row 0) and -.125 (row 1), dot products .3125 and .375: row 0 vs row 1.
     */
    @Test
    void shouldAssignByDistanceOrByDotProduct() {
        for (OvqAssignment rule : OvqAssignment.values()) {
            OvqHead head = new OvqHead(spec(2, 2, 4, rule, OvqUpdate.NEWTON, 0.1), 2);
            List<OvqHead.FoldRecord> folds = new ArrayList<>();
            double[][] k = {{1, 0}, {0, 1}, {0, -1}, {0, -1}, {1, -.375}, {1, 0}};
            double[][] q = new double[6][];
            Arrays.fill(q, new double[] {0, 1});
            feed(head, Arrays.copyOf(q, 4), Arrays.copyOf(k, 4), Arrays.copyOf(k, 4), folds);
            // Only the founder's row is written (k3 joins it; row 0 gets nothing).
            assertThat(folds.get(1).rows()).containsExactly(1);
            assertThat(folds.get(1).founderToken()).containsExactly(0);
            assertThat(folds.get(1).slot()).containsExactly(-1, 0);
            assertRow(row(head.mu(), 1), 0, -1);
            assertThat(Arrays.copyOf(head.counts(), 2)).containsExactly(2, 2);
            feed(head, Arrays.copyOfRange(q, 4, 6), Arrays.copyOfRange(k, 4, 6), Arrays.copyOfRange(k, 4, 6), folds);
            assertThat(Arrays.copyOf(head.counts(), 2)).as(rule.name())
                    .containsExactly(rule == OvqAssignment.EUCLIDEAN ? new double[] {4, 2} : new double[] {3, 3});
            int expectedRow = rule == OvqAssignment.EUCLIDEAN ? 0 : 1;
            OvqHead.FoldRecord f3 = folds.get(2);
            assertThat(f3.rows()[f3.slot()[0]]).as(rule.name()).isEqualTo(expectedRow);
            assertThat(f3.rows()[f3.slot()[1]]).as(rule.name()).isEqualTo(0);
        }
    }

    /**
     * L = 1 is the per-token recurrence: read the dictionary and the token itself, then fold the token alone
     * (found a centroid while the schedule grows, else join the nearest and take the Newton step).
     */
    @Test
    void shouldReduceToThePerTokenRecurrenceWhenLIsOne() {
        int d = 3, tokens = 30, nMax = 6;
        OvqSpec spec = new OvqSpec(1, nMax, 12, OvqGrowth.LOG, null, null, null, null, null, null, null, null);
        SplittableRandom rng = new SplittableRandom(21);
        double[][] q = new double[tokens][], k = new double[tokens][], v = new double[tokens][];
        for (int t = 0; t < tokens; t++) {
            q[t] = OvqReference.unit(rng.doubles(d, -1, 1).toArray());
            k[t] = OvqReference.unit(rng.doubles(d, -1, 1).toArray());
            v[t] = rng.doubles(d, -1, 1).toArray();
        }
        double beta = 2.5;
        OvqHead head = new OvqHead(spec, d);
        List<double[]> mu = new ArrayList<>(), u = new ArrayList<>();
        List<Double> c = new ArrayList<>();
        for (int t = 0; t < tokens; t++) {
            double[] expected = new double[d];
            double den = Math.exp(beta * OvqReference.dot(q[t], k[t]));
            for (int i = 0; i < d; i++) expected[i] = den * v[t][i];
            for (int j = 0; j < mu.size(); j++) {
                double w = Math.exp(beta * OvqReference.dot(q[t], mu.get(j)));
                den += w * c.get(j);
                for (int i = 0; i < d; i++) expected[i] += w * u.get(j)[i];
            }
            double[] out = new double[d];
            head.step(q[t], 0, k[t], 0, v[t], 0, beta, out, 0, null);
            for (int i = 0; i < d; i++) assertThat(out[i]).as("t=%d", t).isCloseTo(expected[i] / den, within(1e-13));
            if (mu.size() < Math.min(nMax, spec.dictionaryTarget(t + 1))) {
                mu.add(k[t].clone());
                u.add(v[t].clone());
                c.add(1.0);
            } else {
                int j = OvqReference.assign(OvqAssignment.EUCLIDEAN, k[t], mu);
                double cNew = c.get(j) + 1;
                for (int i = 0; i < d; i++) {
                    mu.get(j)[i] += (k[t][i] - mu.get(j)[i]) / cNew;
                    u.get(j)[i] += v[t][i];
                }
                c.set(j, cNew);
            }
        }
        assertThat(mu).hasSize(nMax);
        assertThat(head.size()).isEqualTo(nMax);
    }
}
