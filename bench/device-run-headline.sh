#!/usr/bin/env bash
# One device call for issue 5's headline at compression 4 (CCA-4x and CCGQA-4x layers vs the best PyTorch MHA
# layer): Java bundle (correctness vs the CPU float64 layer + layer curve), then side_by_side.py (float64 checks,
# layer curve 1k..64k, the core and prologue of the compression-4 shapes, N alternating 16k headline rounds).
# Usage on the device: bench/device-run-headline.sh [rounds] [extra side_by_side args...]; logs under $OUT.
set -uo pipefail
rounds=${1:-5}; shift || true
out=${OUT:-/tmp/out}
seqs=1024,4096,16384,65536
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
/tmp/b/bundle/bin/gpu-tests 2>&1 | tail -8 | tee "$out/gpu-tests.log"
/tmp/b/bundle/bin/cuda-bench --out "$out/cuda_bench.json" --seqs "$seqs" --phases check,core,layer 2>&1 \
  | tee "$out/cuda_bench.log" | grep -v '^PASS'
PYTHONUNBUFFERED=1 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" \
  --java-json "$out/cuda_bench.json" --skip bwd,decode,gemm --layer-seqs "$seqs" --headline "$rounds" \
  --core-only "CCA-4x 4q/4kv,CCGQA-4x 4q/2kv,CCGQA-4x 4q/1kv,MHA 16x128" "$@" 2>&1 \
  | tee "$out/side_by_side.log" | grep -v -e '^PASS' -e '^{'
