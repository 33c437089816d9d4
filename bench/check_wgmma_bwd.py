"""Checks and times the Hopper wgmma attention backward (engine/src/main/cuda/attention/flash_bwd_wgmma.cuh, at head
dim 64 flash_bwd_wgmma_hd64.cuh, at 256 flash_bwd_wgmma_hd256.cuh).

    python3 bench/check_wgmma_bwd.py --fatbin F --out DIR [--variants wgmma,wgmma2] [--quick] [--no-timing]
    python3 bench/check_wgmma_bwd.py --fatbin F --out DIR --head-dim 64     (variants wgmma4, wgmma4s3: 2 / 3 stages)
    python3 bench/check_wgmma_bwd.py --fatbin F --out DIR --head-dim 256    (variant wgmma4; "mma" = flash_bwd_wide)
    python3 bench/check_wgmma_bwd.py --fatbin F --profile-one wgmma4      (under ncu: 3 launches at MHA 16k causal)
    python3 bench/check_wgmma_bwd.py --fatbin x --summarize-ncu SRC.csv  (ncu's source page: hot SASS lines)

Variants (kernel suffixes): wgmma (v1), wgmma2, wgmma3, wgmma4 (shipped), wgmma5; default wgmma4,wgmma5. At
--head-dim 64: wgmma4 (2 stages, shipped) and wgmma4s3 (3 stages); the timed shapes become MHA 32x64, GQA 32q/8kv
and CCA-4x 8q/8kv (E = 2048 at d 64); at --head-dim 256: MHA 8x256, GQA 8q/2kv, CCA-4x 2q/2kv.

1. The driver loaded the sm_90a image (wgmma_arch_probe), else every wgmma kernel would trap.
2. dQ, dK, dV of flash_bwd_hd128[_causal]_<variant> (and of the mma.sync flash_bwd_hd128 beside it) against float64
   autograd on fresh random inputs per case: o and LSE from our forward (NaN-poisoned before it), dO random. The
   outputs are fp32 accumulators the caller zeroes: they start NaN-poisoned and are zeroed the way the backend does
   (a missed zeroing shows as NaN), the Dv scratch stays NaN-poisoned for the preprocess kernel to overwrite; a
   missing contribution shows as error (random gradients: no element is zero by design). Tolerance as
   side_by_side.check_bwd: error at most twice that of PyTorch's plain bf16 attention backward (SDPA math) on the
   same inputs, plus 2e-3. A second launch must agree with the first to 1e-5 (fp32 atomic order only; more is a
   race). Cases: T = 64, 77, 200, 300, 333, 513, 1000, 1500, 2048, 4096 (tails of the 64-row query and 128-key
   tiles), causal and not, MHA and GQA (G = 2, 4, 8), B = 2. (FA2 / cuDNN are timed eager: they refuse graph
   capture; at 16k the launch overhead is far below their spread.)
3. Timing (side_by_side.bench, CUDA-graph replays, event medians, two input sets rotated): our backward (Dv
   preprocess + the kernel + the output zeroing, as the backend runs it) for each variant and for the mma.sync v2,
   beside SDPA's FA2 and cuDNN backward (autograd.grad on a saved forward), MHA 16x128, GQA 16q/4kv, CCA 4q/4kv at
   T 4k / 16k (64k for 4 heads), causal, batch 1; FLOPs = 2.5x the forward's (FA convention).
Prints a TF/s table last; everything goes to DIR/check_wgmma_bwd.json.
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
from ccalab_cuda import Kernels, wide_bwd_smem  # noqa: E402
import cca_reference as ref  # noqa: E402
from check_wgmma import add_tflops, arch_probe, print_table, timed_shapes  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
BWD_THREADS = 384
BWD_SMEM = {128: {"": 202752}, 64: {"wgmma4": 120832, "wgmma4s3": 137728},  # wgbwd / wgbwd64::Cfg SMEM_BYTES
            256: {"": 231424}}  # wgbwd256::SMEM_BYTES (every version)
HD = [128]  # the head dim under test (--head-dim)
VARIANTS = ["wgmma4", "wgmma5"]  # v4 (shipped) and v5 by default; v1-v3: "wgmma", "wgmma2", "wgmma3" (all measured: perf-log-wgmma.md)


def wg_bwd(K, q, k, v, o, lse, do, causal=True, variant="wgmma", outs=None):
    """Our backward as the backend runs it: zero the fp32 accumulators, Dv = rowsum(dO o), the kernel.
    variant None: the mma.sync v2 kernel (flash_bwd_hd128)."""
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    assert D in (64, 128, 256) and Hq % Hkv == 0
    if outs is None:
        dq = torch.zeros(B, T, Hq, D, device=dev, dtype=torch.float32)
        dk = torch.zeros(B, T, Hkv, D, device=dev, dtype=torch.float32)
        dv = torch.zeros_like(dk)
        dvec = torch.empty(B, Hq, T, device=dev, dtype=torch.float32)
    else:
        dq, dk, dv, dvec = outs
        dq.zero_()
        dk.zero_()
        dv.zero_()
    rows = B * T * Hq
    K.launch(f"flash_bwd_preprocess_hd{D}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq)
    name = f"flash_bwd_hd{D}" + ("_causal" if causal else "")
    bkv = 64 if D == 256 else 128  # D = 256: 64-key blocks (both kernels)
    if variant is None and D == 256:  # flash_bwd_wide_kernel, the shipped mma.sync kernel at D = 256
        threads, smem = 256, wide_bwd_smem(256, 256, 64, 64, True)
    elif variant is None:
        threads, smem = 256, (2 * 128 * D + 4 * 64 * D + 128 * 64) * 2 + 4 * 64 * 4
    else:
        smem = BWD_SMEM[D].get(variant, BWD_SMEM[D].get(""))
        name, threads = name + "_" + variant, BWD_THREADS
    K.launch(name, (-(-T // bkv), Hq, B), (threads, 1, 1), smem, dq, dk, dv, q, k, v, do, lse, dvec, T, Hq, Hkv,
             1.0 / math.sqrt(D))
    return dq, dk, dv


def check_bwd(K, quick):
    ok = True
    cases = [(1, 64, 2, 2, True), (1, 77, 2, 1, True), (2, 200, 4, 2, True), (1, 300, 4, 4, False),
             (1, 513, 2, 1, True), (1, 1000, 8, 2, True), (1, 1000, 4, 4, False), (2, 333, 8, 1, False),
             (1, 2048, 4, 4, True), (1, 4096, 2, 2, True), (1, 1500, 16, 4, True)]
    if quick:
        cases = cases[:7]
    for (B, T, Hq, Hkv, causal) in cases:
        torch.manual_seed(hash((B, T, Hq, Hkv, causal, 11)) % 100000)
        q = torch.randn(B, T, Hq, HD[0], device=dev).to(bf16)
        k = torch.randn(B, T, Hkv, HD[0], device=dev).to(bf16)
        v = torch.randn(B, T, Hkv, HD[0], device=dev).to(bf16)
        do = torch.randn(B, T, Hq, HD[0], device=dev).to(bf16)
        o = torch.full_like(q, float("nan"))
        lse = torch.full((B, Hq, T), float("nan"), device=dev)
        K.flash_fwd(q, k, v, causal, out=o, lse=lse)
        torch.cuda.synchronize()
        qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
        r, _ = ref.attention_f64(qd, kd, vd, causal)
        r.backward(do.double())
        qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
        ob = sbs.sdpa(qb, kb, vb, causal, SDPBackend.MATH)  # PyTorch's plain bf16 attention
        ob.backward(do.transpose(1, 2))
        for variant in VARIANTS + [None]:
            # NaN first, then the zeroing the contract asks of the caller inside wg_bwd: a stale buffer or a
            # missing zeroing shows as NaN; every element must come back finite
            outs = (torch.full((B, T, Hq, HD[0]), float("nan"), device=dev),
                    torch.full((B, T, Hkv, HD[0]), float("nan"), device=dev),
                    torch.full((B, T, Hkv, HD[0]), float("nan"), device=dev),
                    torch.full((B, Hq, T), float("nan"), device=dev))
            dq, dk, dv = wg_bwd(K, q, k, v, o, lse, do, causal, variant, outs)
            torch.cuda.synchronize()
            name = f"bwd_{variant or 'mma'} D{HD[0]} B{B} T{T} Hq{Hq} Hkv{Hkv} causal={causal}"
            ok &= sbs.check(name + " dq", dq, qd.grad, qb.grad, 2e-3)
            ok &= sbs.check(name + " dk", dk, kd.grad, kb.grad, 2e-3)
            ok &= sbs.check(name + " dv", dv, vd.grad, vb.grad, 2e-3)
            # run-to-run: a second launch on the same inputs must agree to fp32 atomic-order noise
            dq2, dk2, dv2 = wg_bwd(K, q, k, v, o, lse, do, causal, variant)
            torch.cuda.synchronize()
            rr = max(sbs.rel_err(dq2, dq), sbs.rel_err(dk2, dk), sbs.rel_err(dv2, dv))
            rok = rr < 1e-5
            sbs.RESULTS["checks"].append({"case": name + " rerun", "err": rr, "ok": rok})
            if not rok:
                print(f"FAIL {name} rerun rel diff {rr:.2e} (a race?)")
            ok &= rok
        del r, qd, kd, vd
    return ok


def timed_shapes64(quick):
    """(name, Hq, Hkv, T) at head dim 64 (the paper grid's d 64 at E = 2048): MHA 32x64, GQA 32q/8kv, CCA-4x 8q/8kv."""
    for (name, Hq, Hkv) in (("MHA 32x64", 32, 32), ("GQA 32q/8kv", 32, 8), ("CCA-4x 8q/8kv", 8, 8)):
        for T in ([4096, 16384] if quick or Hq > 8 else [4096, 16384, 65536]):
            yield name, Hq, Hkv, T


def timed_shapes256(quick):
    """(name, Hq, Hkv, T) at head dim 256 (the paper grid's d 256 at E = 2048): MHA 8x256, GQA 8q/2kv, CCA-4x 2q/2kv."""
    for (name, Hq, Hkv) in (("MHA 8x256", 8, 8), ("GQA 8q/2kv", 8, 2), ("CCA-4x 2q/2kv", 2, 2)):
        for T in ([4096, 16384] if quick or Hq > 2 else [4096, 16384, 65536]):
            yield name, Hq, Hkv, T


def time_all(K, quick):
    rows = []
    shapes = {128: timed_shapes, 64: timed_shapes64, 256: timed_shapes256}[HD[0]]
    for (name, Hq, Hkv, T) in shapes(quick):
        sets = []
        for _ in range(2):
            q = torch.randn(1, T, Hq, HD[0], device=dev).to(bf16)
            k = torch.randn(1, T, Hkv, HD[0], device=dev).to(bf16)
            v = torch.randn(1, T, Hkv, HD[0], device=dev).to(bf16)
            do = torch.randn(1, T, Hq, HD[0], device=dev).to(bf16)
            o, lse = K.flash_fwd(q, k, v, True)
            sets.append((q, k, v, o, lse, do))
        outs = (torch.empty(1, T, Hq, HD[0], device=dev), torch.empty(1, T, Hkv, HD[0], device=dev),
                torch.empty(1, T, Hkv, HD[0], device=dev), torch.empty(1, Hq, T, device=dev))
        fl = 2.5 * sbs.attn_flops(1, T, Hq, HD[0], True)
        reps = 10 if T >= 16384 else 20
        row = {"shape": name, "T": T, "Hq": Hq, "Hkv": Hkv}
        for variant in VARIANTS:
            row[variant] = sbs.bench(lambda i: wg_bwd(K, *sets[i % 2], True, variant, outs), reps)
        row["mma"] = sbs.bench(lambda i: wg_bwd(K, *sets[i % 2], True, None, outs), reps)
        for label, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                grads = []
                for (q, k, v, o, lse, do) in sets:
                    qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
                    ob = sbs.sdpa(qb, kb, vb, True, be)
                    grads.append((ob, (qb, kb, vb), do.transpose(1, 2)))
                row[label] = sbs.bench(
                    lambda i: torch.autograd.grad(grads[i % 2][0], grads[i % 2][1], grads[i % 2][2],
                                                  retain_graph=True), reps, graph=False)
                del grads
            except Exception as ex:  # noqa: BLE001 - a backend may refuse a shape
                row[label] = {"error": str(ex)[:200]}
        for variant in VARIANTS:
            row[variant + "_again"] = sbs.bench(lambda i: wg_bwd(K, *sets[i % 2], True, variant, outs), reps)
        add_tflops(row, fl)
        rows.append(row)
        sbs.RESULTS["timings"].append({"kind": "wgmma_bwd", **row})
        print(json.dumps(row), flush=True)
        del sets, outs
        torch.cuda.empty_cache()
    return rows


def summarize_ncu(path):
    import csv
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith('"Address"') or l.startswith("Address") or '"Source"' in l)
    rows = list(csv.DictReader(lines[start:]))
    cols = rows[0].keys()
    src = next(c for c in cols if c.strip() == "Source")
    addr = next(c for c in cols if c.strip() == "Address")
    stall = next((c for c in cols if c.startswith("Warp Stall Sampling (All")), None)
    execd = next((c for c in cols if c.startswith("Instructions Executed")), None)

    def num(x):
        try:
            return float(str(x).replace(",", ""))
        except ValueError:
            return 0.0
    total = sum(num(r[stall]) for r in rows) if stall else 0
    print(f"# {len(rows)} SASS lines, {total:.0f} stall samples; columns: {addr}, {stall}, {execd}, {src}")
    print("# 40 most-sampled instructions (address, samples, % of all, executed, SASS)")
    for r in sorted(rows, key=lambda r: -num(r[stall]))[:40]:
        print(f"{r[addr]} {num(r[stall]):8.0f} {100 * num(r[stall]) / max(total, 1):5.1f}% {num(r[execd]):10.0f} {r[src]}")
    print("# all instructions executed more than 100000 times, in address order, with their samples")
    for r in rows:
        if num(r[execd]) > 100000:
            print(f"{r[addr]} {num(r[stall]):8.0f} {num(r[execd]):10.0f} {r[src]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true", help="skip the float64 checks (A/B timing of two builds)")
    ap.add_argument("--head-dim", type=int, default=128, choices=(64, 128, 256))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="kernel suffixes to check and time")
    ap.add_argument("--profile-one", default=None,
                    help="only launch this variant 3 times at MHA 16x128 T=16k causal (for ncu), then exit")
    ap.add_argument("--summarize-ncu", default=None,
                    help="CSV of `ncu -i R --page source --csv --print-source sass`: print the consumer loop's SASS "
                         "with stall samples, and the 40 most-sampled instructions, then exit")
    a = ap.parse_args()
    HD[0] = a.head_dim
    VARIANTS[:] = (a.variants.split(",") if a.head_dim == 128 or a.variants != ",".join(VARIANTS)
                   else {64: ["wgmma4", "wgmma4s3"], 256: ["wgmma4"]}[a.head_dim])
    if a.summarize_ncu:
        summarize_ncu(a.summarize_ncu)
        return
    if a.profile_one:
        K = Kernels(a.fatbin)
        sets = [torch.randn(1, 16384, 2048 // HD[0], HD[0], device=dev).to(bf16) for _ in range(4)]
        q, k, v, do = sets
        o, lse = K.flash_fwd(q, k, v, True)
        for _ in range(3):
            wg_bwd(K, q, k, v, o, lse, do, True, None if a.profile_one == "mma" else a.profile_one)
        torch.cuda.synchronize()
        return
    os.makedirs(a.out, exist_ok=True)
    K = Kernels(a.fatbin)
    print("device:", torch.cuda.get_device_name(), "| torch", torch.__version__, "| gpu", sbs.gpu_state())
    ok = arch_probe(K)
    if ok and not a.timing_only:
        ok = check_bwd(K, a.quick) and ok
    # timed even after a failed check (marked below): the device budget is small
    rows = [] if a.no_timing or not sbs.RESULTS["checks"][0]["ok"] else time_all(K, a.quick)
    sbs.RESULTS["all_ok"] = bool(ok)
    with open(os.path.join(a.out, "check_wgmma_bwd.json"), "w") as f:
        json.dump(sbs.RESULTS, f, indent=1)
    nfail = sum(1 for c in sbs.RESULTS["checks"] if not c["ok"])
    print(f"\n{len(sbs.RESULTS['checks'])} checks, {nfail} failed")
    if rows:
        print_table(rows, VARIANTS, "mma", "mma v2", "backward TF/s (2.5x forward FLOPs), causal, batch 1")
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED (timings above may be of an incorrect kernel)")


if __name__ == "__main__":
    main()
