"""Decode floor lab (session 4, helper "dec"): batch-1 decode beside what any kernel must pay, L2-cold.

    python3 bench/decode_floor.py --fatbin decode_floor.fatbin --out $OUT   (fatbin: kernels-dev/decode_floor.cu)

Timings: build the fatbin with -DDECODE_NO_TRACE (session 12, call 6: the trace stamps on thread 0's path added
0.2-0.8 us to every batch-1 decode timed here since session 4); --trace-only needs the traced build.

Methodology: the H100's L2 holds 50 MB, so decode_lab's two rotated input sets (2 x 16.8 MB at 8q/2kv 16k, 2 x
4.2 MB at 4k) were partly or wholly L2-resident. Here every timed graph replays one call per input set over
enough sets that each replay touches >= 320 MB (a set is met again only after 320 MB of other traffic), and the
L2-warm figure (2 sets) is printed beside for v3 and cuDNN. Metric: K/V bytes (2 L Hkv D x 2 bytes) / median
per-call time (CUDA events around graph replays) as % of the 2 GiB copy_ bandwidth (read + write) measured in
the same process.

1. checks: decode v3 / SPIN / PDL / SPIN+PDL instances vs float64 (NaN-poisoned outputs, forced split counts,
   twice in a row: the counters' reset), and the [producer -> decode] PDL chain vs float64 after re-randomising q
   and the new row (a decode that read them before the producer wrote them fails).
2. floor table: empty kernel, the best streaming read of exactly the case's K/V bytes, v3, SPIN, FA2, cuDNN.
3. step chains [producer -> decode] x n (the producer is the QKV projection GEMV of E = 2048 that writes q and
   appends the new K/V row): per-step times without / with PDL; the producer chain alone beside.
"""
import argparse
import collections
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402
from ccalab_cuda import Kernels, _cuda, _check  # noqa: E402
import cca_reference as ref  # noqa: E402
from torch.nn.attention import SDPBackend  # noqa: E402
import ctypes  # noqa: E402

dev, bf16, D, SMS, E = "cuda", torch.bfloat16, 128, 132, 2048
COLD_BYTES = 320e6
OUT_ROWS = []


def splits(L, Hkv, per_sm=1.0, forced=None, exact=False):
    """exact (session 10): chunks of ceil(L / n) keys, the last tile of each partial, so that every SM streams
    (132 blocks at 2 KV heads, not 128); else whole tiles."""
    tk = 1024 * 8 // D  # keys per tile: 1024 x 8 warps / D
    n = forced or max(1, min(math.ceil(per_sm * SMS / Hkv), -(-L // tk), 256))
    chunk = -(-L // n) if exact else -(-(-(-L // n)) // tk) * tk
    return -(-L // chunk), chunk


class Dec:
    """decode_hd128_g<G>_<suffix> launches with preallocated partials and counters (2 ints per (b, KV head))."""

    def __init__(self, K):
        self.K = K
        self.po = torch.empty(8 * 16 * 256 * D, device=dev)
        self.pml = torch.empty(8 * 16 * 256 * 2, device=dev)
        self.ctr = collections.defaultdict(lambda: torch.zeros(4096, dtype=torch.int32, device=dev))
        self.occ = {}

    def fits(self, name, grid_blocks, smem):
        if name not in self.occ:
            n = ctypes.c_int()
            _check(_cuda.cuOccupancyMaxActiveBlocksPerMultiprocessor(ctypes.byref(n), self.K.fn(name, smem), 256, smem),
                   "occupancy")
            self.occ[name] = n.value
        return grid_blocks <= self.occ[name] * SMS

    def __call__(self, suf, q, kc, vc, L, o, per_sm=1.0, forced=None, pdl_launch=False, exact=False):
        B, Hq, _ = q.shape
        Tmax, Hkv = kc.shape[1], kc.shape[2]
        G = Hq // Hkv
        n, chunk = splits(L, Hkv, per_sm, forced, exact)
        nst = int(suf.split("_s")[1]) if "_s" in suf else 2
        name, smem = f"decode_hd{D}_g{G}_{suf}", Kernels.decode_smem(D, G, 8, nst)
        if suf.startswith(("spin", "epoch", "mma")) and n > 1 and not self.fits(name, n * Hkv * B, smem):
            raise RuntimeError(f"{name}: grid {n * Hkv * B} not co-resident")
        self.K.launch(name, (n, Hkv, B), (256, 1, 1), smem, o, self.po, self.pml, self.ctr[suf], q, kc, vc, L, Tmax,
                      Hkv, chunk, 1.0 / math.sqrt(D), pdl=pdl_launch)
        return n


CHECKED = ["v3", "spin", "pdl", "spinpdl", "epoch", "epochpdl", "mma"]
EXACT_CHECKS = ()  # split counts also checked with exact (not tile-rounded) chunks: --variants with an :exact entry


def checks(dec):
    ok = True
    for (B, L, Tmax, Hq, Hkv) in [(1, 1000, 1100, 8, 2), (1, 4097, 4097, 16, 4), (1, 16384, 16384, 8, 2),
                                  (1, 777, 800, 8, 8), (1, 9000, 9000, 16, 2), (1, 33, 40, 4, 4), (1, 5000, 5000, 16, 16),
                                  (2, 3000, 3000, 8, 2), (1, 65, 65, 8, 2)]:
        torch.manual_seed(L + Hq)
        q = torch.randn(B, Hq, D, device=dev).to(bf16)
        kc = torch.randn(B, Tmax, Hkv, D, device=dev).to(bf16)
        vc = torch.randn(B, Tmax, Hkv, D, device=dev).to(bf16) * 2
        r, _ = ref.attention_f64(q[:, None], kc[:, :L], vc[:, :L], False, None)
        naive = sbs.plain_attention_bf16(q[:, None].contiguous(), kc[:, :L].contiguous(), vc[:, :L].contiguous(), False)
        for suf in CHECKED:
            if "_s" in suf and Hq // Hkv not in (1, 4, 8):
                continue
            for forced, exact in [(f, False) for f in (None, 1, 3, 17, 256)] + [(f, True) for f in EXACT_CHECKS]:
                for rep in range(2):
                    o = torch.full((B, Hq, D), float("nan"), device=dev, dtype=bf16)
                    try:
                        n = dec(suf, q, kc, vc, L, o, forced=forced, exact=exact)
                    except RuntimeError as ex:
                        if rep == 0:
                            print(f"skip {suf} forced={forced} B{B} L{L} Hkv{Hkv}: {ex}")
                        break
                    torch.cuda.synchronize()
                    ok &= sbs.check(f"{suf} splits={forced}->{n}{' exact' if exact else ''} rep{rep} B{B} L{L} Tmax{Tmax} "
                                    f"Hq{Hq} Hkv{Hkv}", o, r[:, 0], naive[:, 0])
    return ok


class Case:
    """n rotated input sets of a batch-1 shape, n chosen so that one pass over them moves >= COLD_BYTES."""

    def __init__(self, L, Hq, Hkv, cold=True, producer=False):
        self.L, self.Hq, self.Hkv = L, Hq, Hkv
        self.kv = 2 * L * Hkv * D * 2
        self.n = max(2, min(96, math.ceil(COLD_BYTES / self.kv))) if cold else 2
        self.q = torch.randn(self.n, 1, Hq, D, device=dev).to(bf16)
        self.k = torch.randn(self.n, 1, L, Hkv, D, device=dev).to(bf16)
        self.v = torch.randn(self.n, 1, L, Hkv, D, device=dev).to(bf16)
        self.o = torch.empty(self.n, 1, Hq, D, device=dev, dtype=bf16)
        if producer:
            N = (Hq + 2 * Hkv) * D
            self.w = torch.randn(self.n, N, E, device=dev).to(bf16)
            self.z = torch.randn(self.n, E, device=dev).to(bf16)

    def pct(self, t_ms, copy_bw):
        return self.kv / (t_ms / 1e3) / copy_bw * 100


VARIANTS = [("v3", 1), ("spin", 1), ("epoch", 1), ("mma", 1)]
VARIANTS_ARG = None  # --variants: (kernel suffix, blocks per SM) pairs of the floor table


def pdl_probe(K):
    """A 20 us primary (132 blocks) then a secondary launched with programmatic stream serialization: the
    secondary's first start and first pass of griddepcontrol.wait relative to the primary's end, eager and in a
    graph, with and without the primary's trigger (launch_dependents at its start)."""
    rows = []
    ts = torch.zeros(3, dtype=torch.int64, device=dev)
    side = torch.cuda.Stream()
    for graph in (False, "stream", True):
        for trigger, attr in ((1, True), (0, True), (1, False)):
            def go():
                K.launch("pdl_primary", (SMS, 1, 1), (128, 1, 1), 0, ts, trigger, ctypes.c_longlong(20000))
                K.launch("pdl_secondary", (SMS, 1, 1), (128, 1, 1), 0, ts, pdl=attr)
            res = []
            for _ in range(5):
                ts.copy_(torch.tensor([0, 2 ** 62, 2 ** 62], dtype=torch.int64))
                torch.cuda.synchronize()
                if graph == "stream":  # eager on a created stream (torch's current stream is the legacy one)
                    with torch.cuda.stream(side):
                        go()
                elif graph:
                    g = torch.cuda.CUDAGraph()
                    s = torch.cuda.Stream()
                    with torch.cuda.stream(s):
                        with torch.cuda.graph(g, stream=s):
                            go()
                    g.replay()
                else:
                    go()
                torch.cuda.synchronize()
                t = ts.tolist()
                res.append(((t[1] - t[0]) / 1e3, (t[2] - t[0]) / 1e3))
            row = {"graph": graph, "trigger": trigger, "pdl_attr": attr, "start_minus_primary_end_us": [r[0] for r in res],
                   "wait_pass_minus_primary_end_us": [r[1] for r in res]}
            rows.append(row)
            print(f"PDL probe {'eager, created stream' if graph == 'stream' else 'graph' if graph else 'eager, legacy stream'} trigger={trigger} attr={attr}: secondary start - primary end "
                  f"{sorted(r[0] for r in res)[2]:+.2f} us, past wait - primary end {sorted(r[1] for r in res)[2]:+.2f} us "
                  f"(medians of 5)", flush=True)
    return rows


# stamps 6 / 7 (session 11): the block's per-warp states stored / past the barrier before its own merge
MILESTONES = ["start", "first tile in smem", "last tile consumed", "partial written", "all splits arrived", "slice merged",
              "states stored", "states merged from"]


TRACE_CASES = [(4096, 8, 2, "epoch"), (16384, 8, 2, "spin"), (16384, 8, 2, "epoch"), (16384, 16, 4, "epoch"),
               (16384, 4, 4, "epoch")]


def trace(K, dec, cases=None):
    """One L2-cold SPIN launch per repeat with the lab's DECODE_TRACE stamps (thread 0 of each block, globaltimer):
    per milestone the median and the latest block, in us after the earliest block start."""
    ptr, size = ctypes.c_void_p(), ctypes.c_size_t()
    _check(_cuda.cuModuleGetGlobal_v2(ctypes.byref(ptr), ctypes.byref(size), K.module, b"dec_trace"), "dec_trace")
    host = torch.empty(size.value // 8, dtype=torch.int64).pin_memory()
    flush = torch.zeros(256 << 20, dtype=torch.uint8, device=dev)
    rows = []
    for (L, Hq, Hkv, kind) in cases or TRACE_CASES:
        c = Case(L, Hq, Hkv, cold=False)
        reps = []
        for rep in range(5):
            flush.view(torch.int32).sum()  # a read pass: evicts the cache lines without leaving dirty ones
            torch.cuda.synchronize()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            n = dec(kind, c.q[0], c.k[0], c.v[0], L, c.o[0])
            b.record()
            torch.cuda.synchronize()
            _check(_cuda.cuMemcpyDtoH_v2(ctypes.c_void_p(host.data_ptr()), ptr, ctypes.c_size_t(size.value)), "copy")
            t = host.view(-1, 16)[: n * Hkv, 0::2].double()
            t0 = t[:, 0].min()
            rel = (t - t0) / 1e3
            # session 11: the epilogue's steps in SM cycles (clock64, each block against itself: exact, where
            # globaltimer ticks every 0.26 us): last tile -> states stored -> past the barrier -> partial written
            # -> all arrived -> merged
            cyc = host.view(-1, 16)[: n * Hkv, 1::2].double()
            steps = {f"{MILESTONES[i]} -> {MILESTONES[j]}": (cyc[:, j] - cyc[:, i]).median().item()
                     for i, j in ((2, 6), (6, 7), (7, 3), (3, 4), (4, 5))}
            reps.append({"event_us": a.elapsed_time(b) * 1e3, "median_us": rel.median(0).values.tolist(),
                         "max_us": rel.max(0).values.tolist(), "blocks": n * Hkv,
                         "distinct_start_stamps": int(t[:, 0].unique().numel()), "median_cycles": steps})
        mid = sorted(reps, key=lambda r: r["max_us"][5])[2]
        rows.append({"L": L, "Hq": Hq, "Hkv": Hkv, "kernel": kind, "reps": reps})
        print(f"trace {kind} L={L} {Hq}q/{Hkv}kv ({mid['blocks']} blocks, event {mid['event_us']:.1f} us, "
              f"{mid['distinct_start_stamps']} distinct start stamps): " + " | ".join(
                  f"{m} med {mid['median_us'][i]:.2f} max {mid['max_us'][i]:.2f}" for i, m in enumerate(MILESTONES)),
              flush=True)
        print(f"  cycles (median block): " + " | ".join(f"{k} {v:.0f}" for k, v in mid["median_cycles"].items()),
              flush=True)
        del c
    return rows


def bench(fn, case):
    # sets are taken modulo case.n: sbs.bench's warm-up calls fn(0..2), more than the 2 sets of the largest cases
    return sbs.bench(lambda i: fn(i % case.n), 30, inner=case.n)


def produce(K, c, i, trigger):
    N = (c.Hq + 2 * c.Hkv) * D
    K.launch("qkv_producer", (N // 8, 1, 1), (256, 1, 1), 0, c.w[i], c.z[i], c.q[i], c.k[i], c.v[i], c.L - 1, c.Hq,
             c.Hkv, E, 1 if trigger else 0)


def floor_table(K, dec, copy_bw):
    rows = []
    # the lab's other head dims ("v3_warm2": epoch)
    variants = VARIANTS_ARG or (VARIANTS if D == 128 else [("epoch", 1), ("mma", 1)])
    e = sbs.bench(lambda i: K.launch("empty_kernel", (1, 1, 1), (32, 1, 1), 0), 30, inner=64)
    e132 = sbs.bench(lambda i: K.launch("empty_kernel", (SMS, 1, 1), (256, 1, 1), 0), 30, inner=64)
    print(f"empty kernel (graph of 64): 1 block {e['p50'] * 1e3:.2f} us, 132 x 256 threads {e132['p50'] * 1e3:.2f} us",
          flush=True)
    rows.append({"empty_1": e, "empty_132": e132})
    junk = torch.zeros(4096, dtype=torch.int32, device=dev)
    xchg_ctr = torch.zeros(4096, dtype=torch.int32, device=dev)
    xchg_part = torch.zeros(4096 * 4, dtype=torch.int32, device=dev)
    for (L, Hq, Hkv) in [(4096, 8, 2), (4096, 16, 4), (16384, 8, 2), (16384, 16, 4), (16384, 4, 4), (65536, 8, 2),
                         (65536, 16, 4)]:
        c = Case(L, Hq, Hkv)
        row = {"L": L, "Hq": Hq, "Hkv": Hkv, "kv_bytes": c.kv, "sets": c.n, "copy_bw": copy_bw}
        n16 = L * Hkv * D * 2 // 16
        best = None
        for (nt, u, per) in ((256, 8, 2), (512, 4, 2), (1024, 4, 1), (512, 4, 4)):
            grid = SMS * per
            ch = -(-n16 // grid)
            t = bench(lambda i: K.launch(f"stream_read_t{nt}_u{u}", (grid, 1, 1), (nt, 1, 1), 0, c.k[i], c.v[i],
                                         ctypes.c_longlong(n16), ctypes.c_longlong(ch), junk), c)
            row[f"read_t{nt}_u{u}_k{per}"] = t
            if best is None or t["p50"] < row[best]["p50"]:
                best = f"read_t{nt}_u{u}_k{per}"
        row["read_best"] = best
        # the same read + the least merge a split decode needs (session 9): one arrival of Hkv interleaved groups
        xbest = None
        for (nt, u, per) in ((256, 8, 1), (256, 8, 2), (512, 4, 1), (512, 4, 2), (1024, 4, 1)):
            name, grid = f"stream_xchg_t{nt}_u{u}", SMS * per
            occ = ctypes.c_int()
            _check(_cuda.cuOccupancyMaxActiveBlocksPerMultiprocessor(ctypes.byref(occ), K.fn(name, 0), nt, 0), name)
            if occ.value * SMS < grid:
                continue  # the arrival spins: only co-resident grids
            ch = -(-n16 // grid)
            t = bench(lambda i: K.launch(name, (grid, 1, 1), (nt, 1, 1), 0, c.k[i], c.v[i], ctypes.c_longlong(n16),
                                         ctypes.c_longlong(ch), junk, xchg_ctr, xchg_part, int(Hkv)), c)
            row[f"xchg_t{nt}_u{u}_k{per}"] = t
            if xbest is None or t["p50"] < row[xbest]["p50"]:
                xbest = f"xchg_t{nt}_u{u}_k{per}"
        row["xchg_best"] = xbest
        for suf, per, *ex in variants:
            key = f"{suf}_k{per}" + ("_exact" if ex else "")
            try:
                row[key] = bench(lambda i: dec(suf, c.q[i], c.k[i], c.v[i], L, c.o[i], per_sm=per, exact=bool(ex)), c)
            except RuntimeError as e:
                row[key] = {"error": str(e)}
        for label, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                row[label] = bench(lambda i: sbs.sdpa(c.q[i][:, None], c.k[i], c.v[i], False, be), c)
            except Exception as ex:  # noqa: BLE001
                row[label] = {"error": str(ex)[:200]}
        # L2-warm (2 sets, decode_lab's methodology) for v3 and cuDNN
        try:
            row["v3_warm2"] = sbs.bench(lambda i: dec(variants[0][0], c.q[i % 2], c.k[i % 2], c.v[i % 2], L, c.o[i % 2]),
                                        30, inner=10)
        except RuntimeError as ex:  # no instance of this group size (G = 1 at D = 256 on the tensor cores)
            row["v3_warm2"] = {"error": str(ex)}
        try:
            row["cudnn_warm2"] = sbs.bench(lambda i: sbs.sdpa(c.q[i % 2][:, None], c.k[i % 2], c.v[i % 2], False,
                                                              SDPBackend.CUDNN_ATTENTION), 30, inner=10)
        except Exception as ex:  # noqa: BLE001
            row["cudnn_warm2"] = {"error": str(ex)[:200]}
        for k, v in row.items():
            if isinstance(v, dict) and "p50" in v:
                v["pct_copy"] = c.pct(v["p50"], copy_bw)
        rows.append(row)
        keys = [row["read_best"], row["xchg_best"]] + [f"{suf}_k{per}" + ("_exact" if ex else "") for suf, per, *ex in variants] + \
            ["flash", "cudnn", "v3_warm2", "cudnn_warm2"]
        print(f"L={L:>6} {Hq}q/{Hkv}kv {c.kv / 1e6:.1f} MB x {c.n} sets: " + " | ".join(
            f"{k} {row[k]['p50'] * 1e3:.1f} us {row[k]['pct_copy']:.0f}%" for k in keys if "p50" in row.get(k, {})),
            flush=True)
        del c
    return rows


def step_chains(K, dec, copy_bw):
    """[producer -> decode] x n per graph, per-step medians; PDL = the decode launched with programmatic stream
    serialization after a producer that triggers its dependents at its start."""
    rows = []
    ok = True
    for (L, Hq, Hkv) in [(4096, 8, 2), (4096, 16, 4), (16384, 8, 2), (16384, 16, 4), (65536, 8, 2)]:
        c = Case(L, Hq, Hkv, producer=True)
        row = {"L": L, "Hq": Hq, "Hkv": Hkv, "kv_bytes": c.kv, "sets": c.n, "copy_bw": copy_bw}
        row["producer_only"] = bench(lambda i: produce(K, c, i, False), c)
        row["decode_only_v3"] = bench(lambda i: dec("v3", c.q[i], c.k[i], c.v[i], L, c.o[i]), c)
        variants = {"step_v3": ("v3", False), "step_pdl": ("pdl", True), "step_spin": ("spin", False),
                    "step_spinpdl": ("spinpdl", True), "step_epoch": ("epoch", False), "step_epochpdl": ("epochpdl", True)}
        for key, (suf, pdl) in variants.items():
            def step(i, suf=suf, pdl=pdl):
                produce(K, c, i, pdl)
                dec(suf, c.q[i], c.k[i], c.v[i], L, c.o[i], pdl_launch=pdl)
            try:
                row[key] = bench(step, c)
            except RuntimeError as ex:
                row[key] = {"error": str(ex)}
                continue
            # correctness of the chain: fresh q and new row (stale values would be read by a decode that ran early)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(c.n):
                    step(i)
            c.q.normal_()
            c.k[:, :, L - 1].normal_()
            c.v[:, :, L - 1].normal_()
            c.o.fill_(float("nan"))
            g.replay()
            torch.cuda.synchronize()
            for i in (0, c.n - 1):
                r, _ = ref.attention_f64(c.q[i][:, None], c.k[i], c.v[i], False, None)
                naive = sbs.plain_attention_bf16(c.q[i][:, None].contiguous(), c.k[i], c.v[i], False)
                ok &= sbs.check(f"chain {key} L{L} {Hq}q/{Hkv}kv set {i}", c.o[i], r[:, 0], naive[:, 0])
            del g
        prod = row["producer_only"]["p50"]
        for k, v in row.items():
            if isinstance(v, dict) and "p50" in v:
                if k.startswith("step_"):
                    v["decode_share_us"] = (v["p50"] - prod) * 1e3
                    v["decode_share_pct_copy"] = c.pct(v["p50"] - prod, copy_bw) if v["p50"] > prod else None
                elif k.startswith("decode"):
                    v["pct_copy"] = c.pct(v["p50"], copy_bw)
        rows.append(row)
        print(f"L={L:>6} {Hq}q/{Hkv}kv x {c.n} steps: producer {prod * 1e3:.1f} us, decode alone (v3) "
              f"{row['decode_only_v3']['p50'] * 1e3:.1f} us {row['decode_only_v3']['pct_copy']:.0f}% | per step: " + " | ".join(
                  f"{k[5:]} {row[k]['p50'] * 1e3:.1f} us (step - producer {row[k]['decode_share_us']:.1f} us"
                  + (f" = {row[k]['decode_share_pct_copy']:.0f}%" if row[k]['decode_share_pct_copy'] else "") + ")"
                  for k in variants if "p50" in row.get(k, {})), flush=True)
        del c
    return rows, ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fatbin", required=True, help="kernels-dev/decode_floor.cu, built")
    ap.add_argument("--out", default=".", help="folder for decode_floor.json")
    ap.add_argument("--floor-only", action="store_true", help="only the copy bandwidth and the floor table")
    ap.add_argument("--head-dim", type=int, default=128, help="D of the decode kernels (64 / 256: epoch and mma only)")
    ap.add_argument("--trace-only", action="store_true", help="only the milestone trace of the mma instances")
    ap.add_argument("--trace-kinds", default="mma", help="--trace-only: kernel suffixes traced, e.g. mma,mmashare")
    ap.add_argument("--variants", default=None,
                    help="floor-only: suffix:blocks-per-SM[:exact] timed and checked, e.g. mma:1,mma_s3:1,mma:1:exact")
    a = ap.parse_args()
    global D, VARIANTS_ARG
    D = a.head_dim
    if a.variants:
        VARIANTS_ARG = [(p[0], float(p[1]) if "." in p[1] else int(p[1]), *p[2:]) for p in
                        (v.split(":") for v in a.variants.split(","))]
    dec = Dec(Kernels(a.fatbin))
    K = dec.K
    p = torch.cuda.get_device_properties(0)
    print({"name": p.name, "sms": p.multi_processor_count, "l2": getattr(p, "L2_cache_size", None),
           "torch": torch.__version__}, flush=True)
    if a.trace_only:  # session 10: where a tensor-core decode's batch-1 time goes, at this D
        rows = trace(K, dec, [(L, hq, hkv, kind) for kind in a.trace_kinds.split(",")
                              for (L, hq, hkv) in ((16384, 8, 2), (16384, 16, 4), (4096, 8, 2), (65536, 8, 2))])
        with open(os.path.join(a.out, f"decode_trace_d{D}.json"), "w") as f:
            json.dump({"device": p.name, "traces": rows}, f, indent=1)
        return
    if a.floor_only:
        global CHECKED, EXACT_CHECKS
        CHECKED = sorted({v[0] for v in VARIANTS_ARG}) if VARIANTS_ARG else ["epoch", "mma"]
        if VARIANTS_ARG and any(len(v) > 2 for v in VARIANTS_ARG):
            EXACT_CHECKS = (None, 3, 17, 100)
        ok = checks(dec)
        print("ALL DECODE CHECKS PASSED" if ok else "SOME DECODE CHECKS FAILED", flush=True)
        copy_bw = sbs.copy_bandwidth()
        print(f"copy bandwidth {copy_bw / 1e12:.3f} TB/s (read + write)", flush=True)
        floor = floor_table(K, dec, copy_bw)
        copy_bw2 = sbs.copy_bandwidth()
        print(f"copy bandwidth again {copy_bw2 / 1e12:.3f} TB/s", flush=True)
        with open(os.path.join(a.out, "decode_floor.json"), "w") as f:
            json.dump({"device": p.name, "copy_bw": [copy_bw, copy_bw2], "floor": floor}, f, indent=1)
        return
    ok = checks(dec)
    print("ALL DECODE CHECKS PASSED" if ok else "SOME DECODE CHECKS FAILED", flush=True)
    copy_bw = sbs.copy_bandwidth()
    print(f"copy bandwidth {copy_bw / 1e12:.3f} TB/s (read + write)", flush=True)
    probe = pdl_probe(K)
    traces = trace(K, dec)
    floor = floor_table(K, dec, copy_bw)
    chains, ok2 = step_chains(K, dec, copy_bw)
    print("ALL CHAIN CHECKS PASSED" if ok2 else "SOME CHAIN CHECKS FAILED", flush=True)
    copy_bw2 = sbs.copy_bandwidth()
    print(f"copy bandwidth again {copy_bw2 / 1e12:.3f} TB/s", flush=True)
    with open(os.path.join(a.out, "decode_floor.json"), "w") as f:
        json.dump({"device": p.name, "copy_bw": [copy_bw, copy_bw2], "checks": sbs.RESULTS["checks"], "ok": ok and ok2,
                   "pdl_probe": probe, "traces": traces, "floor": floor, "chains": chains}, f, indent=1)


if __name__ == "__main__":
    main()
