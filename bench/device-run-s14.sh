#!/usr/bin/env bash
# Session 14: OVQ-attention on the GPU (attention/ovq.cuh). Carries the bundle (.bundle/engine-bundle.tar.xz).
#   ovq: the OVQ gpu tests (float64 oracle, decode == prefill, the engine's benchmark run), then the CLI's ovq phase
#        (its float64 checks; prefill and decode beside MHA at 1k-64k, 16 x 64 and 16 x 128)
#   verify: every Java `gpu` test of the bundle, then the CLI's checks
#   final: verify + the CLI's ovq phase
set -uo pipefail
mode=${1:-ovq}
seqs=${2:-1024,4096,16384,65536}
source bench/device-env.sh
if [ "$mode" = ovq ]; then
  timeout 300 $b/bin/gpu-tests --include-classname '.*CudaOvq.*' > "$out/gpu-tests-ovq.txt" 2>&1; echo "ovq tests rc=$? ($((SECONDS - t0)) s)"
  grep -E "✘|tests (successful|failed|found)|Expecting|OVQ|rel " "$out/gpu-tests-ovq.txt" | head -40
fi
if [ "$mode" = verify ] || [ "$mode" = final ]; then
  gpu_tests 420
  timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -20
fi
if [ "$mode" = ovq ] || [ "$mode" = final ]; then
  timeout 280 $b/bin/cuda-bench --out "$out/cuda_bench_ovq.json" --seqs "$seqs" --phases ovq > "$out/cuda_bench_ovq.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "ovq|OVQ|CHECKS|FAIL" "$out/cuda_bench_ovq.txt" | head -40
fi
pack_logs
