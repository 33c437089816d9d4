package org.ccalab.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.utils.AppInfoParser;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * Docker does not run on the development machines, so the multi-host files are checked here as far as
 * possible without it: the compose file parses, every image target exists in the Dockerfile, every jar the
 * Dockerfile copies is one a module builds, workers reserve a GPU and hold no database credentials, and the
 * broker image runs the Kafka version the services' clients speak.
 */
class ComposeFileTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @SuppressWarnings("unchecked")
    private static Map<String, Object> services() throws IOException {
        Map<String, Object> compose = new Yaml().load(Files.readString(ROOT.resolve("docker-compose.yml")));
        return (Map<String, Object>) compose.get("services");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String key) {
        return (Map<String, Object>) ((Map<String, Object>) o).get(key);
    }

    @Test
    void composeHasTheMultiHostShape() throws IOException {
        assertThat(services()).containsKeys("postgres", "kafka", "api", "scheduler", "gpu-worker");
    }

    @Test
    void everyBuiltServiceNamesATargetOfTheDockerfile() throws IOException {
        String dockerfile = Files.readString(ROOT.resolve("docker/ccalab.Dockerfile"));
        for (String service : List.of("api", "scheduler", "gpu-worker")) {
            Map<String, Object> build = map(services().get(service), "build");
            assertThat(ROOT.resolve((String) build.get("dockerfile"))).exists();
            assertThat(dockerfile).contains("AS " + build.get("target") + "\n");
        }
    }

    @Test
    void theDockerfileCopiesOnlyJarsTheModulesBuild() throws IOException {
        String dockerfile = Files.readString(ROOT.resolve("docker/ccalab.Dockerfile"));
        Matcher jar = Pattern.compile("cp (\\S+)/target/\\S+-\\*-exec\\.jar").matcher(dockerfile);
        int copied = 0;
        while (jar.find()) {
            copied++;
            String pom = Files.readString(ROOT.resolve(jar.group(1)).resolve("pom.xml"));
            assertThat(pom).as(jar.group(1) + " builds an -exec jar").contains("<classifier>exec</classifier>");
        }
        assertThat(copied).isEqualTo(3);
    }

    @Test
    @SuppressWarnings("unchecked")
    void workersReserveAGpuEachAndHoldNoDatabaseCredentials() throws IOException {
        Object worker = services().get("gpu-worker");
        Map<String, Object> deploy = map(worker, "deploy");
        assertThat(deploy).containsKey("replicas");
        List<Map<String, Object>> devices = (List<Map<String, Object>>) map(map(deploy, "resources"), "reservations").get("devices");
        assertThat(devices).singleElement().satisfies(d -> {
            assertThat(d.get("driver")).isEqualTo("nvidia");
            assertThat((List<String>) d.get("capabilities")).contains("gpu");
        });
        assertThat(map(worker, "environment").keySet()).noneMatch(k -> k.contains("DATASOURCE"))
                .contains("SPRING_KAFKA_BOOTSTRAPSERVERS");
    }

    @Test
    void theBrokerImageRunsTheKafkaVersionOfTheClients() throws IOException {
        String image = (String) ((Map<String, Object>) services().get("kafka")).get("image");
        assertThat(image).isEqualTo("apache/kafka:" + AppInfoParser.getVersion());
    }
}
