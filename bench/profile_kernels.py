"""Launches the shipped flash forward (MHA 16x128, 16k, causal) and the CCA prologue (4q/4kv, 16k) once each, for
Nsight Compute to profile on the GPU host:

    ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \\
        -k regex:'flash_fwd_hd128_causal$|cca_prologue_hd128' python3 bench/profile_kernels.py .bundle/ccalab.fatbin
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ccalab_cuda import Kernels, repack_w1  # noqa: E402
import cca_reference as ref  # noqa: E402

K = Kernels(sys.argv[1])
bf16 = torch.bfloat16
T = 16384
q = torch.randn(1, T, 16, 128, device="cuda").to(bf16)
k = torch.randn(1, T, 16, 128, device="cuda").to(bf16)
v = torch.randn(1, T, 16, 128, device="cuda").to(bf16)
K.flash_fwd(q, k, v, True, mt=1)
p = ref.random_cca_params(4, 4, 128, 2, 2, 0, "cuda")
z = torch.randn(1, T, 8 * 128, device="cuda").to(bf16)
K.cca_prologue(z, p["w0"], p["b0"], repack_w1(p["W1"], 8, 128), p["b1"], p["theta"], 4, 4, 128, 64, 10000.0, 0, 1e-12)
torch.cuda.synchronize()
print("launched")
