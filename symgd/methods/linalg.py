"""Small dense and banded linear algebra for the compiled loops (no LAPACK: compiling
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
def shift_start(diag):
    """(tau_0, beta) of Nocedal & Wright's Alg. 3.3 from A's diagonal: beta = 1e-3
    max(1, max |A_ii|) and tau_0 = 0 where min A_ii > 0, else beta - min A_ii;
    (-1, 0) where a diagonal entry is not finite."""
    min_diag = math.inf
    scale = 1.0
    for a in diag:
        if not math.isfinite(a):
            return -1.0, 0.0
        min_diag = min(min_diag, a)
        scale = max(scale, abs(a))
    beta = 1e-3 * scale
    return (0.0 if min_diag > 0.0 else beta - min_diag), beta


@njit(**_JIT)
def modified_factor(A, L, banded):
    """Factor A + tau I with the smallest tau = 0, beta, 2 beta, ... that is positive
    definite: A dense (cholesky_shifted) or, ``banded``, its lower band
    (band_cholesky). Nocedal & Wright, Numerical Optimization (2nd ed.), Alg. 3.3
    (Cholesky with added multiple of the identity), with beta = 1e-3 max(1, max |A_ii|).
    Returns tau, or -1 when the diagonal holds non-finite entries."""
    tau, beta = shift_start(A[:, 0] if banded else np.diag(A))
    if tau < 0.0:
        return -1.0
    for _ in range(200):
        if band_cholesky(A, tau, L) if banded else cholesky_shifted(A, tau, L):
            return tau
        tau = max(2.0 * tau, beta)
    return -1.0


@njit(**_JIT)
def modified_cholesky(A, L):
    """modified_factor of a dense A."""
    return modified_factor(A, L, False)


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


# -- the band of a symmetric matrix, packed by rows: B[i, k] = A[i, i - k], k = 0 .. b
# (symgd.kernelgen.loop_codegen's hess_band). Band Cholesky: Golub & Van Loan, Matrix
# Computations (4th ed.), Alg. 4.3.5; O(n b^2).

@njit(**_JIT)
def band_cholesky(B, tau, L):
    """L L^T = A + tau I for A given by its lower band B (n x (b+1)); L in the same
    storage. Returns False where A + tau I is not positive definite."""
    n, w = B.shape
    b = w - 1
    for i in range(n):
        lo = max(0, i - b)
        for j in range(lo, i + 1):
            s = B[i, i - j]
            if j == i:
                s += tau
            for m in range(max(lo, j - b), j):
                s -= L[i, i - m] * L[j, j - m]
            if j == i:
                if not (s > 0.0) or not math.isfinite(s):
                    return False
                L[i, 0] = math.sqrt(s)
            else:
                L[i, i - j] = s / L[j, 0]
    return True


@njit(**_JIT)
def band_solve(L, r, out):
    """Solve L L^T out = r with L's lower band (forward, then back substitution)."""
    n, w = L.shape
    b = w - 1
    for i in range(n):
        s = r[i]
        for m in range(max(0, i - b), i):
            s -= L[i, i - m] * out[m]
        out[i] = s / L[i, 0]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for m in range(i + 1, min(n, i + b + 1)):
            s -= L[m, m - i] * out[m]
        out[i] = s / L[i, 0]


@njit(**_JIT)
def decouple_band(B, i):
    """Row and column i of the band set to those of the identity (a variable held by
    a bound takes no part in the Newton system)."""
    n, w = B.shape
    for k in range(1, w):
        B[i, k] = 0.0
        if i + k < n:
            B[i + k, k] = 0.0
    B[i, 0] = 1.0
