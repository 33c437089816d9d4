"""MLA absorbed decode lab (session 10): the ring split kernel (attention/mla_decode_ring.cuh: 32-row tiles through
an NST-deep cp.async ring, Qa's fragments in registers, the softmax once per tile; shipped with NST = 3) beside the
session-2 split kernel (BN = 64, "s2_bn64"), L2-cold.

    python3 bench/mla_decode_ring_lab.py --fatbin mla_ring.fatbin --out $OUT   (fatbin: kernels-dev/mla_decode_ring_lab.cu)

1. checks: check_mla.check_decode's r_kv = 512 / 448 cases through each ring variant (the rule's split count and
   forced 1 / 8 / 24 / 64 splits; float64 expanded MLA, NaN-poisoned outputs); both kernels feed the shipped combine.
2. timings (mla_decode_cluster_lab.timings: graph replays of one call per rotated set, >= 300 MB per replay, % of
   the copy_ bandwidth measured in the same process), split + combine.
3. parts: the split kernels alone (graph-timed, L2-cold), the combine alone, at batch 1.
4. trace: the milestone stamps of ring variants (split + combine, the fused merge).
--sweep (calls 3-7): the split count, exact chunks, the v2 combine and the fused merge, at batch 1 / 2 / 8 / 32.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_mla as cm  # noqa: E402
import mla_decode_cluster_lab as lab  # noqa: E402
import side_by_side as sbs  # noqa: E402
from ccalab_mla import COMBINE_GROUPS, DECODE_BN, DECODE_DR, DECODE_THREADS, MlaKernels, decode_smem  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
BN, HT = 32, 16
NSTS = {512: (3, 4, 5), 448: (3, 4)}
SPIN_NSTS = {512: (3, 4), 448: (3, 4)}  # the _spin instances (combine fused)


def ring_smem(r, nst):
    """mla_ring::smem_bytes<R, 64, NST>: Qa rows + the ring (bf16, rows padded) + S halves (fp32) + P + the rescales."""
    sk = r + DECODE_DR + 8
    return (HT * sk + nst * BN * sk) * 2 + 2 * HT * (BN + 4) * 4 + HT * (BN + 8) * 2 + HT * 4


class Ring:
    """check_mla's M: r_kv with a ring instance of NST stages decodes on it (others on the shipped kernels)."""
    merge_stamps = True  # its fused merge stamps MTRACE 6 / 7 (mla_decode_cluster_lab.trace prints them)

    def __init__(self, M, nst, splits=None, spin=False, exact=False, combine2=False, discard=False, share=False, ctr=None):
        self.M, self.nst, self.splits, self.spin, self.exact, self.combine2 = M, nst, splits, spin, exact, combine2
        self.discard, self.share = discard, share  # share (session 11): the arrival through group_arrive_share
        self.label = f"ring_s{nst}" + ("_spin" if spin else "") + ("_discard" if discard else "") + \
            ("_share" if share else "") + (f"_n{splits}" if splits else "") + ("_exact" if exact else "") + \
            ("_c2" if combine2 else "")
        # ctr: another Ring's counters (session 11's checks: one counter through every split count, as in Java)
        self.ctr = ctr if ctr is not None else torch.zeros(4096, dtype=torch.int32, device=dev) if spin else None

    def forced(self, splits):
        return Ring(self.M, self.nst, splits, self.spin, self.exact, discard=self.discard, share=self.share,
                    ctr=self.ctr if self.share else None)

    def grid_x(self, B, H, L):
        """(splits, rows per split): one block per SM (the ring's shared memory), chunks whole 32-row tiles."""
        n = self.splits or max(1, min(self.M.sms // (B * ((H + HT - 1) // HT)), -(-L // BN)))
        # exact: chunks of ceil(L / n) rows, the last tile of each partial (every SM used: 132 splits, not 128)
        chunk = -(-L // n) if self.exact else -(-(-(-L // n)) // BN) * BN
        return -(-L // chunk), chunk

    def split(self, qa, cache, L, r, scale, po, pml):
        B, H, _ = qa.shape
        n, chunk = self.grid_x(B, H, L)
        self.M.k.launch(f"mla_decode_ring_r{r}_rope{DECODE_DR}_s{self.nst}", (n, (H + HT - 1) // HT, B),
                        (DECODE_THREADS, 1, 1), ring_smem(r, self.nst), po, pml, qa, cache, int(L), int(cache.shape[1]),
                        int(H), int(chunk), float(scale))
        return n

    def decode(self, qa, cache, L, r, scale, out=None, bn=None, work=None, spin=None):
        if self.nst not in ({512: (3,), 448: (3,)} if self.discard else SPIN_NSTS if self.spin else NSTS).get(r, ()) or (bn is not None and bn != DECODE_BN[r]):
            return self.M.decode(qa, cache, L, r, scale, out=out, bn=bn, spin=spin)
        B, H, _ = qa.shape
        n, chunk = self.grid_x(B, H, L)
        po, pml = work or (torch.empty(B, H, n, r, device=dev), torch.empty(B, H, n, 2, device=dev))
        out = torch.empty(B, H, r, device=dev) if out is None else out
        if self.spin:
            name = f"mla_decode_ring_r{r}_rope{DECODE_DR}_s{self.nst}_spin" + ("_discard" if self.discard else "") + \
                ("_share" if self.share else "")
            smem, groups = ring_smem(r, self.nst), (H + HT - 1) // HT
            if self.M.k.decode_spin_fits(name, smem, DECODE_THREADS, n * groups * B, self.M.sms):
                self.M.k.launch(name, (n, groups, B), (DECODE_THREADS, 1, 1), smem, po, pml, qa, cache, int(L),
                                int(cache.shape[1]), int(H), int(chunk), float(scale), out, self.ctr)
                return out
            # not co-resident (the launcher's rule): split + combine
        self.split(qa, cache, L, r, scale, po, pml)
        if self.combine2:
            self.M.k.launch(f"mla_decode_combine2_r{r}", (H, B, r // 64), (16, 32, 1), 0, out, po, pml, int(H), int(n))
        else:
            self.M.k.launch(f"mla_decode_combine_r{r}", (H, B, r // 64), (16, COMBINE_GROUPS, 1), 0, out, po, pml,
                            int(H), int(n))
        return out


def parts(M, rings):
    """Graph-timed split kernels alone (shipped, each ring) and the combine alone, batch 1 H16, L2-cold sets."""
    rows = []
    R = 512
    scale = 1.0 / math.sqrt(128 + DECODE_DR)
    for L in (4096, 16384, 32768, 65536):
        cache_bytes = L * (R + DECODE_DR) * 2
        nsets = min(64, max(2, -(-300_000_000 // cache_bytes)))
        caches = [torch.randn(1, L, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        qas = [torch.randn(1, 16, R + DECODE_DR, device=dev).to(bf16) for _ in range(nsets)]
        po, pml = torch.empty(1, 16, 256, R, device=dev), torch.empty(1, 16, 256, 2, device=dev)
        n, chunk = M.decode_splits(1, 16, L, 64, R)
        row = {"L": L, "sets": nsets, "shipped_splits": n}

        def shipped(i):
            M.k.launch("mla_decode_r512_rope64", (n, 1, 1), (DECODE_THREADS, 1, 1), decode_smem(R, DECODE_DR, 64), po,
                       pml, qas[i % nsets], caches[i % nsets], int(L), int(L), 16, int(chunk), float(scale))
        row["split_shipped"] = sbs.bench(shipped, 20, inner=nsets)
        for v in rings:
            row[f"split_{v.label}"] = sbs.bench(lambda i, v=v: v.split(qas[i % nsets], caches[i % nsets], L, R, scale,
                                                                      po, pml), 20, inner=nsets)
        out = torch.empty(1, 16, R, device=dev)
        row["combine"] = sbs.bench(lambda i: M.k.launch(f"mla_decode_combine_r{R}", (16, 1, R // 64),
                                                        (16, COMBINE_GROUPS, 1), 0, out, po, pml, 16, int(n)), 20,
                                   inner=nsets)
        for k, v in row.items():
            if isinstance(v, dict) and k.startswith("split"):
                v["pct_copy_split_alone"] = cache_bytes / (v["p50"] / 1e3) / COPY_BW[0] * 100
        rows.append(row)
        print(f"MLA decode parts B=1 H=16 L={L}: " + " | ".join(
            f"{k} {v['p50'] * 1e3:.1f} us" + (f" ({v['pct_copy_split_alone']:.0f}%)" if "pct_copy_split_alone" in v else "")
            for k, v in row.items() if isinstance(v, dict)), flush=True)
        del caches, qas
        torch.cuda.empty_cache()
    return rows


COPY_BW = [None]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fatbin", required=True, help="kernels-dev/mla_decode_ring_lab.cu, built")
    ap.add_argument("--out", default=".", help="folder for mla_decode_ring_lab.json")
    ap.add_argument("--shapes", default=None, help="--sweep: B,H,L;B,H,L;... instead of the default list")
    ap.add_argument("--sweep", action="store_true", help="split counts, exact chunks and the v2 combine, B=1 (NST 3)")
    ap.add_argument("--share", action="store_true", help="session 11: the fused merge's arrival, epoch vs share")
    ap.add_argument("--exact", action="store_true",
                    help="session 12: the shipped fused merge at 128 splits (whole tiles) vs exact chunks (132 splits)")
    a = ap.parse_args()
    M = MlaKernels(a.fatbin)
    if a.exact:
        exact(M, a)
        return
    if a.share:
        share(M, a)
        return
    rings = [Ring(M, nst) for nst in NSTS[512]]
    spins = [Ring(M, nst, spin=True) for nst in SPIN_NSTS[512]]
    ok = True
    for v in ([Ring(M, 3), Ring(M, 3, spin=True), Ring(M, 3, spin=True, discard=True)] if a.sweep else rings + spins):
        for splits in (None, 1, 8, 24, 64, 132):
            print(f"-- checks: {v.label}, splits {'rule' if splits is None else splits}", flush=True)
            # twice in a row at each count: the arrival counter's reset and the epoch
            for _ in range(2 if v.spin else 1):
                ok &= cm.check_decode(v if splits is None else v.forced(splits))
    print("ALL MLA RING CHECKS PASSED" if ok else "SOME MLA RING CHECKS FAILED", flush=True)
    COPY_BW[0] = sbs.copy_bandwidth()
    print(f"copy bandwidth {COPY_BW[0] / 1e12:.3f} TB/s (read + write)", flush=True)
    if a.sweep:  # session 10, calls 3-4: the split count, exact chunks, the v2 combine, the coalesced fused merge
        sweep = [Ring(M, 3, splits=n, spin=sp, exact=ex, combine2=c2) for (n, sp, ex, c2) in
                 [(None, False, False, False), (None, True, False, False)]] + [Ring(M, 3, spin=True, discard=True)]
        shapes = [tuple(int(x) for x in t.split(",")) for t in a.shapes.split(";")] if a.shapes else \
            [(1, 16, 16384), (1, 16, 32768), (1, 16, 65536), (1, 16, 4096), (2, 16, 16384), (2, 16, 65536),
             (1, 32, 16384), (1, 128, 16384), (8, 16, 16384), (32, 16, 16384)]
        rows = lab.timings(M, COPY_BW[0], sweep, shapes)
        traces = lab.trace(M, sweep[1]) + lab.trace(M, sweep[2])
        with open(os.path.join(a.out, "mla_decode_ring_sweep.json"), "w") as f:
            json.dump({"copy_bw": COPY_BW[0], "ok": ok, "checks": cm.RESULTS["checks"], "timings": rows,
                       "traces": traces}, f, indent=1)
        return
    part_rows = parts(M, rings)
    rows = lab.timings(M, COPY_BW[0], rings[:2] + spins, lab.SHAPES + [(32, 16, 16384)])
    traces = lab.trace(M, rings[0]) + lab.trace(M, spins[0])
    with open(os.path.join(a.out, "mla_decode_ring_lab.json"), "w") as f:
        json.dump({"copy_bw": COPY_BW[0], "ok": ok, "checks": cm.RESULTS["checks"], "parts": part_rows,
                   "timings": rows, "traces": traces}, f, indent=1)


def ab(M, a, make, forced, name, extra_check=None):
    """Two Ring variants from make(): float64 checks of each at the rule's split count and the `forced` counts, twice in
    a row; the copy bandwidth; timings of the two and of a second pair from make(), alternating; traces at 16k and
    32k; JSON `name` under --out. extra_check(second) -> bool runs after the checks."""
    first, second = make()
    ok = True
    for v in (first, second):
        for splits in (None, *forced, None):
            print(f"-- checks: {v.label}, splits {'rule' if splits is None else splits}", flush=True)
            for _ in range(2):
                ok &= cm.check_decode(v if splits is None else v.forced(splits))
    if extra_check:
        ok &= extra_check(second)
    print("ALL MLA RING CHECKS PASSED" if ok else "SOME MLA RING CHECKS FAILED", flush=True)
    COPY_BW[0] = sbs.copy_bandwidth()
    print(f"copy bandwidth {COPY_BW[0] / 1e12:.3f} TB/s (read + write)", flush=True)
    shapes = [tuple(int(x) for x in t.split(",")) for t in a.shapes.split(";")] if a.shapes else \
        [(1, 16, 4096), (1, 16, 16384), (1, 16, 32768), (1, 16, 65536)]
    again = make()
    for v in again:
        v.label += "_again"
    rows = lab.timings(M, COPY_BW[0], [first, second, *again], shapes)
    traces = []
    for v in (first, second):
        traces += lab.trace(M, v, shapes=((1, 16, 16384), (1, 16, 32768)))
    with open(os.path.join(a.out, name), "w") as f:
        json.dump({"copy_bw": COPY_BW[0], "ok": ok, "checks": cm.RESULTS["checks"], "timings": rows,
                   "traces": traces}, f, indent=1)


def share(M, a):
    """Session 11: session 10's fused merge (epoch arrival) vs group_arrive_share (shipped since). Checks: each at the rule's split
    count and forced 1 / 8 / 24 / 64 / 132, twice in a row, the share variant on ONE counter through all of them (the
    counter's low word must return to zero whatever the member count); timings alternate the two, twice; traces."""
    def low_words(shared):
        low = shared.ctr.view(torch.int64)[:8].cpu().tolist()
        print(f"share counters after the checks (64-bit, low word must be 0): {[hex(x) for x in low]}", flush=True)
        return all(x & 0xFFFFFFFF == 0 for x in low)
    ab(M, a, lambda: (Ring(M, 3, spin=True, discard=True), Ring(M, 3, spin=True, discard=True, share=True)),
       (1, 8, 24, 64, 132), "mla_decode_ring_share.json", low_words)


def exact(M, a):
    """Session 12: the shipped fused merge (share arrival, DISCARD) with chunks of whole 32-row tiles (128 splits at
    batch 1 H16) vs exact chunks of ceil(L / 132) rows (132 splits: every SM streams, but 132 partials to merge, which
    the merge's 16 split groups x UNR loads per thread take in one round only if UNR >= 9). Checks at the rule's
    split count and forced 129 / 132 / 140 / 144, twice in a row; timings alternate the two, twice; traces."""
    ab(M, a, lambda: (Ring(M, 3, spin=True, discard=True, share=True),
                      Ring(M, 3, spin=True, discard=True, share=True, exact=True)),
       (129, 132, 140, 144), "mla_decode_ring_exact.json")

if __name__ == "__main__":
    main()
