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
# cli_checks: the CLI's check phase (every kernel's float64 checks at 4096 tokens), its summary lines printed
cli_checks() {
  timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -20
}
# extract_fatbin: the bundle's fatbin (inside its engine jar) to /tmp/ccalab.fatbin, for the Python checks
extract_fatbin() {
  python3 -c "import zipfile; open('/tmp/ccalab.fatbin', 'wb').write(zipfile.ZipFile('$b/lib/engine.jar').read('cuda/ccalab.fatbin'))"
}
# pack_logs: every .txt / .json under $out into $out/logs.tgz (the tool returns a few files only), then exit 0
pack_logs() {
  tar czf "$out/logs.tgz" -C "$out" $(cd "$out" && ls *.txt *.json 2>/dev/null)
  rm -f "$out"/*.txt "$out"/*.json
  exit 0
}
# bundle_checks (sessions 11-12): the bundle's gpu tests, check_mla's decode checks and timings, the CLI's checks and
# its decode and MLA phases
bundle_checks() {
  gpu_tests 420
  extract_fatbin
  timeout 200 python3 bench/check_mla.py --fatbin /tmp/ccalab.fatbin --decode-only --out "$out" > "$out/check_mla.txt" 2>&1
  echo "check_mla rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|SUMMARY|^decode B1 " "$out/check_mla.txt" | grep -v n32 | head -12
  timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check,decode,mla > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -10
  grep -E "^B= 1 " "$out/cuda_bench.txt" | head -30
}
