package org.ccalab.api.system;

import java.util.LinkedHashMap;
import java.util.Map;

/** HAL-style {@code _links}: {@code {"self": {"href": "/api/runs/..."}}}. */
public final class Links {
    private Links() {}

    public record Href(String href) {}

    public static Map<String, Href> of(String... relAndHref) {
        Map<String, Href> out = new LinkedHashMap<>();
        for (int i = 0; i < relAndHref.length; i += 2) out.put(relAndHref[i], new Href(relAndHref[i + 1]));
        return out;
    }
}
