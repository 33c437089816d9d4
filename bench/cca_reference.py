"""Float64 references and plain PyTorch layers for side_by_side.py (math from ../shared/spec/cca.md).

Layouts follow the kernels: q [B, T, Hq, D], k/v [B, T, Hkv, D]; GQA head h uses KV head h // G.
"""
import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def to_bhtd(x):
    return x.transpose(1, 2)


def shift_heads(vh, start):
    """vh [B, H, T, D]: heads >= start take the previous token's value (zeros at t = 0): the value shift."""
    out = vh.clone()
    out[:, start:, 1:] = vh[:, start:, :-1]
    out[:, start:, 0] = 0
    return out


def attention_f64(q, k, v, causal, v_shift_from=None):
    """-> out [B, Tq, Hq, D] float64 and log-sum-exp [B, Hq, Tq]. Causal aligns the last query with the last key."""
    qh, kh, vh = to_bhtd(q).double(), to_bhtd(k).double(), to_bhtd(v).double()
    G = qh.shape[1] // kh.shape[1]
    kh, vh = kh.repeat_interleave(G, 1), vh.repeat_interleave(G, 1)
    if v_shift_from is not None:
        vh = shift_heads(vh, v_shift_from * G)
    s = qh @ kh.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        Tq, Tk = s.shape[-2], s.shape[-1]
        mask = torch.ones(Tq, Tk, device=q.device, dtype=torch.bool).triu(1 + Tk - Tq)
        s = s.masked_fill(mask, float("-inf"))
    lse = torch.logsumexp(s, -1)
    return (s.softmax(-1) @ vh).transpose(1, 2), lse


def random_cca_params(Hq, Hkv, D, k0, k1, temp_mode, dev):
    C = (Hq + Hkv) * D
    theta = (torch.rand(Hkv, device=dev) * 1.5 + 0.5) if temp_mode == 1 else torch.randn(Hkv, device=dev) * 0.3
    return {"w0": torch.randn(C, k0, device=dev) * 0.5, "b0": torch.randn(C, device=dev) * 0.1,
            "W1": torch.randn(C, D, k1, device=dev) / math.sqrt(D * k1), "b1": torch.randn(C, device=dev) * 0.1,
            "theta": theta, "temp_mode": temp_mode}


def beta_of(theta, mode):
    if mode == 1:
        return theta
    if mode == 2:
        return torch.exp(theta.clamp(1e-7, 2.0))
    return torch.exp(theta)


def rope(x, rotary, base):
    """Rotate-half on the first `rotary` channels of x [B, T, H, D]; angles in float64."""
    if rotary == 0:
        return x
    T = x.shape[1]
    half = rotary // 2
    freq = base ** (-2.0 * torch.arange(half, device=x.device, dtype=torch.float64) / rotary)
    ang = torch.arange(T, device=x.device, dtype=torch.float64)[:, None] * freq[None, :]
    cos, sin = ang.cos().to(x.dtype)[None, :, None, :], ang.sin().to(x.dtype)[None, :, None, :]
    a, b, rest = x[..., :half], x[..., half:rotary], x[..., rotary:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin, rest], -1)


def cca_prologue(z, p, Hq, Hkv, D, rotary, base, eps, qk_mean, dtype):
    """Steps 2-4, 6, 7 of cca.md on z [B, T, C] computed in `dtype` -> q [B,T,Hq,D], k [B,T,Hkv,D]."""
    z = z.to(dtype)
    B, T, C = z.shape
    k0, k1 = p["w0"].shape[1], p["W1"].shape[2]
    P = k0 - 1 + k1 - 1
    zp = F.pad(z.transpose(1, 2), (P, 0))  # one padding of the raw input, not per conv
    u = F.conv1d(zp, p["w0"].to(dtype).view(C, 1, k0), p["b0"].to(dtype), groups=C)
    s = F.conv1d(u, p["W1"].to(dtype), p["b1"].to(dtype), groups=Hq + Hkv).transpose(1, 2)
    G = Hq // Hkv
    q0 = z[..., :Hq * D].view(B, T, Hq, D)
    k0_ = z[..., Hq * D:].view(B, T, Hkv, D)
    qt = s[..., :Hq * D].reshape(B, T, Hq, D)
    kt = s[..., Hq * D:].reshape(B, T, Hkv, D)
    if qk_mean:
        qt = qt + 0.5 * (q0 + k0_.repeat_interleave(G, 2))
        kt = kt + 0.5 * (q0.reshape(B, T, Hkv, G, D).mean(3) + k0_)
    sd = math.sqrt(D)
    beta = beta_of(p["theta"].double(), p["temp_mode"]).to(dtype)
    qn = qt * (sd * torch.rsqrt((qt * qt).sum(-1, keepdim=True) + eps))
    kn = kt * (sd * torch.rsqrt((kt * kt).sum(-1, keepdim=True) + eps)) * beta[None, None, :, None]
    return rope(qn, rotary, base), rope(kn, rotary, base)


def cca_prologue_f64(z, p, Hq, Hkv, D, rotary, base, temp_mode, eps, qk_mean):
    p = dict(p, temp_mode=temp_mode)
    return cca_prologue(z, p, Hq, Hkv, D, rotary, base, eps, qk_mean, torch.float64)


def _sdpa(q, k, v, backend):
    with sdpa_kernel(backend):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True,
                                              enable_gqa=q.shape[2] != k.shape[2]).transpose(1, 2)


class TorchGqaLayer:
    """MHA / GQA attention layer as PyTorch users write it: one fused QKV GEMM, SDPA, output GEMM."""

    def __init__(self, E, H, Hkv, D, dev):
        self.H, self.Hkv, self.D = H, Hkv, D
        self.wqkv = (torch.randn((H + 2 * Hkv) * D, E, device=dev) / math.sqrt(E)).to(torch.bfloat16)
        self.wo = (torch.randn(E, H * D, device=dev) / math.sqrt(H * D)).to(torch.bfloat16)

    def forward(self, x, backend):
        B, T, _ = x.shape
        H, Hkv, D = self.H, self.Hkv, self.D
        qkv = x @ self.wqkv.t()
        q = qkv[..., :H * D].view(B, T, H, D)
        k = qkv[..., H * D:(H + Hkv) * D].view(B, T, Hkv, D)
        v = qkv[..., (H + Hkv) * D:].view(B, T, Hkv, D)
        o = _sdpa(q, k, v, backend)
        return o.reshape(B, T, H * D) @ self.wo.t()


class CcaLayer:
    """CCA (Hq == Hkv) / CCGQA layer at width E: W_q, W_k packed into one GEMM, W_vc;W_vd into another."""

    def __init__(self, E, Hq, Hkv, D, dev, rope_fraction=0.5, base=10000.0, eps=1e-12):
        from ccalab_cuda import repack_w1
        self.Hq, self.Hkv, self.D = Hq, Hkv, D
        self.rotary = int(round(rope_fraction * D)) // 2 * 2
        self.base, self.eps = base, eps
        self.wqk = (torch.randn((Hq + Hkv) * D, E, device=dev) / math.sqrt(E)).to(torch.bfloat16)
        self.wv = (torch.randn(Hkv * D, E, device=dev) / math.sqrt(E)).to(torch.bfloat16)
        self.wo = (torch.randn(E, Hq * D, device=dev) / math.sqrt(Hq * D)).to(torch.bfloat16)
        self.p = random_cca_params(Hq, Hkv, D, 2, 2, 0, dev)
        self.w1t = repack_w1(self.p["W1"], Hq + Hkv, D)

    def forward_ours(self, K, x):
        B, T, _ = x.shape
        Hq, Hkv, D = self.Hq, self.Hkv, self.D
        z = x @ self.wqk.t()
        y = x @ self.wv.t()
        p = self.p
        qh, kh = K.cca_prologue(z, p["w0"], p["b0"], self.w1t, p["b1"], p["theta"], Hq, Hkv, D, self.rotary,
                                self.base, 0, self.eps, True)
        if Hkv % 2 == 0:
            o, _ = K.flash_fwd(qh, kh, y.view(B, T, Hkv, D), True, v_shift_from=Hkv // 2)
        else:
            o, _ = K.flash_fwd(qh, kh, K.value_shift(y).view(B, T, Hkv, D), True)
        return o.view(B, T, Hq * D) @ self.wo.t()

    def _value(self, y):
        B, T, Dk = y.shape
        return torch.cat([y[..., :Dk // 2], F.pad(y[:, :-1, Dk // 2:], (0, 0, 1, 0))], -1)

    def forward_torch(self, x, backend, dtype=torch.bfloat16):
        """The unfused layer: Conv1d, elementwise passes and SDPA as separate PyTorch ops."""
        B, T, _ = x.shape
        Hq, Hkv, D = self.Hq, self.Hkv, self.D
        z = x @ self.wqk.t()
        q, k = cca_prologue(z, self.p, Hq, Hkv, D, self.rotary, self.base, self.eps, True, dtype)
        v = self._value(x @ self.wv.t()).view(B, T, Hkv, D).to(dtype)
        o = _sdpa(q.to(torch.bfloat16), k.to(torch.bfloat16), v.to(torch.bfloat16), backend)
        return o.reshape(B, T, Hq * D) @ self.wo.t()

    def forward_f64(self, x):
        B, T, _ = x.shape
        Hq, Hkv, D = self.Hq, self.Hkv, self.D
        xd = x.double()
        z = xd @ self.wqk.double().t()
        q, k = cca_prologue(z, self.p, Hq, Hkv, D, self.rotary, self.base, self.eps, True, torch.float64)
        v = self._value(xd @ self.wv.double().t()).view(B, T, Hkv, D)
        o, _ = attention_f64(q, k, v, True)
        return o.reshape(B, T, Hq * D) @ self.wo.double().t()
