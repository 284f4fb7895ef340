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

# Threads per block on a GPU, and in numba's simulator (one Python thread each, ~1 ms
# to start and join: small, yet several blocks, so that the tests cover the strides).
TPB_GPU = 128
TPB_SIM = 8
# At most this many blocks (each thread then loops over n / (blocks * TPB) samples).
MAX_BLOCKS_GPU = 2048
MAX_BLOCKS_SIM = 4


def n_blocks(n: int, tpb: int, max_blocks: int) -> int:
    """Blocks for n samples: one sample per thread up to ``max_blocks`` blocks."""
    return max(1, min(max_blocks, -(-n // tpb)))


def launch_sizes(tpb: int | None = None, max_blocks: int | None = None) -> tuple:
    """(threads per block, most blocks) for this device: a GPU's, or the simulator's."""
    sim = availability.simulator_requested()
    return (tpb or (TPB_SIM if sim else TPB_GPU),
            max_blocks or (MAX_BLOCKS_SIM if sim else MAX_BLOCKS_GPU))


def sum_launch(m: int) -> tuple:
    """(blocks, threads) for k_sum over m quantities. Each quantity is one thread's
    sum in block order, so the launch shape never changes the result; the simulator
    gets one thread (each costs a Python thread there)."""
    if availability.simulator_requested():
        return 1, 1
    threads = min(256, 32 * -(-m // 32))
    return -(-m // threads), threads


_DATA: list = []  # [(weakref to the FitKernels, its data on the device)]


def device_data(K):
    """K's (columns, n) data on the device: copied once, shared by the passes of every
    method while K is the last fit asked for."""
    if _DATA:
        ref, arr = _DATA[0]
        if ref() is K:
            return arr
    cuda = availability.check_cuda()
    arr = cuda.to_device(np.ascontiguousarray(K.data.array, dtype=np.float64))
    _DATA[:] = [(weakref.ref(K), arr)]
    return arr


class DeviceFit:
    """The least-squares pass of a fit with its data resident on the device."""

    def __init__(self, K, *, tpb: int | None = None, max_blocks: int | None = None):
        cuda = availability.check_cuda()
        from symgd.fit.derive import derive

        self.tpb, most = launch_sizes(tpb, max_blocks)
        self.p, self.n = K.p, K.n
        self.m = codegen.n_values(self.p)
        der = derive(K.spec, hessian=False)
        self.source = codegen.lsq_source(K.module_name, K.spec, der, tpb=self.tpb)
        mod = cache.load_module(self.source)
        self._lsq, self._sum = mod.k_lsq, mod.k_sum
        self.blocks = n_blocks(self.n, self.tpb, most)
        self._cuda = cuda
        self.data = device_data(K)  # the data cross the bus once per fit
        self._theta = cuda.device_array(self.p, dtype=np.float64)
        self._part = cuda.device_array((self.blocks, self.m), dtype=np.float64)
        self._out = cuda.device_array(self.m, dtype=np.float64)
        self._iu = np.triu_indices(self.p)
        self.passes = 0

    def sums(self, theta) -> np.ndarray:
        """[S, Jᵀr, JᵀJ packed] at theta (M values; one pass over the data)."""
        self._theta.copy_to_device(np.ascontiguousarray(theta, dtype=np.float64))
        self._lsq[self.blocks, self.tpb](self._theta, self.data, self.n, self._part)
        self._sum[sum_launch(self.m)](self._part, self.blocks, self._out)
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
