"""Per-kernel device times of one CCA-4x layer backward at 16k (torch.profiler, CUDA activity): where the time of
our backward goes. python3 bench/profile_prologue_bwd.py --fatbin ccalab.fatbin [--T 16384]"""
import argparse
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from layer_backward import OursLayer, make_layer  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--fatbin", required=True)
ap.add_argument("--T", type=int, default=16384)
a = ap.parse_args()
K = Kernels(a.fatbin)
L = make_layer(2048, 4, 4, 128)
x = torch.randn(1, a.T, 2048, device="cuda").to(torch.bfloat16)
g = torch.randn_like(x)
ours = OursLayer(K, L)
ours.forward(x)
for _ in range(3):
    ours.backward(g)
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CUDA]) as prof:
    for _ in range(5):
        ours.backward(g)
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70))
