package org.ccalab.api.support;

import java.util.Map;
import org.ccalab.api.system.ApiProperties;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** {@link ApiProperties} as bound from configuration, with its defaults and the given overrides. */
public final class TestProperties {
    private TestProperties() {}

    public static ApiProperties bind(Map<String, String> overrides) {
        return new Binder(new MapConfigurationPropertySource(overrides)).bindOrCreate("ccalab.api", ApiProperties.class);
    }
}
