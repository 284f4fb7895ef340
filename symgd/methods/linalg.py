"""Small dense linear algebra for the compiled loops (no LAPACK: compiling
``np.linalg.solve`` in numba costs ~4 s, a hand-written Cholesky under 1 s)."""
from __future__ import annotations

import math

import numpy as np

from numba import njit

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@njit(**_JIT)
def cholesky_shifted(A, tau, L):
    """Cholesky factor of A + tau I into L (lower). Returns False if not positive definite.

    Works on the envelope of A: row i of L is zero left of the first nonzero of row i
    of A (the factor fills nothing outside A's profile), so a banded Hessian (a chained
    sum: n = 200 chained Rosenbrock) factors in O(n b^2) instead of O(n^3)."""
    n = A.shape[0]
    first = np.empty(n, dtype=np.int64)
    for i in range(n):
        f = i
        for j in range(i):
            if A[i, j] != 0.0:
                f = j
                break
        first[i] = f
    for j in range(n):
        fj = first[j]
        for k in range(fj):
            L[j, k] = 0.0
        s = A[j, j] + tau
        for k in range(fj, j):
            s -= L[j, k] * L[j, k]
        if not (s > 0.0) or not math.isfinite(s):
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, n):
            fi = first[i]
            if j < fi:
                L[i, j] = 0.0
                continue
            s = A[i, j]
            for k in range(max(fi, fj), j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    return True


@njit(**_JIT)
def modified_cholesky(A, L):
    """Factor A + tau I with the smallest tau = 0, beta, 2 beta, ... that is positive definite.

    Nocedal & Wright, Numerical Optimization (2nd ed.), Alg. 3.3 (Cholesky with added
    multiple of the identity), with beta = 1e-3 max(1, max |A_ii|). Returns tau, or -1
    when A holds non-finite entries.
    """
    n = A.shape[0]
    min_diag = math.inf
    scale = 1.0
    for i in range(n):
        a = A[i, i]
        if not math.isfinite(a):
            return -1.0
        min_diag = min(min_diag, a)
        scale = max(scale, abs(a))
    beta = 1e-3 * scale
    tau = 0.0 if min_diag > 0.0 else beta - min_diag
    for _ in range(200):
        if cholesky_shifted(A, tau, L):
            return tau
        tau = max(2.0 * tau, beta)
    return -1.0


@njit(**_JIT)
def cholesky_solve(L, b, out):
    """Solve (L L^T) out = b by forward and back substitution."""
    n = b.size
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * out[k]
        out[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, n):
            s -= L[k, i] * out[k]
        out[i] = s / L[i, i]
