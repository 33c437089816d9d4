# syntax=docker/dockerfile:1
# One build, three service images (targets api, scheduler, gpu-worker): the Maven build runs once and each
# target copies its module's runnable jar (<module>-*-exec.jar). Build context: the repository root.
#   docker build -f docker/ccalab.Dockerfile --target gpu-worker -t ccalab/gpu-worker .

# The build needs nvcc (the engine's kernels become a fatbin inside its jar; without nvcc the CUDA backend
# would have no kernels), JDK 25 and Node 20 (the dashboard is built inside Maven): CUDA's devel image with
# the other two copied in from their official images.
FROM nvidia/cuda:13.0.0-devel-ubuntu24.04 AS build
COPY --from=eclipse-temurin:25-jdk /opt/java/openjdk /opt/java/openjdk
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:20-bookworm-slim /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:$PATH
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.m2 \
    ./mvnw -B -q install -DskipTests -pl api,scheduler,gpu-worker -am \
 && mkdir /out \
 && cp api/target/api-*-exec.jar /out/api.jar \
 && cp scheduler/target/scheduler-*-exec.jar /out/scheduler.jar \
 && cp gpu-worker/target/gpu-worker-*-exec.jar /out/gpu-worker.jar

FROM eclipse-temurin:25-jre AS runtime
RUN useradd --system --uid 1001 ccalab
WORKDIR /app
# The context has no .git: the commit every run records comes in as a build argument (README).
ARG GIT_COMMIT=unknown
ENV JAVA_TOOL_OPTIONS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:MaxRAMPercentage=75 -Dccalab.git.commit=${GIT_COMMIT}"
USER ccalab

FROM runtime AS api
COPY --from=build /out/api.jar /app/app.jar
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/app.jar"]

FROM runtime AS scheduler
COPY --from=build /out/scheduler.jar /app/app.jar
ENTRYPOINT ["java", "-jar", "/app/app.jar"]

# cuBLAS is called through java.lang.foreign and must be in the image (/usr/local/cuda/lib64/libcublas.so.13,
# where the engine looks): CUDA's runtime image with the JRE copied in. The NVIDIA container runtime mounts
# the driver (libcuda); JCuda's own natives are in the jar.
FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04 AS gpu-worker
COPY --from=eclipse-temurin:25-jre /opt/java/openjdk /opt/java/openjdk
RUN useradd --system --uid 1001 ccalab && mkdir /checkpoints && chown ccalab /checkpoints
WORKDIR /app
ARG GIT_COMMIT=unknown
ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:$PATH CUDA_HOME=/usr/local/cuda \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    JAVA_TOOL_OPTIONS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:MaxRAMPercentage=75 -Dccalab.git.commit=${GIT_COMMIT}"
USER ccalab
COPY --from=build /out/gpu-worker.jar /app/app.jar
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
