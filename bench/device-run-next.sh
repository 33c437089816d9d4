#!/usr/bin/env bash
# What session 2 could not run for lack of device time, in one call: the Java `gpu` tests with the wgmma forward
# as the backend's D=128 default (and the restructured GPU-training loss-curve test), the Java benchmark CLI's
# paper matrix, the wgmma forward check, and the 16k headline and layer backward with the
# wgmma core in the layers. Build first (here): BUNDLE_MODULES default + bench/make-bundle.sh.
# Usage on the device: bench/device-run-next.sh [headline rounds]
set -uo pipefail
rounds=${1:-7}
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
fb=.bundle/ccalab.fatbin
echo "== java gpu tests (wgmma default)"
/tmp/b/bundle/bin/gpu-tests > "$out/gpu-tests.log" 2>&1
grep -E "✘|tests (successful|failed|found)|Expecting|GPU loss mean" "$out/gpu-tests.log" | head -30
grep -E "D=128 forward on" "$out/gpu-tests.log" | head -2
echo "== java benchmark CLI (paper matrix, 4k and 16k)"
/tmp/b/bundle/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases check,core,decode,layer \
  > "$out/cuda_bench.log" 2>&1
grep -v '^PASS' "$out/cuda_bench.log" | tail -60
# (its "wgmma v4 vs v6" step is gone: v6 was measured in session 7, 20 % slower, and removed from the fatbin)
echo "== wgmma forward check (v4, v5)"
python3 bench/check_wgmma.py --fatbin $fb --out "$out" > "$out/check_wgmma.log" 2>&1
grep -v '^PASS' "$out/check_wgmma.log" | tail -20
echo "== headline and layer backward with the wgmma core"
python3 bench/side_by_side.py --fatbin $fb --out "$out" --quick --skip check,decode,gemm,prologue,bwd \
  --headline "$rounds" --core-only "MHA 16x128,CCA-4x 4q/4kv" > "$out/side_by_side.log" 2>&1
grep -v -e '^PASS' -e '^{' "$out/side_by_side.log" | tail -16
python3 bench/layer_backward.py --fatbin $fb --out "$out" --seqs 4096,16384 > "$out/layer_backward.log" 2>&1
grep -v -e '^PASS' -e '^{' "$out/layer_backward.log" | tail -8
