package org.ccalab.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.ccalab.common.validation.InvalidConfigException;
import org.junit.jupiter.api.Test;

class TokenizerTest {
    private static final String TEXT = "The jury said, \"naïve café\" — 42 × π ≈ 131.9 🙂\n<|endoftext|> tab\there.";

    @Test
    void bytesRoundTripUtf8() {
        Tokenizer t = Tokenizer.named("bytes");
        int[] ids = t.encode(TEXT);
        assertThat(java.util.Arrays.stream(ids).allMatch(i -> i >= 0 && i < 256)).isTrue();
        assertThat(ids.length).isGreaterThan(TEXT.length()); // multi-byte characters
        assertThat(t.decode(ids)).isEqualTo(TEXT);
        assertThat(t.vocabSize()).isEqualTo(258);
    }

    @Test
    void bytesDecodeDropsSpecials() {
        Tokenizer t = new ByteTokenizer();
        assertThat(t.decode(new int[] {ByteTokenizer.BOS, 'h', 'i', ByteTokenizer.EOS})).isEqualTo("hi");
    }

    @Test
    void gpt2RoundTripsAndMatchesKnownIds() {
        Tokenizer t = Tokenizer.named("gpt2");
        assertThat(t.vocabSize()).isEqualTo(50_257);
        // GPT-2's own ids for "Hello world" (tiktoken r50k_base).
        assertThat(t.encode("Hello world")).containsExactly(15496, 995);
        int[] ids = t.encode(TEXT);
        assertThat(java.util.Arrays.stream(ids).allMatch(i -> i >= 0 && i < 50_257)).isTrue();
        assertThat(ids).doesNotContain(Gpt2Tokenizer.END_OF_TEXT); // special text is not a control token
        assertThat(t.decode(ids)).isEqualTo(TEXT);
    }

    @Test
    void unknownTokenizerNamesTheField() {
        assertThatThrownBy(() -> Tokenizer.named("sentencepiece"))
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("tokenizer:");
    }

    @Test
    void decodeRefusesOutOfRangeIds() {
        assertThatThrownBy(() -> new ByteTokenizer().decode(new int[] {300}))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
