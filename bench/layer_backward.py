"""Whole CCA / CCGQA layer backward on our kernels, checked against float64 autograd, timed beside the best
PyTorch MHA layer backward (issue 5: "backward at least 1.3x").

    python3 bench/layer_backward.py --fatbin ccalab.fatbin --out $OUT [--seqs 4096,16384]

Our backward, from the saved forward activations (z, shifted values, q^, k^, o, lse) and dout:
  o_proj GEMM grads (torch.matmul) -> flash_bwd -> value_shift_bwd -> cca_prologue_bwd (our kernels + the
  grouped stage-2 conv's GEMMs through torch.bmm, TF32) -> down-projection GEMM grads (torch.matmul).
Correctness: dx and every parameter gradient (W_qk, W_v, W_o, w0, b0, W1, b1, theta) vs float64 autograd of
the reference layer (cca_reference.py) on fresh random inputs; tolerance as side_by_side.py: at most twice the
error of the plain bf16 PyTorch layer's autograd on the same inputs, plus a floor.
Timing: CUDA events, eager launches on both sides, torch layers timed as autograd.grad over a retained graph.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels, repack_w1  # noqa: E402
import cca_reference as ref  # noqa: E402
from side_by_side import bench, rel_err  # noqa: E402

dev = "cuda"
bf16 = torch.bfloat16
PNAMES = ("w0", "b0", "W1", "b1", "theta")
RESULTS = {"checks": [], "timings": []}
torch.backends.cuda.matmul.allow_tf32 = True  # the stage-2 conv GEMMs in fp32 inputs run as TF32 (checked below)


PLAIN = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def layer_forward(L, x, wqk, wv, wo, p, dtype, f64, backend=PLAIN):
    """The reference layer with explicit leaves (so autograd reaches every parameter)."""
    B, T, _ = x.shape
    Hq, Hkv, D = L.Hq, L.Hkv, L.D
    z = x @ wqk.t()
    q, k = ref.cca_prologue(z, p, Hq, Hkv, D, L.rotary, L.base, L.eps, True, dtype)
    v = L._value(x @ wv.t()).view(B, T, Hkv, D)
    if f64:
        o, _ = ref.attention_f64(q, k, v, True)
    else:
        o = ref._sdpa(q.to(bf16), k.to(bf16), v.to(bf16), backend)
    return o.reshape(B, T, Hq * D) @ wo.t()


class OursLayer:
    """Forward saving what the backward needs, and the backward on our kernels."""

    def __init__(self, K, L):
        self.K, self.L = K, L

    def forward(self, x):
        K, L = self.K, self.L
        B, T, _ = x.shape
        Hq, Hkv, D, p = L.Hq, L.Hkv, L.D, L.p
        self.x, self.z = x, x @ L.wqk.t()
        y = x @ L.wv.t()
        self.qh, self.kh = K.cca_prologue(self.z, p["w0"], p["b0"], L.w1t, p["b1"], p["theta"], Hq, Hkv, D, L.rotary,
                                          L.base, p["temp_mode"], L.eps, True)
        self.vs = K.value_shift(y).view(B, T, Hkv, D)  # materialized: flash_bwd reads the shifted values
        self.o, self.lse = K.flash_fwd(self.qh, self.kh, self.vs, True)
        return self.o.view(B, T, Hq * D) @ L.wo.t()

    def backward(self, g):
        K, L = self.K, self.L
        B, T, E = g.shape
        Hq, Hkv, D, p = L.Hq, L.Hkv, L.D, L.p
        g2, x2 = g.view(B * T, E), self.x.view(B * T, E)
        dwo = g2.t() @ self.o.view(B * T, Hq * D)
        do = (g2 @ L.wo).view(B, T, Hq, D)
        dq, dk, dv = K.flash_bwd(self.qh, self.kh, self.vs, self.o, self.lse, do, True)
        dy = K.value_shift_bwd(dv).view(B * T, Hkv * D)
        dz, pg = K.cca_prologue_bwd(self.z, p["w0"], p["b0"], L.w1t, p["b1"], p["theta"], Hq, Hkv, D, L.rotary,
                                    L.base, p["temp_mode"], L.eps, dq, dk)
        dz2 = dz.view(B * T, (Hq + Hkv) * D)
        dx = torch.addmm(dz2 @ L.wqk, dy, L.wv).view(B, T, E)
        return {"x": dx, "wqk": dz2.t() @ x2, "wv": dy.t() @ x2, "wo": dwo, **pg}


def make_layer(E, Hq, Hkv, D, k0=2, k1=2, temp_mode=0, seed=0):
    torch.manual_seed(seed)
    L = ref.CcaLayer(E, Hq, Hkv, D, dev)
    if (k0, k1, temp_mode) != (2, 2, 0):
        L.p = ref.random_cca_params(Hq, Hkv, D, k0, k1, temp_mode, dev)
        L.w1t = repack_w1(L.p["W1"], Hq + Hkv, D)
    return L


def check_layer(K, B, T, E, Hq, Hkv, D, k0=2, k1=2, temp_mode=0):
    L = make_layer(E, Hq, Hkv, D, k0, k1, temp_mode, seed=T + Hq + 7 * Hkv + temp_mode)
    x = torch.randn(B, T, E, device=dev).to(bf16)
    g = torch.randn(B, T, E, device=dev).to(bf16)
    ours = OursLayer(K, L)
    ours.forward(x)
    go = ours.backward(g)
    torch.cuda.synchronize()

    def leaves(dtype_w, dtype_p):
        lv = {"x": x.to(dtype_w), "wqk": L.wqk.to(dtype_w), "wv": L.wv.to(dtype_w), "wo": L.wo.to(dtype_w)}
        lv.update({n: L.p[n].to(dtype_p) for n in PNAMES})
        return {n: t.detach().clone().requires_grad_() for n, t in lv.items()}

    f = leaves(torch.float64, torch.float64)
    out = layer_forward(L, f["x"], f["wqk"], f["wv"], f["wo"], dict(f, temp_mode=temp_mode), torch.float64, True)
    out.backward(g.double())
    n = leaves(bf16, torch.float32)  # plain PyTorch: bf16 activations/weights, fp32 conv params cast per op
    out = layer_forward(L, n["x"], n["wqk"], n["wv"], n["wo"], dict(n, temp_mode=temp_mode), bf16, False)
    out.backward(g)
    ok = True
    case = f"layer bwd B{B} T{T} E{E} {Hq}q/{Hkv}kv D{D} k0={k0} k1={k1} temp={temp_mode}"
    for name in ("x", "wqk", "wv", "wo") + PNAMES:
        e, en = rel_err(go[name], f[name].grad), rel_err(n[name].grad, f[name].grad)
        good = e <= 2 * en + 2e-3
        ok &= good
        RESULTS["checks"].append({"case": case, "grad": name, "err": e, "naive_err": en, "ok": good})
        print(f"{'PASS' if good else 'FAIL'} {case} d{name}: err {e:.2e} (plain bf16 {en:.2e})", flush=True)
    return ok


def time_layers(K, seqs, E=2048):
    rows = []
    shapes = [("CCA-4x 4q/4kv", 4, 4), ("CCGQA-4x 4q/2kv", 4, 2), ("CCGQA-4x 4q/1kv", 4, 1)]
    for T in seqs:
        reps = 10 if T <= 16384 else 3
        inner = 2 if T <= 16384 else 1
        g = torch.randn(1, T, E, device=dev).to(bf16)
        x = torch.randn(1, T, E, device=dev).to(bf16)
        row = {"T": T}
        M = ref.TorchGqaLayer(E, 16, 16, 128, dev)
        wq, wo = M.wqkv.requires_grad_(), M.wo.requires_grad_()
        xr = x.detach().clone().requires_grad_()
        for label, be in (("torch MHA FA2", SDPBackend.FLASH_ATTENTION), ("torch MHA cuDNN", SDPBackend.CUDNN_ATTENTION)):
            try:
                out = M.forward(xr, be)
                row[label] = bench(lambda i: torch.autograd.grad(out, (xr, wq, wo), g, retain_graph=True), reps,
                                   inner=inner, graph=False)
                del out
            except Exception as ex:  # noqa: BLE001 - recorded
                row[label] = {"error": str(ex)[:200]}
        del M, wq, wo
        for label, Hq, Hkv in shapes:
            L = make_layer(E, Hq, Hkv, 128)
            ours = OursLayer(K, L)
            ours.forward(x)
            row[label] = bench(lambda i: ours.backward(g), reps, inner=inner, graph=False)
            if label.startswith("CCA-4x") and T <= 16384:  # where our layer backward's time goes
                p, B = L.p, 1
                do = (g.view(T, E) @ L.wo).view(1, T, Hq, 128)
                dq, dk, dv = K.flash_bwd(ours.qh, ours.kh, ours.vs, ours.o, ours.lse, do, True)
                row["CCA-4x part flash_bwd"] = bench(
                    lambda i: K.flash_bwd(ours.qh, ours.kh, ours.vs, ours.o, ours.lse, do, True), reps, inner=inner,
                    graph=False)
                row["CCA-4x part prologue_bwd"] = bench(
                    lambda i: K.cca_prologue_bwd(ours.z, p["w0"], p["b0"], L.w1t, p["b1"], p["theta"], Hq, Hkv, 128,
                                                 L.rotary, L.base, p["temp_mode"], L.eps, dq, dk), reps, inner=inner,
                    graph=False)
            if label.startswith("CCA-4x"):  # the unfused PyTorch CCA layer (conv1d + elementwise + cuDNN SDPA)
                lv = [t.detach().clone().requires_grad_() for t in (L.wqk, L.wv, L.wo)]
                lp = {n: L.p[n].detach().clone().requires_grad_() for n in PNAMES}  # conv/temperature grads too
                try:
                    out = layer_forward(L, xr, *lv, dict(lp, temp_mode=L.p["temp_mode"]), bf16, False,
                                        SDPBackend.CUDNN_ATTENTION)
                    lv = lv + list(lp.values())
                    row["CCA-4x torch unfused"] = bench(
                        lambda i: torch.autograd.grad(out, [xr] + lv, g, retain_graph=True), reps, inner=inner,
                        graph=False)
                    del out
                except Exception as ex:  # noqa: BLE001
                    row["CCA-4x torch unfused"] = {"error": str(ex)[:200]}
            del ours, L
            torch.cuda.empty_cache()
        best = min(row[k]["p50"] for k in ("torch MHA FA2", "torch MHA cuDNN") if "p50" in row[k])
        row["best_torch_ms"] = best
        for k, v in row.items():
            if isinstance(v, dict) and "p50" in v:
                v["speedup_vs_best_mha"] = best / v["p50"]
        rows.append(row)
        RESULTS["timings"].append(row)
        print(json.dumps(row), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--seqs", default="4096,16384")
    a = ap.parse_args()
    K = Kernels(a.fatbin)
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    ok = True
    for args in [(2, 200, 512, 4, 4, 128), (1, 333, 512, 4, 2, 128), (1, 257, 512, 4, 1, 128),
                 (2, 150, 256, 8, 2, 64)]:
        ok &= check_layer(K, *args)
    ok &= check_layer(K, 1, 190, 512, 4, 2, 128, k0=3, k1=3, temp_mode=1)
    ok &= check_layer(K, 1, 190, 512, 4, 4, 64, k0=3, k1=2, temp_mode=2)
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED", flush=True)
    rows = time_layers(K, [int(s) for s in a.seqs.split(",") if s])
    print("\n| T | best torch MHA layer bwd | CCA-4x ours | CCGQA-4x 4q/2kv | CCGQA-4x 4q/1kv | CCA-4x torch unfused |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = []
        for k in ("CCA-4x 4q/4kv", "CCGQA-4x 4q/2kv", "CCGQA-4x 4q/1kv", "CCA-4x torch unfused"):
            v = r.get(k, {})
            cells.append(f"{v['p50']:.3f} ms ({v['speedup_vs_best_mha']:.2f}x)" if "p50" in v else "err")
        fa, cu = r["torch MHA FA2"], r["torch MHA cuDNN"]
        print(f"| {r['T']} | {r['best_torch_ms']:.3f} ms (FA2 {fa.get('p50', float('nan')):.3f}, cuDNN "
              f"{cu.get('p50', float('nan')):.3f}) | " + " | ".join(cells) + " |")
    for r in rows:
        parts = {k: r[k]["p50"] for k in r if k.startswith("CCA-4x part") and "p50" in r[k]}
        if parts:
            print(f"T={r['T']} CCA-4x backward parts (ms): " + ", ".join(f"{k[12:]} {v:.3f}" for k, v in parts.items()))
    with open(os.path.join(a.out, "layer_backward.json"), "w") as fh:
        json.dump(RESULTS, fh, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
