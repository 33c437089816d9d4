#!/usr/bin/env bash
# One device call that verifies everything correctness-related after a session's changes: the Java `gpu` tests
# (every kernel the backend launches vs the float64 CPU reference, MLA layer, GPU training vs the CPU trainer,
# CCA decode), the Python float64 checks (flash fwd/bwd, decode, prologue, CCA decode step), the training and MLA
# kernel checks, and the decode timings. Summaries on stdout, full logs under $OUT.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
fb=.bundle/ccalab.fatbin
echo "== java gpu tests"
/tmp/b/bundle/bin/gpu-tests > "$out/gpu-tests.log" 2>&1
grep -E "✘|tests (successful|failed|found)|Error|Exception:|expected|Expecting" "$out/gpu-tests.log" | head -40
grep -E "^(cca decode|GPU|gpu|mla|MLA|loss|step)" "$out/gpu-tests.log" | head -20
echo "== python checks + decode timing"
python3 bench/side_by_side.py --fatbin $fb --out "$out" --skip core,layer,gemm,prologue,bwd > "$out/side_by_side.log" 2>&1
grep -v -e '^PASS' -e '^{' "$out/side_by_side.log" | tail -16; grep -c '^PASS' "$out/side_by_side.log"
echo "== training kernels"; python3 bench/check_training_kernels.py --fatbin $fb --out "$out" --no-timing > "$out/training.log" 2>&1
grep -v '^PASS' "$out/training.log" | tail -4
echo "== mla"; python3 bench/check_mla.py --fatbin $fb --out "$out" --skip-timing > "$out/mla.log" 2>&1
grep -v '^PASS' "$out/mla.log" | tail -4
