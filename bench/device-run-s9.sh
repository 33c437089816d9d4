#!/usr/bin/env bash
# Session 9: the tensor-core decode (decode_kernel's MMA path, dec::tensor_cores<D, G>) shipped in the v3 / SPIN
# instances, from Java: every `gpu` test (CudaDecodeMergeGpuTest: D 64/128/256 x G 1/2/4/8 x forced splits x merges),
# the CLI's checks, and its decode phase (graph replays over L2-cold sets).
# Mode `det` (session 9, the D = 256 deterministic backward): the Python float64 / bit-identity checks and timings of
# every _det kernel (bench/check_deterministic_bwd.py), the plain D = 256 wgmma backward's float64 checks and timing
# (bench/check_wgmma_bwd.py, its codegen moved), then the Java `gpu` tests.
# Mode `decode`: the Java `gpu` tests only (after the D = 256 tensor-core decode).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s9.sh [final|det|decode]
set -uo pipefail
mode=${1:-final}
source bench/device-env.sh
if [ "$mode" = decode ]; then  # calls 13-15: the D = 256 tensor-core decode from Java
  echo "== java gpu tests"
  gpu_tests 330
  exit 0
fi
if [ "$mode" = det ]; then
  echo "== python: deterministic backward, D 64 / 128 / 256"
  timeout 200 python3 bench/check_deterministic_bwd.py --fatbin .bundle/ccalab.fatbin --out "$out" > "$out/det.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|ALL|PASSED|FAILED|d256|256|MHA|GQA" "$out/det.txt" | grep -v "^PASS" | head -40
  grep -c "^PASS" "$out/det.txt"
  echo "== python: plain wgmma backward D = 256"
  timeout 150 python3 bench/check_wgmma_bwd.py --fatbin .bundle/ccalab.fatbin --head-dim 256 --variants wgmma4 --out "$out" > "$out/bwd256.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -vE "^PASS" "$out/bwd256.txt" | tail -15
  echo "== java gpu tests"
  gpu_tests 330
  exit 0
fi
echo "== java gpu tests"
gpu_tests 330
echo "== java CLI: check + decode"
timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check,decode > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -10
sed -n '/== decode/,$p' "$out/cuda_bench.txt" | head -40
