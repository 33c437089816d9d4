"""Our training kernels (engine/src/main/cuda/training_kernels.cuh) called from PyTorch through ccalab_cuda.Kernels.

The same names, launch shapes and argument orders as org.ccalab.engine.backend.cuda.CudaTrainingKernels (Java).
Tensors are torch CUDA tensors, contiguous unless said otherwise. Letters: N rows (tokens), E width (a multiple
of 8), F MLP hidden width, V vocabulary.
"""
import ctypes

import torch

# launch shapes (training/*.cuh; CudaTrainingKernels.java)
RMS_FWD_ROWS, RMS_FWD_THREADS = 8, 256
RMS_BWD_WARPS, RMS_BWD_THREADS, RMS_BWD_ROWS = 4, 128, 32
RMS_REDUCE_COLS, RMS_REDUCE_THREADS = 32, 256
ELEMENTWISE_THREADS, ELEMENTWISE_MAX_BLOCKS = 256, 16384
EMB_FWD_ROWS, EMB_FWD_THREADS, EMB_THREADS, EMB_SCAN_THREADS, EMB_SCATTER_MAX_BLOCKS = 8, 256, 256, 1024, 4096
XENT_SMALL_THREADS, XENT_LARGE_THREADS, XENT_LARGE_FROM_V = 256, 1024, 16384
SUMSQ_THREADS, SUMSQ_PER_BLOCK, SUMSQ_MAX_BLOCKS = 256, 4096, 1024
ROPE_THREADS = 128


def _cdiv(a, b):
    return -(-a // b)


def _suffix(dtype):
    if dtype == torch.float32:
        return "f32"
    if dtype == torch.bfloat16:
        return "bf16"
    raise ValueError(f"no kernel for dtype {dtype}")


def elementwise_blocks(work):
    return max(1, min(ELEMENTWISE_MAX_BLOCKS, _cdiv(work, ELEMENTWISE_THREADS)))


def sumsq_blocks(n):
    return max(1, min(SUMSQ_MAX_BLOCKS, _cdiv(n, SUMSQ_PER_BLOCK)))


def xent_threads(V):
    return XENT_LARGE_THREADS if V >= XENT_LARGE_FROM_V else XENT_SMALL_THREADS


class TrainingKernels:
    def __init__(self, kernels):
        self.K = kernels  # ccalab_cuda.Kernels

    # x [N, E] bf16, w [E] fp32 -> y [N, E] bf16, rstd [N] fp32; with residual r: also s = bf16(x + r), y = norm(s)
    def rmsnorm_fwd(self, x, w, eps, residual=None, out=None):
        N, E = x.shape
        assert E % 8 == 0 and x.dtype == torch.bfloat16 and w.dtype == torch.float32
        y = torch.empty_like(x) if out is None else out
        rstd = torch.empty(N, device=x.device, dtype=torch.float32)
        grid = (max(1, _cdiv(N, RMS_FWD_ROWS)), 1, 1)
        if residual is None:
            self.K.launch("rmsnorm_fwd", grid, (RMS_FWD_THREADS, 1, 1), 0, y, rstd, x, w, N, E, float(eps))
            return y, rstd
        s = torch.empty_like(x)
        self.K.launch("rmsnorm_residual_fwd", grid, (RMS_FWD_THREADS, 1, 1), 0, y, rstd, s, x, residual, w, N, E,
                      float(eps))
        return y, rstd, s

    # dy, x [N, E] bf16, w [E], rstd [N] fp32 -> dx [N, E] (dx_dtype; + dres if given), dw [E] fp32 (+= into dw)
    def rmsnorm_bwd(self, dy, x, w, rstd, dres=None, dx_dtype=torch.float32, dw=None, out=None):
        N, E = x.shape
        assert E % 8 == 0
        dx = torch.empty(N, E, device=x.device, dtype=dx_dtype) if out is None else out  # out may be dres
        dw = torch.zeros(E, device=x.device, dtype=torch.float32) if dw is None else dw
        P = _cdiv(N, RMS_BWD_ROWS)
        partial = torch.empty(P, E, device=x.device, dtype=torch.float32)
        self.K.launch(f"rmsnorm_bwd_{_suffix(dx_dtype)}", (P, 1, 1), (RMS_BWD_THREADS, 1, 1), RMS_BWD_WARPS * E * 4,
                      dx, partial, dres, dy, x, w, rstd, N, E)
        self.K.launch("rmsnorm_dw_reduce", (_cdiv(E, RMS_REDUCE_COLS), 1, 1), (RMS_REDUCE_THREADS, 1, 1), 0,
                      dw, partial, P, E)
        return dx, dw

    @staticmethod
    def _ld(gate, up):
        """Row stride shared by gate and up (F for separate tensors, 2F for the halves of one [N, 2F] output)."""
        assert gate.stride(1) == 1 and up.stride(1) == 1 and gate.stride(0) == up.stride(0) and gate.shape == up.shape
        return gate.stride(0)

    # gate, up [N, F] bf16 (contiguous, or column halves of one [N, 2F] tensor) -> h [N, F] = silu(gate) * up
    def swiglu_fwd(self, gate, up):
        N, F = gate.shape
        ld = self._ld(gate, up)
        h = torch.empty(N, F, device=gate.device, dtype=torch.bfloat16)
        self.K.launch("swiglu_fwd", (elementwise_blocks(_cdiv(N * F, 8)), 1, 1), (ELEMENTWISE_THREADS, 1, 1), 0,
                      h, gate, up, N, F, ld)
        return h

    # dh [N, F] -> dgate, dup in the layout of gate, up (out=(dgate, dup) may be gate, up themselves)
    def swiglu_bwd(self, dh, gate, up, out=None):
        N, F = gate.shape
        ld = self._ld(gate, up)
        if out is None:
            if ld == F:
                out = (torch.empty_like(gate), torch.empty_like(up))
            else:
                buf = torch.empty(N, ld, device=gate.device, dtype=torch.bfloat16)
                off = up.data_ptr() - gate.data_ptr()
                out = (buf[:, :F], buf[:, off // 2:off // 2 + F])
        ldo = self._ld(*out)
        self.K.launch("swiglu_bwd", (elementwise_blocks(_cdiv(N * F, 8)), 1, 1), (ELEMENTWISE_THREADS, 1, 1), 0,
                      out[0], out[1], dh.contiguous(), gate, up, N, F, ld, ldo)
        return out

    # ids [N] int32, table [V, E] (bf16 or fp32) -> x [N, E] bf16
    def embedding_fwd(self, ids, table):
        N = ids.shape[0]
        V, E = table.shape
        x = torch.empty(N, E, device=ids.device, dtype=torch.bfloat16)
        self.K.launch(f"embedding_fwd_{_suffix(table.dtype)}", (max(1, _cdiv(N, EMB_FWD_ROWS)), 1, 1),
                      (EMB_FWD_THREADS, 1, 1), 0, x, ids, table, N, V, E)
        return x

    # dtable [V, E] fp32 += scatter of dx [N, E] (fp32 or bf16) by ids, deterministic
    def embedding_bwd(self, dtable, ids, dx):
        N = ids.shape[0]
        V, E = dtable.shape
        cursor = torch.zeros(V, device=ids.device, dtype=torch.int32)
        start = torch.empty(V + 1, device=ids.device, dtype=torch.int32)
        order = torch.empty(max(1, N), device=ids.device, dtype=torch.int32)
        blocks = max(1, min(EMB_SCATTER_MAX_BLOCKS, _cdiv(N, EMB_THREADS)))
        self.K.launch("embedding_bwd_count", (blocks, 1, 1), (EMB_THREADS, 1, 1), 0, cursor, ids, N, V)
        self.K.launch("embedding_bwd_scan", (1, 1, 1), (EMB_SCAN_THREADS, 1, 1), 0, start, cursor, V)
        self.K.launch("embedding_bwd_scatter", (blocks, 1, 1), (EMB_THREADS, 1, 1), 0, order, cursor, ids, N, V)
        self.K.launch(f"embedding_bwd_rows_{_suffix(dx.dtype)}", (V, 1, 1), (EMB_THREADS, 1, 1), 0,
                      dtable, order, start, dx, V, E)
        return dtable

    # logits [N, V] (bf16 or fp32), targets [N] int32 (-1 ignored) -> loss [N] fp32, dlogits, correct [N] int32
    def cross_entropy(self, logits, targets, grad=True, inplace=False, grad_scale=None, correct=True):
        N, V = logits.shape
        assert logits.is_contiguous() and targets.dtype == torch.int32
        if grad_scale is None:
            count = int((targets != -1).sum().item())
            grad_scale = 1.0 / count if count > 0 else 0.0
        loss = torch.empty(N, device=logits.device, dtype=torch.float32)
        d = (logits if inplace else torch.empty_like(logits)) if grad else None
        c = torch.empty(N, device=logits.device, dtype=torch.int32) if correct else None
        self.K.launch(f"cross_entropy_{_suffix(logits.dtype)}", (N, 1, 1), (xent_threads(V), 1, 1), 0,
                      loss, d, c, logits, targets, N, V, float(grad_scale))
        return loss, d, c

    # one AdamW step in place on p, m, v (fp32) from g (fp32); p_bf16 (optional) gets bf16(p)
    def adamw(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, grad_scale=1.0, p_bf16=None):
        n = p.numel()
        self.K.launch("adamw_step", (elementwise_blocks(_cdiv(n, 4)), 1, 1), (ELEMENTWISE_THREADS, 1, 1), 0,
                      p, p_bf16, m, v, g, n, float(lr), float(beta1), float(beta2), float(eps), float(weight_decay),
                      int(step), float(grad_scale))

    # sum of squares of every tensor (fp32), in list order -> fp64 tensor [1]
    def grad_sumsq(self, grads):
        total = torch.zeros(1, device=grads[0].device, dtype=torch.float64)
        for g in grads:
            n = g.numel()
            b = sumsq_blocks(n)
            partials = torch.empty(b, device=g.device, dtype=torch.float64)
            self.K.launch("grad_sumsq_partial", (b, 1, 1), (SUMSQ_THREADS, 1, 1), 0, partials, g, n)
            self.K.launch("grad_sumsq_reduce", (1, 1, 1), (SUMSQ_THREADS, 1, 1), 0, total, partials, b)
        return total

    # y [n] bf16 = x [n] fp32 rounded to nearest even (flat views; any alignment)
    def cast_to_bf16(self, x, out=None):
        n = x.numel()
        y = torch.empty(n, device=x.device, dtype=torch.bfloat16) if out is None else out
        self.K.launch("cast_f32_bf16", (elementwise_blocks(_cdiv(n, 2)), 1, 1), (ELEMENTWISE_THREADS, 1, 1), 0,
                      y, x, ctypes.c_longlong(n))
        return y

    # in place on x [B, T, H, D] (bf16 or fp32): channels [offset, offset + dims) of each head
    def rope(self, x, offset, dims, pos0=0, base=10000.0, inverse=False):
        B, T, H, D = x.shape
        assert dims % 2 == 0 and dims <= 512 and offset + dims <= D
        self.K.launch(f"rope_{_suffix(x.dtype)}", (B * T, 1, 1), (ROPE_THREADS, 1, 1), 0,
                      x, T, H, D, offset, dims, pos0, float(base), 1 if inverse else 0)
        return x
