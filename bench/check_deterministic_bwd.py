"""Checks and times the deterministic wgmma backward (the "_det" kernels: flash_bwd_wgmma.cuh / _hd64.cuh / _wide.cuh with DET).

    python3 bench/check_deterministic_bwd.py --fatbin F --out DIR [--no-timing]

1. For head dims 64, 128 and 256, causal and not, MHA and GQA (G = 4, 8), lengths off the 64-row query and 128-key tiles,
   B 1-2: three launches of the deterministic backward on the same inputs must agree bit for bit (dQ, dK, dV), and
   the first must match float64 autograd within side_by_side.check's bound (twice PyTorch's plain bf16 backward + 2e-3).
   The plain (atomic-order) kernel runs three times beside it: whether its results differ is printed, not asserted.
2. MLA's prefill core at d_qk 192 / d_v 128 (session 9): the same checks, and det vs plain at 16 heads, causal.
3. Timing (graph replays, event medians): deterministic vs plain, MHA and GQA, causal at 4k and 16k, not causal at
   16k, batch 1.
Everything goes to DIR/check_deterministic_bwd.json.
"""
import argparse
import json
import math
import os
import sys

import torch
from torch.nn.attention import SDPBackend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402
from ccalab_cuda import Kernels  # noqa: E402
import cca_reference as ref  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16


def inputs(B, T, Hq, Hkv, D, seed):
    torch.manual_seed(seed)
    q = torch.randn(B, T, Hq, D, device=dev).to(bf16)
    k = torch.randn(B, T, Hkv, D, device=dev).to(bf16)
    v = torch.randn(B, T, Hkv, D, device=dev).to(bf16)
    do = torch.randn(B, T, Hq, D, device=dev).to(bf16)
    return q, k, v, do


def check(K):
    ok = True
    cases = [(1, 1000, 8, 2, 64, True), (2, 777, 4, 1, 64, False), (1, 2048, 8, 8, 64, True),
             (1, 1000, 8, 2, 128, True), (2, 777, 4, 1, 128, False), (1, 2048, 16, 4, 128, True),
             (1, 300, 2, 2, 128, False), (1, 1000, 8, 2, 256, True), (2, 333, 4, 4, 256, False),
             (1, 700, 8, 1, 256, True)]
    for (B, T, Hq, Hkv, D, causal) in cases:
        q, k, v, do = inputs(B, T, Hq, Hkv, D, hash((B, T, Hq, Hkv, D, causal)) % 100000)
        o, lse = K.flash_fwd(q, k, v, causal)
        name = f"det D{D} B{B} T{T} Hq{Hq} Hkv{Hkv} causal={causal}"
        runs = [K.flash_bwd(q, k, v, o, lse, do, causal, deterministic=True) for _ in range(3)]
        torch.cuda.synchronize()
        same = all(torch.equal(a, b) for r in runs[1:] for a, b in zip(runs[0], r))
        sbs.RESULTS["checks"].append({"case": name + " bitwise x3", "err": 0.0 if same else 1.0, "ok": same})
        print(("PASS " if same else "FAIL ") + name + " three runs bit for bit")
        ok &= same
        plain = [K.flash_bwd(q, k, v, o, lse, do, causal) for _ in range(3)]
        torch.cuda.synchronize()
        plain_same = all(torch.equal(a, b) for r in plain[1:] for a, b in zip(plain[0], r))
        print(f"     plain kernel, three runs: {'identical' if plain_same else 'differ (atomic order)'}")
        qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
        r, _ = ref.attention_f64(qd, kd, vd, causal)
        r.backward(do.double())
        qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
        ob = sbs.sdpa(qb, kb, vb, causal, SDPBackend.MATH)
        ob.backward(do.transpose(1, 2))
        dq, dk, dv = runs[0]
        ok &= sbs.check(name + " dq", dq, qd.grad, qb.grad, 2e-3)
        ok &= sbs.check(name + " dk", dk, kd.grad, kb.grad, 2e-3)
        ok &= sbs.check(name + " dv", dv, vd.grad, vb.grad, 2e-3)
    return ok


def check_mla(K, timed=True):
    """MLA's prefill core at d_qk 192 / d_v 128 (session 9, mla_bwd_qk192_v128[_causal]_wgmma_det): three runs bit for
    bit and within the float64 bound; then det vs plain at 16 heads, 4k / 16k causal."""
    import check_mla as cm
    from ccalab_mla import MlaKernels
    M = MlaKernels(K)  # the same module
    ok, rows = True, []
    for (B, T, H, causal) in ((1, 1000, 4, True), (2, 333, 2, False), (1, 2048, 8, True)):
        torch.manual_seed(hash((B, T, H, causal, "mla")) % 100000)
        q = torch.randn(B, T, H, 192, device=dev).to(bf16)
        k = torch.randn(B, T, H, 192, device=dev).to(bf16)
        v = torch.randn(B, T, H, 128, device=dev).to(bf16)
        do = torch.randn(B, T, H, 128, device=dev).to(bf16)
        scale = 1.0 / math.sqrt(192)
        o, lse = M.fwd(q, k, v, causal, scale)
        name = f"det MLA 192/128 B{B} T{T} H{H} causal={causal}"
        runs = [M.bwd(q, k, v, o, lse, do, causal, scale, wgmma=True, deterministic=True) for _ in range(3)]
        torch.cuda.synchronize()
        same = all(torch.equal(a, b) for r in runs[1:] for a, b in zip(runs[0], r))
        sbs.RESULTS["checks"].append({"case": name + " bitwise x3", "err": 0.0 if same else 1.0, "ok": same})
        print(("PASS " if same else "FAIL ") + name + " three runs bit for bit")
        ok &= same
        qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
        r, _ = cm.attention_f64(qd, kd, vd, causal, scale)
        r.backward(do.double())
        qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
        cm.attention_plain_bf16(qb, kb, vb, causal, scale).backward(do)
        for g, x, ref64, plain in zip(("dq", "dk", "dv"), runs[0], (qd.grad, kd.grad, vd.grad), (qb.grad, kb.grad, vb.grad)):
            ok &= sbs.check(f"{name} {g}", x, ref64, plain, 2e-3)
    if timed:
        for T in (4096, 16384):
            sets = []
            for i in range(2):
                torch.manual_seed(i)
                q = torch.randn(1, T, 16, 192, device=dev).to(bf16)
                k = torch.randn(1, T, 16, 192, device=dev).to(bf16)
                v = torch.randn(1, T, 16, 128, device=dev).to(bf16)
                do = torch.randn(1, T, 16, 128, device=dev).to(bf16)
                o, lse = M.fwd(q, k, v, True, 1.0 / math.sqrt(192))
                sets.append((q, k, v, o, lse, do))
            fl = 2.5 * 2 * T * T * 16 * (192 + 128) / 2  # causal: S = Q K^T (192) and P V (128), halved
            row = {"shape": "MLA 16 heads 192/128", "T": T, "causal": True}
            for label, det in (("plain", False), ("det", True), ("plain_again", False), ("det_again", True)):
                st = sbs.bench(lambda i: M.bwd(*sets[i % 2], True, 1.0 / math.sqrt(192), wgmma=True, deterministic=det),
                               10 if T >= 16384 else 20)
                row[label] = {**st, "tflops": fl / (st["p50"] * 1e-3) / 1e12}
            rows.append(row)
            sbs.RESULTS["timings"].append({"kind": "deterministic_bwd_mla", **row})
            print(f"MLA 16x192/128 {T:6d} causal  plain {row['plain']['tflops']:6.1f} ({row['plain_again']['tflops']:6.1f})  "
                  f"det {row['det']['tflops']:6.1f} ({row['det_again']['tflops']:6.1f}) TF/s  "
                  f"det/plain {row['det']['tflops'] / row['plain']['tflops']:.2f}", flush=True)
            del sets
    return ok, rows


def timing(K):
    rows = []
    for (name, Hq, Hkv, D) in (("MHA 16x128", 16, 16, 128), ("GQA 16q/4kv", 16, 4, 128), ("MHA 32x64", 32, 32, 64),
                               ("GQA 32q/8kv", 32, 8, 64), ("MHA 8x256", 8, 8, 256), ("GQA 8q/2kv d256", 8, 2, 256)):
        for (T, causal) in ((4096, True), (16384, True), (16384, False)):
            sets = []
            for i in range(2):
                q, k, v, do = inputs(1, T, Hq, Hkv, D, i)
                o, lse = K.flash_fwd(q, k, v, causal)
                sets.append((q, k, v, o, lse, do))
            fl = 2.5 * sbs.attn_flops(1, T, Hq, D, causal)
            reps = 10 if T >= 16384 else 20
            row = {"shape": name, "T": T, "causal": causal}
            for label, det in (("plain", False), ("det", True), ("plain_again", False), ("det_again", True)):
                st = sbs.bench(lambda i: K.flash_bwd(*sets[i % 2], causal, deterministic=det), reps)
                row[label] = {**st, "tflops": fl / (st["p50"] * 1e-3) / 1e12}
            rows.append(row)
            sbs.RESULTS["timings"].append({"kind": "deterministic_bwd", **row})
            print(f"{name:12s} {T:6d} {'causal' if causal else 'full  '}  plain {row['plain']['tflops']:6.1f} ({row['plain_again']['tflops']:6.1f})  "
                  f"det {row['det']['tflops']:6.1f} ({row['det_again']['tflops']:6.1f}) TF/s  "
                  f"det/plain {row['det']['tflops'] / row['plain']['tflops']:.2f}", flush=True)
            del sets
            torch.cuda.empty_cache()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--no-timing", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    K = Kernels(a.fatbin)
    assert K.hopper, "the deterministic backward needs the sm_90a image"
    print("device:", torch.cuda.get_device_name(), "| torch", torch.__version__)
    ok = check(K)
    ok_mla, _ = check_mla(K, timed=not a.no_timing)
    ok &= ok_mla
    if not a.no_timing:
        timing(K)
    sbs.RESULTS["all_ok"] = bool(ok)
    with open(os.path.join(a.out, "check_deterministic_bwd.json"), "w") as f:
        json.dump(sbs.RESULTS, f, indent=1)
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")


if __name__ == "__main__":
    main()
