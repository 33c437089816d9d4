#!/usr/bin/env bash
# Session 14: OVQ-attention on the GPU (attention/ovq.cuh). Carries the bundle (.bundle/engine-bundle.tar.xz).
#   ovq: the OVQ gpu tests (float64 oracle, decode == prefill, the engine's benchmark run), then the CLI's ovq phase
#        (its float64 checks; prefill and decode beside MHA at 1k-64k, 16 x 64 and 16 x 128)
#   verify: every Java `gpu` test of the bundle, then the CLI's checks
#   final: verify + the CLI's ovq phase
#   profile: the ovq phase's timing, then ncu (counters, warp stalls, SASS hot spots) of one 16k prefill launch and one
#            decode step of ovq_run_hd64 (launch indices counted from CudaOvqCli's checks and timing order; PROFILE="decode:49"
#            picks one)
set -uo pipefail
mode=${1:-ovq}
seqs=${2:-1024,4096,16384,65536}
source bench/device-env.sh
if [ "$mode" = ovq ]; then
  timeout 300 $b/bin/gpu-tests --include-classname '.*CudaOvq.*' > "$out/gpu-tests-ovq.txt" 2>&1; echo "ovq tests rc=$? ($((SECONDS - t0)) s)"
  grep -E "✘|tests (successful|failed|found)|Expecting|OVQ|rel " "$out/gpu-tests-ovq.txt" | head -40
fi
if [ "$mode" = verify ] || [ "$mode" = final ]; then
  gpu_tests 420
  timeout 170 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -20
fi
if [ "$mode" = ovq ] || [ "$mode" = final ]; then
  timeout 280 $b/bin/cuda-bench --out "$out/cuda_bench_ovq.json" --seqs "$seqs" --phases ovq > "$out/cuda_bench_ovq.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "ovq|OVQ|CHECKS|FAIL" "$out/cuda_bench_ovq.txt" | head -40
fi
if [ "$mode" = profile ]; then
  timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench_ovq.json" --seqs "$seqs" --phases ovq > "$out/cuda_bench_ovq.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "T=|CHECKS|FAIL" "$out/cuda_bench_ovq.txt" | head -20
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  for what in ${PROFILE:-prefill:26 decode:49}; do
    name=${what%%:*}; skip=${what##*:}
    timeout 200 $ncu --clock-control none --target-processes all --kernel-name regex:ovq_run_hd64 --launch-skip $skip \
      --launch-count 1 --section LaunchStats --section Occupancy --section SpeedOfLight --section WarpStateStats \
      --section SchedulerStats --section SourceCounters --section MemoryWorkloadAnalysis -o /tmp/ovq-$name -f \
      $b/bin/cuda-bench --out /tmp/p.json --seqs 16384 --phases ovq --reps 3 > "$out/ncu-run-$name.txt" 2>&1
    echo "ncu $name rc=$? ($((SECONDS - t0)) s)"
    $ncu -i /tmp/ovq-$name.ncu-rep --page details > "$out/ncu-$name-details.txt" 2>&1
    $ncu -i /tmp/ovq-$name.ncu-rep --page source --print-source sass --csv > "$out/ncu-$name-source.csv" 2>&1
    grep -E "Duration|Cluster|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|No Eligible|Block Limit|Waves" \
      "$out/ncu-$name-details.txt" | head -24
    python3 - "$out/ncu-$name-source.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = next(i for i, r in enumerate(rows) if any('Source' == c for c in r))
h = rows[hdr]; data = rows[hdr + 1:]
si = h.index('Source'); col = next(i for i, c in enumerate(h) if c.startswith('Warp Stall Sampling (All'))
tot = sum(float(r[col] or 0) for r in data if len(r) > col)
top = sorted((r for r in data if len(r) > col), key=lambda r: -float(r[col] or 0))[:30]
print('total stall samples', tot)
for r in top: print(f"{float(r[col])/tot*100:5.1f}%  {r[0]:>6}  {r[si][:110]}")
why = {}
for i, c in enumerate(h):
    if c.startswith('stall_') and '(Not Issued)' not in c:
        why[c] = sum(float(r[i] or 0) for r in data if len(r) > i)
print('stall reasons:', ', '.join(f"{k[6:]} {v / tot * 100:.0f}%" for k, v in sorted(why.items(), key=lambda x: -x[1])[:8]))
PY
  done
fi
pack_logs
