"""The plain PyTorch MLA layer (mla.md sections 2 and 4) as the anchor of the Java GPU layer's backward.

    python3 bench/mla_layer_torch.py [--out DIR] [--seqs 4096,16384] [--skip-timing]

(a) Error floor: plain bf16 PyTorch autograd of the MLA layer (bf16 weights and activations, RMSNorm in fp32 rounded
    as HF does, SDPA flash with V zero-padded to d_qk and cuDNN at the real widths; the worse of the two) against the
    same layer in float64 on the same bf16-rounded inputs, per output, dx and every parameter gradient (relative
    Frobenius error). Inputs of the Java gpu test's kind (CudaMlaLayerCheck): x and dy uniform with unit variance,
    linears N(0, 0.02), norm gains 1 + 0.25 sin(i) (moved off 1 so that the gain enters every formula), at the
    gpu test's configs (V2-Lite B1 T200, the low-rank E2048 B1 T150, the small d_qk 96 / d_v 64 ones).
(b) Timing at E = 2048, batch 1, causal: the bf16 layer's forward and its backward alone (torch.autograd.grad of
    y for x and every weight, graph retained; eager: autograd does not capture) with SDPA cuDNN (and flash with V
    padded), V2-Lite (r_kv 512) and MLA-4 (r_kv 960), at each --seqs length: the anchor beside the Java CLI's
    MLA layer backward cells (CudaBenchCli mla phase) in the same device call.
Prints a table last and writes mla_layer_torch.json to --out.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import bench as sbs_bench  # noqa: E402

dev = os.environ.get("MLA_DEVICE", "cuda")
bf16 = torch.bfloat16
TABLE = []


def rope(x, base):
    """Rotate-half RoPE over the last dim of x [B, T, ..., d] at positions 0..T-1 (angles in float64)."""
    d, T = x.shape[-1], x.shape[1]
    half = d // 2
    inv = base ** (-2.0 * torch.arange(half, device=x.device, dtype=torch.float64) / d)
    ang = torch.arange(T, device=x.device, dtype=torch.float64)[:, None] * inv[None, :]
    shape = [1, T] + [1] * (x.dim() - 3) + [half]
    cos, sin = ang.cos().view(shape), ang.sin().view(shape)
    if x.dtype != torch.float64:
        cos, sin = cos.float(), sin.float()
    a, b = x[..., :half], x[..., half:]
    out = torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
    return out.to(x.dtype)


def rmsnorm(x, w, eps):
    if x.dtype == torch.float64:
        return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    xf = x.float()  # fp32 statistics and gain, one rounding (as the GPU layer's kernels)
    return (w * xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def attention(q, k, v, scale, backend):
    """q, k [B, T, n, dqk], v [B, T, n, dv] -> o [B, T, n, dv], causal."""
    if backend == "f64":
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
        T = q.shape[1]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        return torch.einsum("bhqk,bkhd->bqhd", s.softmax(-1), v)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
    dv, dqk = v.shape[-1], q.shape[-1]
    if backend == "flash":
        vt = F.pad(vt, (0, dqk - dv))
    be = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    with sdpa_kernel(be):
        o = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True, scale=scale)
    return o[..., :dv].transpose(1, 2)


def layer(x, P, cfg, backend):
    E, n, rq, R, dn, dr, dv = (cfg[k] for k in ("E", "n", "rq", "R", "dn", "dr", "dv"))
    B, T = x.shape[:2]
    dqk = dn + dr
    if rq:
        q = rmsnorm(x @ P["q_a_proj.weight"].T, P["q_a_layernorm.weight"], 1e-6) @ P["q_b_proj.weight"].T
    else:
        q = x @ P["q_proj.weight"].T
    q = q.view(B, T, n, dqk)
    q = torch.cat([q[..., :dn], rope(q[..., dn:], 1e4)], -1)
    a = x @ P["kv_a_proj_with_mqa.weight"].T
    c = rmsnorm(a[..., :R], P["kv_a_layernorm.weight"], 1e-6)
    kr = rope(a[..., R:], 1e4)
    up = (c @ P["kv_b_proj.weight"].T).view(B, T, n, dn + dv)
    k = torch.cat([up[..., :dn], kr[:, :, None, :].expand(B, T, n, dr)], -1)
    o = attention(q, k, up[..., dn:], 1 / math.sqrt(dqk), backend)
    return o.reshape(B, T, n * dv) @ P["o_proj.weight"].T


def params(cfg, dtype, gen):
    E, n, rq, R, dn, dr, dv = (cfg[k] for k in ("E", "n", "rq", "R", "dn", "dr", "dv"))
    shapes = {}
    if rq:
        shapes.update({"q_a_proj.weight": (rq, E), "q_a_layernorm.weight": (rq,), "q_b_proj.weight": (n * (dn + dr), rq)})
    else:
        shapes["q_proj.weight"] = (n * (dn + dr), E)
    shapes.update({"kv_a_proj_with_mqa.weight": (R + dr, E), "kv_a_layernorm.weight": (R,),
                   "kv_b_proj.weight": (n * (dn + dv), R), "o_proj.weight": (E, n * dv)})
    P = {}
    for name, sh in shapes.items():
        if "layernorm" in name:
            w = 1 + 0.25 * torch.sin(torch.arange(sh[0], dtype=torch.float64))
            P[name] = w.to(dev).float() if dtype != torch.float64 else w.to(dev).float().double()
        else:
            w = torch.randn(sh, generator=gen, dtype=torch.float64) * 0.02
            P[name] = w.to(dev).to(bf16).to(dtype)  # bf16-rounded values in both
    return P


def uniform(shape, gen):
    return ((torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * math.sqrt(3)).to(dev).to(bf16)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300)).item()


def floor(cfg, B, T, seed):
    gen = torch.Generator().manual_seed(seed)
    x, g = uniform((B, T, cfg["E"]), gen), uniform((B, T, cfg["E"]), gen)
    P64 = params(cfg, torch.float64, torch.Generator().manual_seed(seed + 1))
    names = list(P64)

    def grads(P, xin, backend):
        ps = [P[k].detach().clone().requires_grad_() for k in names]
        xi = xin.detach().clone().requires_grad_()
        y = layer(xi, dict(zip(names, ps)), cfg, backend)
        gs = torch.autograd.grad(y, [xi] + ps, g.to(y.dtype))
        return {"out": y.detach(), "dx": gs[0], **dict(zip(names, gs[1:]))}

    want = grads(P64, x.double(), "f64")
    Pb = {k: (v.float() if "layernorm" in k else v.to(bf16)) for k, v in P64.items()}
    row = {"cfg": cfg, "B": B, "T": T}
    for backend in ("flash", "cudnn"):
        try:
            got = grads(Pb, x, backend)
            row[backend] = {k: rel(got[k], want[k]) for k in want}
        except Exception as ex:  # noqa: BLE001 - a backend may refuse a shape; say so
            row[backend] = {"error": f"{type(ex).__name__}: {str(ex)[:160]}"}
    worst = {k: max(row[b][k] for b in ("flash", "cudnn") if k in row[b]) for k in want}
    row["worst"] = worst
    grad_worst = max(v for k, v in worst.items() if k != "out")
    TABLE.append(f"floor {name_of(cfg)} B{B} T{T}: plain bf16 out {worst['out']:.2e}, dx {worst['dx']:.2e}, worst gradient "
                 f"{grad_worst:.2e} ({max((k for k in worst if k != 'out'), key=worst.get)})")
    print(json.dumps(row), flush=True)
    return row


def name_of(cfg):
    return f"MLA E{cfg['E']} n{cfg['n']} r_kv {cfg['R']} d_qk {cfg['dn'] + cfg['dr']} d_v {cfg['dv']}" + (
        f" r_q {cfg['rq']}" if cfg["rq"] else "")


def timing(cfg, T):
    gen = torch.Generator().manual_seed(5)
    P = {k: v.detach().requires_grad_() for k, v in params(cfg, bf16, gen).items()}
    for k in P:
        if "layernorm" in k:
            P[k] = P[k].detach().float().requires_grad_()
    x = uniform((1, T, cfg["E"]), gen).requires_grad_()
    g = uniform((1, T, cfg["E"]), gen)
    row = {"cfg": cfg, "T": T}
    for backend in ("cudnn", "flash"):
        try:
            fwd = sbs_bench(lambda i: layer(x, P, cfg, backend), 10, 3, 1, graph=False)
            y = layer(x, P, cfg, backend)
            inputs = [x] + list(P.values())
            bwd = sbs_bench(lambda i: torch.autograd.grad(y, inputs, g, retain_graph=True), 10, 3, 1, graph=False)
            row[backend] = {"forward": fwd, "backward": bwd}
            TABLE.append(f"torch {name_of(cfg)} T={T:6d} {backend:6s}: forward {fwd['p50']:8.3f} ms, backward "
                         f"{bwd['p50']:8.3f} ms (p10 {bwd['p10']:.3f} p90 {bwd['p90']:.3f}, {bwd['mode']})")
            del y
        except Exception as ex:  # noqa: BLE001
            torch.cuda.synchronize()
            row[backend] = {"error": f"{type(ex).__name__}: {str(ex)[:160]}"}
            TABLE.append(f"torch {name_of(cfg)} T={T:6d} {backend:6s}: {row[backend]['error'][:100]}")
    print(json.dumps(row), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".")
    ap.add_argument("--seqs", default="4096,16384")
    ap.add_argument("--skip-timing", action="store_true")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    v2 = dict(E=2048, n=16, rq=0, R=512, dn=128, dr=64, dv=128)
    res = {"floor": [], "timing": []}
    for cfg, B, T in ((v2, 1, 200), (dict(v2, rq=1024), 1, 150), (dict(E=1024, n=8, rq=0, R=960, dn=128, dr=64, dv=128), 1, 97),
                      (dict(E=512, n=4, rq=256, R=448, dn=32, dr=64, dv=64), 2, 150),
                      (dict(E=512, n=4, rq=0, R=448, dn=32, dr=64, dv=64), 2, 77)):
        res["floor"].append(floor(cfg, B, T, 500 + T))
    if not a.skip_timing:
        for R in (512, 960):
            for T in (int(s) for s in a.seqs.split(",")):
                res["timing"].append(timing(dict(v2, R=R), T))
                torch.cuda.empty_cache()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "mla_layer_torch.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("\n".join(TABLE))


if __name__ == "__main__":
    main()
