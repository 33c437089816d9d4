"""Three launches of one decode_floor.cu tensor-core instance at batch 1, 16k, for Nsight Compute (session 10):

    ncu --clock-control none -k regex:decode_hd256_g4_mma -s 1 -c 1 --section WarpStateStats --section SourceCounters \
        --print-details all python3 bench/decode_ncu_launch.py decode_floor.fatbin 256 8 2

args: the lab fatbin (kernels-dev/decode_floor.cu), D, query heads, KV heads.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decode_floor as df  # noqa: E402
from ccalab_cuda import Kernels  # noqa: E402

df.D = int(sys.argv[2])
dec = df.Dec(Kernels(sys.argv[1]))
L, Hq, Hkv = 16384, int(sys.argv[3]), int(sys.argv[4])
c = df.Case(L, Hq, Hkv, cold=False)
for i in range(3):
    dec("mma", c.q[i % 2], c.k[i % 2], c.v[i % 2], L, c.o[i % 2])
torch.cuda.synchronize()
print("done")
