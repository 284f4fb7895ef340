"""A fit's least-squares pass on a CUDA device, callable from Python.

``DeviceFit(K)`` takes a CPU fit bundle (symgd.fit.kernels.FitKernels), generates the
CUDA kernel source from the same residual (symgd.cuda.codegen), loads it through the
kernel cache (symgd.kernelgen.cache.load_module, like every generated module), and
copies the data columns to the device once. Each
``lsq(theta, g, A)`` then moves only theta (p values) in and M = 1 + p + p(p+1)/2
values out:

    S = sum_i r_i**2,  g = Jᵀr,  A = JᵀJ      (sums over the n samples, as K.lsq)

The number of blocks depends on n and the threads per block only, so a pass is
bitwise reproducible for the same data and theta.
"""
from __future__ import annotations

import weakref

import numpy as np

from symgd.cuda import availability, codegen
from symgd.kernelgen import cache

# Threads per block on a GPU, and in numba's simulator (one Python thread each: small).
TPB_GPU = 128
TPB_SIM = 32
# At most this many blocks (each thread then loops over n / (blocks * TPB) samples).
MAX_BLOCKS_GPU = 2048
MAX_BLOCKS_SIM = 8

def n_blocks(n: int, tpb: int, max_blocks: int) -> int:
    """Blocks for n samples: one sample per thread up to ``max_blocks`` blocks."""
    return max(1, min(max_blocks, -(-n // tpb)))


class DeviceFit:
    """The least-squares pass of a fit with its data resident on the device."""

    def __init__(self, K, *, tpb: int | None = None, max_blocks: int | None = None):
        cuda = availability.check_cuda()
        from symgd.fit.derive import derive

        sim = availability.simulator_requested()
        self.tpb = tpb or (TPB_SIM if sim else TPB_GPU)
        self.p, self.n = K.p, K.n
        self.m = codegen.n_values(self.p)
        der = derive(K.spec, hessian=False)
        self.source = codegen.lsq_source(K.module_name, K.spec, der, tpb=self.tpb)
        mod = cache.load_module(self.source)
        self._lsq, self._sum = mod.k_lsq, mod.k_sum
        self.blocks = n_blocks(self.n, self.tpb, max_blocks or
                               (MAX_BLOCKS_SIM if sim else MAX_BLOCKS_GPU))
        self._cuda = cuda
        # the data cross the bus once, here
        self.data = cuda.to_device(np.ascontiguousarray(K.data.array, dtype=np.float64))
        self._theta = cuda.device_array(self.p, dtype=np.float64)
        self._part = cuda.device_array((self.blocks, self.m), dtype=np.float64)
        self._out = cuda.device_array(self.m, dtype=np.float64)
        self._iu = np.triu_indices(self.p)
        self.passes = 0

    def sums(self, theta) -> np.ndarray:
        """[S, Jᵀr, JᵀJ packed] at theta (M values; one pass over the data)."""
        self._theta.copy_to_device(np.ascontiguousarray(theta, dtype=np.float64))
        self._lsq[self.blocks, self.tpb](self._theta, self.data, self.n, self._part)
        threads = min(256, 32 * -(-self.m // 32))
        self._sum[-(-self.m // threads), threads](self._part, self.blocks, self._out)
        self.passes += 1
        return self._out.copy_to_host()

    def lsq(self, theta, g, A) -> float:
        """S = sum r_i**2, Jᵀr (into g) and JᵀJ (into A, p x p); as FitKernels.lsq."""
        out = self.sums(theta)
        p = self.p
        g[:] = out[1:p + 1]
        packed = out[p + 1:]
        A[self._iu] = packed
        A[(self._iu[1], self._iu[0])] = packed
        return float(out[0])


_LAST: list = []  # [(weakref to the FitKernels, its DeviceFit)]: one fit kept on device


def device_fit(K) -> DeviceFit:
    """The DeviceFit of K, made once and reused while K is the last fit asked for (its
    data stay on the device between solves of the same problem)."""
    if _LAST:
        ref, dev = _LAST[0]
        if ref() is K:
            return dev
    dev = DeviceFit(K)
    _LAST[:] = [(weakref.ref(K), dev)]
    return dev
