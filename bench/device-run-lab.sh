#!/usr/bin/env bash
# One device call for a flash-forward kernel-lab variant (run 13): float64 checks of every flash variant
# (shipped + --lab), the core beside FA2/cuDNN, and the 16k headline rounds with the lab variants forced into
# the CCA-4x / CCGQA-4x layers. Usage: bench/device-run-lab.sh LAB [rounds]   (LAB e.g. 2x32,1x128)
set -uo pipefail
lab=${1:?usage: device-run-lab.sh MTxBN[,...] [rounds]}; rounds=${2:-5}
out=${OUT:-/tmp/out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
PYTHONUNBUFFERED=1 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" \
  --skip bwd,decode,gemm,prologue,layer --lab "$lab" --headline "$rounds" \
  --core-only "MHA 16x128,GQA 16q/4kv,CCA-4x 4q/4kv,CCGQA-4x 4q/2kv,CCGQA 8q/2kv" 2>&1 \
  | tee "$out/side_by_side.log" | grep -v -e '^PASS' -e '^{'
