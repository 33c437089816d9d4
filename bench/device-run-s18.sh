#!/usr/bin/env bash
# Session 18: persistent wgmma forward blocks ("_wgmma4p", FwdWalk). Modes, comma-separated, run in order:
#   persist: bench/persist_lab.py: the persistent instances equal v4 bit for bit (O, O's residual, LSE; causal, full,
#            windowed, grouped, ragged, batched), then v4 / v4p / cuDNN timed (16 heads, D 64 / 128, $2's lengths)
#            on .lab/lab90a.fatbin when carried (sm_90a only, built locally), else the bundle's fatbin
#   sass:    cuobjdump -sass of the D 64 / 128 full forwards v4, v4p, v4r (for a diff of their tile loops)
#   ab:      bench/ab_fatbins.py: two builds (.lab/labA.fatbin, .lab/labB.fatbin) bit for bit and timed in alternating rounds
#   side:    bench/swa_side_by_side.py (the windowed kernels the backend ships against float64 and FlexAttention)
#   swatest: the sliding-window gpu tests
#   checks:  the CLI's check phase (every kernel's float64 checks)
#   verify:  every Java `gpu` test of the bundle, then the CLI's checks
# carry: [".bundle/engine-bundle.tar.xz"] and/or [".lab"]
set -uo pipefail
modes=${1:-persist}
seqs=${2:-4096,16384,65536}
source bench/device-env.sh
fatbin() {
  if [ -f .lab/lab90a.fatbin ]; then cp .lab/lab90a.fatbin /tmp/ccalab.fatbin; else extract_fatbin; fi
}
for mode in ${modes//,/ }; do
  case $mode in
    persist)
      fatbin
      timeout 420 python3 bench/persist_lab.py --fatbin /tmp/ccalab.fatbin --out "$out" --seqs "$seqs" > "$out/persist_lab.txt" 2>&1
      echo "persist lab rc=$? ($((SECONDS - t0)) s)"
      grep -E "FAIL|PASSED|FAILED|ms|device|Error|error" "$out/persist_lab.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    sass)  # the consumer loops of v4 / v4p / v4r (D 64, full) in SASS, for a diff here
      fatbin
      for k in flash_fwd_hd64_wgmma4 flash_fwd_hd64_wgmma4p flash_fwd_hd64_wgmma4r flash_fwd_hd128_wgmma4 flash_fwd_hd128_wgmma4p; do
        /usr/local/cuda/bin/cuobjdump -sass -fun $k /tmp/ccalab.fatbin > "$out/sass-$k.txt" 2>&1
        echo "$k: $(grep -c . "$out/sass-$k.txt") lines"
      done ;;
    ab)  # bench/ab_fatbins.py: .lab/labA.fatbin (this tree) against .lab/labB.fatbin (an earlier commit): bits and times
      timeout 400 python3 bench/ab_fatbins.py --a .lab/labA.fatbin --b .lab/labB.fatbin --out "$out" > "$out/ab_fatbins.txt" 2>&1
      echo "ab rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|AGREE|DIFFER|device|Error|error" "$out/ab_fatbins.txt" | grep -vE "^\s+File|Warning" | tail -20 ;;
    side)
      fatbin
      timeout 400 python3 bench/swa_side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" > "$out/swa_side_by_side.txt" 2>&1
      echo "swa side by side rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|ms|device|Error|error" "$out/swa_side_by_side.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    swatest)
      timeout 300 $b/bin/gpu-tests --include-classname '.*CudaSlidingWindowGpuTest' > "$out/gpu-tests-swa.txt" 2>&1
      echo "swa tests rc=$? ($((SECONDS - t0)) s)"
      grep -E "✘|tests (successful|failed|found)|Expecting|^(mma|wgmma|deterministic) " "$out/gpu-tests-swa.txt" | head -40 ;;
    checks) cli_checks ;;
    verify) gpu_tests 420; cli_checks ;;
    *) echo "unknown mode $mode" ;;
  esac
done
pack_logs
