"""MLA absorbed decode lab (session 4, helper "dec"): split kernel + combine kernel vs the SPIN instance (combine
fused into the split kernel, attention/mla_decode.cuh), L2-cold.

    python3 bench/mla_decode_spin_lab.py --fatbin mla_lab.fatbin --out $OUT   (kernels-dev/mla_decode_spin_lab.cu)

Checks: check_mla.check_decode's cases (float64 expanded MLA, NaN-poisoned outputs, fresh inputs per case, so
consecutive launches see different inputs) through the SPIN instance, at the rule's split count and forced 1, 7
and 64 splits. Timing: cache bytes / median per-call time (graph replays of one call per rotated set, >= 300 MB
per replay) as % of the 2 GiB copy_ read+write bandwidth measured in the same process.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_mla as cm  # noqa: E402
import side_by_side as sbs  # noqa: E402
from ccalab_mla import DECODE_DR, MlaKernels  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16


class Spin:
    """check_mla.check_decode's M with every decode on the SPIN instance (and a forced split count)."""

    def __init__(self, M, splits):
        self.M, self.splits = M, splits

    def decode(self, qa, cache, L, r, scale, out=None, bn=None, work=None):
        try:
            return self.M.decode(qa, cache, L, r, scale, out=out, bn=bn, spin=True, splits=self.splits)
        except AssertionError as ex:  # a forced split count whose grid is not co-resident: the rule's count
            if "co-resident" not in str(ex):
                raise
            print(f"(forced {self.splits} splits not co-resident at B{qa.shape[0]} H{qa.shape[1]}: the rule's count)")
            return self.M.decode(qa, cache, L, r, scale, out=out, bn=bn, spin=True)


def timings(M, copy_bw):
    rows = []
    R, dr = 512, DECODE_DR
    scale = 1.0 / math.sqrt(128 + dr)
    for (B, H, L) in [(1, 16, 4096), (1, 16, 16384), (1, 16, 65536), (1, 128, 16384), (8, 16, 16384)]:
        cache_bytes = B * L * (R + dr) * 2
        nsets = min(64, max(2, -(-300_000_000 // cache_bytes)))
        caches = [torch.randn(B, L, R + dr, device=dev).to(bf16) for _ in range(nsets)]
        qas = [torch.randn(B, H, R + dr, device=dev).to(bf16) for _ in range(nsets)]
        out = torch.empty(B, H, R, device=dev)
        n, _ = M.decode_splits(B, H, L, 64, R)
        work = (torch.empty(B, H, n, R, device=dev), torch.empty(B, H, n, 2, device=dev))
        row = {"B": B, "H": H, "L": L, "r_kv": R, "cache_bytes": cache_bytes, "sets": nsets, "splits": n}
        for label, spin in (("split+combine", False), ("spin", True)):
            row[label] = sbs.bench(lambda i: M.decode(qas[i % nsets], caches[i % nsets], L, R, scale, work=work, out=out, bn=64,
                                                      spin=spin), 20, inner=nsets)
            row[label]["pct_copy"] = cache_bytes / (row[label]["p50"] / 1e3) / copy_bw * 100
        rows.append(row)
        print(f"MLA decode B={B} H={H} L={L} r{R} ({cache_bytes / 1e6:.1f} MB x {nsets} sets, {n} splits): " + " | ".join(
            f"{k} {row[k]['p50'] * 1e3:.1f} us {row[k]['pct_copy']:.0f}%" for k in ("split+combine", "spin")), flush=True)
        del caches, qas
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fatbin", required=True, help="kernels-dev/mla_decode_spin_lab.cu, built")
    ap.add_argument("--out", default=".", help="folder for mla_decode_spin_lab.json")
    a = ap.parse_args()
    M = MlaKernels(a.fatbin)
    ok = True
    for splits in (None, 1, 7, 64):
        ok &= cm.check_decode(Spin(M, splits))
    print("ALL MLA SPIN CHECKS PASSED" if ok else "SOME MLA SPIN CHECKS FAILED", flush=True)
    copy_bw = sbs.copy_bandwidth()
    print(f"copy bandwidth {copy_bw / 1e12:.3f} TB/s (read + write)", flush=True)
    rows = timings(M, copy_bw)
    with open(os.path.join(a.out, "mla_decode_spin_lab.json"), "w") as f:
        json.dump({"copy_bw": copy_bw, "ok": ok, "checks": cm.RESULTS["checks"], "timings": rows}, f, indent=1)


if __name__ == "__main__":
    main()
