"""Our fatbin's kernels called from PyTorch through the CUDA driver API (ctypes on libcuda.so.1).

The same kernels, arguments and launch shapes as org.ccalab.engine.backend.cuda (Java): this module is the
device-side twin used by side_by_side.py so that one run on the GPU host checks and times our kernels beside
PyTorch's SDPA on the same tensors. Tensors are torch tensors; their data_ptr() is passed as the device pointer
(torch and the driver API share the primary context).
"""
import ctypes
import math

import torch

_cuda = ctypes.CDLL("libcuda.so.1")
CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8

FLASH_BM, FLASH_BN, FLASH_THREADS = 128, 64, 256
# The Hopper forward (CudaKernels.FlashVariant.WGMMA): 384 threads, Q tile + 3 K/V stages + alignment slack.
WGMMA_SUFFIX, WGMMA_THREADS, WGMMA_SMEM = "_wgmma4", 384, 32768 * 7 + 1024
# Its D = 64 form (attention/flash_fwd_wgmma_hd64.cuh, wgfa64::Cfg<2, 4>): same grid and block, 4 K/V stages.
WGMMA64_SMEM = 148480
# decode v3 (CudaKernels.DECODE_V3_*, CudaBackend.DECODE_V3_BELOW)
DECODE_WARPS, DECODE_STAGES, DECODE_CLUSTER, DECODE_MAX_SPLITS, DECODE_V3_BELOW = 8, 2, 1, 256, 16
# The Hopper backward (CudaKernels.BwdVariant.WGMMA, attention/flash_bwd_wgmma.cuh v4 at D = 128,
# flash_bwd_wgmma_hd64.cuh at D = 64): 384 threads, shared memory by head dim.
BWD_WGMMA_SUFFIX, BWD_WGMMA_THREADS, BWD_WGMMA_SMEM = "_wgmma4", 384, {128: 202752, 64: 120832, 256: 231424}
CCA_TT, CCA_TT_SHORT = 64, 32
CCA_THREADS = 256


CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6
# cuTensorMapEncodeTiled's enums (cuda.h): bf16, no interleave, 128-byte swizzle, zero fill; L2 promotion: 0 none,
# 1 64 B, 2 128 B, 3 256 B (TensorMap's default: TMA_L2_PROMOTION, which a lab may set)
CU_TENSOR_MAP_DATA_TYPE_FLOAT32, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, CU_TENSOR_MAP_SWIZZLE_128B = 7, 9, 3
TMA_L2_PROMOTION = 3


class TensorMap:
    """A TMA tensor map (CUtensorMap: 128 bytes, 64-byte aligned) over a [B, T, H, D] bf16 (or fp32) tensor, boxes of
    `cols` columns (128 bytes) x `rows` rows with the 128-byte swizzle (as CudaTensorMaps encodes them for the Java
    launches); passed to a kernel's __grid_constant__ parameter by Kernels.launch."""

    def __init__(self, t, rows=128, promotion=None, cols=None):
        B, T, H, D = t.shape
        es = t.element_size()
        cols = cols or 128 // es
        assert t.dtype in (torch.bfloat16, torch.float32) and t.is_contiguous() and D % cols == 0 and cols * es <= 128
        self.tensor = t  # keeps the memory alive while the map may be used
        self.buf = ctypes.create_string_buffer(128 + 64)
        self.addr = (ctypes.addressof(self.buf) + 63) & ~63
        dims = (ctypes.c_uint64 * 4)(D, H, T, B)
        strides = (ctypes.c_uint64 * 3)(D * es, H * D * es, T * H * D * es)
        box = (ctypes.c_uint32 * 4)(cols, 1, rows, 1)
        ones = (ctypes.c_uint32 * 4)(1, 1, 1, 1)
        dtype = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 if es == 2 else CU_TENSOR_MAP_DATA_TYPE_FLOAT32
        _check(_cuda.cuTensorMapEncodeTiled(ctypes.c_void_p(self.addr), dtype, 4,
                                            ctypes.c_void_p(t.data_ptr()), dims, strides, box, ones, 0,
                                            CU_TENSOR_MAP_SWIZZLE_128B,
                                            TMA_L2_PROMOTION if promotion is None else promotion, 0),
               "cuTensorMapEncodeTiled")


class _LaunchAttr(ctypes.Structure):  # CUlaunchAttribute: id, 4 bytes of padding, a 64-byte value union
    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", ctypes.c_char * 64)]


class _LaunchConfig(ctypes.Structure):  # CUlaunchConfig
    _fields_ = [("gridDimX", ctypes.c_uint), ("gridDimY", ctypes.c_uint), ("gridDimZ", ctypes.c_uint),
                ("blockDimX", ctypes.c_uint), ("blockDimY", ctypes.c_uint), ("blockDimZ", ctypes.c_uint),
                ("sharedMemBytes", ctypes.c_uint), ("hStream", ctypes.c_void_p),
                ("attrs", ctypes.POINTER(_LaunchAttr)), ("numAttrs", ctypes.c_uint)]


def _check(rc, what):
    if rc != 0:
        name = ctypes.c_char_p()
        _cuda.cuGetErrorName(rc, ctypes.byref(name))
        raise RuntimeError(f"{what} failed: {rc} {name.value.decode() if name.value else ''}")


def device_copy(dst, src):
    """The driver's device-to-device memcpy of src into dst (torch tensors of equal bytes) on torch's current stream:
    the faster of the device's copies (cuda-bench measures its copy bandwidth with the same call, session 13)."""
    _check(_cuda.cuMemcpyDtoDAsync_v2(ctypes.c_uint64(dst.data_ptr()), ctypes.c_uint64(src.data_ptr()),
                                      ctypes.c_size_t(src.numel() * src.element_size()),
                                      ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)), "cuMemcpyDtoDAsync")


def wide_bwd_smem(dqk, dv, bkv, bq, stage=False):
    """flash_bwd_wide::smem_bytes (D=256 and MLA backward): K, V tiles, two stages of Q and dO tiles, dS^T (and P^T
    when staged), rows padded by 8 elements; LSE and Dv stages."""
    return (bkv * (dqk + 8) + bkv * (dv + 8) + 2 * bq * (dqk + 8) + 2 * bq * (dv + 8) + (2 if stage else 1) * bkv * (bq + 8)) \
        * 2 + 4 * bq * 4


class Kernels:
    def __init__(self, fatbin_path):
        torch.cuda.init()
        torch.zeros(1, device="cuda")  # makes torch's primary context current on this thread
        self.module = ctypes.c_void_p()
        _check(_cuda.cuModuleLoad(ctypes.byref(self.module), fatbin_path.encode()), f"cuModuleLoad({fatbin_path})")
        self.funcs = {}
        # (mt, bn) used by flash_fwd calls that name none (the layers): the kernel lab's way to time a variant
        # inside a whole layer; None = the shipped heuristic.
        self.force_variant = None
        # True: flash_fwd writes O's rounding residual (kept per output tensor) and flash_bwd forms Dv from O + it
        self.o_residual = False
        self.residuals = {}
        # As CudaBackend.probeHopper: D=64/128 run on the wgmma kernels where the driver loaded the sm_90a image.
        self.hopper = self._probe_hopper()

    def _probe_hopper(self):
        r = torch.zeros(2, dtype=torch.int32, device="cuda")
        try:
            self.launch("wgmma_arch_probe", (1, 1, 1), (1, 1, 1), 0, r)
        except RuntimeError:  # an older fatbin without the probe
            return False
        torch.cuda.synchronize()
        return int(r[1].item()) == 1

    def fn(self, name, smem=0):
        f, allowed = self.funcs.get(name, (None, 48 * 1024))
        if f is None:
            f = ctypes.c_void_p()
            _check(_cuda.cuModuleGetFunction(ctypes.byref(f), self.module, name.encode()), f"cuModuleGetFunction({name})")
        if smem > allowed:  # raised per call: a later call may need more (e.g. the prologue with longer convs)
            _check(_cuda.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem), "cuFuncSetAttribute")
            allowed = smem
        self.funcs[name] = (f, allowed)
        return f

    def launch(self, name, grid, block, smem, *args, pdl=False):
        """pdl: cuLaunchKernelEx with programmatic stream serialization (the kernel may start before the previous
        one in the stream completes; it must griddepcontrol.wait before reading that kernel's output)."""
        f = self.fn(name, smem)
        holders, ptrs = [], []
        for a in args:
            if isinstance(a, TensorMap):  # the parameter's 128 bytes, from the map's aligned buffer
                holders.append(a)
                ptrs.append(ctypes.c_void_p(a.addr))
                continue
            if isinstance(a, ctypes._SimpleCData):  # passed as it is (e.g. c_longlong for a 64-bit parameter)
                holders.append(a)
            elif isinstance(a, torch.Tensor):
                holders.append(ctypes.c_void_p(a.data_ptr()))
            elif a is None:
                holders.append(ctypes.c_void_p(0))
            elif isinstance(a, float):
                holders.append(ctypes.c_float(a))
            else:
                holders.append(ctypes.c_int(a))
            ptrs.append(ctypes.cast(ctypes.byref(holders[-1]), ctypes.c_void_p))
        params = (ctypes.c_void_p * len(ptrs))(*ptrs)
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        if pdl:
            attr = _LaunchAttr(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
            ctypes.memmove(attr.value, ctypes.byref(ctypes.c_int(1)), 4)
            cfg = _LaunchConfig(*grid, *block, smem, stream, ctypes.pointer(attr), 1)
            _check(_cuda.cuLaunchKernelEx(ctypes.byref(cfg), f, params, None), f"cuLaunchKernelEx({name})")
            return
        _check(_cuda.cuLaunchKernel(f, *grid, *block, smem, stream, params, None), f"cuLaunchKernel({name})")

    # q [B,T,Hq,D], k/v [B,T,Hkv,D] bf16 contiguous -> o [B,T,Hq,D], lse [B,Hq,T]
    @staticmethod
    def flash_variant(D):
        """(rows tiles per warp, keys per K/V tile) as the Java backend picks them (CudaKernels.flashVariant):
        D=128: 8 warps x 16 rows over 128-key tiles (run 13: fastest at every measured shape, 1k-64k);
        D=64: 4 warps x 32 rows over 64-key tiles (run 3); D=256: 8 warps x 16 rows over 64-key tiles, Q re-read
        from shared memory (the only D=256 instance)."""
        return (1, 128) if D == 128 else (2, 64) if D == 64 else (1, 64)

    # (mt, keys per K/V tile) -> kernel name suffix; _n128 exists for D=128 only
    FLASH_VARIANTS = {(1, 64): "", (2, 64): "_m2", (1, 128): "_n128"}

    def flash_fwd(self, q, k, v, causal=True, v_shift_from=None, out=None, lse=None, mt=None, bn=FLASH_BN,
                  suffix=None, olo=None, window=0, persist=None, tma=None):
        """olo (a tensor like q, or self.o_residual set): the "_lo" instance also writes O's rounding residual
        bf16(O - bf16(O)) there, for flash_bwd's Dv from O + olo (CudaBackend.flashForward's oLo).
        window W > 0 (causal; below T, as CudaBackend.flashForwardWindowed): the "_swa" instance, query t sees keys
        t - W < s <= t.
        persist: the persistent wgmma instances ("_wgmma4p", FwdWalk: grid (P, 1, B), P = SMs / B blocks per batch
        entry, each walking (query tile, head) items; causal, Hopper only); None: as CudaKernels.persistentForward
        picks them (causal up to 8192 tokens with K and V within 40 MB, or a window up to 2048; two items per SM).
        tma: the TMA-copy instances ("_wgmma4t": one producer thread copying with cp.async.bulk.tensor), Q, K and V
        passed as tensor maps too; None: as CudaBackend picks them (CudaKernels.tmaForward: D 128 always, D 64 when
        persistent or full; the persistent rule is then CudaKernels.persistentForward's wider TMA one)."""
        B, T, Hq, D = q.shape
        Hkv = k.shape[2]
        assert q.is_contiguous() and k.is_contiguous() and v.is_contiguous() and Hq % Hkv == 0 and D in (64, 128, 256)
        wgmma = mt is None and suffix is None and self.force_variant is None and D in (64, 128) and self.hopper
        if mt is None and self.force_variant is not None and D == 128:
            mt, bn = self.force_variant
        if mt is None:
            mt, bn = self.flash_variant(D)
        out = torch.empty_like(q) if out is None else out
        lse = torch.empty(B, Hq, T, device=q.device, dtype=torch.float32) if lse is None else lse
        name = f"flash_fwd_hd{D}" + ("_causal" if causal else "")
        if wgmma:  # the Hopper kernel, as CudaKernels.flashVariant picks it
            name, threads, smem = name + WGMMA_SUFFIX, WGMMA_THREADS, WGMMA_SMEM if D == 128 else WGMMA64_SMEM
        else:  # mt = 16-row MMA tiles per warp: 1 -> 8 warps, 2 -> 4 warps of 32 rows (the "_m2" layout)
            name, threads, smem = (name + (suffix or self.FLASH_VARIANTS[(mt, bn)]), FLASH_THREADS // mt,
                                   (FLASH_BM * D + 4 * bn * D) * 2)
        if olo is None and self.o_residual:
            olo = torch.empty_like(out)
            self.residuals[out.data_ptr()] = olo
        extra = () if olo is None else (olo,)
        swa = 0 < window < T
        assert not swa or causal, "a sliding window is causal"
        if swa:
            extra += (window,)
        grid = ((T + FLASH_BM - 1) // FLASH_BM, Hq, B)
        sms = torch.cuda.get_device_properties(q.device).multi_processor_count
        tma_ok = wgmma and tma is not False
        if persist is None:  # CudaKernels.persistentForward (with TMA: session 19's wider rule)
            fits = k.numel() * 4 <= 40 << 20
            if tma_ok and D == 64:
                short = True
            elif swa:
                short = window <= 2048
            elif tma_ok:
                short = T <= 16384 if fits else B == 1 and T <= 8192
            else:
                short = T <= 8192 and fits
            persist = wgmma and causal and B <= sms and B * Hq * grid[0] >= 2 * sms and short
        if tma is None:  # CudaKernels.tmaForward: D 128 always, D 64 when persistent or full
            tma = tma_ok and (D == 128 or persist or not causal)
        maps = ()
        if tma:
            assert wgmma, "the TMA instances are the Hopper wgmma kernels'"
            name += "t"
            maps = (TensorMap(q), TensorMap(k), TensorMap(v))
        if persist:
            assert wgmma and causal, "the persistent instances are the Hopper wgmma kernels', causal"
            name += "p"
            grid = (min(grid[0] * Hq, max(1, sms // B)), 1, B)
        self.launch(name + ("_lo" if olo is not None else "") + ("_swa" if swa else ""), grid, (threads, 1, 1),
                    smem, out, lse, q, k, v, T, Hq, Hkv, Hkv if v_shift_from is None else v_shift_from,
                    1.0 / math.sqrt(D), *extra, *maps)
        return out, lse

    # Backward: o, lse from flash_fwd; do [B,T,Hq,D] bf16 -> dq [B,T,Hq,D], dk, dv [B,T,Hkv,D] fp32.
    # 128-key K/V tiles x 8 warps over double-buffered 64-row query tiles (v2, run 19; v1 in kernels-dev); D = 128 on
    # the sm_90a image: the wgmma kernel (D = 64 too), as CudaKernels.backwardVariant picks it (mma=True forces mma.sync).
    def flash_bwd(self, q, k, v, o, lse, do, causal=True, mma=False, olo=None, deterministic=False, window=0, tma=None):
        """olo: O's rounding residual from flash_fwd (by default the one it kept for o under self.o_residual).
        tma: the TMA twins ("t": Q / dO / K / V copied by TMA; at D 128 a dQ writer thread's TMA reduce-adds replace the
        consumers' atomics), Q, K, V, dO and dQ passed as tensor maps too; None: as CudaBackend picks them (the plain
        wgmma backward at D 64 / 128: not deterministic, no window).
        deterministic: the "_det" wgmma kernels (D = 64 / 128 / 256 on the sm_90a image): fp32 adds in a fixed order.
        window: the sliding window of the forward (its "_swa" twin; D = 64 / 128)."""
        B, T, Hq, D = q.shape
        Hkv = k.shape[2]
        dq = torch.zeros(B, T, Hq, D, device=q.device, dtype=torch.float32)
        dk = torch.zeros(B, T, Hkv, D, device=q.device, dtype=torch.float32)
        dv = torch.zeros_like(dk)
        dvec = torch.empty(B, Hq, T, device=q.device, dtype=torch.float32)
        rows = B * T * Hq
        if olo is None and self.o_residual:
            olo = self.residuals.get(o.data_ptr())
        if olo is None:
            self.launch(f"flash_bwd_preprocess_hd{D}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq)
        else:
            self.launch(f"flash_bwd_preprocess_lo_hd{D}", (-(-rows // 8), 1, 1), (256, 1, 1), 0, dvec, o, do, B, T, Hq,
                        olo)
        name = f"flash_bwd_hd{D}" + ("_causal" if causal else "")
        threads = 256
        if self.hopper and D in BWD_WGMMA_SMEM and not mma:  # D = 256: 64-key blocks (flash_bwd_wgmma_hd256.cuh)
            name, threads, bkv, smem = name + BWD_WGMMA_SUFFIX, BWD_WGMMA_THREADS, 64 if D == 256 else 128, BWD_WGMMA_SMEM[D]
        elif D == 256:  # flash_bwd_wide_kernel<256, 256, C, 64, 2, 64, STAGE>: 64-key tiles, 8 warps
            bkv, smem = 64, wide_bwd_smem(256, 256, 64, 64, True)
        else:
            bkv, smem = 128, (2 * 128 * D + 4 * 64 * D + 128 * 64) * 2 + 4 * 64 * 4
        swa = 0 < window < T
        assert not swa or (causal and D in (64, 128)), "the sliding-window backward: causal, D 64 / 128"
        tail = ("_swa",) if swa else ("",)
        win = (window,) if swa else ()
        if deterministic:
            assert name.endswith(BWD_WGMMA_SUFFIX) or D in (64, 128), \
                "the deterministic backward: the wgmma kernels' (D 64 / 128 / 256), mma.sync's at D 64 / 128 (session 17)"
            # CudaKernels.deterministicSemaphores: dQ [B][Hq][ceil(T/64)][2], dK / dV [B][Hkv][ceil(T/bkv)][2]
            sem = torch.zeros(2 * B * (Hq * -(-T // 64) + Hkv * -(-T // bkv)), device=q.device, dtype=torch.int32)
            self.launch(name + "_det" + tail[0], (-(-T // bkv), Hq, B), (threads, 1, 1), smem,
                        dq, dk, dv, q, k, v, do, lse, dvec, T, Hq, Hkv, 1.0 / math.sqrt(D), sem, *win)
            return dq, dk, dv
        maps = ()
        if tma is None:
            tma = name.endswith(BWD_WGMMA_SUFFIX) and D in (64, 128) and not swa
        if tma:
            assert name.endswith(BWD_WGMMA_SUFFIX) and D in (64, 128) and not swa, "the TMA backward: wgmma, D 64 / 128"
            name += "t"
            maps = (TensorMap(q, rows=64), TensorMap(k), TensorMap(v), TensorMap(do, rows=64), TensorMap(dq, rows=64))
        self.launch(name + tail[0], (-(-T // bkv), Hq, B), (threads, 1, 1), smem,
                    dq, dk, dv, q, k, v, do, lse, dvec, T, Hq, Hkv, 1.0 / math.sqrt(D), *win, *maps)
        return dq, dk, dv

    @staticmethod
    def decode_splits(B, Hkv, L, D, sms=132, per_sm=1, warps=DECODE_WARPS, cluster=DECODE_CLUSTER):
        # CudaBackend.decodeSplit's v3 rule: about per_sm blocks per SM over B x Hkv x S blocks, chunks a whole
        # number of tiles (1024 * warps / D keys), at most DECODE_MAX_SPLITS splits, S rounded up to a multiple
        # of the cluster (trailing splits may be empty).
        tk = 1024 * warps // D
        n = max(1, min(math.ceil(per_sm * sms / (B * Hkv)), -(-L // tk), DECODE_MAX_SPLITS))  # per_sm may be < 1
        chunk = -(-L // n)
        chunk = -(-chunk // tk) * tk
        return -(-(-(-L // chunk)) // cluster) * cluster, chunk

    @staticmethod
    def decode_smem(D, G, warps, stages):
        # decode.cuh's dec::smem_bytes (CudaKernels.decodeSmem)
        return max(stages * (1024 * warps // D) * D * 4, ((warps + 1) * (D + 2) + 16 + 2) * G * 4,
                   (2 * G * DECODE_MAX_SPLITS + G) * 4 + 16 + warps * 32 * 16)

    def decode_counters(self, n, spin=False):
        # zeroed once; the last-block merge leaves them zero after every launch; SPIN (2 per group: one 64-bit
        # arrival counter that keeps counting, group_arrive_share) has its own buffer (CudaBackend.DecodeCounters)
        key = "_spin_counters" if spin else "_counters"
        if getattr(self, key, None) is None or getattr(self, key).numel() < n:
            setattr(self, key, torch.zeros(max(n, 4096), dtype=torch.int32, device="cuda"))
        return getattr(self, key)

    def decode_spin_fits(self, name, smem, threads, blocks, sms=132):
        # CudaBackend.decodeSpinFits: the whole grid co-resident (occupancy x SMs)
        n = ctypes.c_int()
        _check(_cuda.cuOccupancyMaxActiveBlocksPerMultiprocessor(ctypes.byref(n), self.fn(name, smem), threads, smem),
               "cuOccupancyMaxActiveBlocksPerMultiprocessor")
        return n.value * sms >= blocks

    # q [B,Hq,D]; kc/vc [B,Tmax,Hkv,D]; first L positions valid -> o [B,Hq,D]. As CudaBackend.decode: v3 (one
    # launch) where B x Hkv < DECODE_V3_BELOW, else v2. `variant` = (warps, stages, cluster) runs a decode lab
    # instance decode_hd<D>_g<G>_w<W>_s<S>[_c<CL>] (kernels-dev/decode_lab.cu); `splits` forces a split count (v3).
    def decode(self, q, kc, vc, L, per_sm=1, variant=None, splits=None, o=None, v3=None):
        B, Hq, D = q.shape
        Tmax, Hkv = kc.shape[1], kc.shape[2]
        G = Hq // Hkv
        if not v3 and variant is None and splits is None and B * Hkv >= DECODE_V3_BELOW:
            return self.decode_v2(q, kc, vc, L, o=o)
        warps, stages, cl = variant or (DECODE_WARPS, DECODE_STAGES, DECODE_CLUSTER)
        n, chunk = self.decode_splits(B, Hkv, L, D, per_sm=per_sm, warps=warps, cluster=cl)
        if splits is not None:  # a forced split count (checks of the combine)
            tk = 1024 * warps // D
            chunk = -(-(-(-L // splits)) // tk) * tk
            n = -(-(-(-L // chunk)) // cl) * cl
        o = torch.empty(B, Hq, D, device=q.device, dtype=torch.bfloat16) if o is None else o
        parts = n // cl
        po = torch.empty(B, Hq, parts, D, device=q.device, dtype=torch.float32) if parts > 1 else None
        pml = torch.empty(B, Hq, parts, 2, device=q.device, dtype=torch.float32) if parts > 1 else None
        name = f"decode_hd{D}_g{G}" + (f"_w{warps}_s{stages}" + (f"_c{cl}" if cl > 1 else "") if variant else "")
        smem = self.decode_smem(D, G, warps, stages)
        # As CudaBackend.decode (merge AUTO): the SPIN instance where the grid is co-resident
        spin = variant is None and splits is None and parts > 1 and self.decode_spin_fits(name + "_spin", smem,
                                                                                         32 * warps, n * Hkv * B)
        self.launch(name + ("_spin" if spin else ""), (n, Hkv, B), (32 * warps, 1, 1), smem, o, po, pml,
                    self.decode_counters((2 if spin else 1) * B * Hkv, spin) if parts > 1 else None, q, kc, vc, L, Tmax,
                    Hkv, chunk, 1.0 / math.sqrt(D))
        return o

    # decode v2 (two launches): CudaBackend.decodeSplit's v2 rule
    def decode_v2(self, q, kc, vc, L, o=None):
        B, Hq, D = q.shape
        Tmax, Hkv = kc.shape[1], kc.shape[2]
        G = Hq // Hkv
        n = max(1, min(-(-(8 if G >= 4 else 4) * 132 // (B * Hkv)), -(-L // 256)))
        chunk = -(-(-(-L // n)) // 64) * 64
        n = -(-L // chunk)
        po = torch.empty(B, Hq, n, D, device=q.device, dtype=torch.float32)
        pml = torch.empty(B, Hq, n, 2, device=q.device, dtype=torch.float32)
        self.launch(f"decode_splitkv_hd{D}_g{G}", (n, Hkv, B), (128, 1, 1), 0,
                    po, pml, q, kc, vc, L, Tmax, Hkv, chunk, 1.0 / math.sqrt(D))
        o = torch.empty(B, Hq, D, device=q.device, dtype=torch.bfloat16) if o is None else o
        self.launch(f"decode_combine_hd{D}", (Hq, B, 1), (D, 1, 1), 0, o, po, pml, Hq, n)
        return o

    # z [B,T,(Hq+Hkv)*D] bf16 -> qh [B,T,Hq,D], kh [B,T,Hkv,D]. w1t is repack_w1(W1).
    def cca_prologue(self, z, w0, b0, w1t, b1, theta, Hq, Hkv, D, rotary, rope_base, temp_mode, eps, qk_mean=True,
                     out=None, impl="auto"):
        """impl: "auto" (the tensor-core kernel at the block height CudaKernels.ccaTokensPerBlock picks), "tc" (64
        tokens per block), "tc32" (32: the "_t32" instance for short T), "fma" (v1)."""
        B, T, C = z.shape
        k0, k1 = w0.shape[1], w1t.shape[1]
        P = k0 - 1 + k1 - 1
        if out is None:
            out = (torch.empty(B, T, Hq, D, device=z.device, dtype=torch.bfloat16),
                   torch.empty(B, T, Hkv, D, device=z.device, dtype=torch.bfloat16))
        if impl == "auto":
            sms = torch.cuda.get_device_properties(z.device).multi_processor_count
            impl = "tc32" if -(-T // CCA_TT) * (Hq + Hkv) * B < 2 * sms else "tc"
        if impl in ("tc", "tc32"):  # v2: TF32 tensor cores, 64 (or 32) tokens per block
            tt = CCA_TT if impl == "tc" else CCA_TT_SHORT
            smem = (tt + P) * D * 2 + ((tt + k1 - 1) * (D + 4) + 32 * (D + 8) + tt + D) * 4
            name, threads = f"cca_prologue_hd{D}" + ("_t32" if impl == "tc32" else ""), CCA_THREADS
        else:  # v1: FP32 FMAs, 32 tokens per block, one thread per channel
            smem = ((32 + P) * D + (32 + k1 - 1) * D + 32) * 4
            name, tt, threads = f"cca_prologue_fma_hd{D}", 32, D
        self.launch(name, ((T + tt - 1) // tt, Hq + Hkv, B), (threads, 1, 1), smem,
                    out[0], out[1], z, w0, b0, w1t, b1, theta, T, Hq, Hkv, k0, k1, rotary, float(rope_base),
                    temp_mode, float(eps), 1 if qk_mean else 0)
        return out

    # One CCA/CCGQA decode token (cca_decode_step_hd{D}): z_t [B,C] bf16; window [B,P,C] bf16 and v_state [B,Dk/2]
    # bf16 updated in place; q [B,Hq,D] out; k_cache/v_cache [B,Tmax,Hkv,D] row pos written (v = [vc ; old state]).
    def cca_decode_step(self, z_t, window, v_state, vc, vd_new, q, k_cache, v_cache, pos, w0, b0, w1t, b1, theta,
                        Hq, Hkv, D, rotary, rope_base, temp_mode, eps, qk_mean=True):
        B, Tmax = k_cache.shape[0], k_cache.shape[1]
        k0, k1 = w0.shape[1], w1t.shape[1]
        self.launch(f"cca_decode_step_hd{D}", (Hq + Hkv, B, 1), (D, 1, 1), 0, q, k_cache, v_cache, window, v_state,
                    z_t, vc, vd_new, w0, b0, w1t, b1, theta, pos, Tmax, Hq, Hkv, k0, k1, rotary, float(rope_base),
                    temp_mode, float(eps), 1 if qk_mean else 0)

    # Backward of cca_prologue (v1: four small FP32 kernels + the grouped stage-2 conv's GEMMs through torch.bmm).
    # dqh [B,T,Hq,D], dkh [B,T,Hkv,D] fp32 (flash_bwd's dq, dk) -> dz [B,T,C] bf16 and the parameter gradients
    # in PyTorch's layouts: w0 [C,k0], b0 [C], W1 [C,D,k1], b1 [C], theta [Hkv] (fp32).
    def cca_prologue_bwd(self, z, w0, b0, w1t, b1, theta, Hq, Hkv, D, rotary, rope_base, temp_mode, eps, dqh, dkh,
                         qk_mean=True):
        B, T, C = z.shape
        k0, k1 = w0.shape[1], w1t.shape[1]
        NG, U, P, BT = Hq + Hkv, T + k1 - 1, k0 - 1 + k1 - 1, B * T
        f32 = torch.float32
        u = torch.empty(B, U, C, device=z.device, dtype=f32)
        self.launch("cca_bwd_conv0", (min(8192, -(-B * U * C // 256)), 1, 1), (256, 1, 1), 0, u, z, w0, b0, B, T, C,
                    k0, k1)
        ug = u.view(B, U, NG, D)
        # tap j's input rows u[t + j] for every output token t, per conv group: [NG, B*T, D_in]
        uj = [ug[:, j:j + T].permute(2, 0, 1, 3).reshape(NG, BT, D) for j in range(k1)]
        s = torch.baddbmm(b1.view(NG, 1, D), uj[0], w1t[:, 0])
        for j in range(1, k1):
            s.baddbmm_(uj[j], w1t[:, j])
        dS = torch.empty(NG, BT, D, device=z.device, dtype=f32)
        dZd = torch.empty(B, T, C, device=z.device, dtype=f32)
        dThetaRows = torch.empty(BT, Hkv, device=z.device, dtype=f32)  # one row per token (session 12: no atomics)
        self.launch(f"cca_bwd_head_hd{D}", (T, Hkv, B), (D, 1, 1), 0, dS, dZd, dThetaRows, s, z, dqh, dkh, theta, T,
                    Hq, Hkv, rotary, float(rope_base), temp_mode, float(eps), 1 if qk_mean else 0)
        dTheta = dThetaRows.sum(0)
        db1 = dS.sum(1).reshape(C)
        # dW1 = u^T dS reduces over B*T with a [D, D] result per group: split the reduction into chunks (split-K)
        # so that the GEMM has more than NG output tiles to spread over the SMs (run 18: 151 us -> see perf log).
        n = 16 if BT % 16 == 0 and BT >= 4096 else 1

        def tn(a):
            return torch.bmm(a.reshape(NG * n, BT // n, D).transpose(1, 2), dS.view(NG * n, BT // n, D)) \
                .view(NG, n, D, D).sum(1)
        dw1t = torch.stack([tn(uj[j]) for j in range(k1)], 1)  # [NG, k1, Din, Dout]
        du = torch.zeros(B, U, NG, D, device=z.device, dtype=f32)
        for j in range(k1):
            du[:, j:j + T] += torch.bmm(dS, w1t[:, j].transpose(1, 2)).view(NG, B, T, D).permute(1, 2, 0, 3)
        du = du.view(B, U, C)
        dz = torch.empty(B, T, C, device=z.device, dtype=torch.bfloat16)
        self.launch("cca_bwd_dz", (min(8192, -(-B * T * C // 256)), 1, 1), (256, 1, 1), 0, dz, dZd, du, w0, B, T, C,
                    k0, k1)
        zp = torch.nn.functional.pad(z.float(), (0, 0, P, 0))  # [B, T + P, C]: the forward's one causal padding
        dw0 = torch.stack([(du * zp[:, j:j + U]).sum((0, 1)) for j in range(k0)], 1)
        grads = {"w0": dw0, "b0": du.sum((0, 1)), "W1": dw1t.permute(0, 3, 2, 1).reshape(C, D, k1), "b1": db1,
                 "theta": dTheta}
        return dz, grads

    # Value shift backward: dv [B,T,Hkv,D] fp32 (gradient of the shifted values) -> dy [B,T,Hkv*D] bf16.
    def value_shift_bwd(self, dv):
        B, T = dv.shape[0], dv.shape[1]
        Dk = dv.numel() // (B * T)
        dy = torch.empty(B, T, Dk, device=dv.device, dtype=torch.bfloat16)
        self.launch("value_shift_bwd", (min(4096, -(-B * T * Dk // 256)), 1, 1), (256, 1, 1), 0, dy, dv, B, T, Dk)
        return dy

    def value_shift(self, y):
        B, T, Dk = y.shape
        v = torch.empty_like(y)
        self.launch("value_shift_kernel", (min(4096, -(-B * T * Dk // 256)), 1, 1), (256, 1, 1), 0, v, y, B, T, Dk)
        return v


def lab_start(description):
    """The kernel labs' command line (--fatbin, the lab's fatbin, required; --out, the folder for its JSON) and their
    Kernels on it: (args, kernels)."""
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--fatbin", required=True)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    return a, Kernels(a.fatbin)


def repack_w1(W1, n_groups, D):
    """PyTorch grouped Conv1d weight [C, D, k1] -> [groups, k1, D_in, D_out] fp32 (what the kernel reads)."""
    k1 = W1.shape[2]
    return W1.float().view(n_groups, D, D, k1).permute(0, 3, 2, 1).contiguous()
