#!/usr/bin/env bash
# Builds the self-contained engine bundle for GPU hosts without a JDK (../shared/docs/gpu-machines.md):
#   .bundle/engine-bundle.tar.xz = bundle/{jre (jlink'd JDK 25), lib/*.jar (engine + runtime deps, fatbin
#   inside the engine jar), test/ (engine test classes + JUnit console, for the `gpu`-tagged tests),
#   bin/cuda-bench, bin/gpu-tests}
# Usage: bench/make-bundle.sh   (JAVA_HOME must be a JDK 25; nvcc must exist, or the bundle has no kernels)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
out=$root/.bundle
stage=$out/stage/bundle
rm -rf "$out/stage"
mkdir -p "$stage/lib" "$stage/test" "$stage/bin"

# package compiles the tests too (skipping only their run); SKIP_BUILD=1 reuses engine/target as it is. The kernels
# are skipped there: the fatbin below is built once, fresh, and put into the jar (building both took twice as long).
[ -n "${SKIP_BUILD:-}" ] || ./mvnw -B -q -pl engine package -DskipTests -Dkernels.skip
jar=$(ls engine/target/engine-*.jar | grep -v -e sources -e tests | head -1)
cp "$jar" "$stage/lib/engine.jar"
# engine/target is shared with concurrent builds (some skip the kernels): put a fresh fatbin in the copy.
bench/build-kernels.sh "$out/ccalab.fatbin"
(tmp=$(mktemp -d) && mkdir -p "$tmp/cuda" && cp "$out/ccalab.fatbin" "$tmp/cuda/" \
  && "$JAVA_HOME/bin/jar" --update --file "$stage/lib/engine.jar" -C "$tmp" cuda/ccalab.fatbin && rm -rf "$tmp")
./mvnw -B -q -pl engine dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$stage/lib"
# JCuda's natives jar carries every JCuda library (24 MB of it the PTX compiler); the driver API is all we use.
natives=$(ls "$stage"/lib/jcuda-natives-*.jar)
(tmp=$(mktemp -d) && cd "$tmp" && unzip -q "$natives" 'lib/libJCudaDriver-*' 'META-INF/*' && rm "$natives" \
  && "$JAVA_HOME/bin/jar" --create --file "$natives" --no-manifest -C "$tmp" . && rm -rf "$tmp")
./mvnw -B -q -pl engine dependency:copy-dependencies -DincludeScope=test -DincludeArtifactIds=assertj-core \
  -DoutputDirectory="$stage/test"
./mvnw -B -q -N dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:6.0.3 \
  -DoutputDirectory="$stage/test"
cp -r engine/target/test-classes "$stage/test/classes"

# The modules the CUDA bench and GPU tests need (java.net.http: the GPU training tests reach the corpus store;
# jdeps over the whole engine also asks for java.desktop and java.sql for other packages, +35 MB unpacked);
# override with BUNDLE_MODULES.
# java.xml: Jackson (SafeTensors' header) needs org.w3c.dom, e.g. for CcaLayerCaseDump run from the bundle (session 4).
mods=${BUNDLE_MODULES:-java.base,java.logging,jdk.unsupported,java.net.http,java.xml}
"$JAVA_HOME/bin/jlink" --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --output "$stage/jre"

cat > "$stage/bin/cuda-bench" <<'SH'
#!/usr/bin/env bash
# Runs the CUDA benchmark CLI with the bundled runtime. Arguments go to CudaBenchCli.
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/jre/bin/java" -Xmx24g --enable-native-access=ALL-UNNAMED -cp "$here/lib/*" \
  org.ccalab.engine.backend.cuda.CudaBenchCli "$@"
SH
cat > "$stage/bin/gpu-tests" <<'SH'
#!/usr/bin/env bash
# Runs the engine's tests tagged `gpu` (excluded from CI) with the bundled runtime and JUnit console.
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/jre/bin/java" -Xmx8g --enable-native-access=ALL-UNNAMED \
  -jar "$here/test/junit-platform-console-standalone-6.0.3.jar" execute \
  --class-path "$here/test/classes:$(ls "$here"/lib/*.jar "$here"/test/assertj-core-*.jar | tr '\n' ':')" \
  --scan-class-path "$here/test/classes" --include-tag gpu --details=tree "$@"
SH
chmod +x "$stage/bin/"*
echo "modules: $mods"
tar cJf "$out/engine-bundle.tar.xz" -C "$out/stage" bundle
rm -rf "$out/stage"
ls -la "$out/engine-bundle.tar.xz"
