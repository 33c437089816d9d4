#!/usr/bin/env bash
# Session 6, one call: the D = 64 wgmma forward now dispatched (CudaKernels.flashVariant). Verifies it through every
# Java `gpu` test (CudaBackendGpuTest's float64 checks, CudaOResidualGpuTest's forced D = 64 wgmma / mma cases,
# the CCA layer and GPU training tests that run D = 64) and CudaBenchCli's checks, then times the attention core from
# Java (auto = wgmma at D = 64 and 128; mma forced at 16k for the same-call comparison) and PyTorch's FA2 / cuDNN at
# the same shapes (Python-launched twin, with its own float64 checks).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s6.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
b=/tmp/b/bundle
t0=$SECONDS
echo "== java gpu tests"
timeout 260 $b/bin/gpu-tests > "$out/gpu-tests.txt" 2>&1; echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "✘|tests (successful|failed|found)|Expecting|Test run finished" "$out/gpu-tests.txt" | head -30
grep -E "^D64|^D128|^D256|^MLA" "$out/gpu-tests.txt" | head -20
echo "== java benchmark CLI: check, core (auto)"
timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases check,core > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -v -e '^PASS' -e 'INFO' -e '^Nov' "$out/cuda_bench.txt" | grep -E "CHECKS|FAIL|x64|d64|16x128|==" | head -60
echo "== java core, mma forced (16k)"
timeout 60 $b/jre/bin/java -Xmx24g -Dccalab.flash.forward=mma --enable-native-access=ALL-UNNAMED -cp "$b/lib/*" \
  org.ccalab.engine.backend.cuda.CudaBenchCli --out "$out/cuda_bench_mma.json" --seqs 16384 --phases core \
  > "$out/cuda_bench_mma.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "x64|d64|16x128" "$out/cuda_bench_mma.txt" | grep -v backward | head -20
echo "== python twin: checks + core beside FA2 / cuDNN"
timeout 150 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" --quick \
  --skip decode,gemm,layer,prologue,bwd --core-only "MHA 32x64,MHA 16x128" > "$out/side_by_side.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -v -e '^PASS' -e '^{' "$out/side_by_side.txt" | tail -25
