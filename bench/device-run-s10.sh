#!/usr/bin/env bash
# Session 10. Mode `lab` (no bundle; carry .gl with the lab fatbins built here):
#   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/mla_ring.fatbin kernels-dev/mla_decode_ring_lab.cu
#   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 -fatbin -o .gl/decode_floor.fatbin kernels-dev/decode_floor.cu
# 1. the MLA ring split kernel (attention/mla_decode_ring.cuh) vs float64 and beside the shipped one (bench/mla_decode_ring_lab.py);
# 2. the D = 256 / 128 tensor-core decode with 3 / 4 ring stages beside 2, with the floor (bench/decode_floor.py).
# Mode `final`: the bundle's Java `gpu` tests and the CLI's checks and decode phase (bench/make-bundle.sh first).
set -uo pipefail
mode=${1:-lab}
source bench/device-env.sh
if [ "$mode" = trace ]; then  # call 8: where the D = 256 / 128 tensor-core decode's batch-1 time goes
  for d in 256 128; do
    timeout 100 python3 bench/decode_floor.py --fatbin .gl/decode_floor.fatbin --trace-only --head-dim $d --out "$out" \
      > "$out/trace_d$d.txt" 2>&1
    echo "D=$d rc=$?"; grep "^trace" "$out/trace_d$d.txt"
  done
  exit 0
fi
if [ "$mode" = lab ]; then
  echo "== MLA ring decode lab"
  timeout 300 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --out "$out" ${RING_ARGS:-} > "$out/mla_ring.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -vE "^PASS" "$out/mla_ring.txt" | grep -v "^-- checks" | tail -40
  grep -c "^PASS" "$out/mla_ring.txt"
  # calls 1-2: ring stages (DECODE_VARIANTS=mma:1,mma_s3:1,mma_s4:1); call 3: S in two accumulator chains
  # (decode_floor_c2.fatbin, built with -DDECODE_S_CHAINS=2 while attention/decode.cuh had that knob; removed after
  # call 7's A/B showed no gain) beside the default build
  for fb in ${FLOOR_FATBINS:-decode_floor}; do
    for d in ${DECODE_DIMS:-256}; do
      echo "== decode D = $d: $fb"
      timeout 150 python3 bench/decode_floor.py --fatbin .gl/$fb.fatbin --floor-only --head-dim $d \
        --variants ${DECODE_VARIANTS:-mma:1} --out "$out" > "$out/${fb}_d$d.txt" 2>&1
      echo "rc=$? ($((SECONDS - t0)) s)"
      grep -vE "^PASS|^skip" "$out/${fb}_d$d.txt" | grep "L=\|FAIL\|ALL" | tail -10
      grep -c "^PASS" "$out/${fb}_d$d.txt"
      cp "$out/decode_floor.json" "$out/${fb}_d$d.json"
    done
  done
  exit 0
fi
if [ "$mode" = verify ]; then  # call 9: the final tree from Java (gpu tests, the CLI's checks and decode phase)
  gpu_tests 420
  timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check,decode > "$out/cuda_bench.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -10
  sed -n '/== decode/,$p' "$out/cuda_bench.txt" | head -60
  tar czf "$out/logs.tgz" -C "$out" gpu-tests.txt cuda_bench.txt cuda_bench.json && rm -f "$out"/gpu-tests.txt "$out"/cuda_bench.*
  exit 0
fi
if [ "$mode" = discard ]; then  # call 18: the _spin instances with DISCARD, from Java and Python
  gpu_tests 420
  python3 -c "import zipfile; open('/tmp/ccalab.fatbin', 'wb').write(zipfile.ZipFile('$b/lib/engine.jar').read('cuda/ccalab.fatbin'))"
  timeout 200 python3 bench/check_mla.py --fatbin /tmp/ccalab.fatbin --decode-only --out "$out" > "$out/check_mla.txt" 2>&1
  echo "check_mla rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|SUMMARY|^decode B1 |^decode B8  L16384|^decode B32 L16384" "$out/check_mla.txt" | grep -v n32 | head -20
  timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench_mla.json" --seqs 4096 --phases mla > "$out/cuda_bench_mla.txt" 2>&1
  echo "cli rc=$? ($((SECONDS - t0)) s)"
  sed -n '/== MLA absorbed decode/,/^== MLA layer/p' "$out/cuda_bench_mla.txt" | head -8
  tar czf "$out/logs.tgz" -C "$out" gpu-tests.txt check_mla.txt check_mla.json cuda_bench_mla.txt cuda_bench_mla.json
  rm -f "$out"/gpu-tests.txt "$out"/check_mla.* "$out"/cuda_bench_mla.*
  exit 0
fi
# mode final (call 7): the shipped ring decode from Java and Python, the B = 2 rule, the S-chain A/B
echo "== java gpu tests"
gpu_tests 420
echo "== java CLI: check + decode"
timeout 200 $b/bin/cuda-bench --out "$out/cuda_bench.json" --seqs 4096 --phases check,decode > "$out/cuda_bench.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "CHECKS|FAIL" "$out/cuda_bench.txt" | head -10
grep -iE "mla" "$out/cuda_bench.txt" | grep -v "^check" | head -20
echo "== python: MLA decode checks and timing (shipped fatbin, from the bundle's engine jar: carry the tarball only)"
python3 -c "import zipfile; open('/tmp/ccalab.fatbin', 'wb').write(zipfile.ZipFile('$b/lib/engine.jar').read('cuda/ccalab.fatbin'))"
timeout 200 python3 bench/check_mla.py --fatbin /tmp/ccalab.fatbin --decode-only --out "$out" > "$out/check_mla.txt" 2>&1
echo "rc=$? ($((SECONDS - t0)) s)"
grep -E "FAIL|SUMMARY|^decode" "$out/check_mla.txt" | head -40
if [ -d .gl ]; then
  echo "== MLA ring lab: the fused merge's rule at B = 2"
  timeout 200 python3 bench/mla_decode_ring_lab.py --fatbin .gl/mla_ring.fatbin --out "$out" --sweep > "$out/mla_ring.txt" 2>&1
  echo "rc=$? ($((SECONDS - t0)) s)"
  grep -E "FAIL|ALL|MLA decode B=2|MLA decode B=1 H=16 L=65536" "$out/mla_ring.txt" | head -10
  for rep in 1 2; do
    for fb in decode_floor_c2 decode_floor; do
      for d in 256 128; do
        timeout 100 python3 bench/decode_floor.py --fatbin .gl/$fb.fatbin --floor-only --head-dim $d --variants mma:1 \
          --out /tmp > "$out/ab_${fb}_d${d}_$rep.txt" 2>&1
        echo "$fb D=$d rep $rep: $(grep -E "ALL|FAIL" "$out/ab_${fb}_d${d}_$rep.txt" | head -1)"
        grep "L=" "$out/ab_${fb}_d${d}_$rep.txt" | sed -E 's/read_[^|]*\| xchg[^|]*\| //; s/\| flash.*//'
      done
    done
  done
fi
