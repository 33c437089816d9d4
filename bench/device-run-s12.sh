#!/usr/bin/env bash
# Session 12. Mode `merge` (no bundle; carry .gl with two lab fatbins built here):
#   git stash; nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/decode_floor_old.fatbin \
#     kernels-dev/decode_floor.cu; git stash pop
#   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/decode_floor.fatbin kernels-dev/decode_floor.cu
# the decode's block merge before (old) and after (new) a change to attention/decode.cuh, alternating, float64
# checks, L2-cold timings of the shipped SPIN instance (mmashare in the lab) and milestone traces (clock64 cycles).
# Later modes (calls 2-8): flag, mlaunr, f16, verify, notrace, mlatrace, final; each says what it carries.
set -uo pipefail
mode=${1:-merge}
source bench/device-env.sh
ab_floor() {  # $1: D, then two labelled lab fatbins ($2 $3, $4 $5), alternating, ${REPS:-2} rounds
  local d=$1 labels=("$2" "$4") fbs=("$3" "$5") r i f
  for r in $(seq 1 "${REPS:-2}"); do
    for i in 0 1; do
      f=${labels[$i]}
      timeout 150 python3 bench/decode_floor.py --fatbin "${fbs[$i]}" --floor-only --head-dim $d \
        --variants ${DECODE_VARIANTS:-mmashare:1} --out "$out" > "$out/floor_d${d}_${f}_$r.txt" 2>&1
      echo "D=$d $f round $r rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/floor_d${d}_${f}_$r.txt")"
      grep "L=\|FAIL\|ALL" "$out/floor_d${d}_${f}_$r.txt" | grep -v "4q/4kv" | sed 's/ | flash.*//; s/read_t[^|]*| //; s/xchg_t[^|]*| //' | tail -6
    done
  done
}
ab_trace() {  # $1: D
  for f in old new; do
    fb=.gl/decode_floor.fatbin; [ $f = old ] && fb=.gl/decode_floor_old.fatbin
    timeout 90 python3 bench/decode_floor.py --fatbin $fb --trace-only --head-dim $1 --trace-kinds mmashare \
      --out "$out" > "$out/trace_d$1_$f.txt" 2>&1
    echo "trace D=$1 $f rc=$?"; grep -A1 "^trace" "$out/trace_d$1_$f.txt" | head -16
  done
}
if [ "$mode" = flag ]; then  # call 2: the shipped SPIN merge (mmashare) beside per-split flags (mmaflag, SPIN = 4:
  # measured slower and removed; its code is in git history at 0e3300b)
  for d in ${DECODE_DIMS:-256 128}; do
    timeout 200 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --floor-only --head-dim $d \
      --variants ${DECODE_VARIANTS:-mmashare:1,mmaflag:1,mmashare:1,mmaflag:1} --out "$out" > "$out/floor_d$d.txt" 2>&1
    echo "D=$d rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/floor_d$d.txt") FAIL $(grep -c 'FAIL' "$out/floor_d$d.txt")"
    grep "L=\|ALL" "$out/floor_d$d.txt" | grep -v "4q/4kv" | sed 's/ | flash.*//' | tail -7
    cp "$out/decode_floor.json" "$out/floor_d$d.json"
  done
  for d in ${TRACE_DIMS:-256 128}; do
    timeout 90 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --trace-only --head-dim $d \
      --trace-kinds mmashare,mmaflag --out "$out" > "$out/trace_d$d.txt" 2>&1
    echo "trace D=$d rc=$?"; grep -A1 "^trace" "$out/trace_d$d.txt" | grep -v "^--" | cut -c1-400 | head -16
  done
  pack_logs
fi
if [ "$mode" = mlaunr ]; then  # call 3: MLA's fused merge, old (.gl/mla_ring_old.fatbin) vs new, alternating
  for r in $(seq 1 "${REPS:-2}"); do
    for f in old new; do
      fb=.gl/mla_ring.fatbin; [ $f = old ] && fb=.gl/mla_ring_old.fatbin
      timeout 200 python3 bench/mla_decode_ring_lab.py --fatbin $fb --exact --out "$out" > "$out/mla_${f}_$r.txt" 2>&1
      echo "MLA $f round $r rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/mla_${f}_$r.txt") FAIL $(grep -c FAIL "$out/mla_${f}_$r.txt")"
      grep -vE "^PASS|^-- checks" "$out/mla_${f}_$r.txt" | grep -i "share\|trace\|B=1\|B1" | head -14
    done
  done
  pack_logs
fi
if [ "$mode" = f16 ]; then  # call 4: MLA's fused merge with fp32 vs fp16 partials (dropped; code at 8e43674)
  timeout 300 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --f16 --out "$out" > "$out/mla_f16.txt" 2>&1
  echo "MLA f16 rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/mla_f16.txt") FAIL $(grep -c FAIL "$out/mla_f16.txt")"
  grep -E "^MLA decode|^trace|CHECKS|^FAIL" "$out/mla_f16.txt" | cut -c1-400 | head -20
  pack_logs
fi
if [ "$mode" = verify ]; then  # call 5: the bundle (this session's shipped changes), then D = 256 ring stages (lab)
  bundle_checks
  timeout 150 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --floor-only --head-dim 256 \
    --variants mma:1,mma_s3:1,mma_s4:1,mma:1,mma_s3:1,mma_s4:1 --out "$out" > "$out/stages_d256.txt" 2>&1
  echo "stages D=256 rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/stages_d256.txt") FAIL $(grep -c FAIL "$out/stages_d256.txt")"
  grep "L=" "$out/stages_d256.txt" | grep -v "4q/4kv" | sed 's/ | flash.*//; s/read_t[^|]*| //; s/xchg_t[^|]*| //' | tail -6
  pack_logs
fi
if [ "$mode" = notrace ]; then  # call 6: the lab's decode instances with and without the trace stamps, alternating
  # nvcc ... -DDECODE_NO_TRACE -o .gl/decode_floor_notrace.fatbin kernels-dev/decode_floor.cu (and the traced one)
  for d in 256 128; do ab_floor $d traced .gl/decode_floor.fatbin notrace .gl/decode_floor_notrace.fatbin; done
  pack_logs
fi
if [ "$mode" = mlatrace ]; then  # call 7: MLA's fused merge with two more stamps (loads consumed, groups in smem)
  timeout 200 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --exact --out "$out" > "$out/mla_trace.txt" 2>&1
  echo "MLA rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/mla_trace.txt") FAIL $(grep -c FAIL "$out/mla_trace.txt")"
  grep -E "^MLA decode|^trace" "$out/mla_trace.txt" | cut -c1-500
  pack_logs
fi
if [ "$mode" = final ]; then  # call 8: the final tree's bundle, the MLA lab's A/B helper, the untraced decode lab
  bundle_checks
  timeout 120 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --exact --out "$out" > "$out/mla_exact.txt" 2>&1
  echo "MLA lab rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/mla_exact.txt") FAIL $(grep -c FAIL "$out/mla_exact.txt")"
  grep -E "^MLA decode" "$out/mla_exact.txt" | cut -c1-200
  for d in 256 128; do
    timeout 100 python3 bench/decode_floor.py --fatbin .gl/decode_floor_notrace.fatbin --floor-only --head-dim $d \
      --variants mmashare:1 --out "$out" > "$out/floor_d$d.txt" 2>&1
    echo "D=$d rc=$? PASS $(grep -c '^PASS' "$out/floor_d$d.txt")"; grep "L= 16384" "$out/floor_d$d.txt" | sed 's/ | flash.*//'
  done
  pack_logs
fi
if [ "$mode" = detcca ]; then  # call 9: the CCA prologue backward without atomics (bundle): gpu tests, the Python
  # layer-backward checks (its twin launches cca_bwd_head with per-token rows), the CLI's layer phase at 16k
  gpu_tests 420
  extract_fatbin
  timeout 150 python3 bench/layer_backward.py --fatbin /tmp/ccalab.fatbin --seqs 4096 --out "$out" > "$out/layer_backward.txt" 2>&1
  echo "layer_backward rc=$? ($((SECONDS - t0)) s)"; grep -E "FAIL|ALL|^\| 4096" "$out/layer_backward.txt" | head -8
  timeout 150 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 16384 --phases layer > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"; grep -E "T= 16384" "$out/cuda_bench.txt" | head -16
  pack_logs
fi
if [ "$mode" = smid ]; then  # call 10: is the stream's slow tail the same SMs every launch? (.gl/stream_smid.fatbin)
  timeout 200 python3 bench/stream_smid_lab.py --fatbin .gl/stream_smid.fatbin --out "$out" > "$out/stream_smid.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"; cat "$out/stream_smid.txt" | tail -8
  pack_logs
fi
if [ "$mode" = pychecks ]; then  # call 11: the final fatbin (call 9's bundle) through every Python float64 check
  extract_fatbin
  timeout 300 python3 bench/side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" --skip core,decode,layer,gemm \
    > "$out/side_by_side.txt" 2>&1
  echo "side_by_side rc=$? ($((SECONDS - t0)) s) PASS $(grep -c '^PASS' "$out/side_by_side.txt") FAIL $(grep -c FAIL "$out/side_by_side.txt")"
  grep -E "CHECKS|^FAIL" "$out/side_by_side.txt" | head -5
  timeout 150 python3 bench/check_training_kernels.py --fatbin /tmp/ccalab.fatbin --out "$out" --no-timing > "$out/training.txt" 2>&1
  echo "training rc=$? PASS $(grep -c '^PASS' "$out/training.txt") FAIL $(grep -c FAIL "$out/training.txt")"
  timeout 200 python3 bench/check_mla.py --fatbin /tmp/ccalab.fatbin --out "$out" --skip-timing > "$out/mla.txt" 2>&1
  echo "mla rc=$? ($((SECONDS - t0)) s)"; grep -E "SUMMARY|^FAIL" "$out/mla.txt" | head -5
  pack_logs
fi
if [ "$mode" = merge ]; then
  for d in ${DECODE_DIMS:-256 128}; do ab_floor $d old .gl/decode_floor_old.fatbin new .gl/decode_floor.fatbin; done
  for d in ${TRACE_DIMS:-256 128}; do ab_trace $d; done
  pack_logs
fi
echo "unknown mode $mode"; exit 2
