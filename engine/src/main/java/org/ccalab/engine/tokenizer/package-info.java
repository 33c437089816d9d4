/** Tokenizers named by {@code TrainingSpec.tokenizer}: {@code bytes} (UTF-8 bytes + 2 specials) and {@code gpt2} (r50k_base BPE). */
package org.ccalab.engine.tokenizer;
