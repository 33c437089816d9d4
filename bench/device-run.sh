#!/usr/bin/env bash
# One device call: unpack the engine bundle, run the `gpu` tests and the Java benchmark CLI, then the PyTorch
# side-by-side (our kernels launched from Python + SDPA + torch layers + torch.matmul) reading the Java JSON.
# Usage on the device: bench/device-run.sh [seqs] [side_by_side args...]; logs and JSON under $OUT.
set -uo pipefail
seqs=${1:-1024,4096,16384}; shift || true
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
/tmp/b/bundle/bin/gpu-tests 2>&1 | tail -8 | tee "$out/gpu-tests.log"
/tmp/b/bundle/bin/cuda-bench --out "$out/cuda_bench.json" --seqs "$seqs" 2>&1 | tee "$out/cuda_bench.log" | grep -v '^PASS'
PYTHONUNBUFFERED=1 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" \
  --java-json "$out/cuda_bench.json" "$@" 2>&1 | tee "$out/side_by_side.log" | grep -v -e '^PASS' -e '^{'
