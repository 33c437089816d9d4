#!/usr/bin/env bash
# Session 8: the wide wgmma backward (attention/flash_bwd_wgmma_wide.cuh: D = 256 and MLA 192 / 128) dispatched from
# Java, and the per-run deterministic backward (CudaEngine, CudaBackend.DETERMINISTIC_BACKWARD).
# Mode `final`: every Java `gpu` test (CudaBackwardGpuTest forces mma / wgmma at D = 256 too; CudaPerRunDeterministic-
# GpuTest) and CudaBenchCli's checks. Mode `paper`: the CLI's paper grid at 4k / 16k (the d 256 backward column) and
# its MLA cells (the core backward on the wgmma kernel).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s8.sh [final|paper]
set -uo pipefail
mode=${1:-final}
source bench/device-env.sh
if [ "$mode" = final ]; then
  echo "== java gpu tests"
  gpu_tests 330
  echo "== java CLI: check"
  timeout 150 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL|hd256.*wgmma|mla_bwd" "$out/cuda_bench.txt" | head -20
  exit 0
fi
echo "== java CLI: paper grid, MLA"
timeout 400 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases paper,mla > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
sed -n '/== paper/,$p' "$out/cuda_bench.txt" | grep -E "==|-- head|^(MHA|GQA-4|GQA-8|CCA-4x|CCA-2x8x) |paper|mla_bwd" | cut -c1-170 | head -60
