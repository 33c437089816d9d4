#!/usr/bin/env bash
# Session 6, one call: the D = 64 wgmma forward now dispatched (CudaKernels.flashVariant). Verifies it through every
# Java `gpu` test (CudaBackendGpuTest's float64 checks, CudaOResidualGpuTest's forced D = 64 wgmma / mma cases,
# the CCA layer and GPU training tests that run D = 64) and CudaBenchCli's checks, then times the attention core from
# Java (auto = wgmma at D = 64 and 128; mma forced at 16k for the same-call comparison) and PyTorch's FA2 / cuDNN at
# the same shapes (Python-launched twin, with its own float64 checks).
# Mode `paper` (the second call): the copy bandwidth, CudaBenchCli's `paper` phase (cca.md section 9's grid: E = 2048,
# d 64/128/256, MHA, GQA-4, GQA-8, CCA-4x, CCA-2x8x, S 512..16k, latency of the forward non-causal / causal and the
# backward non-causal) and `layer` phase, PyTorch's FA2 / cuDNN MHA core at each head dim, and the CPU engine's
# MHA-vs-OVQ scaling curve on the device host's 16 cores (BenchCli --scaling, float64).
# Build first (here): bench/make-bundle.sh. Usage on the device: bench/device-run-s6.sh [d64|paper]
set -uo pipefail
mode=${1:-d64}
source bench/device-env.sh
if [ "$mode" = paper ]; then
  echo "== device copy bandwidth (2 GiB bf16 copy_, read + write, CUDA events, median of 20)"
  python3 -c '
import torch
n = 1 << 30
a = torch.empty(n, dtype=torch.bfloat16, device="cuda").uniform_(); b = torch.empty_like(a)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True); ts = []
for i in range(25):
    s.record(); b.copy_(a); e.record(); e.synchronize()
    if i >= 5: ts.append(s.elapsed_time(e))
ts.sort(); ms = ts[len(ts) // 2]
print(f"copy 2 GiB: {ms:.3f} ms, {4 * n / (ms * 1e-3) / 1e12:.3f} TB/s (read + write)")' | tee "$out/copy.txt"
  echo "== java benchmark CLI: paper, layer"
  timeout 300 $b/bin/cuda-bench --out "$out/cuda_bench_paper.json" --seqs 512,1024,2048,4096,8192,16384 --phases paper \
    > "$out/cuda_bench_paper.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  sed -n '/== paper/,$p' "$out/cuda_bench_paper.txt" | grep -E "==|--|paper at|16384|4096|method" | head -80
  if [ "${LAYER:-1}" = 1 ]; then
    timeout 120 $b/bin/cuda-bench --out "$out/cuda_bench_layer.json" --seqs 4096,16384 --phases layer \
      > "$out/cuda_bench_layer.txt" 2>&1
    echo "rc=$? ($((SECONDS - t0)) s)"
    sed -n '/== attention layer/,$p' "$out/cuda_bench_layer.txt" | head -30
  fi
  echo "== python twin: MHA core at each head dim beside FA2 / cuDNN"
  if [ "${LAYER:-1}" = 1 ]; then
    timeout 100 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" --quick \
      --skip check,decode,gemm,layer,prologue,bwd --core-only "MHA 32x64,MHA 16x128,MHA 8x256" > "$out/side_by_side.txt" 2>&1
    echo "rc=$? ($((SECONDS - t0)) s)"
    grep -v -e '^PASS' -e '^{' "$out/side_by_side.txt" | tail -10
  fi
  echo "== python twin: core backward beside FA2 / cuDNN (incl. D = 64, still mma.sync)"
  mkdir -p "$out/bwd" && timeout 120 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out/bwd" --quick \
    --skip check,core,decode,gemm,layer,prologue > "$out/side_by_side_bwd.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -v -e '^PASS' -e '^{' "$out/side_by_side_bwd.txt" | tail -16
  echo "== CPU engine: MHA vs OVQ scaling (float64, this host's cores)"
  timeout 120 $b/jre/bin/java -Xmx16g -cp "$b/lib/*" org.ccalab.engine.bench.BenchCli --scaling 2>&1 | tee "$out/cpu_scaling.txt"
  echo "done ($((SECONDS - t0)) s)"
  exit 0
fi
echo "== java gpu tests"
gpu_tests 260
grep -E "^D64|^D128|^D256|^MLA" "$out/gpu-tests.txt" | head -20
echo "== java benchmark CLI: check, core (auto)"
timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096,16384 --phases check,core > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -v -e '^PASS' -e 'INFO' -e '^Nov' "$out/cuda_bench.txt" | grep -E "CHECKS|FAIL|x64|d64|16x128|==" | head -60
echo "== java core, mma forced (16k)"
timeout 60 $b/jre/bin/java -Xmx24g -Dccalab.flash.forward=mma --enable-native-access=ALL-UNNAMED -cp "$b/lib/*" \
  org.ccalab.engine.backend.cuda.CudaBenchCli --out "$out/cuda_bench_mma.json" --seqs 16384 --phases core \
  > "$out/cuda_bench_mma.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "x64|d64|16x128" "$out/cuda_bench_mma.txt" | grep -v backward | head -20
echo "== python twin: checks + core beside FA2 / cuDNN"
timeout 150 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" --quick \
  --skip decode,gemm,layer,prologue,bwd --core-only "MHA 32x64,MHA 16x128" > "$out/side_by_side.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -v -e '^PASS' -e '^{' "$out/side_by_side.txt" | tail -25
