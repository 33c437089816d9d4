"""Launches the CCA prologue (tensor-core version) at the paper benchmark's CCA-4x shapes (E = 2048: d 64 / 128 / 256
with 8 / 4 / 2 query and key heads) for T = 512, 2048 and 16384, three launches each, for Nsight Compute: where a
block's ~30 us at T = 512 goes (docs/perf-log.md, "Session 6: the paper's kernel benchmark").

    ncu --section SpeedOfLight --section WarpStateStats --section Occupancy -k regex:cca_prologue_hd \\
        python3 bench/profile_prologue_short.py .bundle/ccalab.fatbin
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ccalab_cuda import Kernels, repack_w1  # noqa: E402
import cca_reference as ref  # noqa: E402

K = Kernels(sys.argv[1])
lengths = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "512,2048,16384").split(",")]
# "tc" = 64-token blocks; "tc32" = the 32-token "_t32" instance (session 6), if the fatbin has it
IMPLS = (sys.argv[3] if len(sys.argv) > 3 else "tc").split(",")
for D in (64, 128, 256):
    H = 2048 // (4 * D)
    p = ref.random_cca_params(H, H, D, 2, 2, 0, "cuda")
    w1t = repack_w1(p["W1"], 2 * H, D)
    for T in lengths:
        z = torch.randn(1, T, 2 * H * D, device="cuda").to(torch.bfloat16)
        for impl in IMPLS:  # the kernel names tell the block heights apart (cca_prologue_hd{D}[_t32])
            for _ in range(3):
                K.cca_prologue(z, p["w0"], p["b0"], w1t, p["b1"], p["theta"], H, H, D, D // 2, 10000.0, 0, 1e-12,
                               impl=impl)
        torch.cuda.synchronize()
        print(f"launched D={D} H={H} T={T}", flush=True)
