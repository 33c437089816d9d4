"""TMA copies in the wgmma forwards ("_wgmma4t", attention/flash_fwd_wgmma*.cuh TMA) beside the cp.async v4.

v4's producer warpgroup copies Q and every K/V tile with cp.async from 128 threads (16 copies per thread per tile, the
row checks and swizzled addresses computed by each); session 18 measured that producer's instructions on the
kernel's critical path (a few more per tile cost 1-9 %, a few fewer gained 3-10 %). "4t" copies them with TMA from
one thread: one cp.async.bulk.tensor per 64-column half tile, tensor maps encoded on the host
(ccalab_cuda.TensorMap), the producer down to 24 registers (call 2 measured the consumers at 240 slower than at 224).

Checks first: the TMA instances copy the same bytes into the same swizzled tiles and compute as v4 does, so O and LSE
must equal v4's bit for bit (and "4tp" the persistent "4p"'s; O's residual and sliding windows too), on ragged
lengths, grouped heads, value-shifted heads (V's row -1: TMA's out-of-bounds zeros), batches and full attention, at
D 64 and 128. Then times in alternating rounds: v4, 4t and cuDNN, causal and full, 4k-32k, the persistent pair at
short items, and windows.

Usage (on the GPU host, from the repository root): python3 bench/tma_lab.py --fatbin F [--out DIR] [--rounds N]
"""
import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from persist_lab import inputs  # noqa: E402  (seeded q, k, v [B, T, H, D] bf16)
from side_by_side import bench  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
RESULTS = {"checks": [], "timings": []}


def run(K, q, k, v, causal, vsf, persist, tma, W, lo):
    B, T, Hq, _ = q.shape
    o = torch.full_like(q, float("nan"))
    lse = torch.full((B, Hq, T), float("nan"), device=dev)
    olo = torch.full_like(q, float("nan")) if lo else None
    K.flash_fwd(q, k, v, causal, v_shift_from=vsf, out=o, lse=lse, persist=persist, tma=tma, window=W, olo=olo)
    return (o, lse) + ((olo,) if lo else ())


def check(K, D, B, T, Hq, Hkv, causal, vsf=None, W=0, lo=False):
    q, k, v = inputs(B, T, Hq, Hkv, D, T + 7 * B + Hq + D)
    ok = True
    for persist in ((False, True) if causal else (False,)):
        ref = run(K, q, k, v, causal, vsf, persist, False, W, lo)
        new = run(K, q, k, v, causal, vsf, persist, True, W, lo)
        same = all(torch.equal(a, b) for a, b in zip(ref, new))
        finite = all(torch.isfinite(x).all().item() for x in new)
        case = (f"D{D} B{B} T{T} Hq{Hq} Hkv{Hkv} {'causal' if causal else 'full'} W{W} vShiftFrom {vsf}"
                f"{' +residual' if lo else ''}: {'4p vs 4tp' if persist else 'v4 vs 4t'}")
        RESULTS["checks"].append({"case": case, "bits_equal": same, "finite": finite})
        print(f"{'PASS' if same and finite else 'FAIL'} bit for bit: {case}", flush=True)
        ok &= same and finite
    return ok


def time_shape(K, D, T, Hq, causal, rounds, Hkv=None, B=1, persist=False, W=0):
    Hkv = Hkv or Hq
    q, k, v = inputs(B, T, Hq, Hkv, D, 1)
    o, lse = K.flash_fwd(q, k, v, causal, persist=persist, window=W)
    kinds = {"4p" if persist else "v4": False, "4tp" if persist else "4t": True}
    times = {n: [] for n in kinds}
    for _ in range(rounds):
        for n, tma in kinds.items():
            times[n].append(bench(lambda i: K.flash_fwd(q, k, v, causal, out=o, lse=lse, persist=persist, tma=tma,
                                                        window=W))["p50"])
    med = {n: statistics.median(t) for n, t in times.items()}
    if W == 0:
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
            med["cudnn"] = bench(lambda i: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal,
                                                                          enable_gqa=Hkv != Hq))["p50"]
    pairs = W * (W + 1) / 2 + (T - W) * W if W else (T * (T + 1) / 2 if causal else T * T)
    flops = 4.0 * B * Hq * D * pairs
    tf = {n: flops / (t * 1e-3) / 1e12 for n, t in med.items()}
    RESULTS["timings"].append({"D": D, "B": B, "T": T, "Hq": Hq, "Hkv": Hkv, "causal": causal, "W": W,
                               "persist": persist, "rounds": times, "median_ms": med, "tflops": tf})
    base = "4p" if persist else "v4"
    cells = " ".join(f"{n} {med[n]:.3f} ms ({tf[n]:.0f} TF, {med[base] / med[n]:.3f}x)" for n in med)
    kind = f"W{W}" if W else ("causal" if causal else "full")
    print(f"D{D} B{B} {Hq}/{Hkv} T={T:6d} {kind:6s}: {cells}", flush=True)


def promotion_sweep(K, rounds):
    """The tensor maps' L2 promotion (the sector size an L2 miss fetches from DRAM) against v4, grid kernels."""
    import ccalab_cuda
    for D in (64, 128):
        for (T, Hkv) in ((16384, 16), (4096, 16), (16384, 4)):
            q, k, v = inputs(1, T, 16, Hkv, D, 1)
            o, lse = K.flash_fwd(q, k, v, True)
            promos = (0, 2, 3)
            times = {p: [] for p in ("v4",) + promos}
            for _ in range(rounds):
                times["v4"].append(bench(lambda i: K.flash_fwd(q, k, v, True, out=o, lse=lse, persist=False, tma=False))["p50"])
                for p in promos:
                    ccalab_cuda.TMA_L2_PROMOTION = p
                    times[p].append(bench(lambda i: K.flash_fwd(q, k, v, True, out=o, lse=lse, persist=False, tma=True))["p50"])
            ccalab_cuda.TMA_L2_PROMOTION = 3
            med = {p: statistics.median(t) for p, t in times.items()}
            RESULTS["timings"].append({"sweep": "l2_promotion", "D": D, "T": T, "Hkv": Hkv, "rounds": {str(p): t for p, t in times.items()}})
            print(f"promotion D{D} T={T} 16/{Hkv} causal: v4 {med['v4']:.3f} ms | " + " ".join(
                f"4t L2 {['none', '64B', '128B', '256B'][p]} {med[p]:.3f} ms ({med['v4'] / med[p]:.3f}x)" for p in promos), flush=True)


# (B, T, Hkv, W): call 5's shapes, then call 6's (batches whose K/V outgrow the L2, grouped heads, windows)
LONG_SHAPES = [(1, 16384, 16, 0), (1, 32768, 16, 0), (1, 16384, 4, 0), (1, 8192, 16, 0), (4, 4096, 16, 0)]
RULE_SHAPES = [(8, 2048, 16, 0), (8, 1024, 16, 0), (2, 8192, 16, 0), (1, 8192, 4, 0), (1, 16384, 8, 0),
               (1, 65536, 16, 0), (1, 16384, 16, 4096), (1, 65536, 16, 2048)]


def long_items(K, rounds, shapes):
    """Grid against persistent walks, cp.async against TMA, at causal items of many lengths: where the block start
    matters, and where the persistent walk's L2 footprint does."""
    for D in (64, 128):
        for (B, T, Hkv, W) in shapes:
            if D == 128 and T > 32768:
                continue
            q, k, v = inputs(B, T, 16, Hkv, D, 1)
            o, lse = K.flash_fwd(q, k, v, True, window=W)
            kinds = {"v4": (False, False), "4t": (False, True), "4p": (True, False), "4tp": (True, True)}
            times = {n: [] for n in kinds}
            for _ in range(rounds):
                for n, (persist, tma) in kinds.items():
                    times[n].append(bench(lambda i: K.flash_fwd(q, k, v, True, out=o, lse=lse, persist=persist, tma=tma,
                                                                window=W))["p50"])
            med = {n: statistics.median(t) for n, t in times.items()}
            RESULTS["timings"].append({"sweep": "long_items", "D": D, "B": B, "T": T, "Hkv": Hkv, "W": W, "rounds": times})
            print(f"long D{D} B{B} T={T} 16/{Hkv} {'W' + str(W) if W else 'causal'}: K+V {k.numel() * 4 >> 20} MB " + " ".join(
                f"{n} {med[n]:.3f} ms ({med['v4'] / med[n]:.3f}x)" for n in kinds), flush=True)


def check_bwd(K, D, B, T, Hq, Hkv, causal):
    """The TMA backward against the cp.async one: the same products, fp32 adds in another order, so close. (Calls 8 and
    10 also timed the lab's "u" (240 consumer registers) and "w" (D 128's dQ writer); "t" is now the shipped twin:
    "w" at D 128, "u" at D 64.)"""
    q, k, v, do = (torch.randn(B, T, h, D, device=dev).to(bf16) for h in (Hq, Hkv, Hkv, Hq))
    o, lse = K.flash_fwd(q, k, v, causal, persist=False, tma=False)
    ref = K.flash_bwd(q, k, v, o, lse, do, causal, tma=False)
    ok = True
    for tma in ("t",):
        new = K.flash_bwd(q, k, v, o, lse, do, causal, tma=tma)
        worst = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(new, ref))
        good = worst < 1e-5 and all(torch.isfinite(x).all().item() for x in new)
        case = f"D{D} B{B} T{T} Hq{Hq} Hkv{Hkv} {'causal' if causal else 'full'} 4{tma}"
        RESULTS["checks"].append({"case": "backward " + case, "max_rel_diff": worst, "ok": good})
        print(f"{'PASS' if good else 'FAIL'} backward close to v4 (dq, dk, dv; atomics' order only): {case}: "
              f"max |diff| / max |v4| {worst:.2e}", flush=True)
        ok &= good
    return ok


def time_bwd(K, D, T, Hq, causal, rounds, Hkv=None):
    Hkv = Hkv or Hq
    q, k, v, do = inputs(1, T, Hq, Hkv, D, 3) + [torch.randn(1, T, Hq, D, device=dev).to(bf16)]
    o, lse = K.flash_fwd(q, k, v, causal)
    kinds = {"v4": False, "4t": True}
    times = {n: [] for n in kinds}
    for _ in range(rounds):
        for n, tma in kinds.items():
            times[n].append(bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, causal, tma=tma), 10)["p50"])
    med = {n: statistics.median(t) for n, t in times.items()}
    qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        ob = F.scaled_dot_product_attention(qb.transpose(1, 2), kb.transpose(1, 2), vb.transpose(1, 2), is_causal=causal,
                                            enable_gqa=Hkv != Hq)
    g = do.transpose(1, 2)
    med["cudnn"] = bench(lambda i: torch.autograd.grad(ob, (qb, kb, vb), g, retain_graph=True), 10, graph=False)["p50"]
    flops = 2.5 * 4.0 * Hq * D * (T * (T + 1) / 2 if causal else T * T)
    tf = {n: flops / (t * 1e-3) / 1e12 for n, t in med.items()}
    RESULTS["timings"].append({"backward": True, "D": D, "T": T, "Hq": Hq, "Hkv": Hkv, "causal": causal,
                               "rounds": times, "median_ms": med, "tflops": tf})
    cells = " ".join(f"{n} {med[n]:.3f} ms ({tf[n]:.0f} TF, {med['v4'] / med[n]:.3f}x)" for n in med)
    print(f"backward D{D} {Hq}/{Hkv} T={T:6d} {'causal' if causal else 'full':6s}: {cells}", flush=True)


def backward(K, rounds):
    ok = True
    for D in (64, 128):
        for (B, T, Hq, Hkv, causal) in [(1, 700, 2, 2, True), (3, 1000, 4, 1, True), (2, 4097, 8, 2, False),
                                        (1, 4096, 16, 16, True), (2, 129, 2, 1, False)]:
            ok &= check_bwd(K, D, B, T, Hq, Hkv, causal)
    for D in (128, 64):
        for T in (4096, 16384, 32768):
            time_bwd(K, D, T, 16, True, rounds)
        time_bwd(K, D, 16384, 16, True, rounds, Hkv=4)
        time_bwd(K, D, 16384, 16, False, rounds)
    return ok


def input_sets(K, rounds):
    """One input set timed back to back (this lab's way) against two sets alternating (side_by_side.py's), for ours
    (the shipped dispatch) and cuDNN: call 12's side_by_side read 534 TF / cuDNN 598 at MHA 16k where this lab read
    605-618 / 496-544."""
    for D in (128, 64):
        for (T, Hkv, causal) in ((16384, 16, True), (16384, 4, True), (16384, 16, False), (4096, 16, True)):
            sets = [inputs(1, T, 16, Hkv, D, s) for s in (1, 2)]
            o, lse = K.flash_fwd(*sets[0], causal)
            qt = [[x.transpose(1, 2) for x in st] for st in sets]
            def cudnn(i, n):
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    return F.scaled_dot_product_attention(*qt[i % n], is_causal=causal, enable_gqa=Hkv != 16)
            kinds = {"ours 1 set": lambda i: K.flash_fwd(*sets[0], causal, out=o, lse=lse),
                     "ours 2 sets": lambda i: K.flash_fwd(*sets[i % 2], causal, out=o, lse=lse),
                     "cudnn 1 set": lambda i: cudnn(i, 1), "cudnn 2 sets": lambda i: cudnn(i, 2)}
            times = {n: [] for n in kinds}
            for _ in range(rounds):
                for n, fn in kinds.items():
                    times[n].append(bench(fn, 20)["p50"])
            med = {n: statistics.median(t) for n, t in times.items()}
            flops = 4.0 * 16 * D * (T * (T + 1) / 2 if causal else T * T)
            RESULTS["timings"].append({"sweep": "input_sets", "D": D, "T": T, "Hkv": Hkv, "causal": causal, "rounds": times})
            print(f"sets D{D} T={T} 16/{Hkv} {'causal' if causal else 'full'}: " + " ".join(
                f"{n} {med[n]:.3f} ms ({flops / med[n] / 1e9:.0f} TF)" for n in kinds), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sweep", action="store_true", help="only the sweep (input_sets; long_items: calls 5-6; promotion_sweep: call 4)")
    ap.add_argument("--bwd", action="store_true", help="only the backward's TMA instances (checks, times)")
    args = ap.parse_args()
    K = Kernels(args.fatbin)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, hopper kernels {K.hopper}", flush=True)
    assert K.hopper, "the TMA instances are sm_90a only"
    if args.bwd:
        ok = backward(K, args.rounds)
        with open(os.path.join(args.out, "tma_bwd.json"), "w") as f:
            json.dump(RESULTS, f, indent=1)
        print("ALL TMA BACKWARD CHECKS PASSED" if ok else "TMA BACKWARD CHECKS FAILED", flush=True)
        sys.exit(0 if ok else 1)
    if args.sweep:
        input_sets(K, args.rounds)
        with open(os.path.join(args.out, "tma_sweep.json"), "w") as f:
            json.dump(RESULTS, f, indent=1)
        return
    ok = True
    for D in (64, 128):
        for (B, T, Hq, Hkv, causal, vsf, W, lo) in [
                (1, 700, 2, 2, True, None, 0, False), (3, 1000, 4, 1, True, 0, 0, True), (2, 4097, 8, 2, False, 1, 0, False),
                (1, 16384, 16, 4, True, None, 0, False), (44, 390, 2, 1, True, None, 0, True),
                (2, 3000, 6, 3, True, 2, 0, False), (1, 129, 1, 1, False, 0, 0, True), (2, 4097, 8, 8, True, 1, 300, False),
                (3, 5000, 4, 1, True, None, 129, True), (1, 16384, 16, 2, True, None, 512, False)]:
            ok &= check(K, D, B, T, Hq, Hkv, causal, vsf, W, lo)
    for D in (128, 64):
        for T in (4096, 16384, 32768):
            time_shape(K, D, T, 16, True, args.rounds)
        time_shape(K, D, 16384, 16, True, args.rounds, Hkv=4)
        time_shape(K, D, 16384, 16, False, args.rounds)
        time_shape(K, D, 2048, 16, True, args.rounds, B=8)
        time_shape(K, D, 4096, 16, True, args.rounds, persist=True)
        time_shape(K, D, 16384, 16, True, args.rounds, persist=True, W=512)
        time_shape(K, D, 16384, 16, True, args.rounds, W=4096)
    RESULTS["ok"] = ok
    with open(os.path.join(args.out, "tma_lab.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)
    print("ALL TMA CHECKS PASSED" if ok else "TMA CHECKS FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
