package org.ccalab.api.system;

import java.io.IOException;
import org.springframework.context.annotation.Configuration;
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
