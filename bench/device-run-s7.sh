#!/usr/bin/env bash
# Session 7: the D = 64 wgmma backward (attention/flash_bwd_wgmma_hd64.cuh), dispatched by CudaKernels.backwardVariant.
# Mode `lab` (first call): the Python float64 checks and timings of flash_bwd_hd64*_wgmma4 (2 stages) and _wgmma4s3
# (3 stages) beside the mma.sync kernel, FA2 and cuDNN (bench/check_wgmma_bwd.py --head-dim 64), then the D = 128
# kernel again (its per-tile steps were factored into helpers the D = 64 kernel shares: same math, checked and timed).
# Mode `java` (second call): every Java `gpu` test (CudaBackwardGpuTest now forces mma / wgmma at D = 64 too; the
# training and layer tests run D = 64 through the auto choice), CudaBenchCli's checks, the paper grid's backward
# column, and side_by_side's backward beside FA2 / cuDNN.
# Mode `final`: every Java `gpu` test and the CLI checks only (the deterministic backward's test included).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s7.sh [lab|java|final]
set -uo pipefail
mode=${1:-lab}
source bench/device-env.sh
if [ "$mode" = final ]; then  # the tree's last kernels: every gpu test (the deterministic backward's included), CLI checks
  echo "== java gpu tests"
  gpu_tests 280
  grep -E "CudaDeterministicBackwardGpuTest|deterministic" "$out/gpu-tests.txt" | head -5
  echo "== java CLI: check"
  timeout 150 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head
  exit 0
fi
if [ "$mode" = lab ]; then
  echo "== D = 64 wgmma backward: float64 checks, timing beside mma.sync / FA2 / cuDNN"
  timeout 300 python3 bench/check_wgmma_bwd.py --fatbin .bundle/ccalab.fatbin --out "$out/bwd64" --head-dim 64 \
    > "$out/check_bwd64.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|checks|CHECKS" "$out/check_bwd64.txt" | head -20
  sed -n '/TF\/s/,$p' "$out/check_bwd64.txt" | head -20
  echo "== D = 128 wgmma backward (shared helpers): checks and timing"
  timeout 200 python3 bench/check_wgmma_bwd.py --fatbin .bundle/ccalab.fatbin --out "$out/bwd128" --quick \
    --variants wgmma4 > "$out/check_bwd128.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|checks|CHECKS" "$out/check_bwd128.txt" | head -20
  sed -n '/TF\/s/,$p' "$out/check_bwd128.txt" | head -12
  exit 0
fi
echo "== java gpu tests"
gpu_tests 260
echo "== java CLI: check, paper"
timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases check,paper > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head
sed -n '/== paper/,$p' "$out/cuda_bench.txt" | grep -E "==|-- head|^(MHA|GQA-4|GQA-8|CCA-4x|CCA-2x8x) |paper" | cut -c1-160 | head -40
echo "== python twin: backward beside FA2 / cuDNN"
mkdir -p "$out/bwd" && timeout 120 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out/bwd" --quick \
  --skip core,decode,gemm,layer,prologue > "$out/side_by_side_bwd.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "FAIL|CHECKS" "$out/side_by_side_bwd.txt" | head
grep -v -e '^PASS' -e '^{' "$out/side_by_side_bwd.txt" | tail -16
echo "done ($((SECONDS - t0)) s)"
