"""Backward lab (session 3): flash_bwd_wide_kernel with P^T / dS^T staged through shared memory (STAGE) beside the
shipped instances (flash_bwd_hd256, mla_bwd_*), float64 checks first, then timing at T 4k / 16k beside SDPA.

    python3 bench/bwd_lab.py --fatbin bwd_lab.fatbin --out $OUT   (fatbin: kernels-dev/bwd_lab.cu)
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402
import cca_reference as ref  # noqa: E402
from ccalab_cuda import lab_start, wide_bwd_smem  # noqa: E402
from ccalab_mla import MlaKernels  # noqa: E402
from check_mla import attention_f64, attention_plain_bf16  # noqa: E402
from torch.nn.attention import SDPBackend  # noqa: E402

dev, bf16 = "cuda", torch.bfloat16
# name stem -> (dqk, dv, bkv, cs, bq, stage)
LAB = {"bwdlab_256_256_q32": (256, 256, 64, 2, 32, False), "bwdlab_192_128_q64": (192, 128, 64, 2, 64, False),
       "bwdlab_192_128_st_q64": (192, 128, 64, 2, 64, True), "bwdlab_96_64_q64": (96, 64, 64, 2, 64, False)}


def wide_bwd(K, stem, q, k, v, o, lse, do, causal, scale):
    dqk, dv, bkv, cs, bq, st = LAB[stem]
    B, T, Hq, _ = q.shape
    Hkv = k.shape[2]
    dq = torch.zeros(B, T, Hq, dqk, device=dev)
    dk = torch.zeros(B, T, Hkv, dqk, device=dev)
    dvv = torch.zeros(B, T, Hkv, dv, device=dev)
    dvec = torch.empty(B, Hq, T, device=dev)
    K.launch(f"flash_bwd_preprocess_hd{dv}", (-(-B * T * Hq // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq)
    smem = wide_bwd_smem(dqk, dv, bkv, bq, st)
    K.launch(stem + ("_causal" if causal else ""), (-(-T // bkv), Hq, B), (bkv // 16 * cs * 32, 1, 1), smem, dq, dk,
             dvv, q, k, v, do, lse, dvec, T, Hq, Hkv, float(scale))
    return dq, dk, dvv


def checks(K, M):
    ok = True
    for stem, (dqk, dv, bkv, cs, bq, st) in LAB.items():
        cases = [(1, 77, 2, 2, True), (2, 300, 4, 2, True), (1, 513, 4, 4, False), (1, 1024, 8, 2, True)] if dqk == 256 \
            else [(1, 77, 4, 4, True), (2, 200, 4, 4, False), (1, 333, 16, 16, True), (1, 1024, 8, 8, True)]
        for (B, T, Hq, Hkv, causal) in cases:
            torch.manual_seed(T + Hq + dqk)
            q = torch.randn(B, T, Hq, dqk, device=dev).to(bf16)
            k = torch.randn(B, T, Hkv, dqk, device=dev).to(bf16)
            v = torch.randn(B, T, Hkv, dv, device=dev).to(bf16)
            do = torch.randn(B, T, Hq, dv, device=dev).to(bf16)
            scale = 1 / math.sqrt(dqk)
            if dqk == dv:
                o, lse = K.flash_fwd(q, k, v, causal)
            else:
                o, lse = M.fwd(q, k, v, causal, scale)
            dq, dk, dvv = wide_bwd(K, stem, q, k, v, o, lse, do, causal, scale)
            torch.cuda.synchronize()
            qd, kd, vd = (x.double().requires_grad_() for x in (q, k, v))
            if dqk == dv:
                r, _ = ref.attention_f64(qd, kd, vd, causal)
            else:
                r, _ = attention_f64(qd, kd, vd, causal, scale)
            r.backward(do.double())
            qb, kb, vb = (x.detach().clone().requires_grad_() for x in (q, k, v))
            if dqk == dv:
                ob = sbs.sdpa(qb, kb, vb, causal, SDPBackend.MATH)
                ob.backward(do.transpose(1, 2))
            else:
                attention_plain_bf16(qb, kb, vb, causal, scale).backward(do)
            name = f"{stem} B{B} T{T} Hq{Hq} Hkv{Hkv} causal={causal}"
            ok &= sbs.check(name + " dq", dq, qd.grad, qb.grad, 2e-3)
            ok &= sbs.check(name + " dk", dk, kd.grad, kb.grad, 2e-3)
            ok &= sbs.check(name + " dv", dvv, vd.grad, vb.grad, 2e-3)
    return ok


def timings(K, M):
    rows = []
    for (shape, H, Hkv, dqk, dv) in (("MHA 8x256", 8, 8, 256, 256), ("MLA 16 192/128", 16, 16, 192, 128),
                                     ("MLA 16 96/64", 16, 16, 96, 64)):
        for T in (4096, 16384):
            q = torch.randn(1, T, H, dqk, device=dev).to(bf16)
            k = torch.randn(1, T, Hkv, dqk, device=dev).to(bf16)
            v = torch.randn(1, T, Hkv, dv, device=dev).to(bf16)
            do = torch.randn(1, T, H, dv, device=dev).to(bf16)
            scale = 1 / math.sqrt(dqk)
            if dqk == dv:
                o, lse = K.flash_fwd(q, k, v, True)
                row = {"shape": shape, "T": T, "shipped": sbs.bench(lambda i: K.flash_bwd(q, k, v, o, lse, do, True), 10)}
            else:
                o, lse = M.fwd(q, k, v, True, scale)
                row = {"shape": shape, "T": T, "shipped": sbs.bench(lambda i: M.bwd(q, k, v, o, lse, do, True, scale), 10)}
            for stem, (a, b, *_rest) in LAB.items():
                if (a, b) == (dqk, dv):
                    row[stem] = sbs.bench(lambda i: wide_bwd(K, stem, q, k, v, o, lse, do, True, scale), 10)
            fl = 2.5 * H * T * T * (dqk + dv)  # causal: half of 2 * 2 * H T^2 (d_qk + d_v), times 2.5
            for key, val in row.items():
                if isinstance(val, dict) and "p50" in val:
                    val["tflops"] = fl / val["p50"] / 1e9
            rows.append(row)
            print(f"{shape} T={T}: " + " | ".join(f"{k} {v['p50']:.3f} ms {v['tflops']:.0f} TF" for k, v in row.items()
                                                 if isinstance(v, dict) and "p50" in v), flush=True)
            del q, k, v, do, o, lse
    return rows


def main():
    a, K = lab_start("the wide backward lab (kernels-dev/bwd_lab.cu)")
    sbs.KERNELS = K
    M = MlaKernels(K)
    ok = checks(K, M)
    print("ALL BWD LAB CHECKS PASSED" if ok else "SOME BWD LAB CHECKS FAILED", flush=True)
    rows = timings(K, M)
    with open(os.path.join(a.out, "bwd_lab.json"), "w") as f:
        json.dump({"checks": sbs.RESULTS["checks"], "ok": ok, "timings": rows}, f, indent=1)


if __name__ == "__main__":
    main()
