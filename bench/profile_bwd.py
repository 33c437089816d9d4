"""Launches the shipped flash backward and the n128 flash forward once each (4 heads x 128, 16k, causal), for
Nsight Compute on the GPU host (where do the cycles go: shared memory, tensor pipe, stalls):

    ncu --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \\
        --section MemoryWorkloadAnalysis --section SchedulerStats --section InstructionStats \\
        -k regex:'flash_bwd_hd128_causal$|flash_fwd_hd128_causal_n128$' python3 bench/profile_bwd.py FATBIN
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ccalab_cuda import Kernels  # noqa: E402

K = Kernels(sys.argv[1])
bf16 = torch.bfloat16
T, H, D = 16384, 4, 128
q, k, v, do = (torch.randn(1, T, H, D, device="cuda").to(bf16) for _ in range(4))
o, lse = K.flash_fwd(q, k, v, True)
K.flash_bwd(q, k, v, o, lse, do, True)
torch.cuda.synchronize()
print("launched")
