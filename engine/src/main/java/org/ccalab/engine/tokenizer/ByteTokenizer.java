package org.ccalab.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 bytes as tokens 0..255, plus two specials: {@link #BOS} and {@link #EOS}. Decoding drops the
 * specials and replaces malformed UTF-8 (a window cut mid-character) with U+FFFD.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int BOS = 256;
    public static final int EOS = 257;
    public static final int VOCAB_SIZE = 258;

    @Override
    public String name() {
        return "bytes";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = bytes[i] & 0xFF;
        return ids;
    }

    @Override
    public String decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(tokens.length);
        for (int t : tokens) {
            if (t < 0 || t >= VOCAB_SIZE) throw new IllegalArgumentException("token " + t + " outside [0, " + VOCAB_SIZE + ")");
            if (t < 256) out.write(t);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
