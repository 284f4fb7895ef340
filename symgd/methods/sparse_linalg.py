"""Sparse Cholesky with a fixed pattern, for Newton on a Hessian no band fits.

The pattern, its fill-reducing order and the packed structure arrays come from
symgd.kernelgen.sparse_pattern (computed once per problem); the Hessian kernel
``hess_sparse`` writes A's lower triangle straight into L's slots (zeros at fill).

Left-looking column Cholesky (George & Liu, Computer Solution of Large Sparse Positive
Definite Systems, 1981, §5.5; Davis, Direct Methods for Sparse Linear Systems, 2006,
§4.8): column j of L is A's column j minus, for every k < j with L[j, k] != 0, the
tail L[j:, k] times L[j, k]. Every row such an update touches lies in column j's
pattern (the pattern is closed under elimination), so a dense work vector scattered
from A's column needs no clearing between columns. Cost: sum over columns of their
entry count squared.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from symgd.methods.linalg import shift_start

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@njit(**_JIT)
def structure(W, first_row, n, nnz):
    """(colptr, rowidx, rowptr, rowcol, rowslot) unpacked from the float rows of W
    from ``first_row`` on (sparse_pattern.SparsePattern.packed); empty arrays where
    nnz < 0 (not a sparse solve)."""
    if nnz < 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, e, e, e
    flat = W[first_row:].ravel()
    m = nnz - n
    sizes = (n + 1, nnz, n + 1, m, m)
    out = []
    at = 0
    for size in sizes:
        a = np.empty(size, dtype=np.int64)
        for k in range(size):
            a[k] = int(flat[at + k])
        at += size
        out.append(a)
    return out[0], out[1], out[2], out[3], out[4]


@njit(**_JIT)
def sparse_cholesky(A, tau, L, colptr, rowidx, rowptr, rowcol, rowslot, w):
    """L L^T = A + tau I, A and L in the pattern's slots; w: a work vector of n.
    Returns False where A + tau I is not positive definite."""
    n = colptr.size - 1
    for j in range(n):
        for q in range(colptr[j], colptr[j + 1]):
            w[rowidx[q]] = A[q]
        w[j] += tau
        for e in range(rowptr[j], rowptr[j + 1]):      # columns k < j with L[j, k] != 0
            k, p = rowcol[e], rowslot[e]
            ljk = L[p]
            for q in range(p, colptr[k + 1]):
                w[rowidx[q]] -= L[q] * ljk
        d = w[j]
        if not (d > 0.0) or not math.isfinite(d):
            return False
        ljj = math.sqrt(d)
        L[colptr[j]] = ljj
        for q in range(colptr[j] + 1, colptr[j + 1]):
            L[q] = w[rowidx[q]] / ljj
    return True


@njit(**_JIT)
def sparse_solve(L, colptr, rowidx, r, out):
    """Solve L L^T out = r (in the pattern's order)."""
    n = colptr.size - 1
    for i in range(n):
        out[i] = r[i]
    for j in range(n):                  # L y = r, by columns
        yj = out[j] / L[colptr[j]]
        out[j] = yj
        for q in range(colptr[j] + 1, colptr[j + 1]):
            out[rowidx[q]] -= L[q] * yj
    for j in range(n - 1, -1, -1):      # L^T x = y
        s = out[j]
        for q in range(colptr[j] + 1, colptr[j + 1]):
            s -= L[q] * out[rowidx[q]]
        out[j] = s / L[colptr[j]]


@njit(**_JIT)
def modified_sparse_factor(A, L, colptr, rowidx, rowptr, rowcol, rowslot, w):
    """symgd.methods.linalg.modified_factor for the sparse pattern: the smallest
    tau = 0, beta, 2 beta, ... making A + tau I positive definite (Nocedal & Wright,
    Alg. 3.3); -1 where the diagonal is not finite."""
    n = colptr.size - 1
    diag = np.empty(n)
    for j in range(n):
        diag[j] = A[colptr[j]]
    tau, beta = shift_start(diag)
    if tau < 0.0:
        return -1.0
    for _ in range(200):
        if sparse_cholesky(A, tau, L, colptr, rowidx, rowptr, rowcol, rowslot, w):
            return tau
        tau = max(2.0 * tau, beta)
    return -1.0


@njit(**_JIT)
def decouple_sparse(A, i, colptr, rowptr, rowslot):
    """Row and column i (a position) set to the identity's: a variable held by a bound
    takes no part in the Newton system."""
    for q in range(colptr[i] + 1, colptr[i + 1]):
        A[q] = 0.0
    for e in range(rowptr[i], rowptr[i + 1]):
        A[rowslot[e]] = 0.0
    A[colptr[i]] = 1.0
