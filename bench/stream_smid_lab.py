"""Stream-imbalance lab (session 12; kernels-dev/stream_smid_lab.cu): at batch 1 a split decode's slowest block ends
1-1.5 us after the median one (MLA 32k, docs/perf-log.md session 12 call 7). Is that the same SMs every launch (then a
static per-SM share of the sequence could even it out) or chance?

    python3 bench/stream_smid_lab.py --fatbin .gl/stream_smid.fatbin

One block per SM (132, a 200 KB dynamic shared-memory request keeps a second off) each stream a contiguous chunk of a
cold buffer (bytes per block as MLA 32k's 295 KB and as a 2 MB chunk), 40 launches over rotated buffers. Per SM: its
mean end time (us after the launch's first start) and its spread over launches; the rank correlation of end times
between the launches' two halves (1: the same SMs are slow every time, 0: chance).
"""
import ctypes
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import lab_start  # noqa: E402


def ranks(x):
    r = torch.empty_like(x)
    r[x.argsort()] = torch.arange(len(x), dtype=x.dtype)
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def run(K, sms, per_block, launches=40):
    n16 = per_block * sms // 16
    nbuf = max(2, -(-400_000_000 // (n16 * 16)))  # >= 400 MB between two uses of one buffer
    bufs = [torch.randint(0, 2 ** 31, (n16 * 4,), dtype=torch.int32, device="cuda") for _ in range(nbuf)]
    out = torch.zeros(sms * 4, dtype=torch.int64, device="cuda")
    ends, spans = {}, []
    for i in range(launches + 3):
        K.launch("stream_smid", (sms, 1, 1), (256, 1, 1), 200 * 1024, bufs[i % nbuf], ctypes.c_longlong(n16),
                 ctypes.c_longlong(n16 // sms), out)
        torch.cuda.synchronize()
        if i < 3:
            continue  # warm-up
        t = out.view(sms, 4).cpu()
        start = t[:, 1].min()
        end = (t[:, 2] - start).double() / 1e3
        spans.append((end.median().item(), end.max().item()))
        for smid, e in zip(t[:, 0].tolist(), end.tolist()):
            ends.setdefault(smid, []).append(e)
    ids = sorted(k for k in ends if len(ends[k]) == launches)
    m = torch.tensor([[ends[k][j] for j in range(launches)] for k in ids], dtype=torch.float64)  # [SM, launch]
    rel = m - m.median(0).values  # each launch against its own median block
    half = launches // 2
    rho = spearman(rel[:, :half].mean(1), rel[:, half:].mean(1))
    mean, std = rel.mean(1), rel.std(1)
    slow = mean.argsort(descending=True)[:8]
    print(f"{per_block / 1e3:.0f} KB per block, {len(ids)} SMs seen in all {launches} launches: median end "
          f"{sorted(s[0] for s in spans)[len(spans) // 2]:.2f} us, latest {sorted(s[1] for s in spans)[len(spans) // 2]:.2f} us"
          f" (medians over launches); per-SM lateness vs the launch's median block: spread of the SM means "
          f"{mean.std().item():.3f} us, mean within-SM std {std.mean().item():.3f} us; rank correlation of the two "
          f"halves' means {rho:.2f}", flush=True)
    print("  slowest SMs on average (smid: mean lateness us +- std): " + ", ".join(
        f"{ids[i]}: {mean[i]:.2f} +- {std[i]:.2f}" for i in slow.tolist()), flush=True)
    return {"bytes_per_block": per_block, "sms": ids, "lateness_us": rel.tolist(), "spearman_halves": rho,
            "median_and_latest_end_us": spans}


def main():
    a, K = lab_start("per-SM lateness of a one-block-per-SM stream")
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows = [run(K, sms, 295 * 1024), run(K, sms, 2 * 1024 * 1024)]
    with open(os.path.join(a.out, "stream_smid.json"), "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    main()
