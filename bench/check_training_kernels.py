"""One GPU run: our training kernels against float64 references, then timed beside PyTorch eager.

    python3 bench/check_training_kernels.py --fatbin PATH [--out DIR]

Correctness (fresh random inputs per case, several shapes incl. ragged ones): RMSNorm forward (plain and with
the residual add) and backward (dx fp32/bf16, with and without the residual gradient, dw accumulated; run
twice: bitwise equal), SwiGLU forward/backward (separate and fused gate|up layouts, vector and scalar paths),
embedding forward/backward (backward run twice: bitwise equal; buckets past the shared-memory sort), fused
softmax cross-entropy (bf16/fp32, ignore_index -1, in place, vs F.cross_entropy), AdamW over several steps vs
torch.optim.AdamW's math in float64 (bias correction, decoupled decay, clip scale), the global gradient norm,
RoPE forward/inverse. Tolerance as bench/side_by_side.py: our error vs float64 at most twice that of a plain
torch implementation of the same math at the same precision, plus a floor. Exact checks where the math is a
copy or a single rounding.
Timing (CUDA events, median of 30 with p10/p90): RMSNorm fwd/bwd at N=16384, E=2048 and cross-entropy at
N=8192, V=50304 beside torch eager (torch.compile skipped: its compile time would not fit the 60 s budget),
plus SwiGLU, embedding backward and AdamW for reference. One line per check (PASS/FAIL), a summary line last;
everything also goes to DIR/training_kernels.json.
"""
import argparse
import json
import math
import os
import sys
import time
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ccalab_cuda import Kernels  # noqa: E402
from side_by_side import bench as sbs_bench  # noqa: E402
from ccalab_training import TrainingKernels  # noqa: E402

dev = "cuda"
bf16, f32, f64 = torch.bfloat16, torch.float32, torch.float64
RESULTS = {"checks": [], "timings": []}
EPS = 1e-6  # ModelConfig.DEFAULT_NORM_EPS


# ---------------------------------------------------------------- verdicts
def rel_err(x, r):
    x, r = x.double().flatten(), r.double().flatten()
    if x.shape != r.shape:
        return float("inf")
    if not torch.isfinite(x).all():
        return float("inf")
    return ((x - r).norm() / r.norm().clamp_min(1e-300)).item()


def record(name, ok, detail):
    RESULTS["checks"].append({"case": name, "ok": bool(ok), "detail": detail})
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    return ok


def check(name, ours, reference, naive, floor):
    """Our error vs the float64 reference at most 2x the plain torch version's + floor."""
    e, en = rel_err(ours, reference), rel_err(naive, reference)
    return record(name, e <= 2 * en + floor, f"err {e:.2e} (plain torch {en:.2e}, floor {floor:.0e})")


def check_equal(name, ours, want):
    same = ours.shape == want.shape and torch.equal(ours, want)
    detail = "exact" if same else f"max abs diff {(ours.double() - want.double()).abs().max().item():.3e}" \
        if ours.shape == want.shape else f"shape {tuple(ours.shape)} vs {tuple(want.shape)}"
    return record(name, same, detail)


def run_case(name, fn, *args):
    """Runs one case; an exception is a FAIL line, never the end of the script."""
    try:
        fn(*args)
        torch.cuda.synchronize()
    except Exception as ex:  # noqa: BLE001 - reported and counted
        tb = traceback.format_exc().strip().splitlines()
        where = next((ln.strip() for ln in reversed(tb) if ln.strip().startswith("File")), "")
        record(name, False, f"exception {type(ex).__name__}: {ex} [{where}]")
        try:
            torch.cuda.synchronize()
        except Exception:  # noqa: BLE001 - a sticky CUDA error: later cases will report it too
            pass


# ---------------------------------------------------------------- RMSNorm
def rms_ref(x, w, eps=EPS):
    xd = x.double()
    r = torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + eps)
    return xd * r * w.double(), r.squeeze(-1)


def rms_plain(x, w, eps=EPS):
    xf = x.float()
    r = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (xf * r * w).to(bf16), r.squeeze(-1)


def rms_bwd_math(dy, x, w, rstd):
    """model/RmsNorm.java's backward in the dtype of its inputs: dx, dw (rstd given, as the kernel takes it)."""
    rs = rstd[:, None]
    xhat = x * rs
    g = dy * w
    mean = (g * xhat).mean(-1, keepdim=True)
    return rs * (g - xhat * mean), (dy * xhat).sum(0)


def case_rmsnorm_fwd(T, N, E, residual):
    torch.manual_seed(N * 7 + E)
    x = torch.randn(N, E, device=dev).to(bf16)
    w = 1 + 0.1 * torch.randn(E, device=dev)
    name = f"rmsnorm{'_residual' if residual else ''}_fwd N{N} E{E}"
    if residual:
        r = torch.randn(N, E, device=dev).to(bf16)
        s_want = (x.float() + r.float()).to(bf16)
        y, rstd, s = T.rmsnorm_fwd(x, w, EPS, residual=r)
        torch.cuda.synchronize()
        check_equal(name + " sum", s, s_want)
        x = s_want
    else:
        y, rstd = T.rmsnorm_fwd(x, w, EPS)
        torch.cuda.synchronize()
    yr, rr = rms_ref(x, w)
    yp, rp = rms_plain(x, w)
    check(name + " y", y, yr, yp, 1e-3)
    check(name + " rstd", rstd, rr, rp, 1e-5)


def case_rmsnorm_bwd(T, N, E, dx_dtype, with_dres):
    torch.manual_seed(N * 13 + E)
    x = torch.randn(N, E, device=dev).to(bf16)
    w = 1 + 0.1 * torch.randn(E, device=dev)
    dy = torch.randn(N, E, device=dev).to(bf16)
    rstd = rms_ref(x, w)[1].float()
    dres = torch.randn(N, E, device=dev).to(dx_dtype) if with_dres else None
    dw0 = torch.randn(E, device=dev)  # dw is accumulated into
    dxr, dwr = rms_bwd_math(dy.double(), x.double(), w.double(), rstd.double())
    dxp, dwp = rms_bwd_math(dy.float(), x.float(), w, rstd)
    if with_dres:
        dxr, dxp = dxr + dres.double(), dxp + dres.float()
    dwr, dwp = dwr + dw0.double(), dwp + dw0
    dx, dw = T.rmsnorm_bwd(dy, x, w, rstd, dres=dres, dx_dtype=dx_dtype, dw=dw0.clone())
    dx2, dw2 = T.rmsnorm_bwd(dy, x, w, rstd, dres=dres, dx_dtype=dx_dtype, dw=dw0.clone())
    torch.cuda.synchronize()
    name = f"rmsnorm_bwd N{N} E{E} dx={str(dx_dtype)[6:]} dres={with_dres}"
    check(name + " dx", dx, dxr, dxp.to(dx_dtype), 1e-5 if dx_dtype == f32 else 1e-3)
    check(name + " dw", dw, dwr, dwp, 1e-5)
    record(name + " deterministic", torch.equal(dx, dx2) and torch.equal(dw, dw2), "two runs bitwise equal")
    if with_dres:  # accumulate into the residual gradient in place (Block.backward's dx2 += norm backward)
        acc = dres.clone()
        T.rmsnorm_bwd(dy, x, w, rstd, dres=acc, dx_dtype=dx_dtype, dw=dw0.clone(), out=acc)
        torch.cuda.synchronize()
        check_equal(name + " in place (out = dres)", acc, dx)


def case_rmsnorm_formula():
    """The closed-form backward (RmsNorm.java) == float64 autograd of the forward (pure math, no kernel)."""
    torch.manual_seed(5)
    x = torch.randn(64, 256, device=dev, dtype=f64, requires_grad=True)
    w = (1 + 0.1 * torch.randn(256, device=dev, dtype=f64)).requires_grad_()
    dy = torch.randn(64, 256, device=dev, dtype=f64)
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w
    gx, gw = torch.autograd.grad(y, (x, w), dy)
    rstd = torch.rsqrt(x.detach().pow(2).mean(-1) + EPS)
    dx, dw = rms_bwd_math(dy, x.detach(), w.detach(), rstd)
    e = max(rel_err(dx, gx), rel_err(dw, gw))
    record("rmsnorm backward formula == f64 autograd", e < 1e-12, f"rel err {e:.1e}")


# ---------------------------------------------------------------- SwiGLU
def swiglu_operands(N, F_, packed, seed, misaligned=False):
    torch.manual_seed(seed)
    if misaligned:  # halves of a wider buffer, starting one element in: not 16-byte aligned (scalar path)
        gu = (2 * torch.randn(N, 2 * F_ + 8, device=dev)).to(bf16)
        return gu[:, 1:1 + F_], gu[:, 1 + F_:1 + 2 * F_]
    if packed:
        gu = (2 * torch.randn(N, 2 * F_, device=dev)).to(bf16)
        return gu[:, :F_], gu[:, F_:]
    return (2 * torch.randn(N, F_, device=dev)).to(bf16), torch.randn(N, F_, device=dev).to(bf16)


def swiglu_bwd_math(dh, a, b):
    sig = torch.sigmoid(a)
    return dh * b * sig * (1 + a * (1 - sig)), dh * a * sig


def case_swiglu(T, N, F_, packed, misaligned=False):
    gate, up = swiglu_operands(N, F_, packed, N + F_, misaligned)
    name = f"swiglu N{N} F{F_} {'packed [N,2F]' if packed else 'separate'}{' misaligned' if misaligned else ''}"
    h = T.swiglu_fwd(gate, up)
    torch.cuda.synchronize()
    a, b = gate.double(), up.double()
    check(name + " fwd", h, F.silu(a) * b, F.silu(gate) * up, 1e-3)
    dh = torch.randn(N, F_, device=dev).to(bf16)
    dgr, dur = swiglu_bwd_math(dh.double(), a, b)
    g_, u_ = gate.detach().clone().requires_grad_(), up.detach().clone().requires_grad_()
    dgp, dup_ = torch.autograd.grad(F.silu(g_) * u_, (g_, u_), dh)
    dg, du = T.swiglu_bwd(dh, gate, up)
    torch.cuda.synchronize()
    check(name + " bwd dgate", dg, dgr, dgp, 1e-3)
    check(name + " bwd dup", du, dur, dup_, 1e-3)
    if packed:  # in place over the fused buffer: the backward's usual way when gate|up is not needed again
        gate_c, up_c = gate.clone(), up.clone()
        T.swiglu_bwd(dh, gate, up, out=(gate, up))
        torch.cuda.synchronize()
        check_equal(name + " bwd in place", torch.cat([gate, up], 1), torch.cat([dg, du], 1))
        gate.copy_(gate_c)
        up.copy_(up_c)


# ---------------------------------------------------------------- embedding
def case_embedding(T, N, V, E, table_dtype, dx_dtype, hot=None):
    torch.manual_seed(N + V + E)
    ids = (torch.rand(N, device=dev) ** 3 * V).long().clamp_(0, V - 1)  # skewed: low ids repeat, as in text
    if hot is not None:  # one token far past the shared-memory sort size
        ids[torch.randperm(N, device=dev)[:hot]] = 7
    ids32 = ids.to(torch.int32)
    table = (0.02 * torch.randn(V, E, device=dev)).to(table_dtype)
    name = f"embedding N{N} V{V} E{E}"
    x = T.embedding_fwd(ids32, table)
    torch.cuda.synchronize()
    check_equal(f"{name} fwd table={str(table_dtype)[6:]}", x, table[ids].to(bf16))
    bad = ids32.clone()
    bad[0] = -1
    xb = T.embedding_fwd(bad, table)
    torch.cuda.synchronize()
    record(f"{name} fwd id -1 -> zero row", bool((xb[0] == 0).all()) and torch.equal(xb[1:], x[1:]), "row 0 zero")
    dx = torch.randn(N, E, device=dev).to(dx_dtype)
    d0 = 1e-3 * torch.randn(V, E, device=dev)
    ref = d0.double().index_add_(0, ids, dx.double())
    plain = d0.clone().index_add_(0, ids, dx.float())
    d1 = T.embedding_bwd(d0.clone(), ids32, dx)
    d2 = T.embedding_bwd(d0.clone(), ids32, dx)
    torch.cuda.synchronize()
    bname = f"{name} bwd dx={str(dx_dtype)[6:]}" + (f" hot={hot}" if hot else "")
    check(bname, d1, ref, plain, 1e-6)
    record(bname + " deterministic", torch.equal(d1, d2), "two runs bitwise equal")


# ---------------------------------------------------------------- cross-entropy
def case_cross_entropy(T, N, V, dtype, inplace=False, misaligned=False):
    torch.manual_seed(N * 3 + V)
    logits = (3 * torch.randn(N, V, device=dev)).to(dtype)
    if misaligned:  # contiguous rows starting one element into the allocation: the scalar path
        logits = torch.empty(N * V + 1, device=dev, dtype=dtype)[1:].view(N, V).copy_(logits)
    if N > 2:
        logits[1] = 0  # every logit tied: loss log V, argmax 0
        logits[2] += 200  # large logits: the max subtraction must keep exp finite
    t = torch.randint(0, V, (N,), device=dev)
    t[torch.rand(N, device=dev) < 0.2] = -1
    t[0] = min(5, V - 1)  # at least one scored row
    count = int((t != -1).sum().item())
    scored = t != -1
    ld = logits.double()
    lse = torch.logsumexp(ld, -1)
    tc = t.clamp(min=0)
    loss_ref = torch.where(scored, lse - ld.gather(1, tc[:, None])[:, 0], torch.zeros_like(lse))
    d_ref = (torch.softmax(ld, -1) - F.one_hot(tc, V).double()) / count * scored[:, None]
    loss_plain = F.cross_entropy(logits, t, ignore_index=-1, reduction="none")
    lg = logits.detach().clone().requires_grad_()
    d_plain, = torch.autograd.grad(F.cross_entropy(lg, t, ignore_index=-1), lg)
    correct_want = (ld.argmax(-1) == t) & scored
    mean_f = F.cross_entropy(ld, t, ignore_index=-1).item()
    src = logits if inplace else logits.clone()
    loss, d, correct = T.cross_entropy(src, t.to(torch.int32), grad=True, inplace=inplace, grad_scale=1.0 / count)
    torch.cuda.synchronize()
    name = f"cross_entropy N{N} V{V} {str(dtype)[6:]}{' in place' if inplace else ''}" + \
        (" misaligned" if misaligned else "")
    check(name + " loss", loss, loss_ref, loss_plain, 1e-5)
    check(name + " dlogits", d, d_ref, d_plain, 1e-3 if dtype == bf16 else 1e-5)
    mean_ours = loss.double().sum().item() / count
    record(name + " mean == F.cross_entropy(f64, ignore_index=-1)", abs(mean_ours - mean_f) <= 1e-5 * max(1, abs(mean_f)),
           f"{mean_ours:.6f} vs {mean_f:.6f}")
    check_equal(name + " correct", correct.bool(), correct_want)
    zero_rows = d[~scored]
    record(name + " ignored rows: zero loss and gradient", bool((loss[~scored] == 0).all()) and bool((zero_rows == 0).all()),
           f"{int((~scored).sum())} rows")


def case_cross_entropy_bad_target(T):
    logits = torch.randn(3, 300, device=dev).to(bf16)
    t = torch.tensor([1, 300, -1], device=dev, dtype=torch.int32)
    loss, d, _ = T.cross_entropy(logits, t, grad=True, grad_scale=1.0)
    torch.cuda.synchronize()
    ok = bool(torch.isnan(loss[1])) and bool(torch.isfinite(loss[0])) and loss[2].item() == 0 and bool((d[1] == 0).all())
    record("cross_entropy target >= V -> NaN loss, zero gradient", ok, f"loss {loss.tolist()}")


# ---------------------------------------------------------------- AdamW and the gradient norm
def case_adamw(T, n, wd, misaligned=False):
    torch.manual_seed(n + int(wd * 100))
    steps, betas, eps = 5, (0.9, 0.95), 1e-8
    lrs = [1e-3 * (s + 1) / steps for s in range(steps)]  # warm-up: lr changes every step
    scales = [1.0, 0.5, 1.0, 0.25, 1.0]  # clip factors
    base = torch.randn(n + 1, device=dev)
    p0 = base[1:] if misaligned else base[:n]
    grads = [0.01 * torch.randn(n, device=dev) for _ in range(steps)]
    ref_p = p0.double().clone().requires_grad_()
    pl_p = p0.clone().requires_grad_()
    opt_ref = torch.optim.AdamW([ref_p], lr=lrs[0], betas=betas, eps=eps, weight_decay=wd, foreach=False)
    opt_pl = torch.optim.AdamW([pl_p], lr=lrs[0], betas=betas, eps=eps, weight_decay=wd, foreach=False)
    store = torch.empty(4 * (n + 1), device=dev)  # ours: p, m, v views (offset by one float when misaligned)
    off = 1 if misaligned else 0
    p = store[off:off + n]
    m = store[(n + 1) + off:(n + 1) + off + n]
    v = store[2 * (n + 1) + off:2 * (n + 1) + off + n]
    p.copy_(p0)
    m.zero_()
    v.zero_()
    pb = torch.empty(n, device=dev, dtype=bf16)
    for s in range(steps):
        for opt, lr in ((opt_ref, lrs[s]), (opt_pl, lrs[s])):
            opt.param_groups[0]["lr"] = lr
        ref_p.grad = grads[s].double() * scales[s]
        pl_p.grad = grads[s] * scales[s]
        opt_ref.step()
        opt_pl.step()
        T.adamw(p, grads[s], m, v, lrs[s], betas[0], betas[1], eps, wd, s + 1, grad_scale=scales[s], p_bf16=pb)
    torch.cuda.synchronize()
    name = f"adamw n{n} wd{wd}{' misaligned' if misaligned else ''} {steps} steps"
    check(name + " param", p, ref_p.detach(), pl_p.detach(), 1e-6)
    check(name + " update", p - p0, ref_p.detach() - p0.double(), pl_p.detach() - p0, 1e-4)
    st_ref, st_pl = opt_ref.state[ref_p], opt_pl.state[pl_p]
    check(name + " m", m, st_ref["exp_avg"], st_pl["exp_avg"], 1e-6)
    check(name + " v", v, st_ref["exp_avg_sq"], st_pl["exp_avg_sq"], 1e-6)
    check_equal(name + " bf16 copy", pb, p.to(bf16))


def case_grad_norm(T):
    torch.manual_seed(11)
    sizes = [1, 7, 4097, 1 << 20, 3_000_001]
    grads = [torch.randn(s, device=dev) * (10.0 ** -k) for k, s in enumerate(sizes)]
    grads.append(torch.randn(1001, device=dev)[1:])  # not 16-byte aligned: scalar path
    total = T.grad_sumsq(grads)
    total2 = T.grad_sumsq(grads)
    torch.cuda.synchronize()
    ref = sum(g.double().pow(2).sum() for g in grads)
    plain = sum(torch.linalg.vector_norm(g).pow(2) for g in grads)
    check("grad_sumsq (6 tensors, 4.05M elements)", total[0], ref, plain, 1e-10)
    record("grad_sumsq deterministic", torch.equal(total, total2), "two runs bitwise equal")
    norm = math.sqrt(total.item())
    record("grad global norm vs torch.nn.utils.get_total_norm-style fp64",
           abs(norm - math.sqrt(ref.item())) <= 1e-9 * math.sqrt(ref.item()), f"{norm:.9g}")


def case_cast(T, n, misaligned):
    torch.manual_seed(n)
    x = torch.randn(n + 1, device=dev) * 10.0 ** torch.randint(-40, 39, (n + 1,), device=dev).float()
    x[:min(n + 1, 6)] = torch.tensor([float("inf"), -float("inf"), -0.0, 3.4e38, 1e-41, -1.00390625], device=dev)[:min(n + 1, 6)]
    y = torch.full((n + 1,), float("nan"), device=dev).to(bf16)
    xs, ys = (x[1:], y[1:]) if misaligned else (x[:n], y[:n])
    T.cast_to_bf16(xs, out=ys)
    torch.cuda.synchronize()
    check_equal(f"cast_f32_bf16 n{n}{' misaligned' if misaligned else ''}", ys, xs.to(bf16))


# ---------------------------------------------------------------- RoPE
def rope_math(x, offset, dims, pos0, base, inverse, dtype):
    """backend/cpu/Rope.java in `dtype` (angles too: float64 is the reference, float32 the plain HF way)."""
    B, Tn, H, D = x.shape
    half = dims // 2
    i = torch.arange(half, device=dev, dtype=dtype)
    inv = base ** (-2.0 * i / dims)
    phi = (pos0 + torch.arange(Tn, device=dev, dtype=dtype))[:, None] * inv  # [T, half]
    c, s = torch.cos(phi)[None, :, None, :], torch.sin(phi)[None, :, None, :]
    if inverse:
        s = -s
    y = x.to(dtype).clone()
    a, b = y[..., offset:offset + half].clone(), y[..., offset + half:offset + dims].clone()
    y[..., offset:offset + half] = a * c - b * s
    y[..., offset + half:offset + dims] = b * c + a * s
    return y


def case_rope(T, B, Tn, H, D, offset, dims, pos0, dtype, inverse):
    torch.manual_seed(Tn + D + dims)
    x = torch.randn(B, Tn, H, D, device=dev).to(dtype)
    ref = rope_math(x, offset, dims, pos0, 10000.0, inverse, f64)
    plain = rope_math(x, offset, dims, pos0, 10000.0, inverse, f32).to(dtype)
    ours = T.rope(x.clone(), offset, dims, pos0, 10000.0, inverse)
    torch.cuda.synchronize()
    name = f"rope B{B} T{Tn} H{H} D{D} slice[{offset},{offset + dims}) pos0={pos0} {str(dtype)[6:]}" + \
        (" inverse" if inverse else "")
    check(name, ours, ref, plain, 1e-3 if dtype == bf16 else 1e-6)
    if dtype == f32:
        back = T.rope(ours.clone(), offset, dims, pos0, 10000.0, not inverse)
        torch.cuda.synchronize()
        e = rel_err(back, x)
        record(name + " round trip", e < 1e-6, f"rel err {e:.1e}")


# ---------------------------------------------------------------- timing
def bench(fn, reps=30, warmup=3, inner=4, graph=True):
    """side_by_side.bench (CUDA-graph replays of `inner` calls, event medians) for a fn that takes no argument."""
    return sbs_bench(lambda i: fn(), reps, warmup, inner, graph)


def timed(name, fn, nbytes, graph=True):
    try:
        r = bench(fn, graph=graph)
        r.update({"case": name, "GB/s": nbytes / (r["p50"] * 1e-3) / 1e9})
        RESULTS["timings"].append(r)
        print(f"TIME {name}: {r['p50'] * 1e3:.1f} us (p10 {r['p10'] * 1e3:.1f}, p90 {r['p90'] * 1e3:.1f}) "
              f"{r['GB/s']:.0f} GB/s [{r['mode']}]", flush=True)
        return r
    except Exception as ex:  # noqa: BLE001 - a timing failure is reported, not fatal
        print(f"TIME {name}: failed {type(ex).__name__}: {ex}", flush=True)
        RESULTS["timings"].append({"case": name, "error": f"{type(ex).__name__}: {ex}"})
        torch.cuda.synchronize()
        return None


def timings(T):
    N, E = 16384, 2048
    x = torch.randn(N, E, device=dev).to(bf16)
    w = 1 + 0.1 * torch.randn(E, device=dev)
    wb = w.to(bf16)
    dy = torch.randn(N, E, device=dev).to(bf16)
    _, rstd = T.rmsnorm_fwd(x, w, EPS)
    y_out = torch.empty_like(x)
    rms_bytes = 2 * N * E * 2 + N * 4
    timed(f"rmsnorm_fwd ours N{N} E{E}", lambda: T.rmsnorm_fwd(x, w, EPS, out=y_out), rms_bytes)
    has_rms = hasattr(F, "rms_norm")

    def torch_rms(xx, ww):
        if has_rms:
            return F.rms_norm(xx, (E,), ww, EPS)
        xf = xx.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS) * ww.float()).to(bf16)
    timed(f"rmsnorm_fwd torch eager{' F.rms_norm' if has_rms else ' (composite)'}", lambda: torch_rms(x, wb),
          rms_bytes, graph=False)
    timed(f"rmsnorm_bwd ours dx bf16 N{N} E{E}", lambda: T.rmsnorm_bwd(dy, x, w, rstd, dx_dtype=bf16), 3 * N * E * 2)
    timed(f"rmsnorm_bwd ours dx fp32 N{N} E{E}", lambda: T.rmsnorm_bwd(dy, x, w, rstd, dx_dtype=f32),
          2 * N * E * 2 + N * E * 4)
    xr, wr = x.detach().clone().requires_grad_(), wb.detach().clone().requires_grad_()
    yt = torch_rms(xr, wr)
    timed("rmsnorm_bwd torch eager (autograd, dx bf16)",
          lambda: torch.autograd.grad(yt, (xr, wr), dy, retain_graph=True), 3 * N * E * 2, graph=False)
    del xr, wr, yt

    Nc, V = 8192, 50304
    logits = (3 * torch.randn(Nc, V, device=dev)).to(bf16)
    t = torch.randint(0, V, (Nc,), device=dev)
    t32 = t.to(torch.int32)
    ce_bytes = 3 * Nc * V * 2
    timed(f"cross_entropy ours N{Nc} V{V} bf16 (loss + dlogits)",
          lambda: T.cross_entropy(logits, t32, grad=True, grad_scale=1.0 / Nc), ce_bytes)
    work = logits.clone()
    timed(f"cross_entropy ours N{Nc} V{V} bf16 in place",
          lambda: T.cross_entropy(work, t32, grad=True, inplace=True, grad_scale=1.0 / Nc), ce_bytes)
    del work
    lg = logits.detach().clone().requires_grad_()

    def torch_ce():
        loss = F.cross_entropy(lg, t, ignore_index=-1)
        return torch.autograd.grad(loss, lg)
    timed("cross_entropy torch eager F.cross_entropy fwd+bwd", torch_ce, ce_bytes, graph=False)
    del lg, logits

    Fh = 5632
    gu = torch.randn(N, 2 * Fh, device=dev).to(bf16)
    dh = torch.randn(N, Fh, device=dev).to(bf16)
    timed(f"swiglu_fwd ours N{N} F{Fh} packed", lambda: T.swiglu_fwd(gu[:, :Fh], gu[:, Fh:]), 3 * N * Fh * 2)
    timed("swiglu_fwd torch eager", lambda: F.silu(gu[:, :Fh]) * gu[:, Fh:], 3 * N * Fh * 2, graph=False)
    timed(f"swiglu_bwd ours N{N} F{Fh} packed", lambda: T.swiglu_bwd(dh, gu[:, :Fh], gu[:, Fh:]), 5 * N * Fh * 2)
    del gu, dh

    ids = (torch.rand(N, device=dev) ** 3 * V).long().to(torch.int32)
    dx = torch.randn(N, E, device=dev)
    dtab = torch.zeros(V, E, device=dev)
    timed(f"embedding_bwd ours N{N} V{V} E{E} dx fp32 (skewed ids)", lambda: T.embedding_bwd(dtab, ids, dx),
          N * E * 4 + 2 * N * E * 4)
    idl = ids.long()
    timed("embedding_bwd torch eager index_add_ (fp32 atomics)", lambda: dtab.index_add_(0, idl, dx),
          N * E * 4 + 2 * N * E * 4, graph=False)
    del dx, dtab

    n = 50_000_000
    p, g, m, v = (torch.randn(n, device=dev) for _ in range(4))
    v.abs_()
    timed(f"adamw_step ours n={n}", lambda: T.adamw(p, g, m, v, 1e-4, 0.9, 0.95, 1e-8, 0.1, 10), 7 * n * 4)
    pt = p.clone().requires_grad_()
    pt.grad = g
    opt = torch.optim.AdamW([pt], lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=True)
    timed("adamw torch fused", opt.step, 7 * n * 4, graph=False)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, fatbin {args.fatbin}", flush=True)
    T = TrainingKernels(Kernels(args.fatbin))

    run_case("rmsnorm formula", case_rmsnorm_formula)
    for (N, E) in [(1, 256), (37, 256), (1000, 2048), (4097, 2048), (77, 264), (5, 8)]:
        run_case(f"rmsnorm_fwd N{N} E{E}", case_rmsnorm_fwd, T, N, E, False)
    for (N, E) in [(33, 256), (1000, 2048)]:
        run_case(f"rmsnorm_residual_fwd N{N} E{E}", case_rmsnorm_fwd, T, N, E, True)
    for (N, E, dt, dres) in [(1, 256, f32, False), (37, 256, f32, True), (1000, 2048, f32, False),
                             (4097, 2048, bf16, False), (4097, 2048, f32, True), (77, 264, bf16, True),
                             (300, 8192, f32, False), (5, 8, f32, False)]:
        run_case(f"rmsnorm_bwd N{N} E{E}", case_rmsnorm_bwd, T, N, E, dt, dres)
    for (N, F_, packed, mis) in [(1, 8, False, False), (33, 1003, False, False), (7, 1003, True, False),
                                 (1000, 5632, True, False), (4096, 5632, False, False), (257, 2056, True, False),
                                 (64, 1024, True, True)]:
        run_case(f"swiglu N{N} F{F_}", case_swiglu, T, N, F_, packed, mis)
    for (N, V, E, tdt, ddt, hot) in [(1, 256, 256, bf16, f32, None), (1000, 256, 2048, f32, f32, None),
                                     (4097, 50304, 2048, bf16, bf16, None), (4097, 50304, 2048, f32, f32, None),
                                     (5000, 1000, 264, f32, f32, 3000), (300, 64, 8, bf16, f32, None)]:
        run_case(f"embedding N{N} V{V} E{E}", case_embedding, T, N, V, E, tdt, ddt, hot)
    for (N, V, dt, inplace, mis) in [(1, 256, bf16, False, False), (37, 256, bf16, False, False),
                                     (100, 1003, bf16, False, False), (64, 1003, f32, False, False),
                                     (512, 50304, bf16, False, False), (256, 50304, f32, False, False),
                                     (300, 50304, bf16, True, False), (37, 256, bf16, True, True)]:
        run_case(f"cross_entropy N{N} V{V}", case_cross_entropy, T, N, V, dt, inplace, mis)
    run_case("cross_entropy bad target", case_cross_entropy_bad_target, T)
    for (n, wd, mis) in [(1, 0.1, False), (7, 0.0, False), (4099, 0.1, False), (1 << 20, 0.1, False),
                         (4099, 0.1, True), (1 << 20, 0.0, False)]:
        run_case(f"adamw n{n}", case_adamw, T, n, wd, mis)
    run_case("grad_sumsq", case_grad_norm, T)
    for (n, mis) in [(1, False), (7, False), (4097, False), (1 << 20, False), (4097, True)]:
        run_case(f"cast_f32_bf16 n{n}", case_cast, T, n, mis)
    for (B, Tn, H, D, off, dims, pos0, dt, inv) in [(1, 7, 2, 64, 0, 64, 0, bf16, False),
                                                    (2, 300, 4, 128, 0, 64, 0, bf16, False),
                                                    (1, 4096, 2, 128, 0, 128, 1000, bf16, False),
                                                    (2, 100, 3, 192, 128, 64, 5, bf16, False),
                                                    (1, 50, 2, 128, 0, 32, 0, f32, True),
                                                    (2, 333, 4, 128, 0, 128, 0, f32, False)]:
        run_case(f"rope T{Tn} D{D}", case_rope, T, B, Tn, H, D, off, dims, pos0, dt, inv)
    t_check = time.time() - t0

    if not args.no_timing:
        try:
            timings(T)
        except Exception as ex:  # noqa: BLE001
            print(f"TIME: aborted {type(ex).__name__}: {ex}", flush=True)
    n_ok = sum(1 for c in RESULTS["checks"] if c["ok"])
    n_fail = len(RESULTS["checks"]) - n_ok
    RESULTS["summary"] = {"passed": n_ok, "failed": n_fail, "check_seconds": t_check,
                          "total_seconds": time.time() - t0}
    if args.out:
        try:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "training_kernels.json"), "w") as f:
                json.dump(RESULTS, f, indent=1)
        except Exception as ex:  # noqa: BLE001
            print(f"could not write results: {ex}")
    print(f"SUMMARY training kernels: {n_ok} passed, {n_fail} failed "
          f"({t_check:.1f} s checks, {time.time() - t0:.1f} s total)", flush=True)
    sys.exit(0 if n_fail == 0 else 1)


if __name__ == "__main__":
    main()
