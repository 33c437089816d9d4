"""Two builds of the same kernels side by side, same run: times and bits (a refactor that must not change either).

Loads fatbin A and fatbin B (e.g. this tree's and an earlier commit's, built with the same nvcc), runs the flash
forward (and the causal backward, whose fp32 atomics only allow "close") through each (ccalab_cuda.Kernels, as the Java backend launches it: the grid's v4, and the persistent "4p"
where CudaKernels.persistentForward takes it) on the same inputs, checks that O and LSE are bit for bit the same, and
times A and B in alternating rounds (median of rounds; each round a CUDA-graph median).

Usage (on the GPU host, from the repository root): python3 bench/ab_fatbins.py --a A.fatbin --b B.fatbin [--out DIR]
"""
import argparse
import json
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from side_by_side import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tma", action="store_true", help="every forward on the TMA instances (the grid's too), plus 16k grid")
    args = ap.parse_args()
    tma = True if args.tma else None
    A, B = Kernels(args.a), Kernels(args.b)
    print(f"device {torch.cuda.get_device_name()}, A {args.a}, B {args.b}", flush=True)
    ok, rows = True, []
    for D in (64, 128):
        for (T, W, persist) in [(4096, 0, None), (16384, 0, None), (65536, 512, None), (16384, 4096, None),
                                (4096, 0, False), (16384, 512, False)] + ([(16384, 0, False)] if args.tma else []):
            torch.manual_seed(T + D)
            q, k, v = (torch.randn(1, T, 16, D, device="cuda").to(torch.bfloat16) for _ in range(3))
            outs = [K.flash_fwd(q, k, v, True, window=W, persist=persist, tma=tma) for K in (A, B)]
            same = all(torch.equal(x, y) for x, y in zip(*outs))
            ok &= same
            ta, tb = [], []
            for _ in range(args.rounds):
                for K, t in ((A, ta), (B, tb)):
                    o, lse = outs[0]
                    t.append(bench(lambda i: K.flash_fwd(q, k, v, True, out=o, lse=lse, window=W, persist=persist,
                                                         tma=tma))["p50"])
            ma, mb = statistics.median(ta), statistics.median(tb)
            rows.append({"D": D, "T": T, "W": W, "persist": persist, "a": ta, "b": tb, "bits_equal": same})
            print(f"{'PASS' if same else 'FAIL'} D{D} T{T} W{W} persist {persist} tma {tma}: A {ma:.4f} ms, B {mb:.4f} ms, "
                  f"B/A {mb / ma:.3f} (rounds A {min(ta):.4f}-{max(ta):.4f}, B {min(tb):.4f}-{max(tb):.4f})", flush=True)
    for D in (64, 128) if not args.tma else ():  # the backward (fp32 atomics: the same sums in another order, so close, not equal)
        for T in (4096, 16384):
            torch.manual_seed(T + D + 1)
            q, k, v, do = (torch.randn(1, T, 16, D, device="cuda").to(torch.bfloat16) for _ in range(4))
            o, lse = A.flash_fwd(q, k, v, True, persist=False)
            grads = [K.flash_bwd(q, k, v, o, lse, do, True) for K in (A, B)]
            close = all(torch.allclose(x, y, rtol=1e-4, atol=1e-5) for x, y in zip(*grads))
            ok &= close
            ta, tb = [], []
            for _ in range(args.rounds):
                for K, t in ((A, ta), (B, tb)):
                    t.append(bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, True))["p50"])
            ma, mb = statistics.median(ta), statistics.median(tb)
            rows.append({"D": D, "T": T, "backward": True, "a": ta, "b": tb, "close": close})
            print(f"{'PASS' if close else 'FAIL'} backward D{D} T{T}: A {ma:.4f} ms, B {mb:.4f} ms, B/A {mb / ma:.3f} "
                  f"(rounds A {min(ta):.4f}-{max(ta):.4f}, B {min(tb):.4f}-{max(tb):.4f})", flush=True)
    with open(os.path.join(args.out, "ab_fatbins.json"), "w") as f:
        json.dump({"rows": rows, "ok": ok}, f, indent=1)
    print("ALL A/B OUTPUTS AGREE" if ok else "A/B OUTPUTS DIFFER", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
