#!/usr/bin/env bash
# Session 13: MLA at any (d_qk, d_v) and latent / rope width (the prefill core padded onto the flash kernels, the
# padded "any" decode rings). Carries the bundle (.bundle/engine-bundle.tar.xz, bench/make-bundle.sh).
#   verify: every Java `gpu` test of the bundle, then the CLI's checks (float64 references, padded MLA included)
#   final: verify + timing in one call (the bundle of the session's last tree)
#   split: the CLI's MLA phase at 4k (the padded ring at one split per SM beside the rule's split)
#   last: verify + split (the tree with the padded ring's new split rule)
#   timing: the CLI's MLA phase (prefill core fwd / bwd at 4k and 16k, d_qk 192 / d_v 128 and head dim 64's padded
#           128 / 64; absorbed decode at r_kv 512 / 960 and the padded ring at 256) and the decode phase
set -uo pipefail
mode=${1:-verify}
source bench/device-env.sh
if [ "$mode" = verify ] || [ "$mode" = final ]; then
  gpu_tests 400
  timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL|padded|any_r" "$out/cuda_bench.txt" | head -40
  [ "$mode" = final ] || pack_logs
fi
if [ "$mode" = timing ] || [ "$mode" = final ]; then
  timeout 300 $b/bin/cuda-bench --out "$out/cuda_bench_timing.json" --seqs 4096,16384 --phases mla,decode \
    > "$out/cuda_bench_timing.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "copy|MLA|mla|T= *(4096|16384)|B= 1 " "$out/cuda_bench_timing.txt" | head -70
  pack_logs
fi
if [ "$mode" = split ] || [ "$mode" = last ]; then
  [ "$mode" = last ] && { gpu_tests 400; timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 \
    --phases check > "$out/cuda_bench.txt" 2>&1; echo "cli rc=$?"; grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head; }
  timeout 300 $b/bin/cuda-bench --out "$out/cuda_bench_split.json" --seqs 4096 --phases mla > "$out/cuda_bench_split.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "copy|r_kv 256|one per SM" "$out/cuda_bench_split.txt" | head -30
  pack_logs
fi
