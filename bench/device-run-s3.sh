#!/usr/bin/env bash
# Session 3's final verification, one call, on the merged tree: every Java `gpu` test (wgmma forward and backward
# as the D=128 defaults, decode v3, D=256 / MLA backward, the Java CCA layer backward and CCA GPU training), the
# Java benchmark CLI (checks, the paper's core matrix, decode, layers incl. backward, gemm, MLA), the wgmma backward
# check beside FA2/cuDNN, the Python layer backward with the wgmma backward and the forward headline.
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s3.sh [headline rounds]
set -uo pipefail
rounds=${1:-5}
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
fb=.bundle/ccalab.fatbin
echo "== java gpu tests"
/tmp/b/bundle/bin/gpu-tests > "$out/gpu-tests.txt" 2>&1
grep -E "✘|tests (successful|failed|found)|Expecting|GPU loss mean|on wgmma|MHA 8x256|CCA-4x (BACKWARD|DECODE|FORWARD)" "$out/gpu-tests.txt" | head -40
echo "== java benchmark CLI"
/tmp/b/bundle/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384,65536 --phases check,core,decode,gemm,layer,mla \
  > "$out/cuda_bench.txt" 2>&1
grep -v -e '^PASS' -e 'INFO' -e '^Nov' "$out/cuda_bench.txt" | grep -E "==|x128 T=|4kv T=|2kv T=|B=|FAIL|CHECKS|M=|mla|MLA" | head -90
echo "== wgmma backward (check + timing beside FA2/cuDNN)"
python3 bench/check_wgmma_bwd.py --fatbin $fb --out "$out" --variants wgmma4 > "$out/check_wgmma_bwd.txt" 2>&1
grep -v -e '^PASS' -e '^{' "$out/check_wgmma_bwd.txt" | tail -14
echo "== layer backward (Python-launched, wgmma backward) and the forward headline"
python3 bench/layer_backward.py --fatbin $fb --out "$out" --seqs 4096,16384,65536 > "$out/layer_backward.txt" 2>&1
grep -v -e '^PASS' -e '^{' "$out/layer_backward.txt" | tail -9
python3 bench/side_by_side.py --fatbin $fb --out "$out" --quick --skip check,decode,gemm,prologue,bwd \
  --headline "$rounds" --core-only "MHA 16x128,CCA-4x 4q/4kv" > "$out/side_by_side.txt" 2>&1
grep -v -e '^PASS' -e '^{' "$out/side_by_side.txt" | tail -12
