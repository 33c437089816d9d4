# Sourced by the bench/device-run-*.sh scripts (on the device, from the repository root): $out (the tool's $OUT),
# the engine bundle unpacked at $b, the GPU's name / driver / clock / power, the CUDA and Python environment, the
# script's start time t0, and gpu_tests [LIMIT_S] (every Java `gpu`-tagged test of the bundle, summary lines printed).
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b
[ -f .bundle/engine-bundle.tar.xz ] && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b  # lab calls carry no bundle
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
b=/tmp/b/bundle
t0=$SECONDS
gpu_tests() {
  timeout "${1:-260}" $b/bin/gpu-tests > "$out/gpu-tests.txt" 2>&1; echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "✘|tests (successful|failed|found)|Expecting|Test run finished" "$out/gpu-tests.txt" | head -30
}
