"""Compiled pieces shared by the method loops: bounds, gradient tests, line searches.

Kernels are reached through the bundle K (symgd.kernelgen.evaluate); these helpers are
compiled into each loop, once per kind of bundle, and cached on disk.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from symgd.kernelgen import evaluate as ev
from symgd.methods import status as S

_JIT = dict(cache=True, error_model="numpy", nogil=True)

UNBOUNDED_F = -1e150  # an objective below this is taken to fall without bound


@njit(**_JIT)
def project(x, lower, upper):
    """Clip x into the box [lower, upper] in place."""
    for i in range(x.size):
        if x[i] < lower[i]:
            x[i] = lower[i]
        elif x[i] > upper[i]:
            x[i] = upper[i]


@njit(**_JIT)
def held_by_bound(x, g, lower, upper, i):
    """Whether x_i sits on a bound that g pushes it against (at its lower bound with
    g_i > 0, or its upper with g_i < 0): moving inside the box cannot decrease f along
    x_i, so the component is optimal (KKT for bounds) and left out of the tests."""
    # Written with locals and early returns: numba compiles the one-line boolean form
    # of this test about 20x slower (measured on chained Rosenbrock, n = 100).
    xi, gi = x[i], g[i]
    if xi <= lower[i] and gi > 0.0:
        return True
    if xi >= upper[i] and gi < 0.0:
        return True
    return False


@njit(**_JIT)
def projected_grad_norm(x, g, lower, upper):
    """max_i |g_i| over the components not held by an active bound.

    A component at its lower bound with g_i > 0 (or at its upper with g_i < 0)
    cannot decrease f by moving inside the box, so it is optimal (KKT for bounds).
    """
    m = 0.0
    for i in range(x.size):
        if held_by_bound(x, g, lower, upper, i):
            continue
        a = abs(g[i])
        if a > m or a != a:
            m = a
    return m


@njit(**_JIT)
def has_bounds(lower, upper):
    """Whether any variable has a finite bound (else projections can be skipped)."""
    for i in range(lower.size):
        if math.isfinite(lower[i]) or math.isfinite(upper[i]):
            return True
    return False


@njit(**_JIT)
def all_finite(v):
    for i in range(v.size):
        if not math.isfinite(v[i]):
            return False
    return True


@njit(**_JIT)
def within_noise(f, ft, g, gt):
    """Whether a trial point whose f failed the sufficient-decrease test is still an
    improvement: f changed by no more than its rounding could hide (1e-8 of
    max(1, |f|): near f* = 0, ARWHEAD's 1,600 terms of size 4 sum with an error of
    1e-10, while the decrease a Newton step predicts there is 1e-16) and the gradient
    fell to at most half (max norm). Newton's unit step from a positive definite
    Hessian is then judged by the gradient it drives to zero (cf. the noise-aware
    acceptance of Berahas, Byrd & Nocedal, SIAM J. Optim. 29, 2019)."""
    if not (math.isfinite(ft) and ft - f <= 1e-8 * max(1.0, abs(f))):
        return False
    gmax = 0.0
    gtmax = 0.0
    for i in range(g.size):
        if not math.isfinite(gt[i]):
            return False
        gmax = max(gmax, abs(g[i]))
        gtmax = max(gtmax, abs(gt[i]))
    return gtmax <= 0.5 * gmax


@njit(**_JIT)
def relative_gradient(x, g, lower, upper, f, typ_x, typ_f):
    """Dennis and Schnabel's relative gradient over the components not held by a bound:

        max_i |g_i| max(|x_i|, typ_x) / max(|f|, typ_f)

    (Numerical Methods for Unconstrained Optimization and Nonlinear Equations, 1983,
    section 7.2; R's ``nlm`` calls typ_x ``typsize`` and typ_f ``fscale``). It is the
    relative change of f per relative change of x_i, so it does not change when f or
    x is rescaled, and unlike a test scaled by |f| alone it fails at absurd points
    (x = 1e29, f = 1e140: the gradient grows with x there). A nan anywhere gives nan.
    """
    m = 0.0
    for i in range(x.size):
        if held_by_bound(x, g, lower, upper, i):
            continue
        r = abs(g[i]) * max(abs(x[i]), typ_x)
        if r > m or r != r:
            m = r
    return m / max(abs(f), typ_f)


@njit(**_JIT)
def converged_test(relgrad, tol):
    """SPEC §2: the relative gradient (see :func:`relative_gradient`) is at most tol."""
    return relgrad <= tol


@njit(**_JIT)
def step_point(x, a, d, lower, upper, xt):
    """xt = P(x + a d), the trial point projected onto the bounds."""
    for i in range(x.size):
        xt[i] = x[i] + a * d[i]
    project(xt, lower, upper)


@njit(**_JIT)
def _expand(K, x, f, g, d, lower, upper, a, fa, c1, xt, max_doublings):
    """Double an accepted step while the Armijo condition holds and f keeps falling;
    leaves xt at the chosen point. Returns (a, f(a), evaluations, whether every
    doubling was accepted: f fell by a sufficient amount over 2^max_doublings times
    the first step, the mark of an objective without a lower bound along d)."""
    n = x.size
    nfev = 0
    accepted = 0
    for _ in range(max_doublings):
        a2 = 2.0 * a
        step_point(x, a2, d, lower, upper, xt)
        f2 = ev.fun(K, xt)
        nfev += 1
        slope = 0.0
        for i in range(n):
            slope += g[i] * (xt[i] - x[i])
        if not (math.isfinite(f2) and f2 < fa and f2 <= f + c1 * slope):
            break
        a, fa = a2, f2
        accepted += 1
    step_point(x, a, d, lower, upper, xt)
    return a, fa, nfev, accepted == max_doublings


@njit(**_JIT)
def armijo(K, x, f, g, d, lower, upper, a0, c1, xt, gt, max_back, expand, bounded):
    """Backtracking line search with the Armijo (sufficient decrease) condition.

    Accepts the first a = a0 / 2^k with f(P(x + a d)) <= f + c1 g.(P(x + a d) - x),
    where P projects onto the bounds (Nocedal & Wright, Numerical Optimization,
    2nd ed., Alg. 3.1). A non-finite trial value counts as too long a step.
    Near a minimum the decrease falls below the rounding of f (|df| ~ |g|^2 while f
    is known to eps |f|); there a trial within that rounding band whose gradient is
    smaller is accepted instead (the idea of Hager & Zhang's approximate Wolfe
    condition, SIAM J. Optim. 16, 2005), so the gradient test can still be met.

    With ``expand``, a first trial that is accepted is doubled while f keeps falling
    (up to 2^40 a0), so steepest descent crosses long slopes in few iterations and an
    objective falling without bound is seen to do so quickly.

    Returns (a, f_trial, evaluations, gradient evaluations, flag): flag 0 accepted,
    1 only non-finite values met, 2 no decrease found, 3 accepted after expanding to
    the limit (f falls without bound along d).
    """
    a = a0
    nfev = 0
    ngev = 0
    seen_finite = False
    band = 8.0 * 2.220446049250313e-16 * abs(f)
    g_inf = 0.0
    for i in range(x.size):
        g_inf = max(g_inf, abs(g[i]))
    gd0 = 0.0
    for i in range(x.size):
        gd0 += g[i] * d[i]
    for _ in range(max_back):
        for i in range(x.size):
            xt[i] = x[i] + a * d[i]
        if bounded:
            project(xt, lower, upper)
        ft = ev.fun(K, xt)
        nfev += 1
        if math.isfinite(ft):
            seen_finite = True
            if bounded:  # the projected step's own slope
                slope = 0.0
                for i in range(x.size):
                    slope += g[i] * (xt[i] - x[i])
            else:
                slope = a * gd0
            if ft <= f + c1 * slope:
                if expand and a == a0:
                    a, ft, ne, endless = _expand(K, x, f, g, d, lower, upper, a, ft, c1, xt, 40)
                    nfev += ne
                    if endless:
                        return a, ft, nfev, ngev, 3
                return a, ft, nfev, ngev, 0
            if ft <= f + band:
                ev.fg(K, xt, gt)
                ngev += 1
                gt_inf = 0.0
                for i in range(x.size):
                    gt_inf = max(gt_inf, abs(gt[i]))
                if gt_inf < g_inf:
                    return a, ft, nfev, ngev, 0
        a *= 0.5
    return a, f, nfev, ngev, (2 if seen_finite else 1)


@njit(**_JIT)
def _interpolate(a_lo, a_hi, f_lo, f_hi, d_lo):
    """Minimiser of the quadratic through (a_lo, f_lo) with slope d_lo and (a_hi, f_hi),
    kept inside the middle 80% of the bracket (else bisection)."""
    da = a_hi - a_lo
    denom = 2.0 * (f_hi - f_lo - d_lo * da)
    lo, hi = min(a_lo, a_hi), max(a_lo, a_hi)
    if denom != 0.0 and math.isfinite(denom):
        a = a_lo - d_lo * da * da / denom
        if lo + 0.1 * (hi - lo) <= a <= hi - 0.1 * (hi - lo):
            return a
    return 0.5 * (a_lo + a_hi)


@njit(**_JIT)
def wolfe(K, x, f, g, d, lower, upper, a0, c1, c2, xt, gt, max_eval):
    """Line search for the strong Wolfe conditions (Nocedal & Wright Alg. 3.5 and 3.6).

    f(x + a d) <= f + c1 a g.d  and  |g(x + a d).d| <= c2 |g.d|. With bounds the
    trial point is projected, and a step clipped by a bound is accepted on
    sufficient decrease alone. Non-finite trial values shrink the step.

    Returns (a, f_trial, evaluations, flag) as :func:`armijo`; on success xt and gt
    hold the new point and its gradient.
    """
    n = x.size
    d0 = 0.0
    for i in range(n):
        d0 += g[i] * d[i]
    a_prev, f_prev, dp_prev = 0.0, f, d0
    a = a0
    nfev = 0
    seen_finite = False
    a_lo, a_hi, f_lo, f_hi, d_lo = 0.0, 0.0, f, f, d0
    zoom = False
    # Near a minimum decreases fall below f's rounding (see armijo): remember the
    # trial in the rounding band with the smallest gradient, as a last resort.
    band = 8.0 * 2.220446049250313e-16 * abs(f)
    g_inf = 0.0
    for i in range(n):
        g_inf = max(g_inf, abs(g[i]))
    a_band, g_band = 0.0, g_inf
    while nfev < max_eval:
        step_point(x, a, d, lower, upper, xt)
        clipped = False
        for i in range(n):
            if xt[i] != x[i] + a * d[i]:
                clipped = True
        ft = ev.fg(K, xt, gt)
        nfev += 1
        if not (math.isfinite(ft) and all_finite(gt)):
            # Too long a step: shrink towards the last good one.
            if zoom:
                a_hi = a
                f_hi = math.inf
                a = 0.5 * (a_lo + a_hi)
            else:
                a = 0.5 * (a_prev + a)
            continue
        seen_finite = True
        dp = 0.0
        gt_inf = 0.0
        for i in range(n):
            dp += gt[i] * d[i]
            gt_inf = max(gt_inf, abs(gt[i]))
        if ft <= f + band and gt_inf < g_band:
            a_band, g_band = a, gt_inf
        # Armijo, or inside f's rounding band Hager & Zhang's approximate form
        # phi'(a) <= (2 c1 - 1) phi'(0), which judges decrease by the slope instead.
        decrease_ok = ft <= f + c1 * a * d0 or (ft <= f + band and dp <= (2.0 * c1 - 1.0) * d0)
        if clipped and decrease_ok:
            return a, ft, nfev, 0
        if not zoom:
            if (not decrease_ok) or (nfev > 1 and ft >= f_prev):
                a_lo, a_hi, f_lo, f_hi, d_lo = a_prev, a, f_prev, ft, dp_prev
                zoom = True
            elif abs(dp) <= -c2 * d0:
                return a, ft, nfev, 0
            elif dp >= 0.0:
                a_lo, a_hi, f_lo, f_hi, d_lo = a, a_prev, ft, f_prev, dp
                zoom = True
            else:
                a_prev, f_prev, dp_prev = a, ft, dp
                a = 2.0 * a
                continue
            a = _interpolate(a_lo, a_hi, f_lo, f_hi, d_lo) if math.isfinite(f_hi) else 0.5 * (a_lo + a_hi)
            continue
        # zoom phase: a lies inside the bracket
        if (not decrease_ok) or (ft >= f_lo and ft > f + band):
            a_hi, f_hi = a, ft
        else:
            if abs(dp) <= -c2 * d0:
                return a, ft, nfev, 0
            if dp * (a_hi - a_lo) >= 0.0:
                a_hi, f_hi = a_lo, f_lo
            a_lo, f_lo, d_lo = a, ft, dp
        if abs(a_hi - a_lo) <= 1e-16 * max(1.0, abs(a_lo)):
            break
        a = _interpolate(a_lo, a_hi, f_lo, f_hi, d_lo) if math.isfinite(f_hi) else 0.5 * (a_lo + a_hi)
    # No Wolfe point: accept the best sufficient-decrease point seen, if any, else the
    # step whose gradient shrank within f's rounding band.
    a_acc = a_lo if (zoom and a_lo > 0.0 and f_lo < f) else a_band
    if a_acc > 0.0:
        step_point(x, a_acc, d, lower, upper, xt)
        ft = ev.fg(K, xt, gt)
        nfev += 1
        return a_acc, ft, nfev, 0
    return a, f, nfev, (2 if seen_finite else 1)


@njit(**_JIT)
def copy_into(dst, src):
    for i in range(src.size):
        dst[i] = src[i]


def box(problem_lower, problem_upper, n):
    """Bounds as two float arrays with -inf/+inf where a side is free."""
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    for i in range(n):
        if problem_lower[i] is not None:
            lo[i] = problem_lower[i]
        if problem_upper[i] is not None:
            hi[i] = problem_upper[i]
    return lo, hi


@njit(**_JIT)
def moved(x, g, xt, gt, ft, xbest, fstate, istate, T):
    """Move to xt, whose f (ft) and gradient (gt) the line search evaluated, and keep
    the best point. Returns a status code. The same tests as loops.py's accept step
    (unbounded, non-finite, best point, three negligible steps running: stalled), on
    values the search already has, so an iteration costs no second evaluation."""
    f_old = fstate[S.F_F]
    step = 0.0
    scale = 0.0
    for i in range(x.size):
        step = max(step, abs(xt[i] - x[i]))
        scale = max(scale, abs(x[i]))
        x[i] = xt[i]
        g[i] = gt[i]
    istate[S.I_ITER] += 1
    fstate[S.F_F] = ft
    trace(T, istate[S.I_ITER], S.T_F, ft)
    trace(T, istate[S.I_ITER], S.T_STEP, fstate[S.F_STEP])
    trace_x(T, istate[S.I_ITER], x)
    if ft == -math.inf:
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    if not (math.isfinite(ft) and all_finite(g)):
        istate[S.I_REASON] = S.R_NONFINITE
        return S.DIVERGED
    if ft < fstate[S.F_FBEST]:
        fstate[S.F_FBEST] = ft
        copy_into(xbest, x)
        istate[S.I_SINCE_BEST] = 0
    else:
        istate[S.I_SINCE_BEST] += 1
    if ft < UNBOUNDED_F or scale > 1e150:
        istate[S.I_REASON] = S.R_UNBOUNDED
        return S.UNBOUNDED
    if step <= 1e-15 * (1.0 + scale) and abs(ft - f_old) <= 1e-15 * (1.0 + abs(ft)):
        istate[S.I_NSMALL] += 1
        if istate[S.I_NSMALL] >= 3:
            istate[S.I_REASON] = S.R_SMALL_STEP
            return S.STALLED
    else:
        istate[S.I_NSMALL] = 0
    return S.RUNNING


@njit(**_JIT)
def clear_trace(T):
    """Fill the trace with NaN at a run's start (what a method does not record reads
    NaN): done here, compiled, so the driver can hand over an uninitialised array."""
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            T[i, j] = math.nan


@njit(**_JIT)
def trace_x(T, row, x):
    """Record the first T.shape[1] - N_TRACE components of x in row ``row`` of the
    trace (the history's iterate path), when the trace has room."""
    if row < T.shape[0]:
        for j in range(min(x.size, T.shape[1] - S.N_TRACE)):
            T[row, S.N_TRACE + j] = x[j]


@njit(**_JIT)
def trace(T, row, col, v):
    """Record v in the trace array (rows: iterations; status.T_* columns) when it has
    room; a run longer than the trace keeps going unrecorded."""
    if row < T.shape[0]:
        T[row, col] = v
