/**
 * Training on the CPU: {@link org.ccalab.engine.train.Trainer} (one step = batch, forward, cross-entropy,
 * backward, global-norm clipping, AdamW at a warmup + cosine-to-10% learning rate), evaluation, and
 * {@link org.ccalab.engine.train.Checkpoint} (safetensors, F64, bit-exact resume). Determinism: every random
 * draw comes from {@link org.ccalab.engine.model.SplitMix64} streams derived from the run seed, every
 * kernel sums in a fixed order whatever the thread count, and transcendental functions go through
 * StrictMath; so a seed fixes the trajectory and a checkpoint resumes it exactly.
 */
package org.ccalab.engine.train;
