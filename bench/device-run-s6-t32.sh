#!/usr/bin/env bash
# Session 6, the 32-token CCA prologue blocks for short T (cca_prologue_hd{D}_t32): the Python twin's float64 checks
# (check_prologue runs fma, tc and tc32 on every case), both heights' kernel times under Nsight Compute, every Java
# `gpu` test (CudaCcaPrologueGpuTest: both heights bit for bit; the layer tests run the auto choice, t32 at their
# short T), CudaBenchCli's checks and the `paper` grid at short lengths.
set -uo pipefail
source bench/device-env.sh
timeout 100 python3 bench/side_by_side.py --fatbin .bundle/ccalab.fatbin --out "$out" --quick \
  --skip core,decode,gemm,layer,bwd,prologue > "$out/side_by_side.txt" 2>&1
echo "python checks rc=$? ($((SECONDS - t0)) s)"; grep -E "FAIL|CHECKS" "$out/side_by_side.txt" | head; grep -c "cca_prologue_tc32" "$out/side_by_side.txt"
timeout 60 ncu --metrics gpu__time_duration.sum -k regex:cca_prologue_hd python3 bench/profile_prologue_short.py \
  .bundle/ccalab.fatbin 512,2048,4096 tc,tc32 > "$out/ncu_time.txt" 2>&1
echo "ncu rc=$? ($((SECONDS - t0)) s)"
awk '/cca_prologue_hd[0-9_t]+ \(/{split($2,g,","); name=$1" "g[1]} /gpu__time_duration.sum/{print name, $3}' "$out/ncu_time.txt" \
  | awk '{k=$1" "$2; a[k]=a[k]" "$3} END{for(k in a) print k, a[k]}' | sort
echo "== java gpu tests"
gpu_tests 240
echo "== java CLI: check, paper (short lengths)"
timeout 150 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 512,2048 --phases check,paper > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head
sed -n '/== paper/,$p' "$out/cuda_bench.txt" | grep -E "^(-- head|MHA|CCA-4x|CCA-2x8x) " | cut -c1-120
