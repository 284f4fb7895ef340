"""Newton on a banded Hessian: cost per iteration O(n b^2), not O(n^3).

A chained sum (chained Rosenbrock, discretised boundary-value problems) has a Hessian
with H_ij = 0 for |i - j| > b, b small. Its kernel (symgd.kernelgen.loop_codegen's
``hess_band``) writes only the lower band, packed by rows,

    B[i, k] = H_{i, i-k},   k = 0 .. b   (entries left of column 0 unused),

and the factorisation, the shift search and the solves below never touch anything
outside it. The loop is :func:`symgd.methods.loops.newton_loop` step for step (modified
Cholesky with tau = 0, beta, 2 beta, ...; unit step first; Armijo search; bounds by
fixing the held variables, Bertsekas 1982), on this storage. ipar[2] holds b. Where the
band is of a renumbered Hessian (symgd.kernelgen.band.ordering: reverse Cuthill-McKee),
ipar[3] = 1 and the row W[N_W] holds each variable's position: the Newton system is
solved in that order (the right-hand side permuted in, the step permuted out).

Band Cholesky: Golub & Van Loan, Matrix Computations (4th ed.), Alg. 4.3.5.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.methods import status as S
from symgd.methods.common import all_finite, armijo, has_bounds, moved, project
from symgd.methods.loops import (STATE, accept, check_stop, free_direction, search_failed,
                                 start, unpack)

_JIT = dict(cache=True, error_model="numpy", nogil=True)


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
def band_modified_cholesky(B, L):
    """tau >= 0 (0, beta, 2 beta, ... with beta = 1e-3 max(1, max |A_ii|)) making
    A + tau I positive definite, its factor in L; -1 for a non-finite diagonal
    (Nocedal & Wright, Alg. 3.3, as symgd.methods.linalg.modified_cholesky)."""
    n = B.shape[0]
    min_diag = math.inf
    scale = 1.0
    for i in range(n):
        a = B[i, 0]
        if not math.isfinite(a):
            return -1.0
        min_diag = min(min_diag, a)
        scale = max(scale, abs(a))
    beta = 1e-3 * scale
    tau = 0.0 if min_diag > 0.0 else beta - min_diag
    for _ in range(200):
        if band_cholesky(B, tau, L):
            return tau
        tau = max(2.0 * tau, beta)
    return -1.0


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
def decouple(B, i):
    """Row and column i of the band set to those of the identity (a variable held by
    a bound takes no part in the Newton system)."""
    n, w = B.shape
    for k in range(1, w):
        B[i, k] = 0.0
        if i + k < n:
            B[i + k, k] = 0.0
    B[i, 0] = 1.0


@njit(types.int64(SYMBOLIC_BUNDLE, *STATE), **_JIT)
def newton_band_loop(K, W, fs, js, T):
    """Damped Newton on a banded Hessian (K's Hessian slot is ``hess_band``).
    fpar = [tol, c1]; ipar = [max_iter, chunk, b, permuted]."""
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = unpack(W, fs, js)
    n = x.size
    c1 = fpar[1]
    max_iter, chunk, b, permuted = ipar[0], ipar[1], ipar[2], ipar[3]
    pos = np.arange(n)
    if permuted:
        for i in range(n):
            pos[i] = int(W[S.N_W, i])
    B = np.empty((n, b + 1))
    L = np.zeros((n, b + 1))
    d = np.empty(n)
    dp = np.empty(n)
    rhs = np.empty(n)
    rp = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    bounded = has_bounds(lower, upper)
    if istate[S.I_INIT] == 0 and not start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    for _ in range(chunk):
        st = check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        ev.hess(K, x, B)
        istate[S.I_NHEV] += 1
        if bounded:
            free_direction(x, g, lower, upper, rhs)
            for i in range(n):
                if rhs[i] == 0.0 and g[i] != 0.0:
                    decouple(B, pos[i])
        else:
            for i in range(n):
                rhs[i] = -g[i]
        tau = band_modified_cholesky(B, L)
        if tau < 0.0:  # non-finite Hessian: steepest descent
            for i in range(n):
                d[i] = rhs[i]
        else:
            for i in range(n):
                rp[pos[i]] = rhs[i]
            band_solve(L, rp, dp)
            for i in range(n):
                d[i] = dp[pos[i]]
        for i in range(n):
            xt[i] = x[i] + d[i]
        if bounded:
            project(xt, lower, upper)
        ft = ev.fg(K, xt, gt)
        istate[S.I_NFEV] += 1
        istate[S.I_NGEV] += 1
        slope = 0.0
        slope_t = 0.0
        for i in range(n):
            slope += g[i] * (xt[i] - x[i])
            slope_t += gt[i] * (xt[i] - x[i])
        # as newton_loop: a shifted Hessian's unit step still falling steeply goes to
        # the search, which may grow it; otherwise a sufficient unit step is taken
        sufficient = math.isfinite(ft) and all_finite(gt) and \
            ft <= fstate[S.F_F] + c1 * slope
        if sufficient and (tau == 0.0 or slope_t >= 0.9 * slope):
            fstate[S.F_STEP] = 1.0
            st = moved(x, g, xt, gt, ft, xbest, fstate, istate, T)
            if st != S.RUNNING:
                return st
            continue
        grow = sufficient
        a, ft, ne, nge, flag = armijo(K, x, fstate[S.F_F], g, d, lower, upper,
                                      2.0 if grow else 0.5, c1, xt, gt, 60, grow, bounded)
        istate[S.I_NFEV] += ne
        istate[S.I_NGEV] += nge
        st = search_failed(flag, K, x, g, xt, xbest, fstate, istate, T)
        if st != S.RUNNING:
            return st
        fstate[S.F_STEP] = a
        st = accept(K, x, g, xt, xbest, fstate, istate, T, True)
        if st != S.RUNNING:
            return st
    return S.RUNNING
