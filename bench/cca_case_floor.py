"""Bug or bf16's floor? One CCA layer case from the Java GPU check, on its exact inputs (CcaLayerCaseDump):

    python3 bench/cca_case_floor.py --case case.safetensors[.gz] --fatbin ccalab.fatbin --out $OUT

Write the case file first (on a CPU host; defaults: the gpu test's CCA-4x E=2048 B1 T256 case,
-Dccalab.dump.e/hq/hkv/d/k0/k1/b/t/temp pick another; the D = 256 CCA q-k-mean case: e=1024 hq=2 hkv=2 d=256 k0=3
k1=2 b=2 t=150 temp=LINEAR): ./mvnw -pl engine test -Dkernels.skip -Dtest=CcaLayerCaseDump -Dccalab.dumpCcaCase=DIR
-Dsurefire.failIfNoSpecifiedTests=false; gzip DIR/case.safetensors to carry it (48 MB -> 34 MB at E = 2048).
The file holds the CudaCcaLayerCheck parameters (CPU names, PyTorch layouts), x, g, the noise estimate's nudged x', g'
and the Java float64 CPU layer's out, dx and gradients at (x, g). Here, on the same inputs:
  f64     PyTorch float64 autograd of cca_reference.py's layer (first checked against the Java float64 results)
  torch*  plain bf16 PyTorch autograd (bf16 weights and activations, SDPA flash / cuDNN / math; "+f32 prologue":
          the conv prologue in fp32 like ours, bf16 q^, k^, v into SDPA)
  ours*   our kernels launched from Python (bench/layer_backward.py's path): wgmma or mma.sync flash forward, TF32 or
          fp32 prologue / stage-2 GEMMs
  emu*    float64 autograd with single bf16 roundings put in (straight through): which rounding makes the error
Error: |got - f64| / |f64| over all elements (CudaBenchCli.Err's rel). Noise (for torch FA2 and ours): as
CudaCcaLayerCheck, |e(x', g') - e(x, g)| / (sqrt 2 |f64(x, g)|).
"""
import argparse
import gzip
import json
import math
import os
import sys

import torch
from torch.nn.attention import SDPBackend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cca_reference as ref  # noqa: E402
from layer_backward import OursLayer, layer_forward  # noqa: E402

dev = "cuda"
bf16, f64 = torch.bfloat16, torch.float64
PN = ("w0", "b0", "W1", "b1", "theta")
TEMP_MODE = {"EXP": 0, "LINEAR": 1, "CLAMPED_EXP": 2}
# the Java GPU layer on these inputs (same seeds): bench/results/2026-11-23-s3-layer-run4-gpu-tests.txt lines 184-195,
# and on the E = 512 gpu-test case (B2 T200, same seeds), run 4 lines of the same file; per tensor: the error and
# the noise estimate at E = 2048, then at E = 512
JAVA_GPU_RUN4_TABLE = {
    "out":                      (2.86e-3, 2.44e-3, 2.88e-3, 2.66e-3),
    "dx":                       (3.71e-3, 2.76e-3, 3.86e-3, 3.36e-3),
    "q_proj.weight":            (5.42e-2, 2.25e-2, 1.67e-2, 1.24e-2),
    "k_proj.weight":            (5.22e-2, 2.18e-2, 1.57e-2, 1.16e-2),
    "v_proj_current.weight":    (2.61e-3, 1.96e-3, 2.74e-3, 2.47e-3),
    "v_proj_delayed.weight":    (2.58e-3, 1.74e-3, 2.63e-3, 2.07e-3),
    "conv_qk_depthwise.weight": (6.13e-2, 2.42e-2, 1.84e-2, 1.29e-2),
    "conv_qk_depthwise.bias":   (7.57e-2, 2.38e-2, 2.36e-2, 1.71e-2),
    "conv_qk_grouped.weight":   (6.26e-2, 2.35e-2, 2.13e-2, 1.62e-2),
    "conv_qk_grouped.bias":     (7.34e-2, 2.33e-2, 2.34e-2, 1.80e-2),
    "temp":                     (1.96e-1, 3.70e-2, 5.04e-2, 3.85e-2),
    "o_proj.weight":            (2.33e-3, 1.80e-3, 2.36e-3, 2.07e-3),
}
JAVA_GPU_RUN4 = {k: v[0] for k, v in JAVA_GPU_RUN4_TABLE.items()}
JAVA_GPU_RUN4_NOISE = {k: v[1] for k, v in JAVA_GPU_RUN4_TABLE.items()}
JAVA_GPU_RUN4_E512 = {k: v[2] for k, v in JAVA_GPU_RUN4_TABLE.items()}
JAVA_GPU_RUN4_E512_NOISE = {k: v[3] for k, v in JAVA_GPU_RUN4_TABLE.items()}
# the Java GPU layer on the D = 256 CCA case with the q-k mean (E1024 2q/2kv k0=3 k1=2 LINEAR B2 T150, same seeds;
# CcaLayerCaseDump -Dccalab.dump.e=1024 hq=2 hkv=2 d=256 k0=3 b=2 t=150 temp=LINEAR): run s3-cca256-2,
# bench/results/2026-11-23-s3-cca256-run2-diag.txt line 3; per tensor: error, noise
JAVA_GPU_CCA256_TABLE = {
    "out": (2.50e-3, 2.35e-3), "dx": (2.72e-3, 2.37e-3), "q_proj.weight": (7.65e-1, 1.16e-1),
    "k_proj.weight": (7.35e-1, 1.13e-1), "v_proj_current.weight": (2.20e-3, 1.71e-3),
    "v_proj_delayed.weight": (1.74e-3, 1.66e-3), "conv_qk_depthwise.weight": (8.28e-1, 1.39e-1),
    "conv_qk_depthwise.bias": (8.12e-1, 2.04e-1), "conv_qk_grouped.weight": (8.32e-1, 1.60e-1),
    "conv_qk_grouped.bias": (8.28e-1, 1.99e-1), "temp": (8.57e-1, 2.50e-1), "o_proj.weight": (1.87e-3, 1.67e-3),
}


_sdpa = ref._sdpa


def _sdpa_contiguous(q, k, v, backend):
    """SDPA's fused kernels want stride 1 in the last dim; the reference prologue's q, k at B > 1 have not."""
    return _sdpa(q.contiguous(), k.contiguous(), v.contiguous(), backend)


ref._sdpa = _sdpa_contiguous


def load(path):
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    base = 8 + n
    dt = {"F32": torch.float32, "F64": torch.float64}
    out = {}
    for k, v in hdr.items():
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=dt[v["dtype"]]).view(v["shape"]).clone()
    return out, meta


class Layer:
    """The attributes layer_forward / OursLayer read, filled from the Java parameters."""

    def __init__(self, t, meta):
        self.E, self.Hq, self.Hkv, self.D = (int(meta[k]) for k in ("e", "hq", "hkv", "d"))
        self.rotary, self.base, self.eps = self.D // 2 // 2 * 2, 10000.0, 1e-12
        g = lambda n: t["param." + n].to(dev)  # noqa: E731
        self.wqk = torch.cat([g("q_proj.weight"), g("k_proj.weight")]).to(bf16)  # bf16-exact values
        self.wv = torch.cat([g("v_proj_current.weight"), g("v_proj_delayed.weight")]).to(bf16)
        self.wo = g("o_proj.weight").to(bf16)
        C = self.wqk.shape[0]
        w0 = g("conv_qk_depthwise.weight")
        self.p = {"w0": w0.reshape(C, w0.shape[-1]).contiguous(), "b0": g("conv_qk_depthwise.bias"),
                  "W1": g("conv_qk_grouped.weight").contiguous(), "b1": g("conv_qk_grouped.bias"),
                  "theta": g("temp"), "temp_mode": TEMP_MODE[meta["temp"]]}
        from ccalab_cuda import repack_w1
        self.w1t = repack_w1(self.p["W1"], self.Hq + self.Hkv, self.D)

    def _value(self, y):
        return ref.CcaLayer._value(self, y)


def java_names(gr, L, out=None):
    """Our gradient dict (layer_backward names) -> CudaCcaLayerCheck's names."""
    Dq, Dk = L.Hq * L.D, L.Hkv * L.D
    r = {} if out is None else {"out": out}
    r.update({"dx": gr["x"], "q_proj.weight": gr["wqk"][:Dq], "k_proj.weight": gr["wqk"][Dq:],
              "v_proj_current.weight": gr["wv"][:Dk - Dk // 2], "v_proj_delayed.weight": gr["wv"][Dk - Dk // 2:],
              "conv_qk_depthwise.weight": gr["w0"], "conv_qk_depthwise.bias": gr["b0"],
              "conv_qk_grouped.weight": gr["W1"], "conv_qk_grouped.bias": gr["b1"], "temp": gr["theta"],
              "o_proj.weight": gr["wo"]})
    return r


def rel(a, b):
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    if not torch.isfinite(a).all():
        return float("inf")
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


# ---- straight-through bf16 roundings for the float64 emulation
def rnd(t):
    return t + (t.to(bf16).to(t.dtype) - t).detach()


class RoundGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t):
        return t.clone()

    @staticmethod
    def backward(ctx, g):
        return g.to(bf16).to(g.dtype)


class Attn(torch.autograd.Function):
    """Causal attention (Hq == Hkv) in float64 with the flash backward's roundings as options."""

    @staticmethod
    def forward(ctx, q, k, v, opts):
        qh, kh, vh = (ref.to_bhtd(a) for a in (q, k, v))
        T, D = qh.shape[2], qh.shape[3]
        s = qh @ kh.transpose(-1, -2) / math.sqrt(D)
        s = s.masked_fill(torch.ones(T, T, device=q.device, dtype=torch.bool).triu(1), float("-inf"))
        P = s.softmax(-1)
        o = P @ vh
        ctx.save_for_backward(qh, kh, vh, P, o)
        ctx.opts = opts
        return o.transpose(1, 2)

    @staticmethod
    def backward(ctx, do):
        qh, kh, vh, P, o = ctx.saved_tensors
        op = ctx.opts
        b = lambda t: t.to(bf16).to(f64)  # noqa: E731
        do = ref.to_bhtd(do)
        if op.get("do"):
            do = b(do)
        Pm = b(P) if op.get("p") else P
        dv = Pm.transpose(-1, -2) @ do
        dp = do @ vh.transpose(-1, -2)
        Dr = (do * (b(o) if op.get("D") else o)).sum(-1, keepdim=True)
        ds = P * (dp - Dr)
        if op.get("ds"):
            ds = b(ds)
        sc = 1 / math.sqrt(qh.shape[-1])
        return (ds @ kh * sc).transpose(1, 2), (ds.transpose(-1, -2) @ qh * sc).transpose(1, 2), dv.transpose(1, 2), None


def emu_forward(L, x, wqk, wv, wo, p, opts):
    """The float64 layer with the roundings named in opts (forward values straight through)."""
    B, T, _ = x.shape
    Hq, Hkv, D = L.Hq, L.Hkv, L.D
    z = x @ wqk.t()
    if opts.get("z"):
        z = RoundGrad.apply(rnd(z))
    q, k = ref.cca_prologue(z, p, Hq, Hkv, D, L.rotary, L.base, L.eps, True, f64)
    y = x @ wv.t()
    if opts.get("v"):
        y = RoundGrad.apply(rnd(y))
    v = L._value(y).view(B, T, Hkv, D)
    if opts.get("qk"):
        q, k = rnd(q), rnd(k)
    o = Attn.apply(q, k, v, opts)
    if opts.get("o"):
        o = rnd(o)
    return o.reshape(B, T, Hq * D) @ wo.t()


def leaves(L, x, dtype_w, dtype_p):
    lv = {"x": x.to(dtype_w), "wqk": L.wqk.to(dtype_w), "wv": L.wv.to(dtype_w), "wo": L.wo.to(dtype_w)}
    lv.update({n: L.p[n].to(dtype_p) for n in PN})
    return {n: t.detach().clone().requires_grad_() for n, t in lv.items()}


def grads_of(lv):
    return {n: t.grad for n, t in lv.items()}


def run_f64(L, x, g):
    f = leaves(L, x, f64, f64)
    out = layer_forward(L, f["x"], f["wqk"], f["wv"], f["wo"], dict(f, temp_mode=L.p["temp_mode"]), f64, True)
    out.backward(g.double())
    return java_names(grads_of(f), L, out.detach())


def run_torch(L, x, g, backend, prologue_dtype=bf16):
    n = leaves(L, x, bf16, torch.float32)
    out = layer_forward(L, n["x"], n["wqk"], n["wv"], n["wo"], dict(n, temp_mode=L.p["temp_mode"]), prologue_dtype,
                        False, backend)
    out.backward(g.to(bf16))
    return java_names(grads_of(n), L, out.detach())


def run_emu(L, x, g, opts):
    f = leaves(L, x, f64, f64)
    out = emu_forward(L, f["x"], f["wqk"], f["wv"], f["wo"], dict(f, temp_mode=L.p["temp_mode"]), opts)
    out.backward(g.double())
    return java_names(grads_of(f), L, out.detach())


class OursVariant(OursLayer):
    def __init__(self, K, L, prologue="tc"):
        super().__init__(K, L)
        self.impl = prologue

    def forward(self, x):
        if self.impl == "tc":
            return super().forward(x)
        K, L = self.K, self.L  # the FMA prologue (as -Dccalab.cca.prologue=fma)
        B, T, _ = x.shape
        p = L.p
        self.x, self.z = x, x @ L.wqk.t()
        y = x @ L.wv.t()
        self.qh, self.kh = K.cca_prologue(self.z, p["w0"], p["b0"], L.w1t, p["b1"], p["theta"], L.Hq, L.Hkv, L.D,
                                          L.rotary, L.base, p["temp_mode"], L.eps, True, impl="fma")
        self.vs = K.value_shift(y).view(B, T, L.Hkv, L.D)
        self.o, self.lse = K.flash_fwd(self.qh, self.kh, self.vs, True)
        return self.o.view(B, T, L.Hq * L.D) @ L.wo.t()


def run_ours(K, L, x, g, flash="wgmma", prologue="tc", tf32=True, residual=False):
    """residual: the training forward's O rounding residual and Dv from O + it (CudaCcaLayer's default since
    session 4); flash "mma": the 64-key mma.sync forward (no residual instance), "n128": the 128-key one (has one)."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    K.force_variant = {"wgmma": None, "mma": (1, 64), "n128": (1, 128)}[flash]
    K.o_residual = residual
    ours = OursVariant(K, L, prologue)
    out = ours.forward(x.to(bf16))
    gr = ours.backward(g.to(bf16))
    torch.cuda.synchronize()
    K.o_residual, K.residuals = False, {}
    K.force_variant = None
    torch.backends.cuda.matmul.allow_tf32 = True
    return java_names({k: v for k, v in gr.items()}, L, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True)
    ap.add_argument("--fatbin", default=None)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    t, meta = load(a.case)
    print(torch.cuda.get_device_name(), torch.__version__, "case:", meta.get("case"), flush=True)
    L = Layer(t, meta)
    x, g = t["x"].to(dev), t["g"].to(dev)
    xp, gp = t["nudged.x"].to(dev), t["nudged.g"].to(dev)
    want = run_f64(L, x, g)
    want2 = run_f64(L, xp, gp)
    java = {k: t["f64.out" if k == "out" else "f64.dx" if k == "dx" else "f64.grad." + k].to(dev) for k in want}
    res = {"case": meta.get("case"), "f64_torch_vs_java": {k: rel(want[k], java[k]) for k in want}, "errors": {},
           "noise": {}}
    print("PyTorch float64 vs Java float64 CPU layer (mapping check):",
          " ".join(f"{k} {v:.1e}" for k, v in res["f64_torch_vs_java"].items()), flush=True)

    def record(label, fn, noise=False):
        try:
            got = fn(x, g)
            res["errors"][label] = {k: rel(got[k], want[k]) for k in want}
            if noise:
                got2 = fn(xp, gp)
                res["noise"][label] = {k: (((got2[k].double() - want2[k]) - (got[k].double() - want[k])).norm()
                                           / (math.sqrt(2) * want[k].norm())).item() for k in want}
        except Exception as ex:  # noqa: BLE001 - recorded
            res["errors"][label] = {"error": str(ex)[:300]}
            print(label, "failed:", str(ex)[:300], flush=True)

    S = SDPBackend
    record("torch bf16 FA2", lambda x_, g_: run_torch(L, x_, g_, [S.FLASH_ATTENTION]), noise=True)
    record("torch bf16 cuDNN", lambda x_, g_: run_torch(L, x_, g_, [S.CUDNN_ATTENTION]))
    record("torch bf16 math", lambda x_, g_: run_torch(L, x_, g_, [S.MATH]))
    record("torch bf16 +f32 prologue FA2",
           lambda x_, g_: run_torch(L, x_, g_, [S.FLASH_ATTENTION], torch.float32), noise=True)
    if a.fatbin:
        from ccalab_cuda import Kernels
        K = Kernels(a.fatbin)
        print("hopper wgmma forward:", K.hopper, flush=True)
        record("ours wgmma tf32", lambda x_, g_: run_ours(K, L, x_, g_), noise=True)
        record("ours mma tf32", lambda x_, g_: run_ours(K, L, x_, g_, flash="mma"))
        record("ours wgmma fma-prologue fp32", lambda x_, g_: run_ours(K, L, x_, g_, prologue="fma", tf32=False))
        record("ours +O residual", lambda x_, g_: run_ours(K, L, x_, g_, residual=True), noise=True)
        if L.D == 128:
            record("ours n128 +O residual", lambda x_, g_: run_ours(K, L, x_, g_, flash="n128", residual=True))
    emus = {"emu q^,k^ bf16": {"qk": 1}, "emu z bf16 (fwd+grad)": {"z": 1}, "emu v bf16 (fwd+grad)": {"v": 1},
            "emu D from bf16 O": {"D": 1}, "emu dO bf16": {"do": 1}, "emu P bf16 (dV)": {"p": 1},
            "emu dS bf16": {"ds": 1}, "emu O bf16 (fwd)": {"o": 1},
            "emu all flash roundings": {"qk": 1, "v": 1, "D": 1, "do": 1, "p": 1, "ds": 1, "o": 1},
            "emu all flash roundings but D (O residual)": {"qk": 1, "v": 1, "do": 1, "p": 1, "ds": 1, "o": 1},
            "emu all": {"qk": 1, "v": 1, "D": 1, "do": 1, "p": 1, "ds": 1, "o": 1, "z": 1}}
    for label, op in emus.items():
        record(label, lambda x_, g_, op=op: run_emu(L, x_, g_, op), noise=label == "emu all")
    # the softmax's sharpness at this init (logits up to beta sqrt(D))
    with torch.no_grad():
        f = leaves(L, x, f64, f64)
        z = f["x"] @ f["wqk"].t()
        q, k = ref.cca_prologue(z, dict(f, temp_mode=L.p["temp_mode"]), L.Hq, L.Hkv, L.D, L.rotary, L.base, L.eps,
                                True, f64)
        s = ref.to_bhtd(q) @ ref.to_bhtd(k).transpose(-1, -2) / math.sqrt(L.D)
        T = s.shape[-1]
        s = s.masked_fill(torch.ones(T, T, device=dev, dtype=torch.bool).triu(1), float("-inf"))
        P = s.softmax(-1)
        res["softmax"] = {"max_logit": s[torch.isfinite(s)].max().item(),
                          "mean_row_max_P": P.max(-1).values.mean().item(),
                          "mean_diag_P": P.diagonal(dim1=-2, dim2=-1).mean().item(),
                          "mean_cos_qk_offdiag": (s[torch.isfinite(s)].mean() / math.sqrt(L.D)).item()}
    if L.D == 256:
        jg, jn = ({k: v[i] for k, v in JAVA_GPU_CCA256_TABLE.items()} for i in (0, 1))
    else:
        jg, jn = (JAVA_GPU_RUN4, JAVA_GPU_RUN4_NOISE) if L.E == 2048 else (JAVA_GPU_RUN4_E512, JAVA_GPU_RUN4_E512_NOISE)
    res["java_gpu_run4"] = {"errors": jg, "noise": jn}
    keys = list(want)
    cols = ["java GPU"] + list(res["errors"])
    print("\nrelative error vs float64 (rows: CudaCcaLayerCheck names)")
    print("| | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for k in keys:
        cells = [f"{jg[k]:.2e}"] + [
            f"{res['errors'][c][k]:.2e}" if k in res["errors"][c] else "err" for c in cols[1:]]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("\nnoise (|e(x',g') - e(x,g)| / sqrt2 |f64|)")
    ncols = ["java GPU"] + list(res["noise"])
    print("| | " + " | ".join(ncols) + " |")
    for k in keys:
        cells = [f"{jn[k]:.2e}"] + [f"{res['noise'][c][k]:.2e}" for c in ncols[1:]]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("softmax:", res["softmax"], flush=True)
    with open(os.path.join(a.out, f"cca_case_floor_e{L.E}" + (f"_d{L.D}" if L.D != 128 else "") + ".json"), "w") as fh:
        json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
