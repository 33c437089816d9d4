#!/usr/bin/env bash
# Session 9: the tensor-core decode (decode_kernel's MMA path, dec::tensor_cores<D, G>) shipped in the v3 / SPIN
# instances, from Java: every `gpu` test (CudaDecodeMergeGpuTest: D 64/128/256 x G 1/2/4/8 x forced splits x merges),
# the CLI's checks, and its decode phase (graph replays over L2-cold sets).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s9.sh
set -uo pipefail
source bench/device-env.sh
echo "== java gpu tests"
gpu_tests 330
echo "== java CLI: check + decode"
timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check,decode > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -10
sed -n '/== decode/,$p' "$out/cuda_bench.txt" | head -40
