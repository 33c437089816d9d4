#!/usr/bin/env bash
# Session 11. Mode `arrive` (no bundle; carry .gl with the lab fatbins built here):
#   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/mla_ring.fatbin kernels-dev/mla_decode_ring_lab.cu
#   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/decode_floor.fatbin kernels-dev/decode_floor.cu
# the SPIN merges' arrival through group_arrive_share (one 64-bit counter, no epoch release) beside the shipped
# group_arrive_epoch: MLA's fused merge (bench/mla_decode_ring_lab.py --share) and the GQA tensor-core decode
# (bench/decode_floor.py --variants mma:1,mmashare:1), float64 checks, L2-cold timings and milestone traces.
set -uo pipefail
mode=${1:-arrive}
source bench/device-env.sh
mla_share_lab() {  # $1: the log's name under $out
  echo "== MLA fused merge: epoch vs share"
  timeout 240 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --share --out "$out" > "$out/$1" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -vE "^PASS|^-- checks" "$out/$1" | tail -24
  grep -c "^PASS" "$out/$1"
}
if [ "$mode" = arrive ]; then
  mla_share_lab mla_share.txt
  for d in ${DECODE_DIMS:-256 128}; do
    echo "== decode D = $d: mma vs mmashare"
    timeout 170 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --floor-only --head-dim $d \
      --variants ${DECODE_VARIANTS:-mma:1,mmashare:1,mma:1,mmashare:1} --out "$out" > "$out/floor_d$d.txt" 2>&1
    echo "rc=$? ($((SECONDS - t0)) s)"
    grep "L=\|FAIL\|ALL" "$out/floor_d$d.txt" | tail -10
    grep -c "^PASS" "$out/floor_d$d.txt"
    cp "$out/decode_floor.json" "$out/floor_d$d.json"
  done
  timeout 90 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --trace-only --head-dim 256 \
    --trace-kinds mma,mmashare --out "$out" > "$out/trace_d256.txt" 2>&1
  echo "trace rc=$?"; grep "^trace" "$out/trace_d256.txt"
  tar czf "$out/logs.tgz" -C "$out" mla_share.txt mla_decode_ring_share.json floor_d256.txt floor_d128.txt \
    floor_d256.json floor_d128.json trace_d256.txt decode_trace_d256.json 2>/dev/null
  rm -f "$out"/*.txt "$out"/*.json
  exit 0
fi
if [ "$mode" = steal ]; then
  # calls 2-6: MLA's tiles dealt by tickets (the lab's STEAL variants, dropped: their code is in git history at
  # a2104a6) + call 2's bundle (the share arrival shipped); now the share lab and, with a bundle, its verification
  mla_share_lab mla_steal.txt
  [ -f .bundle/engine-bundle.tar.xz ] && bundle_checks
  pack_logs
fi
if [ "$mode" = verify ]; then  # the bundle's Java gpu tests (the counters' invariant after every fused / SPIN call)
  gpu_tests 420
  grep -cE "counter .* (low word|launches)" "$out/gpu-tests.txt"
  tar czf "$out/logs.tgz" -C "$out" gpu-tests.txt && rm -f "$out/gpu-tests.txt"
  exit 0
fi
if [ "$mode" = final ]; then  # the final tree: the bundle's checks, then the labs
  bundle_checks
  mla_share_lab mla_share.txt
  for d in 256 128; do
    timeout 170 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --floor-only --head-dim $d \
      --variants mma:1,mmashare:1 --out "$out" > "$out/floor_d$d.txt" 2>&1
    echo "D=$d rc=$?"; grep "L= 16384\|FAIL\|ALL" "$out/floor_d$d.txt" | tail -4
  done
  pack_logs
fi
echo "unknown mode $mode"; exit 2
