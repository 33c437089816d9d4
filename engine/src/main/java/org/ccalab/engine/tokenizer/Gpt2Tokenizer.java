package org.ccalab.engine.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * GPT-2's byte-level BPE (r50k_base, 50,257 tokens) from jtokkit, whose vocabulary ships inside its jar.
 * Special-token text such as {@code <|endoftext|>} in the input is encoded as ordinary text, so a corpus
 * cannot inject control tokens.
 */
public final class Gpt2Tokenizer implements Tokenizer {
    public static final int VOCAB_SIZE = 50_257;
    public static final int END_OF_TEXT = 50_256;

    // The registry parses the vocabulary once (~100 ms); every instance shares it.
    private static final Encoding ENCODING =
            Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    @Override
    public String name() {
        return "gpt2";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        return ENCODING.encodeOrdinary(text).toArray();
    }

    @Override
    public String decode(int[] tokens) {
        IntArrayList list = new IntArrayList(tokens.length);
        for (int t : tokens) {
            if (t < 0 || t >= VOCAB_SIZE) throw new IllegalArgumentException("token " + t + " outside [0, " + VOCAB_SIZE + ")");
            list.add(t);
        }
        return ENCODING.decode(list);
    }
}
