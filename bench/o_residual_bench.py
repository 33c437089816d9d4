"""What O's rounding residual costs: the training forwards with and without it, the backward with Dv from O or
from O + O_lo, beside SDPA's FA2 and cuDNN in the same call (docs/perf-log.md, "Session 4, prec").

    python3 bench/o_residual_bench.py --fatbin F [--quick]

Forward: flash_fwd_hd<D>[_causal]<variant> against its "_lo" instance (one more bf16 [B, T, Hq, D] store: O_lo =
bf16(O - bf16(O))). Backward: the output zeroing + Dv preprocess + the kernel, as CudaBackend.flashBackward runs
them, with flash_bwd_preprocess_hd<D> (reads O, dO) against flash_bwd_preprocess_lo_hd<D> (reads O, O_lo, dO); the
kernel is the same. Timings: side_by_side.bench (CUDA-graph replays, event medians, two rotated input sets), each
ours timed twice in A B A B order (the spread of the two is the noise). Correctness: the residual forward's O equals
the plain one's bit for bit and O + O_lo is nearer to float64 than O; Dv from O + O_lo is checked against the
float64 rowsum (the gradients themselves: CudaOResidualGpuTest, cca_case_floor.py). Prints a table last.
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
from ccalab_cuda import Kernels, wide_bwd_smem, BWD_WGMMA_SUFFIX, BWD_WGMMA_THREADS, BWD_WGMMA_SMEM  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16


def bwd(K, q, k, v, o, lse, do, outs, olo, mma):
    """CudaBackend.flashBackward: zero dq/dk/dv, Dv (from o, or o + olo), the backward kernel."""
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    dq, dk, dv, dvec = outs
    dq.zero_()
    dk.zero_()
    dv.zero_()
    rows = B * T * Hq
    if olo is None:
        K.launch(f"flash_bwd_preprocess_hd{D}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq)
    else:
        K.launch(f"flash_bwd_preprocess_lo_hd{D}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq, olo)
    name = f"flash_bwd_hd{D}_causal"
    threads = 256
    if D == 256:
        bkv, smem = 64, wide_bwd_smem(256, 256, 64, 64, True)
    elif K.hopper and D == 128 and not mma:
        name, threads, bkv, smem = name + BWD_WGMMA_SUFFIX, BWD_WGMMA_THREADS, 128, BWD_WGMMA_SMEM
    else:
        bkv, smem = 128, (2 * 128 * D + 4 * 64 * D + 128 * 64) * 2 + 4 * 64 * 4
    K.launch(name, (-(-T // bkv), Hq, B), (threads, 1, 1), smem, dq, dk, dv, q, k, v, do, lse, dvec, T, Hq, Hkv,
             1.0 / math.sqrt(D))


def check(K, D, Hq, Hkv, fwd_kw):
    """O_hi == the plain O bit for bit; O + O_lo vs float64; Dv from O + O_lo vs the float64 rowsum."""
    T = 333
    q, k, v, do = (torch.randn(1, T, h, D, device=dev).to(bf16) for h in (Hq, Hkv, Hkv, Hq))
    o1, _ = K.flash_fwd(q, k, v, True, **fwd_kw)
    olo = torch.full_like(o1, float("nan"))
    o2, _ = K.flash_fwd(q, k, v, True, olo=olo, **fwd_kw)
    ref = sbs.sdpa(q.double(), k.double(), v.double(), True, SDPBackend.MATH).transpose(1, 2)
    e_hi = ((o2.double() - ref).norm() / ref.norm()).item()
    e_sum = ((o2.double() + olo.double() - ref).norm() / ref.norm()).item()
    dvec = torch.empty(1, Hq, T, device=dev)
    K.launch(f"flash_bwd_preprocess_lo_hd{D}", (-(-T * Hq // 8), 1, 1), (256, 1, 1), 0, dvec, o2, do, 1, T, Hq, olo)
    dref = (do.double() * (o2.double() + olo.double())).sum(-1).transpose(1, 2)
    e_dv = ((dvec.double() - dref).norm() / dref.norm()).item()
    return {"hi_equal": bool(torch.equal(o1, o2)), "o_rel": e_hi, "o_plus_lo_rel": e_sum, "dv_rel": e_dv,
            "ok": bool(torch.equal(o1, o2)) and e_sum < e_hi / 20 and e_dv < 1e-5 and not olo.isnan().any().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    K = Kernels(a.fatbin)
    print(torch.cuda.get_device_name(), torch.__version__, "hopper (wgmma):", K.hopper, flush=True)
    # (label, Hq, Hkv, D, T, flash_fwd kwargs, mma backward)
    shapes = [("MHA 16x128", 16, 16, 128, 16384, {}, False), ("GQA 16q/4kv", 16, 4, 128, 16384, {}, False),
              ("CCA-4x 4q/4kv", 4, 4, 128, 16384, {}, False), ("MHA 16x128", 16, 16, 128, 4096, {}, False),
              ("MHA 16x128 n128/mma", 16, 16, 128, 16384, {"mt": 1, "bn": 128}, True),
              ("MHA 32x64", 32, 32, 64, 16384, {}, True), ("MHA 8x256", 8, 8, 256, 16384, {}, True)]
    if a.quick:
        shapes = shapes[:1]
    rows, checks = [], []
    for (label, Hq, Hkv, D, T, kw, mma) in shapes:
        if T == 16384 and label.startswith("MHA 16x128") or D != 128 or "n128" in label:
            c = check(K, D, Hq, Hkv, kw)
            checks.append({"shape": label, **c})
            print("check", label, json.dumps(c), flush=True)
        sets = []
        for _ in range(2):
            q, k, v, do = (torch.randn(1, T, h, D, device=dev).to(bf16) for h in (Hq, Hkv, Hkv, Hq))
            o, lse = K.flash_fwd(q, k, v, True, **kw)
            olo = torch.empty_like(o)
            K.flash_fwd(q, k, v, True, out=torch.empty_like(o), olo=olo, **kw)
            sets.append((q, k, v, o, lse, do, olo))
        o_, l_, olo_ = torch.empty_like(sets[0][0]), torch.empty(1, Hq, T, device=dev), torch.empty_like(sets[0][0])
        outs = (torch.empty(1, T, Hq, D, device=dev), torch.empty(1, T, Hkv, D, device=dev),
                torch.empty(1, T, Hkv, D, device=dev), torch.empty(1, Hq, T, device=dev))
        reps = 10 if T >= 16384 else 20
        fl = sbs.attn_flops(1, T, Hq, D, True)
        row = {"shape": label, "T": T, "Hq": Hq, "Hkv": Hkv, "D": D}

        def fwd(i, lo):
            q, k, v = sets[i % 2][:3]
            K.flash_fwd(q, k, v, True, out=o_, lse=l_, olo=olo_ if lo else None, **kw)

        def bw(i, lo):
            q, k, v, o, lse, do, olo = sets[i % 2]
            bwd(K, q, k, v, o, lse, do, outs, olo if lo else None, mma)

        for rnd in ("", "_again"):
            row["fwd" + rnd] = sbs.bench(lambda i: fwd(i, False), reps)
            row["fwd_lo" + rnd] = sbs.bench(lambda i: fwd(i, True), reps)
            row["bwd" + rnd] = sbs.bench(lambda i: bw(i, False), reps)
            row["bwd_lo" + rnd] = sbs.bench(lambda i: bw(i, True), reps)
        for name, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                row[name + "_fwd"] = sbs.bench(lambda i: sbs.sdpa(*sets[i % 2][:3], True, be), reps)
                grads = []
                for s in sets:
                    qb, kb, vb = (x.detach().clone().requires_grad_() for x in s[:3])
                    grads.append((sbs.sdpa(qb, kb, vb, True, be), (qb, kb, vb), s[5].transpose(1, 2)))
                row[name + "_bwd"] = sbs.bench(lambda i: torch.autograd.grad(grads[i % 2][0], grads[i % 2][1],
                                                                             grads[i % 2][2], retain_graph=True),
                                               reps, graph=False)
                del grads
            except Exception as ex:  # noqa: BLE001 - a backend may refuse a shape
                row[name + "_fwd"] = {"error": str(ex)[:200]}
        for key in [x for x in row if isinstance(row[x], dict) and "p50" in row[x]]:
            row[key]["tflops"] = (2.5 if "bwd" in key else 1.0) * fl / row[key]["p50"] / 1e9
        rows.append(row)
        print(json.dumps(row), flush=True)
        del sets, outs
        torch.cuda.empty_cache()

    def ms(r, k):
        return r[k]["p50"] if isinstance(r.get(k), dict) and "p50" in r[k] else float("nan")

    print("\nO residual cost (ms, medians; A B A B order: plain / +lo, then again)")
    print("| shape | T | fwd | fwd+lo | fwd cost | bwd | bwd+lo | bwd cost | FA2 fwd / bwd | cuDNN fwd / bwd |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f0, f1 = (ms(r, "fwd") + ms(r, "fwd_again")) / 2, (ms(r, "fwd_lo") + ms(r, "fwd_lo_again")) / 2
        b0, b1 = (ms(r, "bwd") + ms(r, "bwd_again")) / 2, (ms(r, "bwd_lo") + ms(r, "bwd_lo_again")) / 2
        print(f"| {r['shape']} | {r['T'] // 1024}k | {ms(r, 'fwd'):.3f} ({ms(r, 'fwd_again'):.3f}) | "
              f"{ms(r, 'fwd_lo'):.3f} ({ms(r, 'fwd_lo_again'):.3f}) | {100 * (f1 / f0 - 1):+.1f}% | "
              f"{ms(r, 'bwd'):.3f} ({ms(r, 'bwd_again'):.3f}) | {ms(r, 'bwd_lo'):.3f} ({ms(r, 'bwd_lo_again'):.3f}) | "
              f"{100 * (b1 / b0 - 1):+.1f}% | {ms(r, 'fa2_fwd'):.3f} / {ms(r, 'fa2_bwd'):.3f} | "
              f"{ms(r, 'cudnn_fwd'):.3f} / {ms(r, 'cudnn_bwd'):.3f} |")
    print("checks:", "ALL PASS" if all(c["ok"] for c in checks) else "FAIL", json.dumps(checks), flush=True)


if __name__ == "__main__":
    main()
