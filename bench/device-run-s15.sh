#!/usr/bin/env bash
# Session 15: the OVQ prefill's chain (attention/ovq.cuh). Modes, comma-separated, run in order:
#   lab:    bench/ovq_phase_lab.cu (built here into .lab/ovq_phase_lab*, one binary per ovq.cuh variant, carried):
#           per-phase cycles of one block's 16k prefill chain, D 64 and 128, capped and growing chunks
#   ovq:    the OVQ gpu tests (float64 oracle, decode == prefill, the engine's benchmark run), then the CLI's ovq phase
#           (its float64 checks; prefill and decode beside MHA at $2, default 1k-64k)
#   verify: every Java `gpu` test of the bundle, then the CLI's checks
#   profile: ncu of one 16k prefill launch (bench/device-run-s14.sh profile)
#   labprof: ncu of the lab's first launch (D 64, 16k; .labprof/ovq_phase_lab_li built with -lineinfo, carried):
#            stall samples per opcode and per SASS region (bench/ncu_source_top.py)
# carry: [".bundle/engine-bundle.tar.xz", ".lab"] (the bundle only where a mode needs it)
set -uo pipefail
modes=${1:-lab,ovq}
seqs=${2:-1024,4096,16384,65536}
source bench/device-env.sh
for mode in ${modes//,/ }; do
  case $mode in
    lab)
      for lab in .lab/ovq_phase_lab*; do  # variants built from different ovq.cuh trees, for A/B timings
        name=$(basename $lab)
        timeout 120 $lab ${LAB_T:-16384} 16 > "$out/$name.txt" 2>&1; echo "$name rc=$? ($((SECONDS - t0)) s)"
        grep -vE "^  +3 -|clock|placement|^  +1[123] " "$out/$name.txt" | sed 's/cycles\/chunk//; s/  */ /g' 
      done ;;
    ovq)
      timeout 300 $b/bin/gpu-tests --include-classname '.*CudaOvq.*' > "$out/gpu-tests-ovq.txt" 2>&1
      echo "ovq tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting" "$out/gpu-tests-ovq.txt" | head -30
      timeout 280 $b/bin/cuda-bench --out "$out/cuda_bench_ovq.json" --seqs "$seqs" --phases ovq > "$out/cuda_bench_ovq.txt" 2>&1
      echo "cli rc=$? ($((SECONDS - t0)) s)"
      grep -E "ovq|OVQ|CHECKS|FAIL" "$out/cuda_bench_ovq.txt" | head -40 ;;
    profile)  # ncu of one 16k prefill launch of ovq_run_hd64 (session 14's profile mode; its logs in $out/profile)
      OUT=$out/profile PROFILE=prefill:26 bash bench/device-run-s14.sh profile 16384 | tail -45 ;;
    labprof)  # ncu per SASS instruction of the lab's first launch (D 64, 16k); .labprof/ovq_phase_lab_li built with -lineinfo
      ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
      timeout 240 $ncu --clock-control none --kernel-name regex:lab_run --launch-count 1 --section SourceCounters \
        --section WarpStateStats --section MemoryWorkloadAnalysis_Tables -o /tmp/labprof -f .labprof/ovq_phase_lab_li 16384 16 \
        > "$out/labprof-run.txt" 2>&1; echo "ncu rc=$? ($((SECONDS - t0)) s)"
      $ncu -i /tmp/labprof.ncu-rep --page source --print-source sass --csv > "$out/labprof-sass.csv" 2>&1
      python3 bench/ncu_source_top.py "$out/labprof-sass.csv" ;;
    verify)
      gpu_tests 420
      cli_checks ;;
  esac
done
pack_logs
