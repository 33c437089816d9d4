"""MLA kernels of our fatbin (engine/src/main/cuda/mla_kernels.cuh) called from PyTorch through ccalab_cuda.

Prefill core: q, k [B,T,H,DQK], v [B,T,H,DV] bf16 -> o [B,T,H,DV] bf16, lse [B,H,T] fp32 (natural log).
Absorbed decode: qa [B,H,R+DR] bf16 (per head [W_UK,h^T q^C_h ; q^R_h]), cache [B,Tmax,R+DR] bf16 (one row
[c_t ; k^R_t] per token, the first L valid) -> o_lat [B,H,R] fp32 = sum_s p_s c_s (the caller applies W_UV).
The softmax scale is an argument in both (mla.md: d_qk^-1/2, d_qk = d_n + d_r, for decode too).
Layer steps (attention/mla_layer.cuh, the Java layer CudaMlaLayer.java launches the same): kv_latent (RMSNorm of the
latent + RoPE of the rope key into cache rows), expand_kv (K = [k^C_h ; k^R], V per head), absorb_q, unabsorb.
"""
import math

import torch

from ccalab_cuda import Kernels, wide_bwd_smem

FWD_BM, FWD_THREADS = 128, 256
BWD_TILES = {(192, 128): 64, (96, 64): 64}  # (DQK, DV) -> query rows per tile (mla_bwd: 64 keys, 8 warps, staged)
# the Hopper backward (attention/flash_bwd_wgmma_wide.cuh, "_wgmma"): wgbwdw::Layout<DQK, DV>::SMEM_BYTES, 384 threads
BWD_WGMMA_SMEM = {(192, 128): 227328}  # dQ staged: Layout<192, 128>::SMEM_BYTES_SDQ
BWD_WGMMA_DET_SMEM = 157696  # the "_det" twin, dQ unstaged: Layout<192, 128>::SMEM_BYTES
FWD_BN = {(192, 128): 128, (96, 64): 64}  # (DQK, DV) -> keys per K/V tile of the default instance
FWD_VARIANTS = {((192, 128), 128): "", ((96, 64), 64): "", ((192, 128), 64): "_n64"}  # -> kernel name suffix
DECODE_THREADS, DECODE_WARPS, DECODE_HEADS_PER_BLOCK = 256, 8, 16
# The ring split kernel (attention/mla_decode_ring.cuh, session 10): latent widths with an instance, its tile rows and
# ring stages, and the least splits per head group for which its fused merge (_spin) beats split + combine.
DECODE_RING, RING_BN, RING_STAGES, SPIN_MIN_SPLITS = (512, 448), 32, 3, 96
DECODE_BN = {512: "ring", 448: "ring", 960: 32}  # latent width R -> the default kernel (all instances DR = 64)
# the session-2 split kernel: (R, cache rows per tile) -> name suffix; the lab fatbins add (512, 64) and (448, 64): ""
DECODE_VARIANTS = {(512, 32): "_n32", (448, 32): "_n32", (960, 32): "", (512, 64): "", (448, 64): ""}
DECODE_LAB_ONLY = {(512, 64), (448, 64)}  # not in the shipped fatbin
SMEM_PER_SM = 228 * 1024  # H100 shared memory per SM (when torch does not say); each block also reserves 1 KB
DECODE_DR = 64
COMBINE_GROUPS = 8  # mla_decode::CGROUPS: thread rows of the combine kernel, each over every 8th split


def fwd_smem(dqk, dv, bn):
    """Bytes of dynamic shared memory of mla_fwd (mla::fwd_smem_bytes): Q tile + 2 K tiles + 2 V tiles, rows padded."""
    return (FWD_BM * (dqk + 8) + 2 * bn * (dqk + 8) + 2 * bn * (dv + 8)) * 2


def decode_smem(r, dr, bn):
    """mla_decode::smem_bytes (bn: cache rows per tile) or mla_ring::smem_bytes<R, DR, 3> (bn "ring")."""
    dk = r + dr
    if bn == "ring":  # Qa rows + the ring (bf16, rows padded) + S halves (fp32) + P (bf16) + the rows' rescales
        return (DECODE_HEADS_PER_BLOCK * (dk + 8) + RING_STAGES * RING_BN * (dk + 8)) * 2 + \
            2 * DECODE_HEADS_PER_BLOCK * (RING_BN + 4) * 4 + DECODE_HEADS_PER_BLOCK * (RING_BN + 8) * 2 + 16 * 4
    return (DECODE_HEADS_PER_BLOCK * (dk + 8) + 2 * bn * (dk + 8)) * 2 + \
        (DECODE_WARPS * 8 // bn) * DECODE_HEADS_PER_BLOCK * (bn + 4) * 4


def decode_name(r, dr, bn):
    return f"mla_decode_ring_r{r}_rope{dr}" if bn == "ring" else f"mla_decode_r{r}_rope{dr}{DECODE_VARIANTS[(r, bn)]}"


class MlaKernels:
    def __init__(self, kernels):
        self.k = kernels if isinstance(kernels, Kernels) else Kernels(kernels)
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        self.sms = props.multi_processor_count
        # the largest dynamic shared memory a block may opt into (H100 227 KB, A100 163 KB)
        self.smem_max = getattr(props, "shared_memory_per_block_optin", 227 * 1024)
        self.smem_per_sm = getattr(props, "shared_memory_per_multiprocessor", SMEM_PER_SM)

    def default_fwd_bn(self, dqk, dv):
        bn = FWD_BN.get((dqk, dv))
        return bn if bn is None or fwd_smem(dqk, dv, bn) <= self.smem_max else 64

    def default_decode_bn(self, r):
        bn = DECODE_BN.get(r)
        return bn if bn is None or decode_smem(r, DECODE_DR, bn) <= self.smem_max else 32

    def fwd(self, q, k, v, causal=True, scale=None, out=None, lse=None, bn=None):
        B, T, H, dqk = q.shape
        dv = v.shape[-1]
        bn = self.default_fwd_bn(dqk, dv) if bn is None else bn
        assert ((dqk, dv), bn) in FWD_VARIANTS, f"no mla_fwd instance for d_qk={dqk}, d_v={dv}, {bn}-key tiles"
        assert k.shape == q.shape and v.shape[:3] == q.shape[:3], (q.shape, k.shape, v.shape)
        assert all(x.is_contiguous() and x.dtype == torch.bfloat16 for x in (q, k, v))
        scale = 1.0 / math.sqrt(dqk) if scale is None else float(scale)
        out = torch.empty(B, T, H, dv, device=q.device, dtype=torch.bfloat16) if out is None else out
        lse = torch.empty(B, H, T, device=q.device, dtype=torch.float32) if lse is None else lse
        name = f"mla_fwd_qk{dqk}_v{dv}" + ("_causal" if causal else "") + FWD_VARIANTS[((dqk, dv), bn)]
        self.k.launch(name, ((T + FWD_BM - 1) // FWD_BM, H, B), (FWD_THREADS, 1, 1), fwd_smem(dqk, dv, bn),
                      out, lse, q, k, v, int(T), int(H), scale)
        return out, lse

    def bwd(self, q, k, v, o, lse, do, causal=True, scale=None, wgmma=None, deterministic=False):
        """Backward of the prefill core: dq, dk [B,T,H,DQK], dv [B,T,H,DV] fp32 from dO [B,T,H,DV] bf16 and the
        forward's o and lse (mla_bwd_qk<DQK>_v<DV>: flash_bwd_wide_kernel, or its "_wgmma" twin on the sm_90a image
        (flash_bwd_wgmma_wide_kernel, d_qk 192 / d_v 128); Dv by flash_bwd_preprocess_hd<DV>). wgmma None: as the
        Java backend chooses (the wgmma kernel where it exists and the driver runs sm_90a). deterministic: its "_det"
        twin (session 9, 192 / 128 on the sm_90a image; dQ unstaged, 157,696 bytes; CudaMla's choice under the run's
        deterministic option): the fp32 adds in a fixed order."""
        B, T, H, dqk = q.shape
        dv = v.shape[-1]
        bq = BWD_TILES[(dqk, dv)]
        scale = 1.0 / math.sqrt(dqk) if scale is None else float(scale)
        dq = torch.zeros(B, T, H, dqk, device=q.device, dtype=torch.float32)
        dk = torch.zeros_like(dq)
        dvv = torch.zeros(B, T, H, dv, device=q.device, dtype=torch.float32)
        dvec = torch.empty(B, H, T, device=q.device, dtype=torch.float32)
        rows = B * T * H
        self.k.launch(f"flash_bwd_preprocess_hd{dv}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, H)
        name = f"mla_bwd_qk{dqk}_v{dv}" + ("_causal" if causal else "")
        if wgmma is None:
            wgmma = self.k.hopper and (dqk, dv) in BWD_WGMMA_SMEM
        if wgmma:
            name, threads, smem = name + "_wgmma", 384, BWD_WGMMA_SMEM[(dqk, dv)]
        else:
            threads, smem = 256, wide_bwd_smem(dqk, dv, 64, bq, True)
        if deterministic:
            assert wgmma and (dqk, dv) == (192, 128), "the deterministic MLA backward is the wgmma kernel's (192 / 128)"
            # CudaMlaKernels.BwdInstance.deterministicSemaphores: dQ and dK / dV [B][H][ceil(T/64)][2] each
            sem = torch.zeros(4 * B * H * -(-T // 64), device=q.device, dtype=torch.int32)
            self.k.launch(name + "_det", (-(-T // 64), H, B), (threads, 1, 1), BWD_WGMMA_DET_SMEM, dq, dk, dvv, q, k,
                          v, do, lse, dvec, int(T), int(H), scale, sem)
            return dq, dk, dvv
        self.k.launch(name, (-(-T // 64), H, B), (threads, 1, 1), smem, dq, dk, dvv, q, k, v, do, lse, dvec,
                      int(T), int(H), scale)
        return dq, dk, dvv

    def decode_splits(self, B, H, L, bn, r=512):
        """(number of splits, rows per split): as many splits as fill the SMs in one wave at the blocks per SM that
        the kernel's shared memory allows (the ring: 1; BN=64: 1; BN=32 with R <= 512: 2), chunks whole tiles."""
        per_sm = max(1, self.smem_per_sm // (decode_smem(r, DECODE_DR, bn) + 1024))
        rows = RING_BN if bn == "ring" else bn
        blocks = B * ((H + DECODE_HEADS_PER_BLOCK - 1) // DECODE_HEADS_PER_BLOCK)
        n = max(1, min(self.sms * per_sm // blocks, -(-L // rows)))
        chunk = -(-L // n)
        chunk = -(-chunk // rows) * rows
        return -(-L // chunk), chunk

    def spin_fits(self, r, dr, blocks):
        return self.k.decode_spin_fits(decode_name(r, dr, "ring") + "_spin", decode_smem(r, dr, "ring"), DECODE_THREADS,
                                       blocks, self.sms)

    def decode(self, qa, cache, L, r, scale, work=None, out=None, bn=None, spin=None, splits=None):
        """bn: the kernel ("ring", or the split kernel's cache rows per tile; default: DECODE_BN where it fits);
        spin: the ring's fused merge (None: CudaMla.decode's rule, a co-resident grid with >= SPIN_MIN_SPLITS splits
        per head group; True: forced, asserting the grid is co-resident); splits: a forced split count (checks)."""
        B, H, dk = qa.shape
        Tmax = cache.shape[1]
        dr = dk - r
        bn = self.default_decode_bn(r) if bn is None else bn
        ring = bn == "ring"
        assert dr == DECODE_DR and (r in DECODE_RING if ring else (r, bn) in DECODE_VARIANTS), \
            f"no mla_decode instance for r_kv={r}, d_r={dr}, BN={bn}"
        assert cache.shape == (B, Tmax, dk) and 1 <= L <= Tmax, (cache.shape, L)
        assert qa.is_contiguous() and cache.is_contiguous() and qa.dtype == cache.dtype == torch.bfloat16
        n, chunk = self.decode_splits(B, H, L, bn, r)
        if splits is not None:
            rows = RING_BN if ring else bn
            chunk = -(-(-(-L // splits)) // rows) * rows
            n = -(-L // chunk)
        if work is None or work[0].shape[2] != n:
            work = (torch.empty(B, H, n, r, device=qa.device, dtype=torch.float32),
                    torch.empty(B, H, n, 2, device=qa.device, dtype=torch.float32))
        po, pml = work
        groups = (H + DECODE_HEADS_PER_BLOCK - 1) // DECODE_HEADS_PER_BLOCK
        out = torch.empty(B, H, r, device=qa.device, dtype=torch.float32) if out is None else out
        name, smem = decode_name(r, dr, bn), decode_smem(r, dr, bn)
        if spin is None:
            spin = ring and n >= SPIN_MIN_SPLITS and self.spin_fits(r, dr, n * groups * B)
        if spin:
            assert ring and self.spin_fits(r, dr, n * groups * B), "the fused merge needs the ring and a co-resident grid"
            if getattr(self, "_spin_counters", None) is None:  # a 64-bit arrival counter per (b, head group), zeroed once
                self._spin_counters = torch.zeros(1 << 14, dtype=torch.int32, device=qa.device)
            assert 2 * B * groups <= self._spin_counters.numel()
            self.k.launch(name + "_spin", (n, groups, B), (DECODE_THREADS, 1, 1), smem, po, pml, qa, cache, int(L),
                          int(Tmax), int(H), int(chunk), float(scale), out, self._spin_counters)
            return out
        self.k.launch(name, (n, groups, B), (DECODE_THREADS, 1, 1), smem,
                      po, pml, qa, cache, int(L), int(Tmax), int(H), int(chunk), float(scale))
        self.k.launch(f"mla_decode_combine_r{r}", (H, B, r // 64), (16, COMBINE_GROUPS, 1), 0, out, po, pml, int(H),
                      int(n))
        return out

    # ---- layer steps (attention/mla_layer.cuh; grids as CudaMlaKernels.java)
    LATENT_THREADS, EXPAND_THREADS, ABSORB_COLS, ABSORB_BATCH, UNABSORB_WARPS, UNABSORB_BATCH = 128, 128, 128, 8, 8, 8

    def kv_latent(self, a, w, cache, pos0, r, eps, base, c=None):
        """a [B, T, R + DR] bf16 (kv_a output), w [R] fp32 -> cache[:, pos0:pos0+T] = [RMSNorm(a[..., :R]) ;
        RoPE(a[..., R:])] in place, and c [B, T, R] (when given) = the normed latent."""
        B, T, dk = a.shape
        Tmax = cache.shape[1]
        assert cache.shape == (B, Tmax, dk) and pos0 + T <= Tmax and a.is_contiguous() and cache.is_contiguous()
        assert w.dtype == torch.float32 and w.shape == (r,)
        self.k.launch("mla_kv_latent", (B * T, 1, 1), (self.LATENT_THREADS, 1, 1), 0, c, cache, a, w, int(T), int(Tmax),
                      int(pos0), int(r), int(dk - r), float(eps), float(base))

    def expand_kv(self, kv_up, cache, T, dn, dr, dv, r):
        """kv_up [B, T, H, DN + DV], cache [B, Tmax, R + DR] -> k [B, T, H, DN + DR] = [k^C ; k^R], v [B, T, H, DV]."""
        B, _, H, _ = kv_up.shape
        k = torch.empty(B, T, H, dn + dr, device=kv_up.device, dtype=torch.bfloat16)
        v = torch.empty(B, T, H, dv, device=kv_up.device, dtype=torch.bfloat16)
        self.k.launch("mla_expand_kv", (B * T, 1, 1), (self.EXPAND_THREADS, 1, 1), 0, k, v, kv_up, cache, int(T),
                      int(cache.shape[1]), int(H), int(dn), int(dr), int(dv), int(r))
        return k, v

    def absorb_q(self, q, w_kvb, dn, dr, dv, r):
        """q [B, H, DN + DR] bf16, w_kvb [H * (DN + DV), R] -> qa [B, H, R + DR] = [W_UK,h^T q^C_h ; q^R_h]."""
        B, H, _ = q.shape
        qa = torch.empty(B, H, r + dr, device=q.device, dtype=torch.bfloat16)
        grid = (-(-r // self.ABSORB_COLS), H, -(-B // self.ABSORB_BATCH))
        self.k.launch("mla_absorb_q", grid, (self.ABSORB_COLS, 1, 1), 0, qa, q, w_kvb, int(B), int(H), int(dn), int(dr),
                      int(dv), int(r))
        return qa

    def unabsorb(self, o_lat, w_kvb, dn, dv):
        """o_lat [B, H, R] fp32 -> att [B, H, DV] bf16 = W_UV,h o_lat_h."""
        B, H, r = o_lat.shape
        att = torch.empty(B, H, dv, device=o_lat.device, dtype=torch.bfloat16)
        grid = (-(-dv // self.UNABSORB_WARPS), H, -(-B // self.UNABSORB_BATCH))
        self.k.launch("mla_unabsorb", grid, (self.UNABSORB_WARPS * 32, 1, 1), 0, att, o_lat, w_kvb, int(B), int(H), int(dn),
                      int(dv), int(r))
        return att
