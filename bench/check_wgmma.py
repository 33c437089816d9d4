"""Checks and times the Hopper wgmma attention forward (engine/src/main/cuda/attention/flash_fwd_wgmma.cuh).

    python3 bench/check_wgmma.py --fatbin .gl/wg.fatbin --out $OUT [--no-timing] [--quick]

1. The driver loaded the sm_90a image (wgmma_arch_probe), else every wgmma kernel would trap.
2. One 128x128 tile through wgmma_debug_tile: S = Q K^T and O = bf16(S) V against float64, so that a descriptor
   bug shows which product is wrong (and, for O, whether V was read transposed).
3. flash_fwd_hd128[_causal]_wgmma against float64 (side_by_side.check: error <= 2x a plain bf16 torch
   implementation's + 1e-3), causal and not, T in {1, 77, 128, 333, 1000, 4096}, B 1-2, MHA / GQA, the CCA value
   shift; outputs and LSE NaN-poisoned before each launch; LSE max abs error < 1e-3.
4. Timing (side_by_side.bench: CUDA-graph replays, event medians) beside SDPA FA2 / cuDNN and our mma.sync n128
   kernel: MHA 16x128, GQA 16q/4kv, CCA 4q/4kv at T 4k / 16k (/ 64k for 4 heads), causal, batch 1.
Prints a TF/s table last; everything goes to DIR/check_wgmma.json.
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
WG_BM, WG_THREADS = 128, 256
WG_SMEM = 32768 * 7 + 1024  # Q tile + 3 stages of K/V tiles + alignment slack (wgfa::SMEM_BYTES)
# kernel name suffix -> threads per block: v1 (2 consumer warpgroups, cp.async by all), v2 (+ producer
# warpgroup), v3 (v2 + ping-pong), v4 (v2 + cheaper copies), v5 (v4 + ping-pong); v6 and v7 measured slower in
# session 7 and removed (perf-log-wgmma.md)
VARIANTS = {"wgmma": 256, "wgmma2": 384, "wgmma3": 384, "wgmma4": 384, "wgmma5": 384}
CHECKED = ["wgmma4", "wgmma5"]  # default: the shipped v4 and its ping-pong v5 (measured: v1-v7, see the perf log)


def wg_fwd(K, q, k, v, causal=True, v_shift_from=None, out=None, lse=None, variant="wgmma"):
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    assert D == 128 and q.is_contiguous() and k.is_contiguous() and v.is_contiguous() and Hq % Hkv == 0
    out = torch.empty_like(q) if out is None else out
    lse = torch.empty(B, Hq, T, device=q.device, dtype=torch.float32) if lse is None else lse
    name = "flash_fwd_hd128" + ("_causal" if causal else "") + "_" + variant
    K.launch(name, ((T + WG_BM - 1) // WG_BM, Hq, B), (VARIANTS[variant], 1, 1), WG_SMEM, out, lse, q, k, v, T, Hq, Hkv,
             Hkv if v_shift_from is None else v_shift_from, 1.0 / math.sqrt(D))
    return out, lse


def arch_probe(K):
    r = torch.full((2,), -1, device=dev, dtype=torch.int32)
    K.launch("wgmma_arch_probe", (1, 1, 1), (1, 1, 1), 0, r)
    torch.cuda.synchronize()
    arch, feat = r.tolist()
    ok = arch == 900 and feat == 1
    print(f"{'PASS' if ok else 'FAIL'} arch probe: loaded image __CUDA_ARCH__={arch}, sm_90a features={feat}")
    sbs.RESULTS["checks"].append({"case": "arch probe (sm_90a image loaded)", "arch": arch, "feat": feat, "ok": ok})
    return ok


def debug_tile(K):
    torch.manual_seed(1)
    q, k, v = (torch.randn(128, 128, device=dev).to(bf16) for _ in range(3))
    S = torch.full((128, 128), float("nan"), device=dev)
    O = torch.full((128, 128), float("nan"), device=dev)
    K.launch("wgmma_debug_tile", (1, 1, 1), (WG_THREADS, 1, 1), WG_SMEM, S, O, q, k, v)
    torch.cuda.synchronize()
    sr = q.double() @ k.double().T
    es = sbs.rel_err(S, sr)
    pb = S.to(bf16).double() if torch.isfinite(S).all() else sr.to(bf16).double()
    orf = pb @ v.double()
    eo = sbs.rel_err(O, orf)
    ok = es < 1e-5 and eo < 1e-5
    print(f"{'PASS' if ok else 'FAIL'} debug tile: S=QK^T rel err {es:.2e}, O=bf16(S)V rel err {eo:.2e}")
    if not ok:  # which layout would explain it
        alts = {"S vs Q K (K not transposed)": (S, q.double() @ k.double()),
                "O vs P V^T": (O, pb @ v.double().T),
                "O, rows 0-63 only": (O[:64], orf[:64]), "O, rows 64-127 only": (O[64:], orf[64:]),
                "S, rows 0-63 only": (S[:64], sr[:64]), "S, cols 0-63 only": (S[:, :64], sr[:, :64]),
                "O, cols 0-63 only": (O[:, :64], orf[:, :64])}
        for name, (x, r) in alts.items():
            print(f"      {name}: rel err {sbs.rel_err(x, r):.2e}")
        torch.save({"q": q.cpu(), "k": k.cpu(), "v": v.cpu(), "S": S.cpu(), "O": O.cpu()}, os.path.join(OUT, "debug_tile.pt"))
    sbs.RESULTS["checks"].append({"case": "debug tile", "S_err": es, "O_err": eo, "ok": ok})
    return ok


def check_flash(K, quick):
    ok = True
    cases = [(1, 1, 2, 2), (2, 77, 4, 2), (1, 128, 4, 4), (2, 333, 8, 2), (1, 1000, 4, 1), (1, 1000, 6, 6),
             (1, 4096, 4, 4), (2, 4096, 4, 2)]
    if quick:
        cases = cases[:5]
    for (B, T, Hq, Hkv) in cases:
        for causal in (True, False):
            for vs in ((None, Hkv // 2) if Hkv % 2 == 0 else (None,)):
                torch.manual_seed(hash((B, T, Hq, Hkv, causal, vs, 7)) % 100000)
                q = torch.randn(B, T, Hq, 128, device=dev).to(bf16)
                k = torch.randn(B, T, Hkv, 128, device=dev).to(bf16)
                v = torch.randn(B, T, Hkv, 128, device=dev).to(bf16)
                r, rlse = ref.attention_f64(q, k, v, causal, vs)
                naive = sbs.plain_attention_bf16(q, k, v, causal, vs)
                for variant in CHECKED:
                    o = torch.full_like(q, float("nan"))
                    lse = torch.full((B, Hq, T), float("nan"), device=dev)
                    wg_fwd(K, q, k, v, causal, vs, out=o, lse=lse, variant=variant)
                    torch.cuda.synchronize()
                    name = f"{variant} B{B} T{T} Hq{Hq} Hkv{Hkv} causal={causal} vshift={vs}"
                    ok &= sbs.check(name, o, r, naive)
                    lerr = (lse.double() - rlse).abs().max().item() if torch.isfinite(lse).all() else float("inf")
                    lok = lerr < 1e-3
                    sbs.RESULTS["checks"].append({"case": name + " lse", "err": lerr, "ok": lok})
                    if not lok:
                        print(f"FAIL {name} lse max abs err {lerr:.2e}")
                    ok &= lok
                del r, naive
    return ok


def timed_shapes(quick):
    """(name, Hq, Hkv, T) of the timing tables: MHA 16x128, GQA 16q/4kv, CCA 4q/4kv at T 4k and 16k, and 64k for
    the 4-head shape unless quick."""
    for (name, Hq, Hkv) in (("MHA 16x128", 16, 16), ("GQA 16q/4kv", 16, 4), ("CCA 4q/4kv", 4, 4)):
        for T in ([4096, 16384] if quick else [4096, 16384, 65536]):
            if T == 65536 and Hq > 4:
                continue
            yield name, Hq, Hkv, T


def time_all(K, quick):
    rows = []
    for (name, Hq, Hkv, T) in timed_shapes(quick):
        sets = [(torch.randn(1, T, Hq, 128, device=dev).to(bf16), torch.randn(1, T, Hkv, 128, device=dev).to(bf16),
                 torch.randn(1, T, Hkv, 128, device=dev).to(bf16)) for _ in range(2)]
        o = torch.empty_like(sets[0][0])
        lse = torch.empty(1, Hq, T, device=dev)
        fl = sbs.attn_flops(1, T, Hq, 128, True)
        reps = 20 if T >= 16384 else 40
        row = {"shape": name, "T": T, "Hq": Hq, "Hkv": Hkv}
        for variant in CHECKED:
            row[variant] = sbs.bench(lambda i: wg_fwd(K, *sets[i % 2], True, out=o, lse=lse, variant=variant), reps)
        row["n128"] = sbs.bench(lambda i: K.flash_fwd(*sets[i % 2], True, out=o, lse=lse, mt=1, bn=128), reps)
        for label, be in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                row[label] = sbs.bench(lambda i: sbs.sdpa(*sets[i % 2], True, be), reps)
            except Exception as ex:  # noqa: BLE001 - a backend may refuse a shape
                row[label] = {"error": str(ex)[:200]}
        for variant in CHECKED:
            row[variant + "_again"] = sbs.bench(
                lambda i: wg_fwd(K, *sets[i % 2], True, out=o, lse=lse, variant=variant), reps)
        add_tflops(row, fl)
        rows.append(row)
        sbs.RESULTS["timings"].append({"kind": "wgmma_fwd", **row})
        print(json.dumps(row), flush=True)
        del sets
    return rows


def add_tflops(row, flops):
    """Adds "tflops" (at `flops` per call) to each timing of a row that has a median."""
    for key in [k for k in row if isinstance(row[k], dict)]:
        if "p50" in row[key]:
            row[key]["tflops"] = flops / row[key]["p50"] / 1e9


def print_table(rows, variants, base, base_header, title):
    """The TF/s table of time_all's rows: each variant (and its second timing), `base` (our mma.sync kernel,
    headed `base_header`), FA2, cuDNN, then the last variant's ratios to FA2, cuDNN and `base`."""
    def tf(r, k):
        return r[k].get("tflops", float("nan"))
    best = variants[-1]
    print(f"{title}; ratios for {best}")
    print("| shape | T | " + " | ".join(f"{v} (again)" for v in variants) +
          f" | {base_header} | FA2 | cuDNN | /FA2 | /cuDNN | /{base} |")
    print("|---|---|" + "---|" * (len(variants) + 6))
    for r in rows:
        w = tf(r, best)
        print(f"| {r['shape']} | {r['T'] // 1024}k | " +
              " | ".join(f"{tf(r, v):.0f} ({tf(r, v + '_again'):.0f})" for v in variants) +
              f" | {tf(r, base):.0f} | {tf(r, 'fa2'):.0f} | {tf(r, 'cudnn'):.0f} | {w / tf(r, 'fa2'):.2f} | "
              f"{w / tf(r, 'cudnn'):.2f} | {w / tf(r, base):.2f} |")


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--profile-one", default=None,
                    help="only launch this variant 3 times at MHA 16x128 T=16k causal (for ncu), then exit")
    ap.add_argument("--variants", default=",".join(CHECKED), help="kernel suffixes to check and time, e.g. wgmma2")
    a = ap.parse_args()
    CHECKED[:] = a.variants.split(",")
    if a.profile_one:
        K = Kernels(a.fatbin)
        q = torch.randn(1, 16384, 16, 128, device=dev).to(bf16)
        k, v = torch.randn_like(q), torch.randn_like(q)
        for _ in range(3):
            wg_fwd(K, q, k, v, True, variant=a.profile_one)
        torch.cuda.synchronize()
        return
    OUT = a.out
    os.makedirs(OUT, exist_ok=True)
    K = Kernels(a.fatbin)
    print("device:", torch.cuda.get_device_name(), "| torch", torch.__version__, "| gpu", sbs.gpu_state())
    ok = arch_probe(K)
    ok = debug_tile(K) and ok
    tile_ok = ok
    if ok:
        ok = check_flash(K, a.quick) and ok
    # timed even after a failed flash check (marked below) as long as the single-tile products are right: the
    # device budget is small and a wrong mask costs no time
    rows = [] if a.no_timing or not tile_ok else time_all(K, a.quick)
    sbs.RESULTS["all_ok"] = bool(ok)
    with open(os.path.join(OUT, "check_wgmma.json"), "w") as f:
        json.dump(sbs.RESULTS, f, indent=1)
    nfail = sum(1 for c in sbs.RESULTS["checks"] if not c["ok"])
    print(f"\n{len(sbs.RESULTS['checks'])} checks, {nfail} failed")
    if rows:
        print_table(rows, CHECKED, "n128", "n128", "TF/s")
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED (timings above are of an incorrect kernel)")


OUT = "."
if __name__ == "__main__":
    main()
