"""Decode lab (session 3): decode v3 variants (warps x cp.async stages x blocks per SM) beside v2 and SDPA.

    python3 bench/decode_lab.py --fatbin decode_lab.fatbin --out $OUT   (fatbin: kernels-dev/decode_lab.cu)

Checks every v3 instance against float64 (fresh inputs, NaN-poisoned outputs, twice in a row so that the fused
combine's counters are seen to reset, forced split counts 1..256). Timing: KV bytes read / kernel time (CUDA-event
median of graph replays of 10 calls, two rotated input sets) vs the device copy bandwidth (2 GiB bf16 copy_,
read + write bytes / time) measured in the same process; FA2 and cuDNN SDPA with a query of length 1 beside.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402
from ccalab_cuda import Kernels  # noqa: E402
import cca_reference as ref  # noqa: E402
from torch.nn.attention import SDPBackend  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
# (warps, stages, cluster): blocks per SM to try
VARIANTS = {(8, 2, 1): (1, 2), (8, 2, 8): (1, 2), (8, 2, 4): (1,), (4, 4, 8): (1, 2), (8, 3, 8): (1,)}


def checks(K):
    ok = True
    cases = [(1, 1, 8, 4, 4, 128), (2, 1000, 1100, 8, 2, 128), (3, 4097, 5000, 16, 2, 64), (1, 16384, 16384, 8, 8, 128),
             (4, 300, 300, 8, 1, 64), (2, 3000, 3000, 8, 2, 256), (1, 100, 128, 2, 2, 256), (1, 5000, 5000, 16, 4, 128),
             (1, 777, 800, 16, 16, 128), (2, 2049, 2049, 32, 4, 256), (1, 9000, 9000, 16, 2, 128), (1, 33, 40, 8, 8, 64)]
    for (B, L, Tmax, Hq, Hkv, D) in cases:
        torch.manual_seed(L)
        q = torch.randn(B, Hq, D, device=dev).to(bf16)
        kc = torch.randn(B, Tmax, Hkv, D, device=dev).to(bf16)
        vc = torch.randn(B, Tmax, Hkv, D, device=dev).to(bf16) * 2
        r, _ = ref.attention_f64(q[:, None], kc[:, :L], vc[:, :L], False, None)
        naive = sbs.plain_attention_bf16(q[:, None].contiguous(), kc[:, :L].contiguous(), vc[:, :L].contiguous(), False)
        G = Hq // Hkv
        variants = {(64, 1): [(8, 2, 1)], (64, 2): [(8, 2, 8)], (64, 8): [(8, 2, 1), (8, 2, 8)],
                    (128, 2): [(8, 2, 1)], (128, 8): [(8, 2, 1), (8, 2, 8)], (256, 1): [(8, 2, 1)],
                    (256, 4): [(8, 2, 8)], (256, 8): [(8, 2, 1), (8, 2, 8)]}.get((D, G))
        if D == 128 and G in (1, 4):
            variants = list(VARIANTS) + ([(4, 4, 1), (8, 3, 8)] if G == 4 else [(4, 4, 1)])
        if not variants:
            print(f"(no lab instance for D{D} G{G})")
            continue
        for var in variants:
            for splits in (None, 1, 3, 256):
                for rep in range(2):
                    o = torch.full((B, Hq, D), float("nan"), device=dev, dtype=bf16)
                    K.decode(q, kc, vc, L, variant=var, splits=splits, o=o)
                    torch.cuda.synchronize()
                    ok &= sbs.check(f"decode v3 w{var[0]}s{var[1]}c{var[2]} splits={splits} rep{rep} B{B} L{L} Tmax{Tmax} "
                                    f"Hq{Hq} Hkv{Hkv} D{D}", o, r[:, 0], naive[:, 0])
    return ok


def decode_case(B, L, Hq, Hkv, copy_bw):
    """Two input sets (q [B, Hq, 128], k and v [B, L, Hkv, 128], bf16) and the row a decode shape's timings go in."""
    D = 128
    sets = [(torch.randn(B, Hq, D, device=dev).to(bf16), torch.randn(B, L, Hkv, D, device=dev).to(bf16),
             torch.randn(B, L, Hkv, D, device=dev).to(bf16)) for _ in range(2)]
    kv = 2 * B * L * Hkv * D * 2
    row = {"B": B, "L": L, "Hq": Hq, "Hkv": Hkv, "D": D, "copy_bw": copy_bw, "kv_bytes": kv}
    return sets, row


def time_sdpa(row, sets):
    """FA2 and cuDNN SDPA decode (a query of length 1) on the same sets, into row["flash"] / row["cudnn"]."""
    for label, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
        try:
            row[label] = sbs.bench(lambda i: sbs.sdpa(sets[i % 2][0][:, None], sets[i % 2][1], sets[i % 2][2], False,
                                                      be), 30, inner=10)
        except Exception as ex:  # noqa: BLE001
            row[label] = {"error": str(ex)[:200]}


def add_pct_copy(row):
    """Each timing of the row with a median gets "pct_copy": its K/V read rate as % of the measured copy bandwidth."""
    kv, copy_bw = row["kv_bytes"], row["copy_bw"]
    for k, v in row.items():
        if isinstance(v, dict) and "p50" in v:
            v["pct_copy"] = kv / (v["p50"] / 1e3) / copy_bw * 100


def timings(K, copy_bw):
    rows = []
    shapes = [(1, L, 16, 4) for L in (4096, 16384, 65536)] + [(1, L, 8, 2) for L in (4096, 16384, 65536)] + \
             [(1, L, 16, 16) for L in (4096, 16384, 65536)] + [(8, L, 16, 16) for L in (4096, 16384, 65536)] + \
             [(8, 16384, 16, 4), (32, 16384, 8, 2)]
    for (B, L, Hq, Hkv) in shapes:
        sets, row = decode_case(B, L, Hq, Hkv, copy_bw)
        row["v2"] = sbs.bench(lambda i: K.decode_v2(*sets[i % 2], L), 30, inner=10)
        for (w, s, c), pers in VARIANTS.items():
            for p in pers:
                row[f"v3_w{w}s{s}c{c}_k{p}"] = sbs.bench(lambda i: K.decode(*sets[i % 2], L, per_sm=p, variant=(w, s, c)),
                                                         30, inner=10)
        time_sdpa(row, sets)
        add_pct_copy(row)
        rows.append(row)
        best = max((k for k in row if k.startswith("v3_")), key=lambda k: row[k]["pct_copy"])
        print(f"B={B} L={L:>6} {Hq}q/{Hkv}kv: v2 {row['v2']['p50'] * 1e3:.1f} us {row['v2']['pct_copy']:.0f}% | "
              + " ".join(f"{k[3:]} {row[k]['pct_copy']:.0f}" for k in row if k.startswith("v3_"))
              + f" | best {best} {row[best]['p50'] * 1e3:.1f} us {row[best]['pct_copy']:.0f}%"
              + "".join(f" | {k} {row[k]['pct_copy']:.0f}% ({row[k]['p50'] * 1e3:.1f} us)" for k in ("flash", "cudnn")
                        if "p50" in row[k]), flush=True)
        del sets
    return rows


def shipped(K, copy_bw):
    """The shipped choice (CudaBackend.decode: v3 where B x Hkv < 16, else v2) at the issue's shapes, v3 at 0.5 and
    1 block per SM and v2 beside it, FA2 and cuDNN SDPA decode (a query of length 1) in the same process."""
    rows = []
    shapes = [(1, L, Hq, Hkv) for (Hq, Hkv) in ((16, 4), (8, 2), (16, 16)) for L in (4096, 16384, 65536)] + \
             [(8, L, 16, 16) for L in (4096, 16384, 65536)] + [(8, 16384, 16, 4), (32, 16384, 8, 2)]
    for (B, L, Hq, Hkv) in shapes:
        sets, row = decode_case(B, L, Hq, Hkv, copy_bw)
        row["shipped"] = sbs.bench(lambda i: K.decode(*sets[i % 2], L), 30, inner=10)
        row["v2"] = sbs.bench(lambda i: K.decode_v2(*sets[i % 2], L), 30, inner=10)
        for p in (0.5, 1):
            row[f"v3_k{p}"] = sbs.bench(lambda i: K.decode(*sets[i % 2], L, per_sm=p, v3=True), 30, inner=10)
        time_sdpa(row, sets)
        add_pct_copy(row)
        rows.append(row)
        print(f"B={B} L={L:>6} {Hq}q/{Hkv}kv: " + " | ".join(
            f"{k} {row[k]['p50'] * 1e3:.1f} us {row[k]['pct_copy']:.0f}%" for k in
            ("shipped", "v2", "v3_k0.5", "v3_k1", "flash", "cudnn") if "p50" in row.get(k, {})), flush=True)
        del sets
    return rows


def between_copy_bandwidths(time_rows):
    """time_rows(copy_bw) between two copy-bandwidth measurements (both printed; the first is the one the rows' %
    refer to): its rows and [before, after]."""
    copy_bw = sbs.copy_bandwidth()
    print(f"copy bandwidth {copy_bw / 1e12:.3f} TB/s (read + write)", flush=True)
    rows = time_rows(copy_bw)
    copy_bw2 = sbs.copy_bandwidth()
    print(f"copy bandwidth again {copy_bw2 / 1e12:.3f} TB/s", flush=True)
    return rows, [copy_bw, copy_bw2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--shipped", action="store_true", help="time the shipped fatbin's choice (no lab instances)")
    a = ap.parse_args()
    K = Kernels(a.fatbin)
    p = torch.cuda.get_device_properties(0)
    print({"name": p.name, "sms": p.multi_processor_count, "torch": torch.__version__}, flush=True)
    if a.shipped:
        rows, copy_bws = between_copy_bandwidths(lambda copy_bw: shipped(K, copy_bw))
        with open(os.path.join(a.out, "decode_shipped.json"), "w") as f:
            json.dump({"device": p.name, "copy_bw": copy_bws, "timings": rows}, f, indent=1)
        return
    ok = checks(K)
    print("ALL DECODE CHECKS PASSED" if ok else "SOME DECODE CHECKS FAILED", flush=True)
    rows, copy_bws = between_copy_bandwidths(lambda copy_bw: timings(K, copy_bw))
    with open(os.path.join(a.out, "decode_lab.json"), "w") as f:
        json.dump({"device": p.name, "copy_bw": copy_bws, "checks": sbs.RESULTS["checks"], "ok": ok,
                   "timings": rows}, f, indent=1)


if __name__ == "__main__":
    main()
