"""Sliding-window attention (the OVQ hybrid's SWA blocks, ovq.md section 4) beside PyTorch, same GPU, same run.

Our kernels: the flash kernels' "_swa" instances (attention/flash_fwd*.cuh, flash_bwd*.cuh; query t sees keys
t - W < s <= t), launched through ccalab_cuda.Kernels as the Java backend launches them. PyTorch has no sliding window
in SDPA's flash / cuDNN backends; its answer is FlexAttention (torch.nn.attention.flex_attention, compiled, with a
block mask that skips the blocks outside the window), timed here. Full causal SDPA (cuDNN and flash) at the same
shape is printed too: what a window saves.

Checks first: ours and FlexAttention's bf16 output and gradients against float64 autograd of the masked softmax on
small shapes; ours must be within twice PyTorch's plain bf16 attention's error (SDPA MATH on the same bf16 inputs,
the window as a boolean mask) plus a 1e-3 floor, the tolerance of side_by_side.py's checks.

Usage (on the GPU host, from the repository root): python3 bench/swa_side_by_side.py --fatbin F [--out DIR]
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from side_by_side import bench, rel_err  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
RESULTS = {"checks": [], "timings": []}


def window_mask(T, W, device):
    """[T, T] bool, True where query t may see key s: t - W < s <= t."""
    t = torch.arange(T, device=device)
    d = t[:, None] - t[None, :]
    return (d >= 0) & (d < W)


def reference_f64(q, k, v, W):
    """Masked softmax attention in float64; q [B, T, Hq, D], k, v [B, T, Hkv, D] -> [B, T, Hq, D]."""
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))
    G = qh.shape[1] // kh.shape[1]
    kh, vh = kh.repeat_interleave(G, 1), vh.repeat_interleave(G, 1)
    s = qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5
    s = s.masked_fill(~window_mask(q.shape[1], W, q.device), float("-inf"))
    return (s.softmax(-1) @ vh).transpose(1, 2)


def plain_bf16(q, k, v, W):
    """PyTorch's plain bf16 attention (SDPA MATH) with the window as a boolean mask: the naive error scale."""
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              attn_mask=window_mask(q.shape[1], W, q.device),
                                              enable_gqa=q.shape[2] != k.shape[2]).transpose(1, 2)


for _limit in ("recompile_limit", "cache_size_limit"):  # one compiled kernel per (T, W, D) timed here
    if hasattr(torch._dynamo.config, _limit):
        setattr(torch._dynamo.config, _limit, 256)


def flex(T, W):
    """A compiled flex_attention over [B, H, T, D] with the window's block mask, or None where it is missing."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError:
        return None

    def mask_mod(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & (q_idx - kv_idx < W)

    mask = create_block_mask(mask_mod, B=None, H=None, Q_LEN=T, KV_LEN=T, device=dev)
    fn = torch.compile(flex_attention, dynamic=False)
    return lambda q, k, v: fn(q, k, v, block_mask=mask, enable_gqa=q.shape[1] != k.shape[1])


def check(K, B, T, Hq, Hkv, D, W):
    torch.manual_seed(T + W + D)
    q, k, v, do = (torch.randn(B, T, h, D, device=dev).to(bf16) for h in (Hq, Hkv, Hkv, Hq))
    olo = torch.empty_like(q)
    o, lse = K.flash_fwd(q, k, v, True, olo=olo, window=W)
    dq, dk, dv = K.flash_bwd(q, k, v, o, lse, do, True, olo=olo, window=W)
    qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
    r = reference_f64(qd, kd, vd, W)
    r.backward(do.double())
    qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
    ob = plain_bf16(qb, kb, vb, W)
    ob.backward(do)
    fx = flex(T, W)
    fo = fg = None
    if fx is not None:
        try:
            qf, kf, vf = (x.detach().transpose(1, 2).contiguous().requires_grad_() for x in (q, k, v))
            fo = fx(qf, kf, vf)
            fo.backward(do.transpose(1, 2))
            fo, fg = fo.transpose(1, 2), [x.grad.transpose(1, 2) for x in (qf, kf, vf)]
        except Exception as ex:  # noqa: BLE001 - PyTorch's side only; ours is checked either way
            print(f"  (FlexAttention at T{T}: {type(ex).__name__}: {str(ex)[:200]})", flush=True)
            fx = None
    ok = True
    for i, (name, ours, want, naive) in enumerate([("o", o, r, ob), ("dq", dq, qd.grad, qb.grad),
                                                    ("dk", dk, kd.grad, kb.grad), ("dv", dv, vd.grad, vb.grad)]):
        e, en = rel_err(ours, want), rel_err(naive, want)
        ef = rel_err(fo if i == 0 else fg[i - 1], want) if fx is not None else float("nan")
        good = e <= 2 * en + 1e-3
        ok &= good
        case = f"swa B{B} T{T} Hq{Hq} Hkv{Hkv} D{D} W{W} {name}"
        RESULTS["checks"].append({"case": case, "err": e, "naive_err": en, "flex_err": ef, "ok": good})
        print(f"{'PASS' if good else 'FAIL'} {case}: err {e:.2e} (plain bf16 {en:.2e}, FlexAttention {ef:.2e})",
              flush=True)
    return ok


def time_shape(K, T, H, D, W):
    torch.manual_seed(1)
    q, k, v, do = (torch.randn(1, T, H, D, device=dev).to(bf16) for _ in range(4))
    olo = torch.empty_like(q)
    o, lse = K.flash_fwd(q, k, v, True, olo=olo, window=W)
    pairs = min(T, W) * (min(T, W) + 1) / 2 + (T - min(T, W)) * W
    flops = 4.0 * H * D * pairs
    row = {"T": T, "H": H, "D": D, "W": W}
    row["ours_fwd"] = bench(lambda i: K.flash_fwd(q, k, v, True, out=o, lse=lse, window=W))["p50"]
    row["ours_bwd"] = bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, True, olo=olo, window=W))["p50"]
    fx = flex(T, W)
    if fx is not None:
        qf, kf, vf = (x.transpose(1, 2).contiguous().requires_grad_() for x in (q, k, v))
        dof = do.transpose(1, 2).contiguous()
        fo = fx(qf, kf, vf)
        f1 = bench(lambda i: fx(qf, kf, vf))
        f2 = bench(lambda i: torch.autograd.grad(fo, (qf, kf, vf), dof, retain_graph=True), graph=False)
        row["flex_fwd"], row["flex_bwd"], row["flex_modes"] = f1["p50"], f2["p50"], [f1["mode"], f2["mode"]]
    for name, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("fa2", SDPBackend.FLASH_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                row[f"{name}_causal_fwd"] = bench(lambda i: F.scaled_dot_product_attention(
                    q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True))["p50"]
        except RuntimeError as ex:
            print(f"  ({name} causal: {ex})")
    row["tflops_fwd"] = flops / (row["ours_fwd"] * 1e-3) / 1e12
    row["tflops_bwd"] = 2.5 * flops / (row["ours_bwd"] * 1e-3) / 1e12
    RESULTS["timings"].append(row)
    fl = (f" | FlexAttention fwd {row['flex_fwd']:.3f} ms ({row['flex_fwd'] / row['ours_fwd']:.2f}x) bwd "
          f"{row['flex_bwd']:.3f} ms ({row['flex_bwd'] / row['ours_bwd']:.2f}x) {row['flex_modes']}") if "flex_fwd" in row \
        else " | no FlexAttention"
    print(f"{H:3d} x {D:3d} T={T:6d} W={W:5d}: ours fwd {row['ours_fwd']:.3f} ms ({row['tflops_fwd']:.0f} TF) bwd "
          f"{row['ours_bwd']:.3f} ms ({row['tflops_bwd']:.0f} TF){fl} | causal cuDNN fwd "
          f"{row.get('cudnn_causal_fwd', float('nan')):.3f} ms, FA2 {row.get('fa2_causal_fwd', float('nan')):.3f} ms",
          flush=True)


def det_mma(K, T, H, D):
    """The mma.sync backward (the non-Hopper path, forced) plain and deterministic ("_det", session 17): time, and the
    deterministic one's bits over two runs."""
    torch.manual_seed(3)
    q, k, v, do = (torch.randn(1, T, H, D, device=dev).to(bf16) for _ in range(4))
    o, lse = K.flash_fwd(q, k, v, True)
    plain = bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, True, mma=True))["p50"]
    det = bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, True, mma=True, deterministic=True))["p50"]
    a = K.flash_bwd(q, k, v, o, lse, do, True, mma=True, deterministic=True)
    b = K.flash_bwd(q, k, v, o, lse, do, True, mma=True, deterministic=True)
    same = all(torch.equal(x, y) for x, y in zip(a, b))
    RESULTS["timings"].append({"T": T, "H": H, "D": D, "mma_bwd": plain, "mma_bwd_det": det, "det_bits_equal": same})
    print(f"{'PASS' if same else 'FAIL'} mma.sync backward {H} x {D} T={T} causal: plain {plain:.3f} ms, deterministic "
          f"{det:.3f} ms ({plain / det:.2f}x the plain kernel's speed); two deterministic runs bit for bit: {same}", flush=True)
    return same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--seqs", default="4096,16384,65536")
    ap.add_argument("--windows", default="512,4096")
    ap.add_argument("--det", action="store_true", help="only the mma.sync deterministic backward beside the plain one")
    args = ap.parse_args()
    K = Kernels(args.fatbin)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, hopper kernels {K.hopper}", flush=True)
    ok = True
    if args.det:
        for D in (64, 128):
            for T in (4096, 16384):
                ok &= det_mma(K, T, 16, D)
        RESULTS["ok"] = ok
        with open(os.path.join(args.out, "det_mma.json"), "w") as f:
            json.dump(RESULTS, f, indent=1)
        sys.exit(0 if ok else 1)
    for (B, T, Hq, Hkv, D, W) in [(1, 700, 2, 2, 64, 37), (2, 1000, 4, 2, 64, 200), (1, 900, 2, 2, 128, 300),
                                  (1, 2048, 4, 1, 128, 512)]:
        ok &= check(K, B, T, Hq, Hkv, D, W)
    for D in (64, 128):
        for W in (int(w) for w in args.windows.split(",")):
            for T in (int(t) for t in args.seqs.split(",")):
                if W < T:
                    time_shape(K, T, 16, D, W)
    RESULTS["ok"] = ok
    with open(os.path.join(args.out, "swa_side_by_side.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)
    print("ALL SWA CHECKS PASSED" if ok else "SWA CHECKS FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
