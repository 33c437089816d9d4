#!/usr/bin/env bash
# Session 6, after the CCA prologue's W-chunk loads were batched and issued one chunk ahead: every Java `gpu` test
# (the CCA layer, decode step and training tests run the prologue), CudaBenchCli's checks and `paper` phase at
# 512 / 2048 / 16384, the prologue's own kernel time per (D, T) under Nsight Compute (as bench/profile-prologue-device.sh
# measured before the change), and the Python twin's float64 checks (prologue, decode step, flash, backward).
set -uo pipefail
source bench/device-env.sh
ncu --metrics gpu__time_duration.sum -k regex:cca_prologue_hd python3 bench/profile_prologue_short.py .bundle/ccalab.fatbin \
  > "$out/ncu_time.txt" 2>&1
echo "ncu rc=$? ($((SECONDS - t0)) s)"; grep -E "cca_prologue_hd|gpu__time_duration" "$out/ncu_time.txt" | paste - - | awk '{print $1, $NF, $(NF-1)}' | head -30
echo "== java gpu tests"
gpu_tests 260
echo "== java CLI: check, paper"
timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 512,2048,16384 --phases check,paper > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head
sed -n '/== paper/,$p' "$out/cuda_bench.txt" | grep -E "^(-- head|MHA|CCA-4x|CCA-2x8x|GQA-8) " | cut -c1-120
echo "== python twin checks"
timeout 150 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" --quick \
  --skip core,decode,gemm,layer,bwd > "$out/side_by_side.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "FAIL|CHECKS" "$out/side_by_side.txt" | head
