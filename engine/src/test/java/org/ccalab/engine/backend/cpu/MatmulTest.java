package org.ccalab.engine.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The blocked, parallel products against the plain loops, on sizes that straddle every tile edge. */
class MatmulTest {
    private static double[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = r.nextDouble(-1, 1);
        return a;
    }

    @ParameterizedTest(name = "m={0} k={1} n={2}")
    @CsvSource({"1,1,1", "3,7,5", "17,129,33", "64,300,257", "5,260,513", "2,64,40"})
    void shouldEqualReferenceForEveryForm(int m, int k, int n) {
        ForkJoinPool pool = new ForkJoinPool(3);
        try {
            Matmul mm = new Matmul(new Parallel(pool));
            for (boolean acc : new boolean[] {false, true}) {
                double[] a = random(m * k, 1), b = random(k * n, 2), bt = random(n * k, 3), at = random(k * m, 4);
                double[] init = random(m * n, 5);
                double[][] got = {init.clone(), init.clone(), init.clone()};
                double[][] want = {init.clone(), init.clone(), init.clone()};
                mm.nn(got[0], 0, a, 0, b, 0, m, k, n, acc);
                ReferenceKernels.nn(want[0], a, b, m, k, n, acc);
                mm.nt(got[1], 0, a, 0, bt, 0, m, k, n, acc);
                ReferenceKernels.nt(want[1], a, bt, m, k, n, acc);
                mm.tn(got[2], 0, at, 0, b, 0, m, k, n, acc);
                ReferenceKernels.tn(want[2], at, b, m, k, n, acc);
                for (int f = 0; f < 3; f++)
                    for (int i = 0; i < m * n; i++)
                        assertThat(got[f][i]).as("form %d acc %s at %d", f, acc, i).isCloseTo(want[f][i], within(1e-12 * k));
            }
        } finally {
            pool.shutdown();
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @CsvSource({"1", "2", "5"})
    void shouldGiveBitIdenticalResultsForAnyThreadCount(int threads) {
        ForkJoinPool pool = new ForkJoinPool(threads);
        try {
            int m = 70, k = 300, n = 530;
            double[] a = random(m * k, 6), b = random(k * n, 7);
            double[] c = new double[m * n], serial = new double[m * n];
            new Matmul(new Parallel(pool)).nn(c, 0, a, 0, b, 0, m, k, n, false);
            ForkJoinPool one = new ForkJoinPool(1);
            new Matmul(new Parallel(one)).nn(serial, 0, a, 0, b, 0, m, k, n, false);
            one.shutdown();
            assertThat(c).isEqualTo(serial);
        } finally {
            pool.shutdown();
        }
    }
}
