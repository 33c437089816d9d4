package org.ccalab.api.system;

import java.io.IOException;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.type.LogicalType;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.Resource;
import org.springframework.web.servlet.config.annotation.CorsRegistry;
import org.springframework.web.servlet.config.annotation.ResourceHandlerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.resource.PathResourceResolver;

/**
 * Serves the dashboard (the {@code org.ccalab:dashboard} jar's {@code static/}) at {@code /}, with the
 * single-page-app fallback: a path that is neither a file nor under {@code api/} gets {@code index.html},
 * so a deep link such as {@code /runs/42} survives a reload. CORS stays off unless origins are configured.
 */
@Configuration(proxyBeanMethods = false)
class WebConfig implements WebMvcConfigurer {
    private final ApiProperties properties;

    WebConfig(ApiProperties properties) {
        this.properties = properties;
    }

    @Override
    public void addResourceHandlers(ResourceHandlerRegistry registry) {
        registry.addResourceHandler("/**")
                .addResourceLocations("classpath:/static/")
                .resourceChain(true)
                .addResolver(new SpaFallbackResolver());
    }

    @Override
    public void addCorsMappings(CorsRegistry registry) {
        var origins = properties.cors().allowedOrigins();
        if (origins.isEmpty()) return;
        registry.addMapping("/api/**").allowedOrigins(origins.toArray(String[]::new))
                .allowedMethods("GET", "POST", "OPTIONS").exposedHeaders("Location");
    }

    /**
     * Strict JSON for request bodies: a value of the wrong JSON type is refused, not coerced ({@code "priority": "7"},
     * {@code "priority": 7.9}, {@code "name": 5}), and a property given twice in one object is refused, not
     * last-wins. The sweep parts (variants, grid, base spec) are bound by the common RecordBinder with the same
     * rules. This mapper is the api's own (its Spring context's): it reads HTTP bodies and, as trees, the JSON the api
     * stored itself (jsonb, which has neither duplicates nor coercion); Kafka payloads are read by the scheduler and
     * the workers with their own mappers, which this does not touch.
     */
    @Bean
    static JsonMapperBuilderCustomizer strictRequestJson() {
        return builder -> builder
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .withCoercionConfig(LogicalType.Textual, c -> c
                        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail));
    }

    static final class SpaFallbackResolver extends PathResourceResolver {
        @Override
        protected Resource getResource(String resourcePath, Resource location) throws IOException {
            if (!resourcePath.isEmpty()) {
                Resource requested = location.createRelative(resourcePath);
                if (requested.exists() && requested.isReadable()) return requested;
            }
            // Unknown api paths must stay 404 problems, and a missing asset must not turn into HTML.
            if (resourcePath.startsWith("api/") || resourcePath.equals("api") || resourcePath.contains(".")) return null;
            Resource index = new ClassPathResource("static/index.html");
            return index.exists() ? index : null;
        }
    }
}
