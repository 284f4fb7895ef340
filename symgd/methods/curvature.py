"""The saddle check of a finished run: the most negative curvature of the Hessian at x
on the free variables (symgd.finish, the multistart loop). Compiled for the symbolic
bundle here and for fits in symgd.methods.fit_loops, from the same source."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernel_types import VEC
from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.methods.linalg import cholesky_shifted

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@njit(types.float64(SYMBOLIC_BUNDLE, VEC, VEC, VEC, VEC), **_JIT)
def negative_curvature(K, x, g, lower, upper):
    """The most negative curvature found at x on the free variables, or 0.

    Tests whether H + eps I is positive semidefinite on the components not held by a
    bound, with eps = 1e-8 max(1, max |H_ii|), by trying Cholesky factorisations of
    H + (eps + s) I for s = 0, and then a doubling s to bracket how negative the
    smallest eigenvalue is. Returns -s (< 0: a saddle) or 0.0.
    """
    n = x.size
    H = np.empty((n, n))
    ev.hess(K, x, H)
    free = np.zeros(n, dtype=np.bool_)
    m = 0
    for i in range(n):
        if (lower[i] < x[i] < upper[i]) or g[i] == 0.0:
            free[i] = True
            m += 1
    if m == 0:
        return 0.0
    A = np.empty((m, m))
    ii = 0
    scale = 1.0
    for i in range(n):
        if not free[i]:
            continue
        jj = 0
        for j in range(n):
            if free[j]:
                A[ii, jj] = H[i, j]
                jj += 1
        if not math.isfinite(H[i, i]):
            return 0.0
        scale = max(scale, abs(H[i, i]))
        ii += 1
    L = np.empty((m, m))
    eps = 1e-8 * scale
    if cholesky_shifted(A, eps, L):
        return 0.0
    s = eps
    for _ in range(200):
        s *= 2.0
        if cholesky_shifted(A, s, L):
            return -s
    return -s
