"""One GPU run: check the MLA kernels against float64 references, then time them beside PyTorch.

    python3 bench/check_mla.py --fatbin PATH/ccalab.fatbin [--out DIR] [--skip-timing] [--backward-only]

(a) Prefill core (mla_fwd_qk192_v128, mla_fwd_qk96_v64; causal and not; T 1..1024; B 1-2; H 16 and 4) against
    float64 attention on the same bf16 inputs; LSE against the float64 log-sum-exp.
(b) Absorbed decode (mla_decode_r{512,448,960}_rope64 + combine): random latents c, k^R and weights W_UK, W_UV;
    W_UV o_lat per head against the float64 naive MLA of mla.md section 2 (K, V expanded per head) for the last
    token, several L (1, non-multiples of the tile and of the split chunk), padded and multi-group head counts.
Tolerance (FlashAttention's tests, as bench/side_by_side.py): our error vs float64 <= 2x the error of a plain
bf16 PyTorch implementation of the same math + a floor of 1e-3. Outputs are poisoned with NaN before each call.
(d) The layer steps of attention/mla_layer.cuh (kv_latent, expand_kv, absorb_q, unabsorb) against float64 torch on
    the same bf16 inputs: bf16 outputs within 2^-8 relative (one rounding), fp32 sums as (b).
(c) Timing (CUDA events, warm-up, graph replays, median): prefill H=16 d_qk 192 / d_v 128 causal at T 4k, 16k
    beside SDPA (flash with V zero-padded to 192 as HF does, cuDNN, memory-efficient); decode B 1/8/32 x L
    4k/16k/64k, H=16, r_kv 512, d_r 64: microseconds and cache bytes/s beside a torch absorbed decode (two bf16
    matmuls) and the device copy bandwidth. Inputs rotate over enough copies to stay out of L2.
Prints PASS/FAIL per check, a summary, a short table; writes check_mla.json to --out.
"""
import argparse
import json
import math
import os
import sys
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402
from side_by_side import bench as sbs_bench  # noqa: E402
from ccalab_mla import BWD_TILES, BWD_WGMMA_SMEM, DECODE_BN, DECODE_DR, DECODE_LAB_ONLY, DECODE_VARIANTS, FWD_BN, FWD_VARIANTS, MlaKernels  # noqa: E402

dev = "cuda"
bf16 = torch.bfloat16
RESULTS = {"checks": [], "timings": []}
TABLE = []


def record(case, ok, line, **extra):
    RESULTS["checks"].append({"case": case, "ok": bool(ok), **extra})
    print(f"{'PASS' if ok else 'FAIL'} {case}: {line}", flush=True)
    return ok


def rel_err(x, r):
    x, r = x.double(), r.double()
    if not torch.isfinite(x).all():
        return float("inf")
    return ((x - r).norm() / r.norm().clamp_min(1e-300)).item()


def check(case, ours, reference, naive, floor=1e-3):
    e, en = rel_err(ours, reference), rel_err(naive, reference)
    return record(case, e <= 2 * en + floor, f"err {e:.2e} (plain bf16 {en:.2e})", err=e, naive_err=en)


def guarded(case, fn):
    """Run one check; an exception is a FAIL of that check, never the end of the script."""
    try:
        return fn()
    except Exception as ex:  # noqa: BLE001 - reported, then the next case runs
        traceback.print_exc(limit=3)
        torch.cuda.synchronize()
        return record(case, False, f"exception {type(ex).__name__}: {str(ex)[:300]}")


# ---------------------------------------------------------------- (a) prefill core
def attention_f64(q, k, v, causal, scale):
    """q, k [B,T,H,Dqk], v [B,T,H,Dv] -> o [B,T,H,Dv] float64, lse [B,H,T] float64 (natural log)."""
    qh, kh, vh = (x.double().transpose(1, 2) for x in (q, k, v))
    s = (qh @ kh.transpose(-1, -2)) * scale
    if causal:
        T = q.shape[1]
        s = s.masked_fill(torch.ones(T, T, device=dev, dtype=torch.bool).triu(1), float("-inf"))
    return (s.softmax(-1) @ vh).transpose(1, 2), torch.logsumexp(s, -1)


def attention_plain_bf16(q, k, v, causal, scale):
    """The naive same-precision implementation: bf16 matmuls, fp32 softmax, bf16 probabilities."""
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))
    s = (qh @ kh.transpose(-1, -2)).float() * scale
    if causal:
        T = q.shape[1]
        s = s.masked_fill(torch.ones(T, T, device=dev, dtype=torch.bool).triu(1), float("-inf"))
    return (s.softmax(-1).to(bf16) @ vh).transpose(1, 2)


def check_prefill(M):
    ok = True
    for ((dqk, dv), bn), suffix in FWD_VARIANTS.items():
        for (B, T, H) in ((1, 1, 16), (2, 77, 4), (1, 333, 16), (2, 333, 4), (1, 1024, 16), (2, 1024, 4)):
            for causal in (True, False):
                case = f"mla_fwd{suffix} qk{dqk} v{dv} B{B} T{T} H{H} causal={causal}"

                def run():
                    torch.manual_seed(hash((dqk, B, T, H, causal)) % 100000)
                    q = torch.randn(B, T, H, dqk, device=dev).to(bf16)
                    k = torch.randn(B, T, H, dqk, device=dev).to(bf16)
                    v = torch.randn(B, T, H, dv, device=dev).to(bf16)
                    scale = 1.0 / math.sqrt(dqk)
                    o = torch.full((B, T, H, dv), float("nan"), device=dev, dtype=bf16)
                    lse = torch.full((B, H, T), float("nan"), device=dev)
                    M.fwd(q, k, v, causal, scale, out=o, lse=lse, bn=bn)
                    torch.cuda.synchronize()
                    r, rlse = attention_f64(q, k, v, causal, scale)
                    good = check(case, o, r, attention_plain_bf16(q, k, v, causal, scale))
                    lerr = (lse.double() - rlse).abs().max().item() if torch.isfinite(lse).all() else float("inf")
                    good &= record(case + " lse", lerr < 1e-3, f"max abs err {lerr:.2e} (limit 1e-3)", err=lerr)
                    return good
                ok &= bool(guarded(case, run))
    return ok


def check_bwd(M):
    """Backward of the prefill core (mla_bwd_*) against float64 autograd; tolerance as side_by_side.check_bwd: at
    most twice the error of the plain bf16 implementation's autograd backward, plus a floor."""
    ok = True
    for (dqk, dv) in BWD_TILES:
        kernels = [False, True] if M.k.hopper and (dqk, dv) in BWD_WGMMA_SMEM else [False]
        for (B, T, H, causal), wgmma in ((c, w) for c in ((1, 1, 4, True), (1, 77, 4, True), (2, 200, 4, False),
                                                          (1, 333, 16, True), (2, 513, 4, True), (1, 1024, 8, False),
                                                          (1, 2048, 4, True)) for w in kernels):
            case = f"mla_bwd{'_wgmma' if wgmma else ''} qk{dqk} v{dv} B{B} T{T} H{H} causal={causal}"

            def run():
                torch.manual_seed(hash((dqk, B, T, H, causal, "bwd")) % 100000)
                q = torch.randn(B, T, H, dqk, device=dev).to(bf16)
                k = torch.randn(B, T, H, dqk, device=dev).to(bf16)
                v = torch.randn(B, T, H, dv, device=dev).to(bf16)
                do = torch.randn(B, T, H, dv, device=dev).to(bf16)
                scale = 1.0 / math.sqrt(dqk)
                o, lse = M.fwd(q, k, v, causal, scale)
                dq, dk, dvv = M.bwd(q, k, v, o, lse, do, causal, scale, wgmma=wgmma)
                torch.cuda.synchronize()
                qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
                r, _ = attention_f64(qd, kd, vd, causal, scale)
                r.backward(do.double())
                qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
                attention_plain_bf16(qb, kb, vb, causal, scale).backward(do)
                if T == 1:  # one key: P = 1 and dS = dP - Dv = 0, so dq = dk = 0 up to O's rounding in Dv
                    good = True
                    for g, x in (("dq", dq), ("dk", dk)):
                        m = x.abs().max().item() if torch.isfinite(x).all() else float("inf")
                        good &= record(f"{case} {g}", m < 1e-5, f"max abs {m:.2e} (exact 0; limit 1e-5)", err=m)
                else:
                    good = check(case + " dq", dq, qd.grad, qb.grad, 2e-3)
                    good &= check(case + " dk", dk, kd.grad, kb.grad, 2e-3)
                good &= check(case + " dv", dvv, vd.grad, vb.grad, 2e-3)
                return good
            ok &= bool(guarded(case, run))
    return ok


# ---------------------------------------------------------------- (b) absorbed decode
def check_decode(M):
    """o = W_UV,h o_lat (ours, absorbed) vs the expanded float64 MLA attention of the newest token."""
    ok = True
    dn, dv, dr = 128, 128, DECODE_DR
    scale = 1.0 / math.sqrt(dn + dr)  # mla.md: d_qk^-1/2, not (r_kv + d_r)^-1/2
    cases = [(1, 16, 512, 1, 8), (2, 16, 512, 63, 100), (3, 16, 512, 1000, 1024), (1, 16, 512, 4097, 5000),
             (8, 16, 512, 777, 800), (1, 16, 512, 16384, 16384), (2, 8, 512, 300, 300), (1, 20, 512, 555, 600),
             (2, 16, 448, 1234, 1300), (1, 16, 448, 65, 65), (2, 16, 960, 1234, 1234), (1, 16, 960, 33, 40),
             (1, 16, 960, 5000, 5000)]
    cases = [(B, H, R, L, Tmax, DECODE_BN[R], None) for (B, H, R, L, Tmax) in cases]
    # the ring's fused merge forced on and off where the rule picks the other (B=1 / B=3 at H16), twice each: its
    # counters' reset and epoch; the shipped alternates (other BN at the same R)
    cases += [(1, 16, 512, 16384, 16384, "ring", False), (1, 16, 448, 5000, 5000, "ring", False),
              (3, 16, 512, 1000, 1024, "ring", True), (1, 32, 512, 3000, 3000, "ring", True)] * 2
    cases += [(3, 16, R, 1000, 1024, bn, None) for (R, bn) in DECODE_VARIANTS
              if bn != DECODE_BN[R] and (R, bn) not in DECODE_LAB_ONLY]
    for (B, H, R, L, Tmax, bn, spin) in cases:
        kind = "_ring" if bn == "ring" else DECODE_VARIANTS[(R, bn)]
        case = f"mla_decode{kind}{'' if spin is None else '_spin' if spin else '_combine'} r{R} rope{dr} B{B} H{H} L{L} Tmax{Tmax}"

        def run():
            torch.manual_seed(B * 100003 + L * 7 + R)
            c = torch.randn(B, Tmax, R, device=dev)          # latents after kv_a_layernorm: unit scale
            kr = torch.randn(B, Tmax, dr, device=dev)        # rotated rope keys
            cache = torch.cat([c, kr], -1).to(bf16).contiguous()  # [B, Tmax, R + dr] rows [c ; k^R]
            w_uk = torch.randn(H, dn, R, device=dev) / math.sqrt(R)
            w_uv = torch.randn(H, dv, R, device=dev) / math.sqrt(R)
            q_nope = torch.randn(B, H, dn, device=dev)
            q_rope = torch.randn(B, H, dr, device=dev)
            # Absorb in fp32, round once to bf16 (mla.md open question 9).
            qa = torch.cat([torch.einsum("bhd,hdr->bhr", q_nope, w_uk), q_rope], -1).to(bf16).contiguous()
            o_lat = torch.full((B, H, R), float("nan"), device=dev)
            if spin is None:
                M.decode(qa, cache, L, R, scale, out=o_lat, bn=bn)
            else:
                M.decode(qa, cache, L, R, scale, out=o_lat, bn=bn, spin=spin)
            torch.cuda.synchronize()
            # float64 naive MLA (mla.md section 2): K, V expanded per head from the cached latents.
            cd, krd = cache[:, :L, :R].double(), cache[:, :L, R:].double()
            k_nope = torch.einsum("blr,hdr->blhd", cd, w_uk.double())
            v = torch.einsum("blr,hdr->blhd", cd, w_uv.double())
            logits = (torch.einsum("bhd,blhd->bhl", q_nope.double(), k_nope)
                      + torch.einsum("bhd,bld->bhl", q_rope.double(), krd)) * scale
            ref = torch.einsum("bhl,blhd->bhd", logits.softmax(-1), v)
            del k_nope, v
            ours = torch.einsum("hdr,bhr->bhd", w_uv.double(), o_lat.double())
            # plain bf16 absorbed decode in torch: bf16 matmuls, fp32 softmax, bf16 probabilities
            s = torch.matmul(qa, cache[:, :L].transpose(1, 2)).float() * scale
            plain_lat = torch.matmul(s.softmax(-1).to(bf16), cache[:, :L, :R])
            plain = torch.einsum("hdr,bhr->bhd", w_uv.double(), plain_lat.double())
            return check(case, ours, ref, plain)
        ok &= bool(guarded(case, run))
    return ok


# ---------------------------------------------------------------- (d) layer steps
def rope_f64(x, pos, base):
    """Rotate-half RoPE of x [..., T, DR] at positions pos [T] (backend/cpu/Rope.java), float64."""
    dr = x.shape[-1]
    half = dr // 2
    inv = base ** (-2.0 * torch.arange(half, device=dev, dtype=torch.float64) / dr)
    ang = pos.double()[:, None] * inv[None, :]
    c, s = ang.cos(), ang.sin()
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, b * c + a * s], -1)


def check_layer_steps(M):
    """Each step against float64 on its bf16 inputs; one bf16 rounding of the output allows 2^-8 relative per
    element, so the normwise bound is 2^-8 (4e-3) and a wrong index gives O(1)."""
    ok = True
    bound = 2.0 ** -8
    for (B, T, Tmax, pos0, H, dn, dr, dv, R) in ((2, 77, 100, 0, 16, 128, 64, 128, 512), (3, 1, 50, 37, 4, 32, 64, 64, 448),
                                                 (1, 130, 130, 0, 20, 128, 64, 128, 960), (9, 1, 10, 9, 16, 128, 64, 128, 512)):
        case = f"mla layer steps B{B} T{T} pos0 {pos0} H{H} dn{dn} dr{dr} dv{dv} r{R}"

        def run():
            torch.manual_seed(B * 1000 + T + R)
            a = (torch.randn(B, T, R + dr, device=dev) * 0.7).to(bf16)
            w = torch.rand(R, device=dev) + 0.5
            cache = torch.full((B, Tmax, R + dr), float("nan"), device=dev, dtype=bf16)
            c = torch.full((B, T, R), float("nan"), device=dev, dtype=bf16)
            M.kv_latent(a, w, cache, pos0, R, 1e-6, 1e4, c=c)
            torch.cuda.synchronize()
            ad = a.double()
            c_ref = ad[..., :R] * (ad[..., :R].pow(2).mean(-1, keepdim=True) + 1e-6).rsqrt() * w.double()
            kr_ref = rope_f64(ad[..., R:], torch.arange(pos0, pos0 + T, device=dev), 1e4)
            good = record(case + " kv_latent c", rel_err(c, c_ref) <= bound, f"err {rel_err(c, c_ref):.2e} (bound {bound:.1e})")
            row = cache[:, pos0:pos0 + T]
            good &= record(case + " kv_latent cache row",
                           rel_err(row, torch.cat([c_ref, kr_ref], -1)) <= bound and bool((row[..., :R] == c).all()),
                           f"err {rel_err(row, torch.cat([c_ref, kr_ref], -1)):.2e}, c bits equal {bool((row[..., :R] == c).all())}")
            if pos0 == 0:
                kv_up = torch.randn(B, T, H, dn + dv, device=dev).to(bf16)
                k, v = M.expand_kv(kv_up, cache, T, dn, dr, dv, R)
                torch.cuda.synchronize()
                k_ref = torch.cat([kv_up[..., :dn], cache[:, :T, None, R:].expand(B, T, H, dr)], -1)
                good &= record(case + " expand_kv", bool((k == k_ref).all()) and bool((v == kv_up[..., dn:]).all()),
                               "exact copies")
            w_kvb = (torch.randn(H * (dn + dv), R, device=dev) / math.sqrt(R)).to(bf16)
            q = torch.randn(B, H, dn + dr, device=dev).to(bf16)
            qa = M.absorb_q(q, w_kvb, dn, dr, dv, R)
            w3 = w_kvb.double().view(H, dn + dv, R)
            qa_ref = torch.cat([torch.einsum("bhd,hdr->bhr", q[..., :dn].double(), w3[:, :dn]), q[..., dn:].double()], -1)
            good &= record(case + " absorb_q", rel_err(qa, qa_ref) <= bound, f"err {rel_err(qa, qa_ref):.2e}")
            o_lat = torch.randn(B, H, R, device=dev)
            att = M.unabsorb(o_lat, w_kvb, dn, dv)
            att_ref = torch.einsum("hdr,bhr->bhd", w3[:, dn:], o_lat.double())
            torch.cuda.synchronize()
            good &= record(case + " unabsorb", rel_err(att, att_ref) <= bound, f"err {rel_err(att, att_ref):.2e}")
            return good
        ok &= bool(guarded(case, run))
    return ok


# ---------------------------------------------------------------- (c) timing
def bench(fn, reps=20, warmup=3, inner=2):
    """side_by_side.bench (CUDA-graph replays of `inner` calls of fn(i), event medians) with this script's defaults."""
    return sbs_bench(fn, reps, warmup, inner)


def timed(label, row, fn, **kw):
    try:
        row[label] = bench(fn, **kw)
    except Exception as ex:  # noqa: BLE001 - a backend may refuse a shape; say so instead of dying
        torch.cuda.synchronize()
        row[label] = {"error": f"{type(ex).__name__}: {str(ex)[:200]}"}


def sdpa(q, k, v, causal, backend):
    from torch.nn.attention import sdpa_kernel
    with sdpa_kernel(backend):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=1.0 / math.sqrt(q.shape[-1]))


def time_prefill(M):
    from torch.nn.attention import SDPBackend
    H, dqk, dv = 16, 192, 128
    for T in (4096, 16384):
        sets = [tuple(torch.randn(1, T, H, d, device=dev).to(bf16) for d in (dqk, dqk, dv)) for _ in range(2)]
        # SDPA's [B, H, T, D] views, and V zero-padded to d_qk for the flash backend as HF does (pad not timed)
        views = [(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), F.pad(v, (0, dqk - dv)).transpose(1, 2))
                 for (q, k, v) in sets]
        o = torch.empty(1, T, H, dv, device=dev, dtype=bf16)
        lse = torch.empty(1, H, T, device=dev)
        flops = H * T * T * (dqk + dv)  # causal: half of 2 * B * H * T^2 * (d_qk + d_v)
        row = {"kind": "prefill", "T": T, "H": H, "d_qk": dqk, "d_v": dv, "causal": True}
        timed("ours", row, lambda i: M.fwd(*sets[i % 2], True, out=o, lse=lse))
        for ((dims, bn), suffix) in FWD_VARIANTS.items():
            if dims == (dqk, dv) and bn != FWD_BN[dims]:
                timed("ours" + suffix, row, lambda i: M.fwd(*sets[i % 2], True, out=o, lse=lse, bn=bn))
        timed("sdpa_flash_vpad", row, lambda i: sdpa(views[i % 2][0], views[i % 2][1], views[i % 2][3], True,
                                                     SDPBackend.FLASH_ATTENTION))
        timed("sdpa_cudnn", row, lambda i: sdpa(*views[i % 2][:3], True, SDPBackend.CUDNN_ATTENTION))
        if "error" in row["sdpa_cudnn"]:
            timed("sdpa_cudnn_vpad", row, lambda i: sdpa(views[i % 2][0], views[i % 2][1], views[i % 2][3], True,
                                                         SDPBackend.CUDNN_ATTENTION))
        timed("sdpa_efficient", row, lambda i: sdpa(*views[i % 2][:3], True, SDPBackend.EFFICIENT_ATTENTION))
        if "error" in row["sdpa_flash_vpad"] and T <= 4096:  # the math backend only as the last resort
            timed("sdpa_math", row, lambda i: sdpa(*views[i % 2][:3], True, SDPBackend.MATH), reps=5)
        for key, val in row.items():
            if isinstance(val, dict) and "p50" in val:
                val["tflops"] = flops / val["p50"] / 1e9
                TABLE.append(f"prefill T{T} {key:16s} {val['p50']:8.3f} ms {val['tflops']:6.1f} TF/s ({val['mode']})")
            elif isinstance(val, dict):
                TABLE.append(f"prefill T{T} {key:16s} {val['error'][:100]}")
        RESULTS["timings"].append(row)
        print(json.dumps(row), flush=True)
        del sets, views


def time_bwd(M):
    """Backward of the prefill core at H=16, d_qk 192 / d_v 128, causal: ours (preprocess + mla_bwd) beside SDPA's
    backward (flash with V zero-padded to 192 as the forward timing does, cuDNN at the real widths)."""
    from torch.nn.attention import SDPBackend
    H, dqk, dv = 16, 192, 128
    for T in (4096, 16384):
        q, k, v = (torch.randn(1, T, H, d, device=dev).to(bf16) for d in (dqk, dqk, dv))
        do = torch.randn(1, T, H, dv, device=dev).to(bf16)
        o, lse = M.fwd(q, k, v, True)
        flops = 2.5 * H * T * T * (dqk + dv)  # backward = 2.5x the causal forward's FLOPs (FA convention)
        row = {"kind": "backward", "T": T, "H": H, "d_qk": dqk, "d_v": dv, "causal": True}
        timed("ours", row, lambda i: M.bwd(q, k, v, o, lse, do, True), reps=10)
        if M.k.hopper:  # the mma.sync kernel beside the wgmma one the backend picks on Hopper
            timed("ours_mma", row, lambda i: M.bwd(q, k, v, o, lse, do, True, wgmma=False), reps=10)
            timed("ours_again", row, lambda i: M.bwd(q, k, v, o, lse, do, True), reps=10)
        for label, be, pad in (("sdpa_flash_vpad", SDPBackend.FLASH_ATTENTION, True),
                               ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION, False)):
            qb, kb = (x.transpose(1, 2).detach().clone().requires_grad_() for x in (q, k))
            vv = F.pad(v, (0, dqk - dv)) if pad else v
            vb = vv.transpose(1, 2).detach().clone().requires_grad_()
            g = F.pad(do, (0, dqk - dv)).transpose(1, 2) if pad else do.transpose(1, 2)
            try:
                ob = sdpa(qb, kb, vb, True, be)
                row[label] = sbs_bench(lambda i: torch.autograd.grad(ob, (qb, kb, vb), g, retain_graph=True), 10, 3, 2,
                                       graph=False)
            except Exception as ex:  # noqa: BLE001
                torch.cuda.synchronize()
                row[label] = {"error": f"{type(ex).__name__}: {str(ex)[:200]}"}
        for key, val in row.items():
            if isinstance(val, dict) and "p50" in val:
                val["tflops"] = flops / val["p50"] / 1e9
                TABLE.append(f"backward T{T} {key:16s} {val['p50']:8.3f} ms {val['tflops']:6.1f} TF/s ({val['mode']})")
            elif isinstance(val, dict):
                TABLE.append(f"backward T{T} {key:16s} {val['error'][:100]}")
        RESULTS["timings"].append(row)
        print(json.dumps(row), flush=True)
        del q, k, v, do, o, lse


def copy_bandwidth():
    """The device's faster copy (side_by_side.copy_bandwidths: the driver's memcpy) and torch's copy_ beside it."""
    bw = sbs.copy_bandwidths()
    return {"read_plus_write_bytes_per_s": bw["driver"], "read_bytes_per_s": bw["driver"] / 2,
            "torch_copy_read_plus_write_bytes_per_s": bw["torch"]}


def torch_absorbed_decode(qa, cache, R, scale):
    s = torch.matmul(qa, cache.transpose(1, 2)).float() * scale  # [B, H, L]
    return torch.matmul(s.softmax(-1).to(bf16), cache[..., :R])  # [B, H, R]


def time_decode(M):
    cp = copy_bandwidth()
    RESULTS["copy_bandwidth"] = cp
    TABLE.append(f"device copy: {cp['read_plus_write_bytes_per_s'] / 1e12:.2f} TB/s read+write "
                 f"({cp['read_bytes_per_s'] / 1e12:.2f} TB/s read side)")
    H, R, dr = 16, 512, DECODE_DR
    scale = 1.0 / math.sqrt(128 + dr)
    for B in (1, 8, 32):
        for L in (4096, 16384, 65536):
            cache_bytes = B * L * (R + dr) * 2
            nsets = min(64, max(2, -(-300_000_000 // cache_bytes)))  # > 6x the 50 MB L2 per graph replay
            inner = max(10, nsets)
            caches = [torch.randn(B, L, R + dr, device=dev).to(bf16) for _ in range(nsets)]
            qas = [torch.randn(B, H, R + dr, device=dev).to(bf16) for _ in range(nsets)]
            out = torch.empty(B, H, R, device=dev)
            row = {"kind": "decode", "B": B, "L": L, "H": H, "r_kv": R, "d_r": dr, "cache_bytes": cache_bytes,
                   "input_sets": nsets}
            variants = [("ours", DECODE_BN[R])] + [(f"ours_n{bn}", bn) for (r, bn) in DECODE_VARIANTS
                                                   if r == R and bn != DECODE_BN[R] and (r, bn) not in DECODE_LAB_ONLY]
            for label, bn in variants:
                n, _ = M.decode_splits(B, H, L, bn, R)
                work = (torch.empty(B, H, n, R, device=dev), torch.empty(B, H, n, 2, device=dev))
                row[label + "_splits"] = n
                timed(label, row, lambda i: M.decode(qas[i % nsets], caches[i % nsets], L, R, scale, work=work,
                                                     out=out, bn=bn), reps=20, inner=inner)
            timed("torch_absorbed", row, lambda i: torch_absorbed_decode(qas[i % nsets], caches[i % nsets], R, scale),
                  reps=10, inner=inner)
            for key in [label for label, _ in variants] + ["torch_absorbed"]:
                val = row[key]
                if "p50" in val:
                    val["us"] = val["p50"] * 1e3
                    val["cache_bytes_per_s"] = cache_bytes / (val["p50"] / 1e3)
                    # perf-log convention: cache bytes/s over the copy's read+write bytes/s
                    val["of_copy_bw"] = val["cache_bytes_per_s"] / cp["read_plus_write_bytes_per_s"]
                    TABLE.append(f"decode B{B:<2d} L{L:<5d} {key:14s} {val['us']:9.1f} us "
                                 f"{val['cache_bytes_per_s'] / 1e12:5.2f} TB/s "
                                 f"({100 * val['of_copy_bw']:.0f}% of copy)")
                else:
                    TABLE.append(f"decode B{B} L{L} {key}: {val['error'][:100]}")
            RESULTS["timings"].append(row)
            print(json.dumps(row), flush=True)
            del caches, qas


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--backward-only", action="store_true", help="only (a)'s backward checks and its timing")
    ap.add_argument("--decode-only", action="store_true", help="only (c)'s decode checks and its timing")
    args = ap.parse_args()
    RESULTS["device"] = torch.cuda.get_device_name()
    RESULTS["torch"] = torch.__version__
    print(f"device {RESULTS['device']}, torch {RESULTS['torch']}", flush=True)
    M = MlaKernels(args.fatbin)
    ok = check_decode(M) if args.decode_only else check_bwd(M)
    if not (args.backward_only or args.decode_only):
        ok &= check_prefill(M)
        ok &= check_decode(M)
        ok &= check_layer_steps(M)
    timings = [("timing backward", time_bwd)] if args.backward_only else [("timing decode", time_decode)] \
        if args.decode_only else [
        ("timing prefill", time_prefill), ("timing backward", time_bwd), ("timing decode", time_decode)]
    if not args.skip_timing:
        for name, fn in timings:
            try:
                fn(M)
            except Exception as ex:  # noqa: BLE001 - timing failures are reported, checks still count
                traceback.print_exc(limit=3)
                RESULTS["timings"].append({"kind": name, "error": f"{type(ex).__name__}: {str(ex)[:300]}"})
                print(f"FAIL {name}: exception {type(ex).__name__}: {str(ex)[:300]}", flush=True)
                ok = False
    passed = sum(c["ok"] for c in RESULTS["checks"])
    failed = len(RESULTS["checks"]) - passed
    print("\n".join(TABLE))
    print(f"SUMMARY: {passed} checks passed, {failed} failed; {'ALL PASS' if ok else 'FAILURES'}", flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "check_mla.json"), "w") as f:
            json.dump(RESULTS, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
