/** {@link org.ccalab.engine.bench.BenchCli}: the CPU kernel benchmark (matmul, attention per variant, a training step). */
package org.ccalab.engine.bench;
