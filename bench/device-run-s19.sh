#!/usr/bin/env bash
# Session 19: TMA copies in the wgmma forward ("_wgmma4t", attention/flash_fwd_wgmma.cuh TMA). Modes, comma-separated:
#   tma:    bench/tma_lab.py: the TMA instances equal v4 / 4p bit for bit, then v4 / 4t / 4u / cuDNN timed in
#           alternating rounds, on .lab/lab90a.fatbin when carried (sm_90a only, built locally), else the bundle's
#   sweep:  bench/tma_lab.py --sweep: grid and persistent, cp.async and TMA, at long causal items (call 4: the L2 promotion)
#   bwd:    bench/tma_lab.py --bwd: the backward's TMA instances ("t" / "u") close to v4, then timed against v4 and cuDNN
#   ab:     bench/ab_fatbins.py: .lab/labA.fatbin against .lab/labB.fatbin, bits and alternating-round times
#           ($AB_ARGS: e.g. --tma, every forward on the TMA instances)
#   side:   bench/swa_side_by_side.py (the windowed kernels against float64 and FlexAttention)
#   persist: bench/persist_lab.py (the persistent instances against v4, bits and times)
#   sbs:    bench/side_by_side.py (float64 checks, core forward / backward against FA2 and cuDNN, layers, headline)
#   javacore: the Java CLI's core and layer phases at 4k / 16k (from Java, the shipped dispatch)
#   checks: the CLI's check phase;  verify: every Java `gpu` test of the bundle, then the CLI's checks
# carry: [".bundle/engine-bundle.tar.xz"] and/or [".lab"]
set -uo pipefail
modes=${1:-tma}
source bench/device-env.sh
fatbin() {
  if [ -f .lab/lab90a.fatbin ]; then cp .lab/lab90a.fatbin /tmp/ccalab.fatbin; else extract_fatbin; fi
}
for mode in ${modes//,/ }; do
  case $mode in
    tma)
      fatbin
      timeout 420 python3 bench/tma_lab.py --fatbin /tmp/ccalab.fatbin --out "$out" > "$out/tma_lab.txt" 2>&1
      echo "tma lab rc=$? ($((SECONDS - t0)) s)"
      grep -E "FAIL|PASSED|FAILED|ms|device|Error|error" "$out/tma_lab.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    sweep)  # the tensor maps' L2 promotion, grid kernels, against v4
      fatbin
      timeout 300 python3 bench/tma_lab.py --fatbin /tmp/ccalab.fatbin --out "$out" --sweep > "$out/tma_sweep.txt" 2>&1
      echo "tma sweep rc=$? ($((SECONDS - t0)) s)"
      grep -E "promotion|long|sets|device|Error|error" "$out/tma_sweep.txt" | grep -vE "^\s+File|Warning" | tail -20 ;;
    bwd)  # the backward's TMA instances against v4 and cuDNN
      fatbin
      timeout 400 python3 bench/tma_lab.py --fatbin /tmp/ccalab.fatbin --out "$out" --bwd > "$out/tma_bwd.txt" 2>&1
      echo "tma bwd rc=$? ($((SECONDS - t0)) s)"
      grep -E "FAIL|PASSED|FAILED|backward D|device|Error|error" "$out/tma_bwd.txt" | grep -vE "^\s+File|Warning" | tail -30 ;;
    ab)
      timeout 400 python3 bench/ab_fatbins.py --a .lab/labA.fatbin --b .lab/labB.fatbin --out "$out" ${AB_ARGS:-} > "$out/ab_fatbins.txt" 2>&1
      echo "ab rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|AGREE|DIFFER|device|Error|error" "$out/ab_fatbins.txt" | grep -vE "^\s+File|Warning" | tail -20 ;;
    side)
      fatbin
      timeout 400 python3 bench/swa_side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" > "$out/swa_side_by_side.txt" 2>&1
      echo "swa side by side rc=$? ($((SECONDS - t0)) s)"
      grep -E "PASS|FAIL|ms|device|Error|error" "$out/swa_side_by_side.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    persist)
      fatbin
      timeout 420 python3 bench/persist_lab.py --fatbin /tmp/ccalab.fatbin --out "$out" --seqs 4096,16384 > "$out/persist_lab.txt" 2>&1
      echo "persist lab rc=$? ($((SECONDS - t0)) s)"
      grep -E "FAIL|PASSED|FAILED|ms|device|Error|error" "$out/persist_lab.txt" | grep -vE "^\s+File|Warning" | tail -40 ;;
    sbs)  # bench/side_by_side.py on the bundle's fatbin: float64 checks, the core forward / backward beside FA2 and
          # cuDNN, the layer curve at 4k / 16k and 3 alternating 16k headline rounds (no decode, GEMM or prologue)
      extract_fatbin
      timeout 560 python3 bench/side_by_side.py --fatbin /tmp/ccalab.fatbin --out "$out" --skip decode,gemm,prologue \
        --layer-seqs 4096,16384 --headline 3 > "$out/side_by_side.txt" 2>&1
      echo "side_by_side rc=$? ($((SECONDS - t0)) s)"
      grep -E "FAIL|ALL|Error|error" "$out/side_by_side.txt" | grep -vE "^\s+File|Warning" | tail -8
      sed -n '/== attention core forward/,$p' "$out/side_by_side.txt" | head -80 ;;
    javacore)  # the Java CLI's core phase (forward and backward from Java, the shipped dispatch) and its layers
      timeout 400 $b/bin/cuda-bench --out "$out/cuda_bench_core.json" --seqs 4096,16384 --phases core,layer > "$out/cuda_bench_core.txt" 2>&1
      echo "cli core rc=$? ($((SECONDS - t0)) s)"
      grep -E "^(forward|backward|layer|B=)|TF|FAIL" "$out/cuda_bench_core.txt" | head -60 ;;
    checks) cli_checks ;;
    verify) gpu_tests 420; cli_checks ;;
    *) echo "unknown mode $mode" ;;
  esac
done
pack_logs
