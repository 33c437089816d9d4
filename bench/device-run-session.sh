#!/usr/bin/env bash
# One device call covering a session's kernel changes: the Java `gpu` tests (every kernel against the float64
# CPU reference, launched from Java), the training-kernel and MLA checks, the forward core and 16k headline
# beside SDPA, and the whole-layer backward curve. Logs and JSON under $OUT.
# Usage on the device: bench/device-run-session.sh [layer-backward seqs] [headline rounds]
set -uo pipefail
bwd_seqs=${1:-4096,16384,65536}; rounds=${2:-5}
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
fb=.bundle/ccalab.fatbin
echo "== java gpu tests"; /tmp/b/bundle/bin/gpu-tests 2>&1 | tail -8 | tee "$out/gpu-tests.log"
echo "== training kernels"; python3 bench/check_training_kernels.py --fatbin $fb --out "$out" 2>&1 \
  | tee "$out/training.log" | grep -v '^PASS' | tail -25
echo "== mla"; python3 bench/check_mla.py --fatbin $fb --out "$out" --skip-timing 2>&1 | tee "$out/mla.log" | grep -v '^PASS' | tail -6
echo "== forward core + headline"; python3 bench/side_by_side.py --fatbin $fb --out "$out" --quick \
  --skip decode,gemm,prologue,bwd,layer --headline "$rounds" \
  --core-only "MHA 16x128,GQA 16q/4kv,CCA-4x 4q/4kv,CCGQA-4x 4q/2kv" 2>&1 \
  | tee "$out/side_by_side.log" | grep -v -e '^PASS' -e '^{' | tail -20
echo "== layer backward"; python3 bench/layer_backward.py --fatbin $fb --out "$out" --seqs "$bwd_seqs" 2>&1 \
  | tee "$out/layer_backward.log" | grep -v -e '^PASS' -e '^{' | tail -12
