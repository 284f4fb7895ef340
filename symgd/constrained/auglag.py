"""The augmented Lagrangian method (``auglag``) with a projected-Newton inner solver.

For min f(x) s.t. c_E(x) = 0, c_I(x) <= 0, lo <= x <= hi, the Powell-Hestenes-
Rockafellar augmented Lagrangian with multipliers y and penalty rho is

    L(x) = f(x) + (1 / 2 rho) sum_i (t_i^2 - y_i^2),   t_i = y_i + rho c_i (i in E),
                                                        t_i = max(0, y_i + rho c_i) (I),
    grad L = grad f + J^T t,
    hess L = hess f + sum_i t_i hess c_i + rho sum_{t_i > 0 or i in E} grad c_i grad c_i^T.

L is once differentiable only (the max), so its Hessian is assembled here from the
compiled hess f, the weighted constraint Hessian sum_i t_i hess c_i (one kernel, the
weights passed in) and J, never differentiated symbolically. Each outer iteration
minimises L over the box by projected Newton (Bertsekas, "Projected Newton methods for
optimization problems with simple constraints", SIAM J. Control Optim. 20, 1982: the
variables held at a bound are fixed, the Newton step is taken on the others with the
Hessian's eigenvalues made positive, and an Armijo search runs along the projection
arc), then updates y <- t, as ALGENCAN does (Andreani, Birgin, Martinez, Schuverdt,
SIAM J. Optim. 18, 2008): multipliers are kept in a safeguarding box, and the penalty
grows tenfold when max(|c_E|, |V|), V_i = max(c_i, -y_i / rho) measuring inequality
violation and complementarity together, fails to fall to half its previous value.
After every outer iteration a Newton step on the KKT equations of the identified
active set (symgd.constrained.kkt.polish) is tried; its answer is kept only when the
recomputed KKT measures pass. Success is never claimed otherwise.

From symgd.constrained.sparse_newton.MIN_VARS variables on, where the terms of f and the
constraints leave hess L sparse, the Newton systems are factored in a fixed sparse
pattern (symgd.constrained.sparse_newton) instead of eigendecomposed: n = 2,000 with
1,000 constraints went from 55 s of iterations to 2 s.
"""
from __future__ import annotations

import math

import numpy as np

from symgd import clock
from symgd.constrained import answer, kkt
from symgd.constrained.counting import CountedBundle, Counter
from symgd.history import Recorder
from symgd.outcome import Outcome

MAX_OUTER = 60
INNER_MAX = 100          # Newton steps per subproblem: a poorly scaled one must not stall
                         # the penalty and multiplier updates that rescale it
RHO_MAX = 1e14
Y_MAX = 1e12             # ALGENCAN's safeguarding box for the multiplier estimates
UNBOUNDED_F = -1e20
ARMIJO_C1 = 1e-4
MAX_ESCAPES = 3
ESCAPE_STEP = 1e-2       # step off a saddle, relative to max(|x_j|, 1)
RADIUS = 10.0            # longest inner step, in units of max(|x_j|, typical_x)


class _Lagrangian:
    """L, its gradient and Hessian at x for given (y, rho), counting evaluations."""

    def __init__(self, bundle, count):
        from symgd.constrained.sparse_newton import SparseSystem
        self.b = bundle
        self.ck = bundle.constraints
        self.count = count
        self.sparse = SparseSystem.for_run(bundle)  # None: the dense path

    def parts(self, x):
        g = np.zeros(x.size)
        f = float(self.b.fg(x, g))
        if self.ck.m:
            c = self.ck.values(x)
            # the sparse system's CSR (symgd.constrained.sparse_jacobian), else dense
            J = self.ck.jacobian(x) if self.sparse is None else \
                self.sparse.jac_layout.matrix(self.ck, x)
        else:
            c, J = np.zeros(0), np.zeros((0, x.size))
        return f, g, c, J

    def multiplier_terms(self, c, y, rho):
        t = y + rho * c
        ineq = ~self.ck.equality
        t[ineq] = np.maximum(t[ineq], 0.0)
        return t

    def value(self, parts, y, rho):
        f, g, c, J = parts
        t = self.multiplier_terms(c, y, rho)
        L = f + float(np.sum(t * t - y * y)) / (2.0 * rho) if c.size else f
        return L, g + J.T @ t

    def curvature(self, x, parts, y, rho):
        """(hess f + sum_i t_i hess c_i, and the mask of the constraints whose rho grad
        c_i grad c_i^T belongs in hess L: equalities and t_i > 0). The matrix is dense,
        or with a sparse system its slots (SparseSystem.lagrangian_slots)."""
        f, g, c, J = parts
        n = x.size
        on = np.zeros(0, dtype=bool)
        t = np.zeros(c.size)
        if c.size:
            t = self.multiplier_terms(c, y, rho)
            on = self.ck.equality | (t > 0.0)
        if self.sparse is not None:
            return self.sparse.lagrangian_slots(self.b, x, t, n), on
        H = np.zeros((n, n))
        self.b.hess(x, H)
        if c.size:
            H += self.ck.weighted_hessian(x, t)
        return H, on

    def hessian(self, x, parts, y, rho):
        H, on = self.curvature(x, parts, y, rho)
        if on.size:
            Ja = parts[3][on]
            H += rho * (Ja.T @ Ja)
        return H

    def direction(self, x, parts, y, rho, gL, fixed, scale):
        """The projected-Newton direction: sparse (symgd.constrained.sparse_newton)
        where the run has a sparse system, else dense (:func:`_newton_direction`)."""
        if self.sparse is None:
            return _newton_direction(self.hessian(x, parts, y, rho), gL, fixed, scale,
                                     RADIUS)
        H, on = self.curvature(x, parts, y, rho)
        vals = self.sparse.values(H, parts[3], on, rho)
        return self.sparse.direction(vals, gL, fixed, scale, RADIUS)


def _newton_direction(H, gL, fixed, scale, radius):
    """The projected-Newton direction: Newton on the free variables with |eigenvalues|
    floored (a descent direction whatever the curvature), a scaled gradient step on
    the variables held at a bound (the projection keeps them there).

    Computed in the variables' own scale (D = diag(scale): D H D, D g), and held to
    length ``radius`` there by a Levenberg-Marquardt shift tau (eigenvalues |w| + tau,
    tau found by bisection; More & Sorensen's trust-region step in the eigenbasis):
    along a direction of (nearly) zero curvature the plain step is unbounded (a linear
    objective with one equality has a rank-one augmented Hessian)."""
    d = np.zeros(gL.size)
    free = ~fixed
    if np.any(free):
        D = scale[free]
        Hf = H[np.ix_(free, free)] * np.outer(D, D)
        gs = gL[free] * D
        if not np.all(np.isfinite(Hf)):
            d[free] = -gs * D / max(float(np.linalg.norm(gs)), 1e-300)
        else:
            w, V = np.linalg.eigh(0.5 * (Hf + Hf.T))
            big = max(float(np.max(np.abs(w))), 1e-300)
            w = np.maximum(np.abs(w), 1e-10 * max(big, 1e-300))
            b = V.T @ gs
            tau = 0.0
            with np.errstate(over="ignore"):
                too_long = not float(np.linalg.norm(b / w)) <= radius
            if too_long:
                lo_t, hi_t = 0.0, float(np.linalg.norm(b)) / radius
                for _ in range(60):
                    tau = 0.5 * (lo_t + hi_t)
                    if float(np.linalg.norm(b / (w + tau))) > radius:
                        lo_t = tau
                    else:
                        hi_t = tau
                tau = hi_t
            d[free] = -(V @ (b / (w + tau))) * D
    if np.any(fixed):
        diag = np.diag(H)[fixed]
        d[fixed] = -gL[fixed] / np.where(diag > 1e-12, diag, 1.0)
    return d


def _inner(lag, x, y, rho, lo, hi, eps, budget, deadline, typical, on_step=None):
    """Minimise L(., y, rho) over the box from x by projected Newton. Returns
    (x, parts at x, steps taken, why it stopped: converged / stalled / budget / time).
    ``on_step(x, parts, step length)``, if given, sees every accepted step."""
    parts = lag.parts(x)
    L, gL = lag.value(parts, y, rho)
    steps = 0
    while True:
        pg = x - np.clip(x - gL, lo, hi)
        rel = float(np.max(np.abs(pg) * np.maximum(np.abs(x), typical[0]), initial=0.0)) / \
            max(abs(L), typical[1])
        if rel <= eps:
            return x, parts, steps, "converged"
        if steps >= budget:
            return x, parts, steps, "budget"
        if deadline is not None and clock.now() > deadline:
            return x, parts, steps, "time"
        delta = min(1e-6 * max(1.0, float(np.max(np.abs(x), initial=0.0))),
                    float(np.max(np.abs(pg))))
        fixed = ((x - lo <= delta) & (gL > 0.0)) | ((hi - x <= delta) & (gL < 0.0))
        scale = np.maximum(np.abs(x), typical[0])
        accepted = False
        # the Newton direction; where its search fails, the scaled projected gradient
        # (a descent direction along the projection arc: Bertsekas 1982, D_k diagonal)
        gs = gL * scale
        for d in (lag.direction(x, parts, y, rho, gL, fixed, scale),
                  -gs * scale * (RADIUS / max(float(np.linalg.norm(gs)), 1e-300))):
            accepted, xt, pt, Lt, gt = _arc_search(lag, x, d, L, gL, y, rho, lo, hi)
            if accepted:
                break
        steps += 1
        if not accepted:
            return x, parts, steps, "stalled"
        if on_step is not None:
            on_step(xt, pt, float(np.max(np.abs(xt - x), initial=0.0)))
        x, parts, L, gL = xt, pt, Lt, gt
        if parts[0] < UNBOUNDED_F:
            return x, parts, steps, "unbounded"


def _arc_search(lag, x, d, L, gL, y, rho, lo, hi):
    """Armijo backtracking along the projection arc P(x + a d) (Bertsekas 1982).
    Returns (accepted, x_t, parts, L_t, grad L_t)."""
    alpha = 1.0
    for _ in range(50):
        xt = np.clip(x + alpha * d, lo, hi)
        decrease = float(gL @ (xt - x))
        if decrease >= 0.0 and alpha < 1.0 or not np.any(xt != x):
            break
        pt = lag.parts(xt)
        Lt, gt = lag.value(pt, y, rho)
        if math.isfinite(Lt) and np.all(np.isfinite(gt)) and \
                Lt <= L + ARMIJO_C1 * min(decrease, 0.0):
            return True, xt, pt, Lt, gt
        alpha *= 0.5
    return False, x, None, L, gL


def run(bundle, x0, lo, hi, opts, deadline) -> Outcome:
    """The augmented Lagrangian method from x0 (inside the box). ``opts``: tol, ctol,
    max_iter (inner Newton steps in all), typical_x, typical_f, penalty (the initial
    rho, or None for ALGENCAN's choice)."""
    t0 = clock.now()
    count = Counter()
    bundle = CountedBundle(bundle, count)
    lag = _Lagrangian(bundle, count)
    ck = bundle.constraints
    x = np.clip(np.asarray(x0, dtype=float), lo, hi)
    y = np.zeros(ck.m)
    f0, _, c0, _ = lag.parts(x)
    if not math.isfinite(f0):
        return _outcome("diverged", x, y, bundle, lo, hi, opts, count, 0, t0, f0,
                        "the objective is not finite at the start")
    sq = 0.5 * float(np.sum(np.where(ck.equality, c0, np.maximum(c0, 0.0)) ** 2))
    rho = opts.get("penalty") or min(max(10.0 * max(1.0, abs(f0)) / max(1.0, sq), 1e-8), 1e8)
    rho = float(rho)
    rec = Recorder(x.size) if opts.get("history", True) else None
    if rec is not None:
        rec.add(f0, x=x)
    callback = opts.get("_callback")
    where = [x, 0]  # the newest accepted point and the Newton steps taken so far

    def on_step(xs, parts, step):
        # one row per accepted Newton step (the gradient norm of the augmented
        # Lagrangian is the subproblem's, not the problem's: left NaN)
        if rec is not None:
            rec.add(parts[0], step=step, x=xs)
        where[0], where[1] = xs, where[1] + 1
        if callback is not None:
            callback(where[1], xs, parts[0], math.nan)

    try:
        out = _outer(lag, bundle, ck, x, y, rho, lo, hi, opts, count, t0, f0, deadline,
                     on_step)
    except KeyboardInterrupt:  # Ctrl-C, or the user's callback asked to stop
        out = _outcome("interrupted", where[0], y, bundle, lo, hi, opts, count, where[1],
                       t0, f0, f"interrupted after {where[1]} Newton steps; x is the last "
                       "point reached (not checked for feasibility)")
    if rec is not None:
        if not np.array_equal(out.x, where[0]):  # the KKT polish moved it: a last row
            rec.add(out.f, step=float(np.max(np.abs(out.x - where[0]), initial=0.0)),
                    x=out.x)
        out.history_table = rec.columns()
    return out


def _outer(lag, bundle, ck, x, y, rho, lo, hi, opts, count, t0, f0, deadline, on_step):
    """The outer iterations of :func:`run`: a subproblem, then the multiplier and
    penalty updates, until the KKT test holds at a point or a limit is met."""
    tol, ctol = float(opts["tol"]), float(opts["ctol"])
    typical = (float(opts["typical_x"]), float(opts["typical_f"]))
    max_steps = int(opts["max_iter"])
    eps = 1e-4
    prev = math.inf
    steps = 0
    least = (math.inf, x.copy(), y.copy())   # least violation seen: (violation, x, y)
    escapes, escaped = 0, ""
    why = "max_iter"
    for outer in range(MAX_OUTER):
        x, parts, k, stop = _inner(lag, x, y, rho, lo, hi, eps,
                                   min(max_steps - steps, INNER_MAX), deadline, typical,
                                   on_step)
        steps += k
        f, g, c, J = parts
        t = lag.multiplier_terms(c, y, rho)
        V = np.where(ck.equality, c, np.maximum(c, -y / rho)) if ck.m else c
        infeas = float(np.max(np.abs(V), initial=0.0))
        y = np.clip(t, -Y_MAX, Y_MAX)
        viol = kkt.violation(ck, c, x, lo, hi)
        if viol < least[0]:
            least = (viol, x.copy(), y.copy())
        if stop == "unbounded" and viol <= ctol:
            return _outcome("unbounded", x, y, bundle, lo, hi, opts, count, steps, t0, f0,
                            f"the objective fell below {UNBOUNDED_F:g} at a feasible point: "
                            "it is unbounded below on the feasible set; add bounds or "
                            "constraints")
        found = answer.accept_point(bundle, x, y, lo, hi, tol, ctol, typical, infeas)
        if found is not None and found[3] is None:
            xs, ys, note, _ = found
            return _outcome("converged", xs, ys, bundle, lo, hi, opts, count, steps, t0, f0,
                            None, note=note + escaped, outer=outer + 1)
        if found is not None:  # a KKT point with a way down: step off it, once or twice
            if escapes >= MAX_ESCAPES:
                why = "saddle"
                break
            escapes += 1
            escaped = f"; stepped off {escapes} saddle point(s) of the Lagrangian on the way"
            d = found[3]
            x = np.clip(x + ESCAPE_STEP * np.maximum(np.abs(x), 1.0) * d / max(
                float(np.max(np.abs(d))), 1e-300), lo, hi)
            continue
        if stop == "time":
            why = "timeout"
            break
        if steps >= max_steps:
            why = "max_iter"
            break
        if infeas > 0.5 * prev and infeas > ctol:
            if rho >= RHO_MAX:
                why = "infeasible" if viol > ctol else "stalled"
                break
            rho = min(10.0 * rho, RHO_MAX)
        prev = infeas
        eps = max(0.1 * eps, 0.1 * tol)
    else:
        why = "infeasible" if least[0] > ctol else "stalled"
    if why == "infeasible":
        x, y = least[1], least[2]
        msg = (f"no feasible point found: the least constraint violation reached is "
               f"{least[0]:.3g} (ctol {ctol:g}), with the penalty at {rho:.3g}; the "
               "constraints may be inconsistent, or a local minimum of the violation "
               "holds the run: try another start or options.starts")
        return _outcome("infeasible", x, y, bundle, lo, hi, opts, count, steps, t0, f0, msg)
    return _outcome(why, x, y, bundle, lo, hi, opts, count, steps, t0, f0, None,
                    outer=MAX_OUTER)


def _outcome(status, x, y, bundle, lo, hi, opts, count, steps, t0, f0, message, *,
             note="", outer=0):
    return answer.outcome(status, x, y, bundle, lo, hi, opts, count, steps, t0, f0, message,
                          note=note, stall_words="the augmented Lagrangian made no further "
                          "progress")
