"""Levenberg-Marquardt for least-squares fits, from one data pass per trial point.

Each pass of the ``lsq`` kernel returns S = sum r_i**2, g = Jᵀr and A = JᵀJ (never J
itself: its n x p entries are summed as they are made). The step solves

    (A + lambda D**2) d = -g,      D**2 = diag(max over iterations of A_jj)

Marquardt's diagonal scaling (Marquardt 1963; Moré, "The Levenberg-Marquardt
algorithm: implementation and theory", Lecture Notes in Mathematics 630, 1978, where
D_j is the running maximum of the column norms ||J_j||). It is solved as
(S A S + lambda I) u = -S g, d = S u with S = D**-1, which keeps the factorised matrix
at unit diagonal (cond(JᵀJ) passes 1/eps unscaled on NIST's Hahn1, Bennett5 and
Roszman1). lambda follows Nielsen's update (H. B. Nielsen, "Damping parameter in
Marquardt's method", IMM-REP-1999-05): on a gain ratio rho > 1e-4 the step is accepted
and lambda *= max(1/3, 1 - (2 rho - 1)**3); otherwise lambda *= nu, nu *= 2.

Convergence (SPEC §2), scale-free as MINPACK's gtol test:
    max_j |J_jᵀ r| / (||J_j|| ||r||) <= tol,  or an exact fit ||r|| <= 1e-12 ||y||.
When it first holds, POLISH_STEPS more steps are taken while they still lower S (or,
within S's rounding, lower the cosine), and the run ends once a step has settled
(||D dx|| <= 1e-7 ||D x||) or none can change x: the parameters then carry the accuracy
the data allow. The point reported is the last one where the test held. Safeguards,
each learned on NIST StRD (tests/test_nist.py):
  * if a later step lowers S and the test fails there, the earlier pass is discarded
    (nearly dependent columns can pass the cosine test on the way: MGH17 from start 1);
  * a column of J that was nonzero and has underflowed to zero means the parameter no
    longer affects the model (it "evaporated": an exponential underflowed, BoxBOD and
    MGH17 from start 1 with other scalings); the cosine cannot judge such a column, so
    that end is ``stalled``, never ``converged``.
A step that cannot change x, or lambda beyond 1e16, without the test holding is
``stalled``. Bounds: components held at a bound by the gradient are fixed, trial points
are projected into the box.

Geodesic acceleration (Transtrum & Sethna, arXiv:1201.5885, 2012), optional: with the
residuals' second directional derivative r_vv along the step v (from symbolic second
derivatives, one more pass), a = -(A + lambda D**2)^-1 Jᵀ r_vv and the step is v + a/2,
accepted only while 2 ||a|| / ||v|| <= 0.75. It keeps parameters from running off along
flat directions (BoxBOD from start 1) but slows curved valleys (MGH10), so the lm runner
(symgd.methods.runners.lm) uses it as the second attempt when the plain run stalls.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.methods.linalg import cholesky_shifted, cholesky_solve

EPS = np.finfo(float).eps
TINY = np.finfo(float).tiny
POLISH_STEPS = 10          # extra accepted steps after the test first holds
LAMBDA_MAX = 1e16          # relative to the unit scaled diagonal
ACCEPT = 1e-4              # gain ratio that accepts a step
EXACT_FIT = 1e-12          # ||r|| <= EXACT_FIT ||y||
SETTLED = 1e-7             # a step this small (scaled, relative to x) has settled
ACCEL_RATIO = 0.75         # largest 2 ||a|| / ||v|| of an accelerated step


@dataclass
class LMOutcome:
    status: str            # converged, max_iter, stalled, timeout, interrupted, diverged
    reason: str            # words for the message
    x: np.ndarray
    rss: float
    g: np.ndarray          # Jᵀr at x
    A: np.ndarray          # JᵀJ at x
    cos: float             # the MINPACK cosine at x
    iterations: int        # trial steps
    nfev: int
    navv: int
    time_s: float
    history: list = field(default_factory=list)  # S at each accepted point
    exact: bool = False    # stopped by the exact-fit test
    vanished: list = field(default_factory=list)  # parameters whose column vanished


def _free(x, g, lower, upper):
    """Components not held by a bound (a bound holds where -g points out of the box)."""
    return ~(((x <= lower) & (g > 0.0)) | ((x >= upper) & (g < 0.0)))


def cosine(g, A, rss, free=None) -> float:
    """max_j |J_jᵀ r| / (||J_j|| ||r||) over the free columns (0 where J_j = 0)."""
    d = np.sqrt(np.maximum(np.diag(A), 0.0))
    if rss <= 0.0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(d > 0.0, np.abs(g) / (d * math.sqrt(rss)), 0.0)
    if free is not None:
        c = c[free]
    return float(np.max(c)) if c.size else 0.0


def levenberg_marquardt(lsq, x0, lower, upper, *, tol: float, max_iter: int,
                        damping: float = 1e-3, deadline=None, y_norm2=None,
                        polish: int = POLISH_STEPS, avv=None, progress=None) -> LMOutcome:
    """Minimise S(x) = sum r_i(x)**2 in the box [lower, upper].

    Args:
        lsq: ``lsq(x, g, A) -> S`` writing Jᵀr into g and JᵀJ (p x p) into A.
        x0: the start (projected into the box).
        tol: the cosine tolerance of the convergence test.
        max_iter: trial steps at most (each costs one data pass).
        damping: the initial lambda, relative to the scaled unit diagonal.
        deadline: absolute ``time.perf_counter()`` time, or None.
        y_norm2: sum of squared targets for the exact-fit test (None: only S == 0).
        avv: ``avv(x, v, out)`` writing Jᵀ r_vv (the residuals' second derivative along
            v), for geodesic acceleration; None for residuals linear in x.
        progress: optional ``progress(trial steps, S, Jᵀr, x, step)``, called after
            each accepted step (x the new point, step the move that reached it).
    """
    t0 = time.perf_counter()
    p = x0.size
    x = np.clip(np.array(x0, dtype=float), lower, upper)
    g, A = np.empty(p), np.empty((p, p))
    gt, At = np.empty(p), np.empty((p, p))
    M, L, u = np.empty((p, p)), np.empty((p, p)), np.empty(p)
    ua, jrvv = np.empty(p), np.empty(p)
    navv = 0
    rss = float(lsq(x, g, A))
    nfev = 1
    history = [rss]

    def out(status, reason, xr, sr, gr, Ar, exact=False):
        free = _free(xr, gr, lower, upper)
        return LMOutcome(status, reason, xr.copy(), sr, gr.copy(), Ar.copy(),
                         cosine(gr, Ar, sr, free), it, nfev, navv, time.perf_counter() - t0,
                         history, exact)

    it = 0
    if not (math.isfinite(rss) and np.all(np.isfinite(g)) and np.all(np.isfinite(A))):
        return out("diverged", "the sum of squares or its Jacobian is not finite at the "
                   "start", x, rss, g, A)
    D2 = np.diag(A).copy()
    D2[~(D2 > 0.0)] = 1.0
    lam, nu = float(damping), 2.0
    held = None         # (x, rss, g, A, exact) where the test last held
    since_held = 0      # accepted steps since the test first held (without failing)
    settled = False     # the last accepted step was below SETTLED (scaled)
    exact_scale = None if y_norm2 is None else (EXACT_FIT ** 2) * y_norm2
    nsmall = 0

    influenced = np.diag(A) > 0.0   # columns that have been nonzero

    def done():
        """Converged, unless a column that mattered has vanished (a parameter ran off
        to where it no longer affects the model: "evaporated", e.g. exp underflowed)."""
        xh, sh, gh, Ah, ex = held
        gone = _free(xh, gh, lower, upper) & influenced & (np.diag(Ah) <= TINY)
        if gone.any():
            o = out("stalled", "vanished", xh, sh, gh, Ah)
            o.vanished = [int(j) for j in np.flatnonzero(gone)]
            return o
        return out("converged", "test", xh, sh, gh, Ah, exact=ex)

    try:
        while True:
            free = _free(x, g, lower, upper)
            cos = cosine(g, A, rss, free)
            exact = rss == 0.0 or (exact_scale is not None and rss <= exact_scale)
            if cos <= tol or exact:
                held = (x.copy(), rss, g.copy(), A.copy(), exact)
                if rss == 0.0 or (since_held >= polish and settled):
                    return done()
            elif held is not None:
                # a later step lowered S and the test fails there: the point where it
                # held was no minimum (near-dependent columns can pass it); go on
                held, since_held = None, 0
            if it >= max_iter:
                return done() if (held is not None and settled) else \
                    out("max_iter", "max_iter", x, rss, g, A)
            if deadline is not None and time.perf_counter() >= deadline:
                return done() if (held is not None and settled) else \
                    out("timeout", "time_limit", x, rss, g, A)
            # the damped, scaled normal equations on the free components
            s = 1.0 / np.sqrt(D2)
            np.multiply(A, np.outer(s, s), out=M)
            rhs = -g * s
            fixed = ~free
            if fixed.any():
                M[fixed, :] = 0.0
                M[:, fixed] = 0.0
                M[fixed, fixed] = 1.0
                rhs[fixed] = 0.0
            if not cholesky_shifted(M, lam, L):
                lam, nu = lam * nu, nu * 2.0
                if lam > LAMBDA_MAX:
                    break
                continue
            cholesky_solve(L, rhs, u)
            step = s * u
            if avv is not None:
                # geodesic acceleration (Transtrum & Sethna 2012): the second-order
                # correction a solves the same system with Jᵀ r_vv; accept the step
                # v + a/2 only while 2 ||a|| / ||v|| <= ACCEL_RATIO (scaled norms)
                avv(x, step, jrvv)
                navv += 1
                rhs_a = -jrvv * s
                rhs_a[fixed] = 0.0
                cholesky_solve(L, rhs_a, ua)
                un = math.sqrt(u @ u)
                if not (2.0 * math.sqrt(ua @ ua) <= ACCEL_RATIO * un):
                    it += 1
                    lam, nu = lam * nu, nu * 2.0
                    if lam > LAMBDA_MAX:
                        break
                    continue
                step = s * (u + 0.5 * ua)
            xt = np.clip(x + step, lower, upper)
            dd = xt - x
            if np.all(np.abs(dd) <= 2.0 * EPS * np.abs(x)):
                nsmall += 1
                if nsmall >= 2 or lam <= 1e-12:
                    break  # the step no longer changes x
                lam = lam / 10.0
                continue
            pred = -(2.0 * (g @ dd) + dd @ A @ dd)
            rss_t = float(lsq(xt, gt, At))
            nfev += 1
            it += 1
            finite = math.isfinite(rss_t) and np.all(np.isfinite(gt)) and \
                np.all(np.isfinite(At))
            rho = (rss - rss_t) / pred if (finite and pred > 0.0) else -1.0
            band = finite and held is not None and abs(rss_t - rss) <= 8.0 * EPS * rss and \
                cosine(gt, At, rss_t, _free(xt, gt, lower, upper)) < cos
            if rho > ACCEPT or band:
                dnorm = math.sqrt(D2 @ (dd * dd))
                xnorm = math.sqrt(D2 @ (x * x))
                settled = dnorm <= SETTLED * max(xnorm, EPS)
                x, rss = xt, rss_t
                g, gt = gt, g
                A, At = At, A
                np.maximum(D2, np.diag(A), out=D2)
                influenced |= np.diag(A) > 0.0
                history.append(rss)
                if progress is not None:
                    progress(it, rss, g, x, dd)
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * min(rho, 1.0) - 1.0) ** 3) if rho > 0 \
                    else 1.0
                lam = max(lam, 1e-300)
                nu = 2.0
                nsmall = 0
                if held is not None:
                    since_held += 1
            else:
                lam, nu = lam * nu, nu * 2.0
                if lam > LAMBDA_MAX:
                    break
    except KeyboardInterrupt:
        if held is not None and held[1] <= rss:
            return out("interrupted", "interrupted", *held[:4])
        return out("interrupted", "interrupted", x, rss, g, A)
    # no step can change x or lower S any more
    if held is not None:
        return done()
    return out("stalled", "no step lowers the sum of squares", x, rss, g, A)
