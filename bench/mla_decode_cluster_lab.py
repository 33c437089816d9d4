"""MLA absorbed decode lab (session 9): NACC independent S accumulator chains and clusters of CL splits merged
through distributed shared memory before the combine (kernels-dev/mla_decode_cluster_lab.cu), L2-cold.

    python3 bench/mla_decode_cluster_lab.py --fatbin mla_cl.fatbin --out $OUT

Grid sizing: a cluster variant gets as many splits as cuOccupancyMaxActiveClusters says fit in one wave (times
CL, at most one block per SM), so a cluster that cannot be placed never queues behind the others (session 3's
GQA cluster lab lost 20-45 points to exactly that, not sized). Checks: check_mla.check_decode's r_kv = 512 cases
through every variant, at the rule's split count and forced counts (float64 expanded MLA, NaN-poisoned outputs).
Timing: cache bytes / median per-call time (graph replays of one call per rotated set, >= 300 MB per replay) as %
of the 2 GiB copy_ read+write bandwidth measured in the same process.
"""
import argparse
import ctypes
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ccalab_cuda as cc  # noqa: E402
import check_mla as cm  # noqa: E402
import side_by_side as sbs  # noqa: E402
from ccalab_mla import COMBINE_GROUPS, DECODE_DR, DECODE_THREADS, MlaKernels, decode_smem  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
R, BN = 512, 64
VARIANTS = [(1, 1), (4, 1), (4, 2), (4, 4), (4, 8), (2, 4)]  # (NACC, CL)


def max_clusters(M, name, cl, smem):
    """cuOccupancyMaxActiveClusters for a grid of CL-block clusters of this kernel (compile-time cluster dims)."""
    f = M.k.fn(name, smem)
    cfg = cc._LaunchConfig(cl * 64, 1, 1, DECODE_THREADS, 1, 1, smem, None, None, 0)
    n = ctypes.c_int()
    cc._check(cc._cuda.cuOccupancyMaxActiveClusters(ctypes.byref(n), f, ctypes.byref(cfg)),
              f"cuOccupancyMaxActiveClusters({name})")
    return n.value


class Variant:
    """check_mla.check_decode's M with r_kv = 512 decodes on one lab variant (others on the shipped kernels)."""

    def __init__(self, M, nacc, cl, splits=None):
        self.M, self.nacc, self.cl, self.splits = M, nacc, cl, splits
        self.name, self.label = f"mla_decode_r512_rope64_acc{nacc}_cl{cl}", f"acc{nacc}_cl{cl}"
        self.smem = decode_smem(R, DECODE_DR, BN)
        self.clusters = max_clusters(M, self.name, cl, self.smem) if cl > 1 else None

    def grid_x(self, B, H, L):
        """(blocks along the sequence, a multiple of CL; rows per split)."""
        groups = (H + 15) // 16
        if self.splits is not None:
            n = self.splits
        else:
            blocks = self.M.sms if self.cl == 1 else min(self.M.sms, self.clusters * self.cl)
            n = max(1, min(blocks // (B * groups), -(-L // BN)))
        chunk = -(-(-(-L // n)) // BN) * BN
        used = -(-L // chunk)
        return -(-used // self.cl) * self.cl, chunk

    def decode(self, qa, cache, L, r, scale, out=None, bn=None, work=None, spin=None):
        if r != R or (bn is not None and bn != BN):
            return self.M.decode(qa, cache, L, r, scale, out=out, bn=bn, spin=spin)
        B, H, dk = qa.shape
        Tmax = cache.shape[1]
        gx, chunk = self.grid_x(B, H, L)
        parts = gx // self.cl
        if work is None or work[0].shape[2] != parts:
            work = (torch.empty(B, H, parts, R, device=dev), torch.empty(B, H, parts, 2, device=dev))
        po, pml = work
        out = torch.empty(B, H, R, device=dev) if out is None else out
        self.M.k.launch(self.name, (gx, (H + 15) // 16, B), (DECODE_THREADS, 1, 1), self.smem, po, pml, qa, cache,
                        int(L), int(Tmax), int(H), int(chunk), float(scale))
        self.M.k.launch(f"mla_decode_combine_r{R}", (H, B, R // 64), (16, COMBINE_GROUPS, 1), 0, out, po, pml,
                        int(H), int(parts))
        return out


SHAPES = [(1, 16, 4096), (1, 16, 16384), (1, 16, 32768), (1, 16, 65536), (1, 128, 16384), (8, 16, 16384)]


def timings(M, copy_bw, variants, shapes=SHAPES):
    rows = []
    scale = 1.0 / math.sqrt(128 + DECODE_DR)
    for (B, H, L) in shapes:
        cache_bytes = B * L * (R + DECODE_DR) * 2
        nsets = min(64, max(2, -(-300_000_000 // cache_bytes)))
        caches = [torch.randn(B, L, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        qas = [torch.randn(B, H, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        out = torch.empty(B, H, R, device=dev)
        row = {"B": B, "H": H, "L": L, "r_kv": R, "cache_bytes": cache_bytes, "sets": nsets}

        def t(label, fn):
            row[label] = sbs.bench(fn, 20, inner=nsets)
            row[label]["pct_copy"] = cache_bytes / (row[label]["p50"] / 1e3) / copy_bw * 100

        # the session-2 split kernel (BN = 64; shipped until session 10, now in the lab fatbins only)
        t("s2_bn64", lambda i: M.decode(qas[i % nsets], caches[i % nsets], L, R, scale, out=out, bn=BN))
        for v in variants:
            gx, _ = v.grid_x(B, H, L)
            t(v.label, lambda i, v=v: v.decode(qas[i % nsets], caches[i % nsets], L, R, scale, out=out))
            row[v.label]["grid_x"] = gx
        rows.append(row)
        print(f"MLA decode B={B} H={H} L={L} ({cache_bytes / 1e6:.1f} MB x {nsets} sets): " + " | ".join(
            f"{k} {row[k]['p50'] * 1e3:.1f} us {row[k]['pct_copy']:.0f}%" + (f" ({row[k]['grid_x']})" if 'grid_x' in row[k] else "")
            for k in row if isinstance(row[k], dict)), flush=True)
        del caches, qas
        torch.cuda.empty_cache()
    return rows


MILESTONES = ["tile0", "loop_end", "stored"]


def trace(M, variant=None, shapes=((1, 16, 4096), (1, 16, 16384), (1, 16, 65536))):
    """One L2-cold launch of the session-2 split kernel + combine (or `variant`'s) per repeat with the lab's MTRACE stamps (thread 0 of each
    block, globaltimer): per split-kernel milestone the median and the latest block, and the combine's first start
    and last end, in us after the earliest split block's start; the median of 5 repeats (by the combine's end)."""
    def glob(name):
        ptr, size = ctypes.c_void_p(), ctypes.c_size_t()
        cc._check(cc._cuda.cuModuleGetGlobal_v2(ctypes.byref(ptr), ctypes.byref(size), M.k.module, name), name.decode())
        return ptr, size.value, torch.empty(size.value // 8, dtype=torch.int64).pin_memory()
    split_t, comb_t = glob(b"mla_trace"), glob(b"mla_trace_c")
    flush = torch.zeros(256 << 20, dtype=torch.uint8, device=dev)
    scale = 1.0 / math.sqrt(128 + DECODE_DR)
    rows = []
    for (B, H, L) in shapes:
        cache = torch.randn(B, L, R + DECODE_DR, device=dev).to(bf16)
        qa = torch.randn(B, H, R + DECODE_DR, device=dev).to(bf16)
        out = torch.empty(B, H, R, device=dev)
        n = variant.grid_x(B, H, L)[0] if variant else M.decode_splits(B, H, L, BN, R)[0]
        spin = getattr(variant, "spin", False)  # the combine fused: two more stamps, no combine kernel
        # the ring's fused merge (session 12) also stamps its loads consumed (6) and its groups in shared memory (7)
        ring_spin = spin and getattr(variant, "merge_stamps", False)
        ms = MILESTONES + (["arrived", "merged"] if spin else []) + (["loads used", "groups in smem"] if ring_spin else [])
        nb, ncomb = n * B * ((H + 15) // 16), H * B * (R // 64)
        reps = []
        for rep in range(5):
            flush.view(torch.int32).sum()  # a read pass: evicts the cache lines without leaving dirty ones
            torch.cuda.synchronize()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            if variant:
                variant.decode(qa, cache, L, R, scale, out=out)
            else:
                M.decode(qa, cache, L, R, scale, out=out, bn=BN)
            b.record()
            torch.cuda.synchronize()
            for ptr, size, host in (split_t, comb_t):
                cc._check(cc._cuda.cuMemcpyDtoH_v2(ctypes.c_void_p(host.data_ptr()), ptr, ctypes.c_size_t(size)), "copy")
            t = split_t[2].view(-1, 8)[:nb, :1 + len(ms)].double()
            c = t[:, -2:] if spin else comb_t[2].view(-1, 8)[:ncomb, :2].double()
            t0 = t[:, 0].min()
            rel, crel = (t - t0) / 1e3, (c - t0) / 1e3
            reps.append({"event_us": a.elapsed_time(b) * 1e3, "median_us": rel.median(0).values.tolist(),
                         "max_us": rel.max(0).values.tolist(), "combine_first_start_us": crel[:, 0].min().item(),
                         "combine_median_start_us": crel[:, 0].median().item(),
                         "combine_last_end_us": crel[:, 1].max().item(), "blocks": nb})
        mid = sorted(reps, key=lambda r: r["combine_last_end_us"])[2]
        rows.append({"B": B, "H": H, "L": L, "reps": reps})
        print(f"trace {variant.label if variant else 's2_bn64'} B={B} H={H} L={L} ({nb} split blocks, event {mid['event_us']:.1f} us): start max "
              f"{mid['max_us'][0]:.2f} | " + " | ".join(
                  f"{m} med {mid['median_us'][i + 1]:.2f} max {mid['max_us'][i + 1]:.2f}" for i, m in enumerate(ms))
              + ("" if spin else f" | combine start first {mid['combine_first_start_us']:.2f} med {mid['combine_median_start_us']:.2f}"
              f", end last {mid['combine_last_end_us']:.2f}"), flush=True)
        del cache
    return rows


def parts(M, copy_bw):
    """Graph-timed split kernel alone, combine alone (on the split's partials) and both, shipped kernels, B=1 H16,
    L2-cold sets: where the batch-1 time goes between the two launches."""
    rows = []
    scale = 1.0 / math.sqrt(128 + DECODE_DR)
    for (B, H, L) in [(1, 16, 4096), (1, 16, 16384), (1, 16, 65536)]:
        cache_bytes = B * L * (R + DECODE_DR) * 2
        nsets = min(64, max(2, -(-300_000_000 // cache_bytes)))
        caches = [torch.randn(B, L, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        qas = [torch.randn(B, H, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        out = torch.empty(B, H, R, device=dev)
        n, chunk = M.decode_splits(B, H, L, BN, R)
        work = [(torch.empty(B, H, n, R, device=dev), torch.empty(B, H, n, 2, device=dev)) for _ in range(nsets)]
        name, smem = "mla_decode_r512_rope64", decode_smem(R, DECODE_DR, BN)

        def split(i):
            po, pml = work[i % nsets]
            M.k.launch(name, (n, 1, B), (DECODE_THREADS, 1, 1), smem, po, pml, qas[i % nsets], caches[i % nsets],
                       int(L), int(L), int(H), int(chunk), float(scale))

        def combine(i):
            po, pml = work[i % nsets]
            M.k.launch(f"mla_decode_combine_r{R}", (H, B, R // 64), (16, COMBINE_GROUPS, 1), 0, out, po, pml, int(H),
                       int(n))

        def combine2(i):
            po, pml = work[i % nsets]
            M.k.launch(f"mla_decode_combine2_r{R}", (H, B, R // 64), (16, 32, 1), 0, out, po, pml, int(H), int(n))
        for i in range(nsets):
            split(i)
        row = {"B": B, "H": H, "L": L, "splits": n, "sets": nsets}
        # the v2 combine against the v1 on the same partials (float64-free: the two merges of one set must agree)
        combine(0)
        want = out.clone()
        out.fill_(float("nan"))
        combine2(0)
        row["combine2_vs_combine_max_rel"] = ((out - want).abs().max() / want.abs().max()).item()
        for label, fn in (("split", split), ("combine", combine), ("combine2", combine2),
                          ("both", lambda i: (split(i), combine(i))), ("both2", lambda i: (split(i), combine2(i)))):
            row[label] = sbs.bench(fn, 20, inner=nsets)
        rows.append(row)
        print(f"MLA decode parts B={B} H={H} L={L} ({n} splits, {nsets} sets; combine2 vs combine max rel "
              f"{row['combine2_vs_combine_max_rel']:.1e}): " + " | ".join(
                  f"{k} {row[k]['p50'] * 1e3:.1f} us" for k in ("split", "combine", "combine2", "both", "both2")),
              flush=True)
        del caches, qas, work
        torch.cuda.empty_cache()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fatbin", required=True, help="kernels-dev/mla_decode_cluster_lab.cu, built")
    ap.add_argument("--out", default=".", help="folder for mla_decode_cluster_lab.json")
    ap.add_argument("--trace", action="store_true", help="only the milestone trace of the shipped split + combine")
    ap.add_argument("--parts", action="store_true", help="only graph timings of the split and the combine, apart and together")
    a = ap.parse_args()
    M = MlaKernels(a.fatbin)
    if a.parts:
        rows = parts(M, None)
        with open(os.path.join(a.out, "mla_decode_parts.json"), "w") as f:
            json.dump(rows, f, indent=1)
        return
    if a.trace:
        rows = trace(M)
        with open(os.path.join(a.out, "mla_decode_trace.json"), "w") as f:
            json.dump(rows, f, indent=1)
        return
    variants = [Variant(M, nacc, cl) for (nacc, cl) in VARIANTS]
    for v in variants:
        print(f"{v.name}: max active clusters {v.clusters} (SMs {M.sms})", flush=True)
    ok = True
    for v in variants:
        for splits in (None, 1, 8, 24, 64):
            vv = v if splits is None else Variant(M, v.nacc, v.cl, splits)
            print(f"-- checks: {v.name}, splits {'rule' if splits is None else splits}", flush=True)
            ok &= cm.check_decode(vv)
    print("ALL MLA CLUSTER CHECKS PASSED" if ok else "SOME MLA CLUSTER CHECKS FAILED", flush=True)
    copy_bw = sbs.copy_bandwidth()
    print(f"copy bandwidth {copy_bw / 1e12:.3f} TB/s (read + write)", flush=True)
    rows = timings(M, copy_bw, variants)
    with open(os.path.join(a.out, "mla_decode_cluster_lab.json"), "w") as f:
        json.dump({"copy_bw": copy_bw, "ok": ok, "checks": cm.RESULTS["checks"], "timings": rows}, f, indent=1)


if __name__ == "__main__":
    main()
