#!/usr/bin/env bash
# Session 4's final verification, one call, on the merged tree: the copy bandwidth (the decode target's
# denominator), every Java `gpu` test (decode SPIN merge, O residual, MLA layer backward and training, CCA at
# D=256 training), the Java benchmark CLI (checks, L2-cold decode incl. batch-1 few-KV-head cases, MLA, layers incl.
# backward) and the 16k forward headline beside PyTorch.
# Build first (here): bench/make-bundle.sh; copy .bundle/{engine-bundle.tar.xz,ccalab.fatbin} and this script's
# bench/ into a carried folder. Usage on the device: bench/device-run-s4.sh [headline rounds, 0 = none]
set -uo pipefail
rounds=${1:-3}
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/b && tar xJf .bundle/engine-bundle.tar.xz -C /tmp/b
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} PYTHONUNBUFFERED=1
fb=.bundle/ccalab.fatbin
echo "== device copy bandwidth (2 GiB bf16 copy_, read + write, CUDA events, median of 20)"
python3 - <<'PY' | tee "$out/copy.txt"
import torch
n = 1 << 30
a = torch.empty(n, dtype=torch.bfloat16, device="cuda").uniform_()
b = torch.empty_like(a)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
ts = []
for i in range(25):
    s.record(); b.copy_(a); e.record(); e.synchronize()
    if i >= 5: ts.append(s.elapsed_time(e))
ts.sort()
ms = ts[len(ts) // 2]
print(f"copy 2 GiB: {ms:.3f} ms, {2 * 2 * n / (ms * 1e-3) / 1e12:.3f} TB/s (read + write)")
PY
echo "== java gpu tests"
/tmp/b/bundle/bin/gpu-tests > "$out/gpu-tests.txt" 2>&1
grep -E "✘|tests (successful|failed|found)|Expecting" "$out/gpu-tests.txt" | head -40
echo "== java benchmark CLI (check, decode, mla, layer)"
/tmp/b/bundle/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases check,decode,mla,layer \
  > "$out/cuda_bench.txt" 2>&1
grep -v -e '^PASS' -e 'INFO' -e '^Nov' "$out/cuda_bench.txt" | grep -E "==|x128 T=|4kv T=|2kv T=|B=|FAIL|CHECKS|mla|MLA" | head -90
[ "$rounds" = 0 ] && exit 0
echo "== forward headline beside PyTorch (Python-launched)"
python3 bench/side_by_side.py --fatbin $fb --out "$out" --quick --skip check,decode,gemm,prologue,bwd \
  --headline "$rounds" --core-only "MHA 16x128,CCA-4x 4q/4kv" > "$out/side_by_side.txt" 2>&1
grep -v -e '^PASS' -e '^{' "$out/side_by_side.txt" | tail -12
