package org.ccalab.common.sweep;

import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;

/**
 * Binds one variant config from parsed JSON (a map with its {@code family}) with the same rules and
 * field paths as a sweep, for endpoints that take a single variant (e.g. the cost model).
 */
public final class VariantBinder {
    private VariantBinder() {}

    /** @throws InvalidConfigException naming {@code path}.field at fault (e.g. {@code variant.nKvHeads}) */
    public static AttentionConfig bind(Object json, String path) {
        if (json == null) throw new InvalidConfigException(path, "is required");
        return RecordBinder.bindVariant(json, path);
    }
}
