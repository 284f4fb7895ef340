"""The quasi-Newton loops: BFGS with a dense inverse Hessian and L-BFGS with the two-loop
recursion, both with a strong Wolfe line search and bounds kept by a projected
quasi-Newton step. Compiled once for the symbolic bundle (methods/fit_qn_loops.py
compiles the same source for data fits) and cached on disk; the packed arrays W, fs,
js, T are those of methods/loops.py.

Bounds. Projecting an unconstrained quasi-Newton step onto the box can go uphill at
every step length (f = x'Ax/2 + b'x with A = [[1, .9], [.9, 1]], b = (.1, -.9), x >= 0,
from (0, 1): the step (-4.8, 4.2) is clipped to (0, 1 + 4.2 a), where f rises). So
each iteration first fixes the variables held at a bound (at the bound with the
gradient pushing outward, common.held_by_bound), and the direction is the
quasi-Newton one on the free variables only, d_F = -H_FF g_F, d = 0 elsewhere: a
descent direction whenever H is positive definite, and one that stays descending
along the projection arc P(x + a d) (a free variable sitting on its bound has a
gradient pointing inward, so clipping it removes an uphill term). Bertsekas,
"Projected Newton methods for optimization problems with simple constraints", SIAM J.
Control Optim. 20 (1982). A unit step inside the box gets the Wolfe search; a step
that leaves it, a backtracking Armijo search along the projection arc
(common.armijo with the projected slope g.(P(x + a d) - x)). The curvature pairs
keep y on the free variables only (y_F = B_FF s_F, since the fixed ones did not
move), so the memory models the Hessian of the problem on the free variables; when the
free set changes it restarts from the scaled identity. (With the full y, the pairs
would mix in the coupling to the fixed variables: on the example above, y oscillates
around its answer for 24 iterations instead of 4.)

State between chunks. The driver gives W extra rows past status.N_W (bfgs: n rows
for H; lbfgs: 2 memory rows for the pairs) and the loops keep their memory there, with
its bookkeeping in spare slots of fpar and ipar, so a run chunked for a deadline, a
progress report, a callback or the history's growth takes the same steps as a run in
one call. Without those rows (the batched multistart, which runs each start in one
call) the memory is local and rebuilt from the newest pair, kept in W_OPT1, W_OPT2.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from symgd.kernelgen import evaluate as ev
from symgd.kernelgen.evaluate import SYMBOLIC_BUNDLE
from symgd.methods import status as S
from symgd.methods.common import (armijo, copy_into, has_bounds, held_by_bound, moved,
                                  wolfe)
from symgd.methods.loops import STATE, check_stop, start, unpack

_JIT = dict(cache=True, error_model="numpy", nogil=True)
SKIP_UPDATE = 1e-10  # skip a pair unless s'y > SKIP_UPDATE |s| |y|
# The O(n m) and O(n^2) products may reorder their sums (LLVM vectorises them: the
# two-loop recursion at n = 100, m = 10 takes 0.43 us instead of 1.2); no flag that
# assumes finite values, so a nan still shows as one.
_SUMS = {"reassoc", "contract"}


@njit(**_JIT)
def free_set(x, g, lower, upper, free):
    """free[i] = x_i is not held by a bound (common.held_by_bound). Returns whether the
    set changed."""
    changed = False
    for i in range(x.size):
        f = not held_by_bound(x, g, lower, upper, i)
        if f != free[i]:
            free[i] = f
            changed = True
    return changed


@njit(**_JIT)
def step(K, x, g, d, a0, c1, c2, lower, upper, bounded, xt, gt, fstate, istate, T):
    """The line search along d from x, with the new point's f and gradient in xt, gt.

    A first trial P(x + a0 d) = x + a0 d (inside the box) gets the strong Wolfe search
    (common.wolfe; Nocedal & Wright Alg. 3.5-3.6); one that leaves the box gets
    backtracking Armijo along the projection arc. Should the Wolfe search find no
    acceptable point, Armijo from a0 with doubling decides: a decrease, none (stalled),
    or f falling over 2^40 a0 without end (unbounded).
    Returns (status, a, f at the new point): status RUNNING to take the step."""
    n = x.size
    f = fstate[S.F_F]
    inside = True
    if bounded:
        for i in range(n):
            t = x[i] + a0 * d[i]
            if t < lower[i] or t > upper[i]:
                inside = False
                break
    if inside:
        a, ft, ne, flag = wolfe(K, x, f, g, d, lower, upper, a0, c1, c2, xt, gt, 50)
        istate[S.I_NFEV] += ne
        istate[S.I_NGEV] += ne
        if flag == 0:
            return S.RUNNING, a, ft
    a, ft, ne, nge, flag = armijo(K, x, f, g, d, lower, upper, a0, c1, xt, gt, 60, inside,
                                  bounded)
    istate[S.I_NFEV] += ne
    istate[S.I_NGEV] += nge
    if flag == 1 or flag == 2:
        istate[S.I_REASON] = S.R_LS_NONFINITE if flag == 1 else S.R_LS_NODECREASE
        return (S.DIVERGED if flag == 1 else S.STALLED), a, f
    ft = ev.fg(K, xt, gt)
    if flag != 0:   # accepted by the search: f at xt was counted there
        istate[S.I_NFEV] += 1
    istate[S.I_NGEV] += 1
    if flag == 3:  # accepted after doubling to the limit: no lower bound along d
        return S.UNBOUNDED, a, ft
    return S.RUNNING, a, ft


@njit(**_JIT)
def pair(x, g, xt, gt, free, s, y):
    """s = xt - x, y = gt - g on the free variables (0 on the fixed ones, which the step
    did not move: then y_F = B_FF s_F, the secant pair of the problem on the free
    variables, whose Hessian the memory models until the free set changes). Returns
    (s'y, y'y, whether the pair is kept: s'y > SKIP_UPDATE |s| |y|, the curvature
    condition with a margin for rounding)."""
    sy = 0.0
    yy = 0.0
    ss = 0.0
    for i in range(x.size):
        s[i] = xt[i] - x[i]
        y[i] = gt[i] - g[i] if free[i] else 0.0
        sy += s[i] * y[i]
        yy += y[i] * y[i]
        ss += s[i] * s[i]
    keep = sy > SKIP_UPDATE * math.sqrt(ss) * math.sqrt(yy) and yy > 0.0 and \
        math.isfinite(sy) and math.isfinite(yy)
    return sy, yy, keep


@njit(**_JIT)
def scaled_identity(H, gamma):
    n = H.shape[0]
    for i in range(n):
        for j in range(n):
            H[i, j] = 0.0
        H[i, i] = gamma


@njit(fastmath=_SUMS, **_JIT)
def bfgs_update(H, s, y, sy, hy):
    """The BFGS update of the inverse Hessian (Nocedal & Wright eq. 6.17):

        H+ = (I - rho s y') H (I - rho y s') + rho s s',  rho = 1 / s'y,

    expanded as H - rho (s (Hy)' + (Hy) s') + (rho^2 y'Hy + rho) s s' (O(n^2))."""
    n = s.size
    rho = 1.0 / sy
    yhy = 0.0
    for i in range(n):
        t = 0.0
        for j in range(n):
            t += H[i, j] * y[j]
        hy[i] = t
        yhy += y[i] * t
    c = rho * rho * yhy + rho
    for i in range(n):
        for j in range(n):
            H[i, j] += c * s[i] * s[j] - rho * (s[i] * hy[j] + hy[i] * s[j])


@njit(fastmath=_SUMS, **_JIT)
def bfgs_direction(H, g, free, gf, d):
    """d = -H_FF g_F on the free variables, 0 on the fixed ones (gf: g with the fixed
    components zeroed, work space). Returns g'd."""
    n = g.size
    for i in range(n):
        gf[i] = g[i] if free[i] else 0.0
    gtd = 0.0
    for i in range(n):
        t = 0.0
        if free[i]:
            for j in range(n):
                t -= H[i, j] * gf[j]
        d[i] = t
        gtd += g[i] * t
    return gtd


@njit(**_JIT)
def _first_trial(have_scale, gnorm):
    """N&W: a quasi-Newton step is tried at a = 1 once H carries a scale; before any
    curvature pair (H = I, d = -g) the first trial moves at most 1 (as linesearch)."""
    return 1.0 if have_scale else 1.0 / max(1.0, gnorm)


@njit(types.int64(SYMBOLIC_BUNDLE, *STATE), **_JIT)
def bfgs_loop(K, W, fs, js, T):
    """BFGS with a dense inverse Hessian H (Nocedal & Wright, Numerical Optimization,
    2nd ed., Alg. 6.1): d = -H g, a strong Wolfe step, then the update of eq. 6.17 with
    s = x+ - x, y = g+ - g, skipped unless s'y > 1e-10 |s| |y|. Before the first update
    H = (s'y / y'y) I (eq. 6.20), and after every restart of the memory.
    With bounds, d_F = -H_FF g_F on the free variables (see the module docstring).
    fpar = [tol, c1, c2, gamma]; ipar = [max_iter, chunk, H kept, fresh] (the last
    ones kept by the loop between calls).
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = unpack(W, fs, js)
    n = x.size
    c1, c2 = fpar[1], fpar[2]
    max_iter, chunk = ipar[0], ipar[1]
    s_last, y_last = W[S.W_OPT1], W[S.W_OPT2]
    # H lives in W's rows past N_W when the driver gave them (kept between calls)
    persist = W.shape[0] >= S.N_W + n
    H = W[S.N_W:S.N_W + n] if persist else np.empty((n, n))[0:n]
    d = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    s = np.empty(n)
    y = np.empty(n)
    hy = np.empty(n)
    gf = np.empty(n)
    free = np.ones(n, dtype=np.bool_)
    bounded = has_bounds(lower, upper)
    if istate[S.I_INIT] == 0 and not start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    if persist and ipar[2] == 1:  # H of the previous call, gamma and 'fresh' with it
        gamma = fpar[3]
        have_scale = gamma > 0.0
        if not have_scale:
            gamma = 1.0
        fresh = ipar[3] == 1
    else:
        # the memory: from the newest pair kept in W (zero rows at the start: H = I)
        sy, yy, have_scale = pair(np.zeros(n), np.zeros(n), s_last, y_last, free, s, y)
        gamma = sy / yy if have_scale else 1.0
        scaled_identity(H, gamma)
        if have_scale:
            bfgs_update(H, s, y, sy, hy)
        fresh = not have_scale  # H is a scaled identity that the next pair rescales
    ipar[2] = 1
    fpar[3] = gamma if have_scale else 0.0
    ipar[3] = 1 if fresh else 0
    if bounded:
        free_set(x, g, lower, upper, free)
    for _ in range(chunk):
        st = check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        if bounded and free_set(x, g, lower, upper, free):
            scaled_identity(H, gamma)
            fresh = True
            ipar[3] = 1
        for attempt in range(2):
            gtd = bfgs_direction(H, g, free, gf, d)
            if gtd < 0.0 or attempt == 1:
                break
            scaled_identity(H, gamma)  # rounding cost H its definiteness: restart
            fresh = True
            ipar[3] = 1
        a0 = _first_trial(have_scale, fstate[S.F_GNORM])
        st, a, ft = step(K, x, g, d, a0, c1, c2, lower, upper, bounded, xt, gt, fstate,
                         istate, T)
        if st == S.STALLED or st == S.DIVERGED:
            return st
        sy, yy, keep = pair(x, g, xt, gt, free, s, y)
        fstate[S.F_STEP] = a
        code = moved(x, g, xt, gt, ft, xbest, fstate, istate, T)
        if st == S.UNBOUNDED:
            istate[S.I_REASON] = S.R_UNBOUNDED
            return S.UNBOUNDED
        if code != S.RUNNING:
            return code
        if keep:
            copy_into(s_last, s)
            copy_into(y_last, y)
            gamma = sy / yy
            have_scale = True
            fpar[3] = gamma
            if fresh:
                scaled_identity(H, gamma)
                fresh = False
                ipar[3] = 0
            bfgs_update(H, s, y, sy, hy)
    return S.RUNNING


@njit(fastmath=_SUMS, **_JIT)
def two_loop(g, free, S_, Y, rho, alpha, head, count, gamma, d):
    """d = -H_FF g_F (0 on fixed variables), H the L-BFGS inverse Hessian of the newest
    ``count`` pairs (rows of S_, Y; the newest at head - 1, cyclically) on
    H0 = gamma I: the two-loop recursion (Nocedal & Wright Alg. 7.4) applied to g with
    its fixed components zeroed, the result zeroed there again."""
    m = rho.size
    n = g.size
    for i in range(n):
        d[i] = g[i] if free[i] else 0.0
    for k in range(count):
        j = (head - 1 - k) % m
        a = 0.0
        for i in range(n):
            a += S_[j, i] * d[i]
        a *= rho[j]
        alpha[j] = a
        for i in range(n):
            d[i] -= a * Y[j, i]
    for i in range(n):
        d[i] *= gamma
    for k in range(count - 1, -1, -1):
        j = (head - 1 - k) % m
        b = 0.0
        for i in range(n):
            b += Y[j, i] * d[i]
        b = alpha[j] - rho[j] * b
        for i in range(n):
            d[i] += b * S_[j, i]
    gtd = 0.0
    for i in range(n):
        d[i] = -d[i] if free[i] else 0.0
        gtd += g[i] * d[i]
    return gtd


@njit(types.int64(SYMBOLIC_BUNDLE, *STATE), **_JIT)
def lbfgs_loop(K, W, fs, js, T):
    """L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 7.5): d = -H g by
    the two-loop recursion (Alg. 7.4) over the newest ``memory`` pairs (s, y), on H0 =
    (s'y / y'y) I of the newest pair (eq. 7.20); a strong Wolfe step; a pair is kept
    only if s'y > 1e-10 |s| |y|. With bounds the recursion runs on the gradient with
    the fixed components zeroed (see the module docstring).
    fpar = [tol, c1, c2]; ipar = [max_iter, chunk, memory, head, count] (the last two
    kept by the loop between calls).
    """
    x, g, lower, upper, xbest, fpar, ipar, fstate, istate = unpack(W, fs, js)
    n = x.size
    c1, c2 = fpar[1], fpar[2]
    max_iter, chunk, m = ipar[0], ipar[1], max(ipar[2], 1)
    s_last, y_last = W[S.W_OPT1], W[S.W_OPT2]
    # the memory lives in W's rows past N_W when the driver gave them (kept between
    # calls), else in a local matrix rebuilt from the newest pair (a batched start)
    persist = W.shape[0] >= S.N_W + 2 * m
    Mem = W[S.N_W:S.N_W + 2 * m] if persist else np.empty((2 * m, n))[0:2 * m]
    S_ = Mem[0:m]
    Y = Mem[m:2 * m]
    rho = np.empty(m)
    alpha = np.empty(m)
    d = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    s = np.empty(n)
    y = np.empty(n)
    free = np.ones(n, dtype=np.bool_)
    bounded = has_bounds(lower, upper)
    if istate[S.I_INIT] == 0 and not start(K, x, g, xbest, fstate, istate, T):
        return S.DIVERGED
    if persist and ipar[4] > 0:  # the memory of the previous call: head, count in ipar
        head, count = ipar[3], ipar[4]
        for k in range(count):
            j = (head - 1 - k) % m
            rho[j] = 1.0 / np.dot(S_[j], Y[j])
        j = (head - 1) % m
        gamma = np.dot(S_[j], Y[j]) / np.dot(Y[j], Y[j])
        have_scale = True
    else:
        sy, yy, have_scale = pair(np.zeros(n), np.zeros(n), s_last, y_last, free, S_[0],
                                  Y[0])
        gamma = sy / yy if have_scale else 1.0
        head, count = 0, 0
        if have_scale:
            rho[0] = 1.0 / sy
            head, count = 1 % m, 1
        ipar[3], ipar[4] = head, count
    if bounded:
        free_set(x, g, lower, upper, free)
    for _ in range(chunk):
        st = check_stop(x, g, lower, upper, fpar, max_iter, fstate, istate, T)
        if st != S.RUNNING:
            return st
        if bounded and free_set(x, g, lower, upper, free):
            count = 0
            ipar[4] = 0
        gtd = two_loop(g, free, S_, Y, rho, alpha, head, count, gamma, d)
        if not gtd < 0.0:  # rounding spoilt the memory: restart it
            count = 0
            ipar[4] = 0
            gtd = two_loop(g, free, S_, Y, rho, alpha, head, count, gamma, d)
        a0 = _first_trial(have_scale, fstate[S.F_GNORM])
        st, a, ft = step(K, x, g, d, a0, c1, c2, lower, upper, bounded, xt, gt, fstate,
                         istate, T)
        if st == S.STALLED or st == S.DIVERGED:
            return st
        sy, yy, keep = pair(x, g, xt, gt, free, s, y)
        fstate[S.F_STEP] = a
        code = moved(x, g, xt, gt, ft, xbest, fstate, istate, T)
        if st == S.UNBOUNDED:
            istate[S.I_REASON] = S.R_UNBOUNDED
            return S.UNBOUNDED
        if code != S.RUNNING:
            return code
        if keep:
            copy_into(S_[head], s)
            copy_into(Y[head], y)
            # the same arithmetic as the restore above, so a chunked run is bitwise
            # the run in one call
            sy = np.dot(S_[head], Y[head])
            yy = np.dot(Y[head], Y[head])
            rho[head] = 1.0 / sy
            copy_into(s_last, s)
            copy_into(y_last, y)
            head = (head + 1) % m
            count = min(count + 1, m)
            ipar[3], ipar[4] = head, count
            gamma = sy / yy
            have_scale = True
    return S.RUNNING
