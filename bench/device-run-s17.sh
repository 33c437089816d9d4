#!/usr/bin/env bash
# Session 17: sliding-window flash kernels (the OVQ hybrid's SWA blocks). Modes, comma-separated, run in order:
#   swa:    the sliding-window gpu tests (float64 oracle, every layout, deterministic bits), then the GPU training tests
#           (the hybrid with swaWindow < seqLen one step vs float64, its 60-step curve)
#   ovq:    the CLI's ovq phase at $2 (OVQ prefill / backward / decode beside MHA, and SWA at the spec's window)
#   side:   bench/swa_side_by_side.py: the windowed kernels against float64 autograd (beside PyTorch's plain bf16 and
#           FlexAttention errors), then timed beside FlexAttention and full causal SDPA (16 heads, D 64 / 128)
#   bwdlab: per-phase clocks of the OVQ backward's chunk (bench/ovq_bwd_phase_lab.cu built locally into .lab, carried):
#           .lab/ovq_bwd_phase_lab (this tree) beside .lab/ovq_bwd_phase_lab_s16 (session 16's kernel), 16k, 16 heads
#   ovqtest: the OVQ gpu tests (the backward's gradients against float64 at every flag)
#   profile: ncu of one 16k launch of the windowed forward (W 512) and one of the causal forward, D 64 (bench/swa_profile.py):
#           speed of light, warp stalls, occupancy, per-launch figures side by side
#   det:    the deterministic backward gpu tests (mma.sync forced too), the sliding-window tests, the mma.sync
#           deterministic backward timed beside the plain one
#   sass:   ncu stall samples per SASS instruction (bench/ncu_source_top.py) of the windowed and the causal D 64 forward
#   checks: the CLI's check phase (every kernel's float64 checks)
#   verify: every Java `gpu` test of the bundle, then the CLI's checks
# carry: [".bundle/engine-bundle.tar.xz"] (bwdlab: and ".lab")
set -uo pipefail
modes=${1:-swa,ovq}
seqs=${2:-16384,65536}
source bench/device-env.sh
for mode in ${modes//,/ }; do
  case $mode in
    swatest)  # the sliding-window gpu tests only
      timeout 300 $b/bin/gpu-tests --include-classname '.*CudaSlidingWindowGpuTest' > "$out/gpu-tests-swa.txt" 2>&1
      echo "swa tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|^(mma|wgmma|deterministic) " "$out/gpu-tests-swa.txt" | head -40 ;;
    swa)
      timeout 300 $b/bin/gpu-tests --include-classname '.*CudaSlidingWindowGpuTest' > "$out/gpu-tests-swa.txt" 2>&1
      echo "swa tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|^(mma|wgmma|deterministic) " "$out/gpu-tests-swa.txt" | head -40
      timeout 420 $b/bin/gpu-tests --include-classname '.*GpuTrainingGpuTest' > "$out/gpu-tests-train.txt" 2>&1
      echo "train tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|Ovq|OVQ" "$out/gpu-tests-train.txt" | grep -vE "^\s+layers\." | head -40 ;;
    ovq)
      timeout 280 $b/bin/cuda-bench --out "$out/cuda_bench_ovq.json" --seqs "$seqs" --phases ovq > "$out/cuda_bench_ovq.txt" 2>&1
      echo "cli rc=$? ($((SECONDS - t0)) s)"
      grep -E "ovq|OVQ|SWA|CHECKS|FAIL" "$out/cuda_bench_ovq.txt" | head -40 ;;
    side)
      extract_fatbin
      timeout 400 python3 bench/swa_side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" > "$out/swa_side_by_side.txt" 2>&1
      echo "swa side by side rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|ms|device|Error|error" "$out/swa_side_by_side.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    bwdlab)
      for lab in .lab/ovq_bwd_phase_lab .lab/ovq_bwd_phase_lab_s16; do
        timeout 120 $lab 16384 16 > "$out/$(basename $lab).txt" 2>&1; echo "$(basename $lab) rc=$? ($((SECONDS - t0)) s)"
        cat "$out/$(basename $lab).txt"
      done ;;
    ovqtest)
      timeout 300 $b/bin/gpu-tests --include-classname '.*CudaOvq.*' > "$out/gpu-tests-ovq.txt" 2>&1
      echo "ovq tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|OVQ backward" "$out/gpu-tests-ovq.txt" | head -30 ;;
    profile)
      extract_fatbin
      ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
      timeout 240 $ncu --clock-control none --kernel-name regex:flash_fwd_hd64_causal_wgmma4 --launch-skip 2 --launch-count 2 \
        --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats \
        --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
        python3 bench/swa_profile.py --fatbin /tmp/ccalab.fatbin > "$out/ncu-swa.txt" 2>&1
      echo "ncu rc=$? ($((SECONDS - t0)) s)"
      grep -E "flash_fwd|Duration|Throughput|Stall|Warp Cycles|Issued|Achieved|Eligible|Active Warps|Registers|Block Limit|Pipe|Executed Ipc|No Eligible" "$out/ncu-swa.txt" | head -90 ;;
    det)  # the deterministic backward tests (wgmma and, since session 17, mma.sync forced), the windowed ones, and the
          # mma.sync deterministic backward timed beside the plain one (swa_side_by_side.py --det)
      timeout 300 $b/bin/gpu-tests --include-classname '.*(CudaDeterministicBackwardGpuTest|CudaSlidingWindowGpuTest)' \
        > "$out/gpu-tests-det.txt" 2>&1
      echo "det tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|^deterministic|differs" "$out/gpu-tests-det.txt" | head -40
      extract_fatbin
      timeout 200 python3 bench/swa_side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" --det > "$out/det_mma.txt" 2>&1
      echo "det timing rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|Error" "$out/det_mma.txt" | head ;;
    sass)  # ncu stall samples per SASS instruction of one 16k windowed (W 512) and one causal forward launch, D 64
      extract_fatbin
      ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
      for k in flash_fwd_hd64_causal_wgmma4_swa flash_fwd_hd64_causal_wgmma4; do
        timeout 200 $ncu --clock-control none --kernel-name $k --launch-skip 1 --launch-count 1 --section SourceCounters \
          --section WarpStateStats -o /tmp/$k -f python3 bench/swa_profile.py --fatbin /tmp/ccalab.fatbin > "$out/ncu-$k-run.txt" 2>&1
        echo "ncu $k rc=$? ($((SECONDS - t0)) s)"
        $ncu -i /tmp/$k.ncu-rep --page source --print-source sass --csv > "$out/sass-$k.csv" 2>&1
        $ncu -i /tmp/$k.ncu-rep --page details > "$out/ncu-$k.txt" 2>&1
        grep -E "Stall|stall" "$out/ncu-$k.txt" | head -12
        python3 bench/ncu_source_top.py "$out/sass-$k.csv" 24 | head -40
      done ;;
    checks)
      cli_checks ;;
    verify)
      gpu_tests 420
      cli_checks ;;
  esac
done
pack_logs
