"""The compiled method loops: gradient descent, steepest descent with a line search,
and Newton. Each is compiled once for all problems of a kernel source (the kernels come
in a bundle, symgd.kernelgen.evaluate; methods/fit_loops.py compiles the same source for
data fits) and cached on disk.

Every loop has the same shape: it runs until it stops or ``ipar[1]`` (chunk) steps
have passed, then returns a status code (status.RUNNING to be called again), so the
Python driver can honour ``time_limit`` and Ctrl-C between chunks. All state that
must survive a return lives in the arrays passed in.

    K           the kernel bundle (symgd.kernelgen.evaluate): its numba type picks the
                kernel source, and each source gets its own compiled copy of a loop
    W           rows: x (current point), g (its gradient), lower, upper (bounds,
                -inf/+inf where free), xbest (best point seen), optimizer state
    T           the trace: one row per iteration (row 0 the start) with the columns
                status.T_* (f, gradient norm, step, learning rate); NaN where not
                recorded; a zero-row array records nothing
    fs, js      floats and integers: method parameters in the first N_PAR slots
                (fpar, ipar; see each loop), then state (fstate, istate; slots named
                in methods/status.py)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.kernel_types import MAT, VEC
from symgd.methods import status as S
from symgd.methods.common import (UNBOUNDED_F, all_finite, armijo, converged_test,
                                  copy_into, has_bounds, held_by_bound, moved, project, trace,
                                  trace_x, clear_trace, projected_grad_norm,
                                  relative_gradient, step_point, within_noise, wolfe)
from symgd.methods.optimizers import SGD as PLAIN_STEP
from symgd.methods.optimizers import update as optimizer_update
from symgd.methods.curvature import negative_curvature  # noqa: F401 (loops' public name)
from symgd.methods.linalg import (band_solve, cholesky_solve, decouple_band,
                                  modified_factor)
from symgd.methods.polyline import MAX_DEGREE, exact_step
from symgd.methods.sparse_linalg import (decouple_sparse, modified_sparse_factor,
                                         sparse_solve, structure)
from symgd.methods.schedules import PLATEAU, learning_rate

_JIT = dict(cache=True, error_model="numpy", nogil=True)
IVEC = types.int64[::1]
# W (rows x, g, lower, upper, xbest, optimizer state), floats, integers, trace
_STATE = (MAT, VEC, IVEC, MAT)


@njit(**_JIT)
def _unpack(W, fs, js):
    """Views of the packed arrays: three arguments cross from Python instead of nine
    (each array argument costs ~0.4 µs to unbox; a whole small solve costs ~3 µs)."""
    return (W[S.W_X], W[S.W_G], W[S.W_LO], W[S.W_HI], W[S.W_XBEST],
            fs[:S.N_PAR], js[:S.N_PAR], fs[S.N_PAR:], js[S.N_PAR:])


@njit(**_JIT)
def _start(K, x, g, xbest, fstate, istate, T):
    """First call: evaluate f and g at the start. Returns False (reason set) when
    either is not finite there."""
    f = ev.fg(K, x, g)
    istate[S.I_NFEV] += 1
    istate[S.I_NGEV] += 1
    fstate[S.F_F] = f
    fstate[S.F_F0] = f
    clear_trace(T)
    trace(T, 0, S.T_F, f)
    trace_x(T, 0, x)
    fstate[S.F_FBEST] = f
    fstate[S.F_LRSCALE] = 1.0
    copy_into(xbest, x)
    istate[S.I_INIT] = 1
    if not (math.isfinite(f) and all_finite(g)):
        istate[S.I_REASON] = S.R_NONFINITE
        return False
    return True


@njit(**_JIT)
def _accept(K, x, g, xt, xbest, fstate, istate, T, f_known=False):
    """Move to xt, evaluate there, keep the best point. Returns a status code.
    ``f_known``: the search already evaluated f at xt, so the objective count (distinct
    points, as the constrained methods count) is not raised; the gradient count is."""
    f_old = fstate[S.F_F]
    step = 0.0
    scale = 0.0
    for i in range(x.size):
        step = max(step, abs(xt[i] - x[i]))
        scale = max(scale, abs(x[i]))
        x[i] = xt[i]
    f = ev.fg(K, x, g)
    if not f_known:
        istate[S.I_NFEV] += 1
    istate[S.I_NGEV] += 1
    istate[S.I_ITER] += 1
    fstate[S.F_F] = f
    trace(T, istate[S.I_ITER], S.T_F, f)
    trace(T, istate[S.I_ITER], S.T_STEP, fstate[S.F_STEP])
    trace_x(T, istate[S.I_ITER], x)
    if f == -math.inf:  # overflowed while falling: no lower bound, not a blow-up
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    if not (math.isfinite(f) and all_finite(g)):
        istate[S.I_REASON] = S.R_NONFINITE
        return S.DIVERGED
    if f < fstate[S.F_FBEST]:
        fstate[S.F_FBEST] = f
        copy_into(xbest, x)
        istate[S.I_SINCE_BEST] = 0
    else:
        istate[S.I_SINCE_BEST] += 1
    if f < UNBOUNDED_F or scale > 1e150:
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    # Negligible progress three times running: stalled (never 'converged').
    if step <= 1e-15 * (1.0 + scale) and abs(f - f_old) <= 1e-15 * (1.0 + abs(f)):
        istate[S.I_NSMALL] += 1
        if istate[S.I_NSMALL] >= 3:
            istate[S.I_REASON] = S.R_SMALL_STEP
            return S.STALLED
    else:
        istate[S.I_NSMALL] = 0
    return S.RUNNING


@njit(**_JIT)
def _search_failed(flag, K, x, g, xt, xbest, fstate, istate, T):
    """The status after an Armijo search's flag (common.armijo): RUNNING to take the
    step; for flag 3 (expanded to the limit) the step is taken and f falls without
    bound; flags 1 and 2 end the run (non-finite values only, no decrease found)."""
    if flag == 3:
        _accept(K, x, g, xt, xbest, fstate, istate, T)
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    if flag != 0:
        istate[S.I_REASON] = S.R_LS_NONFINITE if flag == 1 else S.R_LS_NODECREASE
        return S.DIVERGED if flag == 1 else S.STALLED
    return S.RUNNING


@njit(**_JIT)
def _check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T):
    """The convergence test of SPEC §2 (tol = fpar[0]) and the iteration limit.

    A descent method never reports 'converged' at a point worse than its start (a
    fixed or momentum step can land in a higher basin): that is 'stalled'."""
    gnorm = projected_grad_norm(x, g, lower, upper)
    fstate[S.F_GNORM] = gnorm
    trace(T, istate[S.I_ITER], S.T_GNORM, gnorm)
    rel = relative_gradient(x, g, lower, upper, fstate[S.F_F], fpar[S.P_TYP_X],
                            fpar[S.P_TYP_F])
    fstate[S.F_RELG] = rel
    if converged_test(rel, fpar[0]):
        if fstate[S.F_F] > fstate[S.F_F0]:
            istate[S.I_REASON] = S.R_WORSE
            return S.STALLED
        istate[S.I_REASON] = S.R_GRAD
        return S.CONVERGED
    if istate[S.I_ITER] >= max_iter:
        istate[S.I_REASON] = S.R_MAXITER
        return S.MAX_ITER
    return S.RUNNING


@njit(**_JIT)
def _free_direction(x, g, lower, upper, d):
    """d = -g with components held by an active bound set to zero."""
    for i in range(x.size):
        if held_by_bound(x, g, lower, upper, i):
            d[i] = 0.0
        else:
            d[i] = -g[i]


@njit(**_JIT)
def _searched(flag, ne, nge, K, x, g, xt, xbest, fstate, istate, T):
    """After a line search: count its evaluations and return _search_failed's status."""
    istate[S.I_NFEV] += ne
    istate[S.I_NGEV] += nge
    return _search_failed(flag, K, x, g, xt, xbest, fstate, istate, T)


@njit(**_JIT)
def newton_step(K, x, g, d, tau, lower, upper, bounded, c1, xt, gt, xbest, fstate, istate,
                T):
    """Move along the Newton direction d (tau: the shift its factorisation needed).
    Returns a status code (RUNNING to go on).

    The unit step first, with its gradient: accepted (the usual case near a minimum) it
    costs one evaluation, where a search then a move cost two. Where the Hessian had to
    be shifted (tau > 0) the quadratic model says nothing about the step length, so a
    unit step along which f still falls about as steeply as at x (slope_t < 0.9 slope:
    the curvature condition of a Wolfe search fails) goes to the search, which may grow
    it (2, 4, ...; and sees a function falling without bound along d, flag 3); one that
    meets the curvature condition (a singular but positive semidefinite Hessian, the
    usual shifted case) is taken as it is. A unit step without enough decrease: the
    search backtracks from 1/2."""
    n = x.size
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
    sufficient = (math.isfinite(ft) and all_finite(gt) and ft <= fstate[S.F_F] + c1 * slope
                  or tau == 0.0 and within_noise(fstate[S.F_F], ft, g, gt))
    if sufficient and (tau == 0.0 or slope_t >= 0.9 * slope):
        fstate[S.F_STEP] = 1.0
        return moved(x, g, xt, gt, ft, xbest, fstate, istate, T)
    grow = sufficient
    a, ft, ne, nge, flag = armijo(K, x, fstate[S.F_F], g, d, lower, upper,
                                  2.0 if grow else 0.5, c1, xt, gt, 60, grow, bounded)
    st = _searched(flag, ne, nge, K, x, g, xt, xbest, fstate, istate, T)
    if st != S.RUNNING:
        return st
    fstate[S.F_STEP] = a
    return _accept(K, x, g, xt, xbest, fstate, istate, T, True)


@njit(types.int64(SYMBOLIC_BUNDLE, *_STATE), **_JIT)
def newton_loop(K, W, fs, js, T):
    """Damped Newton with a modified Cholesky factorisation.

    d solves (H + tau I) d = -g with the smallest tau making it positive definite
    (so d descends), then newton_step; with bounds the held components are fixed
    (projected Newton, Bertsekas 1982). Banded (ipar[2] = 1): K's Hessian slot writes
    the lower band of half-width b = ipar[3] (symgd.kernelgen.loop_codegen's hess_band)
    and the factorisation costs O(n b^2). Sparse (ipar[2] = 2): it writes the ipar[3]
    slots of a sparse Cholesky pattern (hess_sparse), whose structure is packed in the
    rows W[N_W + 1:] (symgd.methods.sparse_linalg). With ipar[4] = 1 the matrix is of
    the Hessian renumbered by the positions in row W[N_W] (symgd.kernelgen.band,
    sparse_pattern), and the system is solved in that order. fpar = [tol, c1];
    ipar = [max_iter, chunk, structure (0 dense, 1 band, 2 sparse), b or nnz,
    permuted].
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = _unpack(W, fs, js)
    n = x.size
    c1 = fpar[1]
    max_iter, chunk, banded, sparse = ipar[0], ipar[1], ipar[2] == 1, ipar[2] == 2
    pos = np.arange(n)
    if ipar[2] > 0 and ipar[4] == 1:
        for i in range(n):
            pos[i] = int(W[S.N_W, i])
    colptr, rowidx, rowptr, rowcol, rowslot = structure(W, S.N_W + 1, n,
                                                         ipar[3] if sparse else -1)
    H = np.empty((-(-ipar[3] // n), n) if sparse else (n, ipar[3] + 1 if banded else n))
    L = np.zeros(H.shape)
    Hs, Ls = H.ravel(), L.ravel()   # the sparse slots (views)
    d = np.empty(n)
    rhs = np.empty(n)
    rp = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    bounded = has_bounds(lower, upper)
    if istate[S.I_INIT] == 0 and not _start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    for _ in range(chunk):
        st = _check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        ev.hess(K, x, H)
        istate[S.I_NHEV] += 1
        if bounded:
            _free_direction(x, g, lower, upper, rhs)
            for i in range(n):
                if rhs[i] == 0.0 and g[i] != 0.0:  # held by a bound: decouple it
                    if banded:
                        decouple_band(H, pos[i])
                        continue
                    if sparse:
                        decouple_sparse(Hs, pos[i], colptr, rowptr, rowslot)
                        continue
                    for j in range(n):
                        H[i, j] = 0.0
                        H[j, i] = 0.0
                    H[i, i] = 1.0
        else:
            for i in range(n):
                rhs[i] = -g[i]
        if sparse:
            tau = modified_sparse_factor(Hs, Ls, colptr, rowidx, rowptr, rowcol, rowslot,
                                         gt)
        else:
            tau = modified_factor(H, L, banded)
        if tau < 0.0:  # non-finite Hessian: fall back to steepest descent
            for i in range(n):
                d[i] = rhs[i]
        elif banded or sparse:   # in the matrix's order: rhs in, the step out
            for i in range(n):
                rp[pos[i]] = rhs[i]
            if sparse:
                sparse_solve(Ls, colptr, rowidx, rp, xt)
            else:
                band_solve(L, rp, xt)
            for i in range(n):
                d[i] = xt[pos[i]]
        else:
            cholesky_solve(L, rhs, d)
        st = newton_step(K, x, g, d, tau, lower, upper, bounded, c1, xt, gt, xbest,
                         fstate, istate, T)
        if st != S.RUNNING:
            return st
    return S.RUNNING


@njit(types.int64(SYMBOLIC_BUNDLE, *_STATE), **_JIT)
def linesearch_loop(K, W, fs, js, T):
    """Steepest descent d = -g with an Armijo or strong Wolfe line search.

    The first trial step follows Nocedal & Wright (3.60): a0 = a_prev (g_prev.d_prev) /
    (g.d), and 1 / max(1, |g|_inf) at the start.
    fpar = [tol, c1, c2]; ipar = [max_iter, chunk, kind (0 armijo, 1 wolfe)].
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = _unpack(W, fs, js)
    n = x.size
    c1, c2 = fpar[1], fpar[2]
    max_iter, chunk, kind = ipar[0], ipar[1], ipar[2]
    d = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    if istate[S.I_INIT] == 0 and not _start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    for _ in range(chunk):
        st = _check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        _free_direction(x, g, lower, upper, d)
        gtd = 0.0
        for i in range(n):
            gtd += g[i] * d[i]
        if fstate[S.F_STEP] > 0.0 and gtd < 0.0:
            a0 = min(1e10, fstate[S.F_STEP] * fstate[S.F_GTD] / gtd)
        else:
            a0 = 1.0 / max(1.0, fstate[S.F_GNORM])
        f = fstate[S.F_F]
        if kind == 1:
            a, ft, ne, flag = wolfe(K, x, f, g, d, lower, upper, a0, c1, c2, xt, gt, 50)
            istate[S.I_NGEV] += ne
        else:
            a, ft, ne, nge, flag = armijo(K, x, f, g, d, lower, upper, a0, c1, xt, gt, 60,
                                          True, True)
            istate[S.I_NGEV] += nge
            if flag == 3:
                istate[S.I_NFEV] += ne
                _accept(K, x, g, xt, xbest, fstate, istate, T)
                istate[S.I_REASON] = S.R_UNBOUNDED
                return S.UNBOUNDED
        istate[S.I_NFEV] += ne
        if flag != 0:
            istate[S.I_REASON] = S.R_LS_NONFINITE if flag == 1 else S.R_LS_NODECREASE
            return S.DIVERGED if flag == 1 else S.STALLED
        fstate[S.F_STEP] = a
        fstate[S.F_GTD] = gtd
        st = _accept(K, x, g, xt, xbest, fstate, istate, T, True)
        if st != S.RUNNING:
            return st
    return S.RUNNING


@njit(types.int64(SYMBOLIC_BUNDLE, *_STATE), **_JIT)
def gd_loop(K, W, fs, js, T):
    """Gradient descent x <- P(x + step_t) with a learning-rate schedule, where step_t
    is the optimizer's transformation of the gradient (symgd.methods.optimizers:
    plain -lr_t g, momentum, nesterov, adagrad, rmsprop, adam, adamw).

    A fixed step can overshoot, so f is not monotone: the best point is kept, and f
    rising for ``rise_limit`` steps in a row above the start value ends 'diverged'.
    fpar = [tol, lr, p0, p1, p2, hyper (optimizers.N_HYPER slots)];
    ipar = [max_iter, chunk, schedule code, rise_limit, optimizer code]. The
    optimizer's state lives in rows W_OPT1, W_OPT2 of W (zero at the start).
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = _unpack(W, fs, js)
    n = x.size
    lr, p0, p1, p2 = fpar[1], fpar[2], fpar[3], fpar[4]
    hyper = fpar[5:]
    max_iter, chunk, code, rise_limit, opt = ipar[0], ipar[1], ipar[2], ipar[3], ipar[4]
    opt_state = W[S.W_OPT1:S.W_OPT2 + 1]
    xt = np.empty(n)
    step = np.empty(n)
    bounded = has_bounds(lower, upper)
    if istate[S.I_INIT] == 0 and not _start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    for _ in range(chunk):
        st = _check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        t = float(istate[S.I_ITER])
        if code == PLATEAU:
            if istate[S.I_SINCE_BEST] >= p1:
                fstate[S.F_LRSCALE] *= p0
                istate[S.I_SINCE_BEST] = 0
            rate = lr * fstate[S.F_LRSCALE]
        else:
            rate = learning_rate(code, t, lr, p0, p1, p2)
        fstate[S.F_STEP] = rate
        trace(T, istate[S.I_ITER] + 1, S.T_LR, rate)
        if opt == PLAIN_STEP:
            for i in range(n):
                xt[i] = x[i] - rate * g[i]
        else:
            optimizer_update(opt, g, opt_state, x, rate, t + 1.0, hyper, step)
            for i in range(n):
                xt[i] = x[i] + step[i]
        if bounded:
            project(xt, lower, upper)
        f_old = fstate[S.F_F]
        st = _accept(K, x, g, xt, xbest, fstate, istate, T)
        if st != S.RUNNING:
            return st
        if fstate[S.F_F] > f_old and fstate[S.F_F] > fstate[S.F_F0]:
            istate[S.I_RISES] += 1
            if istate[S.I_RISES] >= rise_limit:
                istate[S.I_REASON] = S.R_RISING
                return S.DIVERGED
        else:
            istate[S.I_RISES] = 0
    return S.RUNNING


@njit(types.int64(SYMBOLIC_BUNDLE, *_STATE), **_JIT)
def exact_linesearch_loop(K, W, fs, js, T):
    """Steepest descent with the exact step: a minimises phi(a) = f(x + a d) on
    [0, a_max] (d = -g; a_max where d meets a bound). Polynomial objectives only: the
    ``line_poly`` kernel gives phi's coefficients and methods/polyline.py its minimiser,
    so the new gradient is orthogonal to d (Nocedal & Wright, Numerical Optimization,
    2nd ed., section 3.1: the exact minimiser along the line).
    A phi falling without bound along d ends 'unbounded'.
    fpar = [tol]; ipar = [max_iter, chunk].
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = _unpack(W, fs, js)
    n = x.size
    max_iter, chunk = ipar[0], ipar[1]
    d = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    xd = np.empty(2 * n)
    coef = np.zeros(MAX_DEGREE + 1)
    if istate[S.I_INIT] == 0 and not _start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    for _ in range(chunk):
        st = _check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        _free_direction(x, g, lower, upper, d)
        a_max = math.inf
        for i in range(n):
            xd[i] = x[i]
            xd[n + i] = d[i]
            if d[i] < 0.0 and math.isfinite(lower[i]):
                a_max = min(a_max, (lower[i] - x[i]) / d[i])
            elif d[i] > 0.0 and math.isfinite(upper[i]):
                a_max = min(a_max, (upper[i] - x[i]) / d[i])
        deg = int(ev.line_poly(K, xd, coef))
        istate[S.I_NFEV] += 1
        a, fa, unbounded = exact_step(coef, deg, a_max)
        if unbounded:
            istate[S.I_REASON] = S.R_UNBOUNDED
            return S.UNBOUNDED
        f = fstate[S.F_F]
        ft = math.nan
        if a > 0.0:
            step_point(x, a, d, lower, upper, xt)
            ft = ev.fun(K, xt)
            istate[S.I_NFEV] += 1
        if not (ft < f):
            # phi's coefficients lose digits far along d (Beale: a root near a = 1e29
            # whose computed phi was below phi(0) while f there was 1e140): the exact
            # step is taken only where f itself decreases, else an Armijo step (first
            # trial 1 / max(1, |g|), doubled while f keeps falling) safeguards it.
            a0 = 1.0 / max(1.0, fstate[S.F_GNORM])
            a, ft, ne, nge, flag = armijo(K, x, f, g, d, lower, upper, a0, 1e-4, xt,
                                          gt, 60, True, True)
            st = _searched(flag, ne, nge, K, x, g, xt, xbest, fstate, istate, T)
            if st != S.RUNNING:
                return st
        fstate[S.F_STEP] = a
        st = _accept(K, x, g, xt, xbest, fstate, istate, T, True)
        if st != S.RUNNING:
            return st
    return S.RUNNING


# Public names of the steps every loop shares, for loops built in other modules from
# the same pieces (methods/qn_loops.py): the same compiled functions, not copies.
STATE, unpack, start, check_stop = _STATE, _unpack, _start, _check_stop
