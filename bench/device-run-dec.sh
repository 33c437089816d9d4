#!/usr/bin/env bash
# Session 3, helper "dec": one device call that verifies decode v3, the D=256 backward and the MLA core backward.
# Expects (carried in .gl/dec): ccalab.fatbin, bwd_lab.fatbin (kernels-dev/bwd_lab.cu), engine-bundle.tar.xz,
# bench/ (this worktree's scripts). Usage on the device: bash .gl/dec/bench/device-run-dec.sh
set -uo pipefail
cd "$(dirname "$0")/.."   # .gl/dec
out=${OUT:-/tmp/out}
export PYTHONUNBUFFERED=1
mkdir -p "$out" /tmp/b && tar xJf engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
fb=ccalab.fatbin
echo "== python: side_by_side checks (flash, decode, prologue, backward incl. D=256) + backward timing"
timeout 150 python3 bench/side_by_side.py --fatbin $fb --out "$out" --skip core,layer,gemm,prologue,decode \
  > "$out/side_by_side.log" 2>&1
grep -v -e '^PASS' -e '^{' "$out/side_by_side.log" | tail -16
echo "== python: backward lab (the shipped staged kernels beside the unstaged ones, same call)"
timeout 120 python3 bench/bwd_lab.py --fatbin bwd_lab.fatbin --out "$out" > "$out/bwd_lab.log" 2>&1
grep -v '^PASS' "$out/bwd_lab.log" | tail -10
echo "== python: MLA checks (incl. core backward) and timing"
timeout 110 python3 bench/check_mla.py --fatbin $fb --out "$out" > "$out/check_mla.log" 2>&1
grep -E "^FAIL|SUMMARY|^backward|^prefill T16384" "$out/check_mla.log" | tail -14
echo "== java gpu tests: backend kernels vs float64 CPU (incl. decode, D=256 and MLA backward), MLA, CCA decode"
timeout 180 /tmp/b/bundle/bin/gpu-tests --include-classname '.*(CudaBackendGpuTest|CudaMlaGpuTest|CudaCcaDecodeGpuTest)' \
  > "$out/gpu-tests.log" 2>&1
grep -E "✘|tests (successful|failed|found)|Expecting" "$out/gpu-tests.log" | head -20
grep -E "mla core backward|flash_bwd .*d256|2x256" "$out/gpu-tests.log" | head -12
