#!/usr/bin/env bash
# Compiles engine/src/main/cuda/ccalab_kernels.cu into one fatbin: Hopper (sm_90a, sm_90), Ampere (sm_80)
# machine code, plus compute_90 PTX for newer GPUs. Usage: bench/build-kernels.sh OUTPUT.fatbin
# Finds nvcc on PATH, then in CUDA_HOME, then /usr/local/cuda; exits 3 with a clear line when there is none
# (the engine then builds without kernels and the CUDA backend reports them missing).
set -euo pipefail
out=${1:?usage: build-kernels.sh OUTPUT.fatbin}
here=$(cd "$(dirname "$0")/.." && pwd)
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ] && nvcc=$CUDA_HOME/bin/nvcc
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "build-kernels: nvcc not found (PATH, CUDA_HOME, /usr/local/cuda): kernels NOT built" >&2
  exit 3
fi
src=$here/engine/src/main/cuda
if [ -f "$out" ] && [ -z "$(find "$src" -newer "$out" -type f)" ]; then
  echo "build-kernels: $out is up to date"
  exit 0
fi
mkdir -p "$(dirname "$out")"
"$nvcc" -O3 -std=c++17 -fatbin --threads 0 -Xptxas -warn-spills \
  -gencode=arch=compute_90a,code=sm_90a \
  -gencode=arch=compute_90,code=sm_90 \
  -gencode=arch=compute_80,code=sm_80 \
  -gencode=arch=compute_90,code=compute_90 \
  -o "$out" "$here/engine/src/main/cuda/ccalab_kernels.cu"
echo "build-kernels: $out ($(stat -c %s "$out") bytes, $("$nvcc" --version | tail -1))"
