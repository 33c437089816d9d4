"""Persistent wgmma forward ("_wgmma4p", attention/flash_fwd_wgmma*.cuh FwdWalk) beside the shipped v4, same run.

A persistent block walks several (query tile, head) items with its K/V ring running on across them, so the next
item's Q and first K/V tiles are copied while the current item finishes (session 17's ncu: a W 512 windowed block
spends ~10 % of its samples waiting for its first tile, which a 16k causal block amortises over ~64 tiles).

Checks first: the persistent kernel does each item's arithmetic exactly as v4 does, so its O, O's residual and LSE
must equal v4's bit for bit (v4 itself is checked against float64 by the gpu tests and swa_side_by_side.py), on
shapes that walk many items of unequal length per block (16k, batch 3 / 44, grouped heads, ragged T, windows).
Then times: v4 and v4p, causal and windowed, D 64 and 128, batch 1 and training-like batches, with cuDNN's causal
forward beside.

Usage (on the GPU host, from the repository root): python3 bench/persist_lab.py --fatbin F [--out DIR]
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from side_by_side import bench  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
RESULTS = {"checks": [], "timings": []}


def inputs(B, T, Hq, Hkv, D, seed):
    torch.manual_seed(seed)
    return [torch.randn(B, T, h, D, device=dev).to(bf16) for h in (Hq, Hkv, Hkv)]


def check(K, B, T, Hq, Hkv, D, causal, W):
    q, k, v = inputs(B, T, Hq, Hkv, D, T + 7 * W + D + B)
    outs = []
    for persist in (False, True):
        olo = torch.full_like(q, float("nan"))
        o = torch.full_like(q, float("nan"))
        lse = torch.full((B, Hq, T), float("nan"), device=dev)
        K.flash_fwd(q, k, v, causal, out=o, lse=lse, olo=olo, window=W, persist=persist)
        outs.append((o, lse, olo))
    same = all(torch.equal(a, b) for other in outs[1:] for a, b in zip(outs[0], other))
    finite = all(torch.isfinite(x).all().item() for other in outs[1:] for x in other)
    ok = same and finite
    case = f"B{B} T{T} Hq{Hq} Hkv{Hkv} D{D} {'causal' if causal else 'full'} W{W}"
    RESULTS["checks"].append({"case": case, "bits_equal": same, "finite": finite, "ok": ok})
    print(f"{'PASS' if ok else 'FAIL'} persistent == v4 bit for bit (O, O residual, LSE): {case}", flush=True)
    return ok


def time_shape(K, T, H, D, causal, W, Hkv=None, B=1):
    Hkv = Hkv or H
    q, k, v = inputs(B, T, H, Hkv, D, 1)
    o, lse = K.flash_fwd(q, k, v, causal, window=W)
    row = {"B": B, "T": T, "H": H, "Hkv": Hkv, "D": D, "causal": causal, "W": W}
    row["v4"] = bench(lambda i: K.flash_fwd(q, k, v, causal, out=o, lse=lse, window=W, persist=False))["p50"]
    row["v4p"] = bench(lambda i: K.flash_fwd(q, k, v, causal, out=o, lse=lse, window=W, persist=True))["p50"]
    swa = 0 < W < T
    row["v4_again"] = bench(lambda i: K.flash_fwd(q, k, v, causal, out=o, lse=lse, window=W, persist=False))["p50"]
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
        row["cudnn"] = bench(lambda i: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal,
                                                                      enable_gqa=Hkv != H))["p50"]
    if 0 < W < T:
        pairs = W * (W + 1) / 2 + (T - W) * W
    else:
        pairs = T * (T + 1) / 2 if causal else T * T
    flops = 4.0 * B * H * D * pairs
    tf = {n: flops / (row[n] * 1e-3) / 1e12 for n in ("v4", "v4p", "v4_again", "cudnn")}
    row["tflops"] = tf
    RESULTS["timings"].append(row)
    kind = f"W{W}" if swa else ("causal" if causal else "full")
    best = min(row["v4"], row["v4_again"])
    print(f"B{B} {H}/{Hkv} x {D:3d} T={T:6d} {kind:7s}: v4 {row['v4']:.3f} ms ({tf['v4']:.0f} TF; again {row['v4_again']:.3f}) "
          f"v4p {row['v4p']:.3f} ms ({tf['v4p']:.0f} TF) = {best / row['v4p']:.3f}x | "
          f"cuDNN {'causal' if causal else 'full'} {row['cudnn']:.3f} ms ({tf['cudnn']:.0f} TF)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--seqs", default="4096,16384,65536")
    args = ap.parse_args()
    K = Kernels(args.fatbin)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, hopper kernels {K.hopper}", flush=True)
    assert K.hopper, "the persistent instances are sm_90a only"
    ok = True
    for D in (64, 128):
        for (B, T, Hq, Hkv, causal, W) in [(1, 700, 2, 2, True, 0), (44, 390, 2, 1, True, 0), (3, 16384, 16, 4, True, 0),
                                           (2, 4097, 8, 8, True, 300), (1, 16384, 16, 2, True, 512), (3, 5000, 4, 1, True, 129)]:
            ok &= check(K, B, T, Hq, Hkv, D, causal, W)
    for D in (64, 128):
        for T in (int(t) for t in args.seqs.split(",")):
            time_shape(K, T, 16, D, True, 0)
            if 8192 <= T <= 16384:
                time_shape(K, T, 16, D, True, 0, Hkv=4)
            for W in (512, 2048, 4096):
                if W < T and T >= 16384:
                    time_shape(K, T, 16, D, True, W)
        for (B, T, W) in [(8, 1024, 0), (8, 2048, 0), (4, 4096, 512)]:  # training-like batches
            time_shape(K, T, 16, D, True, W, B=B)
    RESULTS["ok"] = ok
    with open(os.path.join(args.out, "persist_lab.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)
    print("ALL PERSIST CHECKS PASSED" if ok else "PERSIST CHECKS FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
