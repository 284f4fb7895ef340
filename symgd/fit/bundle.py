"""A data fit as a kernel bundle for the compiled method loops.

The loops of symgd.methods.loops reach kernels only through symgd.kernelgen.evaluate's
``fun``, ``fg`` and ``hess``; this module implements them for a fit's bundle type,
:data:`FIT_BUNDLE`, so full-batch gd, linesearch and newton run over the data wholly
compiled (no Python between iterations). symgd.methods.fit_loops compiles the loops for
this type once and caches them.

The bundle is a tuple:
    addresses  (f, fg, fgh) chunk kernels (symgd.fit.abi); fgh is 0 unless the method
               uses the Hessian, in which case fg makes one fgh pass and keeps H for
               the ``hess`` call that follows at the same point (Newton asks for H at
               every point where it asked for g)
    data       the (n_columns, n) samples (symgd.io.data.Dataset.array)
    sizes      (n, p, chunks for f, for fg, for fgh): chunks depend on n and the
               output size only (symgd.fit.parallel), so sums are reproducible
    scale      1/n for mean losses, 1 for sums: F = scale * sum_i l_i
    work       scratch for the partial sums (p + p(p+1)/2)
    H          the Hessian of the last fgh pass
    x_of_H     the point of that pass, and a last slot 1.0 once it is valid
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from symgd.kernelgen import evaluate
from symgd.fit import parallel

MAT = types.float64[:, ::1]
FIT_BUNDLE = types.Tuple((types.UniTuple(types.int64, 3), parallel.DATA,
                          types.UniTuple(types.int64, 5), types.float64, parallel.VEC, MAT,
                          parallel.VEC))


def make_bundle(K, *, with_hessian: bool) -> tuple:
    """The FIT_BUNDLE tuple of a symgd.fit.kernels.FitKernels (kinds f, fg; fgh if
    ``with_hessian``)."""
    p, n = K.p, K.n
    m = p + p * (p + 1) // 2
    fgh = K.addresses["fgh"] if with_hessian else 0
    sizes = (n, p, parallel.n_chunks(n, 0), parallel.n_chunks(n, p),
             parallel.n_chunks(n, m))
    return ((K.addresses["f"], K.addresses["fg"], fgh), K.data.array, sizes, float(K.scale),
            np.zeros(m), np.zeros((p, p)), np.zeros(p + 1))


def _is_fit(K) -> bool:
    return isinstance(K, types.Tuple) and len(K) == 7 and isinstance(K[1], types.Array)


@njit(cache=True, nogil=True)
def _sum(addr, x, data, n, chunks, out):
    if chunks == 1:
        return parallel.reduce_serial(addr, x, data, n, out)
    return parallel.reduce_chunks(addr, x, data, n, chunks, out)


@njit(cache=True, nogil=True)
def _fgh(K, x, g):
    addresses, data, sizes, scale, work, H, xh = K
    n, p = sizes[0], sizes[1]
    out = work[:p + p * (p + 1) // 2]
    f = _sum(addresses[2], x, data, n, sizes[4], out)
    for j in range(p):
        g[j] = scale * out[j]
    k = p
    for a in range(p):  # the packed upper triangle, row by row (symgd.fit.codegen)
        for b in range(a, p):
            H[a, b] = scale * out[k]
            H[b, a] = scale * out[k]
            k += 1
    for j in range(p):
        xh[j] = x[j]
    xh[p] = 1.0
    return scale * f


@overload(evaluate.fun)
def _fun_fit(K, x):
    if not _is_fit(K):
        return None

    def impl(K, x):
        addresses, data, sizes, scale, work, H, xh = K
        return scale * _sum(addresses[0], x, data, sizes[0], sizes[2], work[:0])
    return impl


@overload(evaluate.fg)
def _fg_fit(K, x, g):
    if not _is_fit(K):
        return None

    def impl(K, x, g):
        addresses, data, sizes, scale, work, H, xh = K
        if addresses[2] != 0:
            return _fgh(K, x, g)
        p = sizes[1]
        f = _sum(addresses[1], x, data, sizes[0], sizes[3], work[:p])
        for j in range(p):
            g[j] = scale * work[j]
        return scale * f
    return impl


@overload(evaluate.hess)
def _hess_fit(K, x, H):
    if not _is_fit(K):
        return None

    def impl(K, x, H):
        addresses, data, sizes, scale, work, Hc, xh = K
        p = sizes[1]
        same = xh[p] == 1.0
        for j in range(p):
            if xh[j] != x[j]:
                same = False
        if not same:
            _fgh(K, x, np.empty(p))
        for a in range(p):
            for b in range(p):
                H[a, b] = Hc[a, b]
        return 0.0
    return impl
