#!/usr/bin/env bash
# Session 6: Nsight Compute on the CCA prologue at the paper benchmark's short lengths (bench/profile_prologue_short.py):
# kernel durations per (D, T), then the SASS source view with stall samples of one d128 T = 512 launch.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
ncu --metrics gpu__time_duration.sum -k regex:cca_prologue_hd python3 bench/profile_prologue_short.py .bundle/ccalab.fatbin \
  > "$out/ncu_time.txt" 2>&1
echo "rc=$?"; grep -E "cca_prologue_hd|gpu__time_duration" "$out/ncu_time.txt" | paste - - | awk '{print $1, $NF, $(NF-1)}' | head -30
ncu --section SourceCounters --section WarpStateStats -k regex:cca_prologue_hd128 -c 1 -o /tmp/prol -f \
  python3 bench/profile_prologue_short.py .bundle/ccalab.fatbin 512 > "$out/ncu_src_run.txt" 2>&1
echo "rc=$?"
ncu -i /tmp/prol.ncu-rep --page source --csv --print-source sass > "$out/sass_d128_t512.csv" 2>&1
echo "rc=$? lines $(wc -l < "$out/sass_d128_t512.csv")"; head -3 "$out/sass_d128_t512.csv" | cut -c1-300
