/**
 * Command-line entry points: {@link org.ccalab.engine.cli.Main} dispatches {@code layer}
 * ({@link org.ccalab.engine.cli.LayerCli}), {@code train} and {@code bench}.
 */
package org.ccalab.engine.cli;
