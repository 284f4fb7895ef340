"""A primal-dual interior-point method (``sqp``): the exact Hessian of the Lagrangian
and a filter line search, after IPOPT (A. Wächter and L. T. Biegler, "On the
implementation of an interior-point filter line-search algorithm for large-scale
nonlinear programming", Math. Program. 106, 2006; "W&B" below).

Problem (minimised sense): min f(x) s.t. c_E(x) = 0, c_I(x) <= 0, lo <= x <= hi.
Slacks s >= 0 make the inequalities equalities, c_I(x) + s = 0, so with w = (x, s)
the problem reads min f(w) s.t. h(w) = 0, wlo <= w <= whi, and for a falling barrier
parameter mu the barrier problem

    min phi_mu(w) = f - mu sum_j log(w_j - wlo_j) - mu sum_j log(whi_j - w_j)  s.t. h = 0

is solved approximately (mu <- max(mu_min, min(0.2 mu, mu^1.5)) once its optimality
error E_mu <= 10 mu: W&B eq. 7). A step solves the primal-dual system (W&B eq. 13)

    [[W + Sigma + d_w I, A^T], [A, -d_c I]] (dw, dy) = -(grad phi_mu + A^T y, h)

with W the Hessian of the Lagrangian (zero in the slacks), A = dh/dw, Sigma =
zL/(w - wlo) + zU/(whi - w); d_w >= 0 is raised until the matrix has n + |I| positive
and m negative eigenvalues (W&B section 3.1: otherwise the step need not be a descent
direction for phi; symgd.constrained.primal_dual counts them by an eigendecomposition,
or on large sparse problems proves them by a sparse Cholesky and solves by a sparse
LU). The step length is at most the fraction-to-the-boundary
tau = max(0.99, 1 - mu) (W&B eq. 15) and is accepted by the filter of W&B section 2.3
(theta = |h|_1 against phi_mu, with their switching condition and Armijo test), with
second-order corrections against the Maratos effect (W&B section 2.4). There is no
feasibility restoration phase: where the line search fails the run ends 'stalled'
(auto then runs auglag).

Near the end the active set is read off the iterate (a slack or a bound gap smaller
than its multiplier is active), the point is put on its active bounds, and
symgd.constrained.answer.accept_point applies SPEC §2's KKT test, with the KKT-Newton
polish of the active set and the second-order check, so the answer is accurate to
~1e-10 and success is never claimed without the recomputed measures.
"""
from __future__ import annotations

import math

import numpy as np

from symgd import clock
from symgd.constrained import answer
from symgd.constrained.counting import CountedBundle, Counter
from symgd.history import Recorder
from symgd.outcome import Outcome

MU_INIT = 0.1
KAPPA_EPS = 10.0         # E_mu <= KAPPA_EPS mu: the barrier problem is solved well enough
KAPPA_MU, THETA_MU = 0.2, 1.5
KAPPA_SIGMA = 1e10       # the bound multipliers stay within this factor of mu / gap
PUSH = 1e-2              # the start's distance from its bounds (W&B section 3.6, kappa_1)
S_MAX = 100.0            # the scaling of the optimality error (W&B eq. 5)
GAMMA_THETA, GAMMA_PHI = 1e-5, 1e-5
ETA_PHI = 1e-4
S_THETA, S_PHI, DELTA = 1.1, 2.3, 1.0
GAMMA_ALPHA = 0.05
SOC_MAX, KAPPA_SOC = 4, 0.99
DELTA_W_FIRST, DELTA_W_MIN, DELTA_W_MAX = 1e-4, 1e-20, 1e40
UNBOUNDED_F = -1e20
CHECK_ERROR = 1e-3       # the IPM's own error below which the KKT test is tried
POLISH_STEPS = 4         # KKT-Newton steps per try (the iterations go on where it fails)


class _Problem:
    """h(w) = c(x) + s (slacks on the inequality rows) and its Jacobian A = [J, P]
    (symgd.constrained.primal_dual: dense, or sparse on large sparse problems), and
    the bounds of w, over a counted bundle."""

    def __init__(self, bundle, lo, hi):
        from symgd.constrained import primal_dual

        self.b = bundle
        self.ck = bundle.constraints
        self.n = lo.size
        self.m = self.ck.m
        self.ineq = np.flatnonzero(~self.ck.equality) if self.m else np.zeros(0, dtype=int)
        self.mi = self.ineq.size
        self.N = self.n + self.mi
        self.kkt = primal_dual.for_problem(self.n, self.ineq, bundle)
        self.lo = np.concatenate([lo, np.zeros(self.mi)])
        self.hi = np.concatenate([hi, np.full(self.mi, np.inf)])
        self.has_lo, self.has_hi = np.isfinite(self.lo), np.isfinite(self.hi)

    def values(self, w):
        """(f, grad f in w, h) at w; f is nan where anything is not finite."""
        x = w[:self.n]
        g = np.zeros(self.n)
        f = float(self.b.fg(x, g))
        h = self.ck.values(x) if self.m else np.zeros(0)
        h[self.ineq] += w[self.n:]
        gw = np.concatenate([g, np.zeros(self.mi)])
        if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            f = math.nan
        return f, gw, h

    def jacobian(self, w):
        return self.kkt.jacobian(self.ck, w[:self.n])

    def hessian(self, w, y):
        """The Lagrangian's Hessian in x, as the primal-dual system stores it."""
        return self.kkt.lagrangian_hessian(self.b, w[:self.n], y)


class _State:
    """The primal-dual iterate and the values at it."""

    def __init__(self, w, y, zl, zu, f, gw, h, A):
        self.w, self.y, self.zl, self.zu = w, y, zl, zu
        self.f, self.gw, self.h, self.A = f, gw, h, A


def _gaps(prob, w):
    return (np.where(prob.has_lo, w - prob.lo, 1.0), np.where(prob.has_hi, prob.hi - w, 1.0))


def _barrier(prob, f, w, mu):
    dl, du = _gaps(prob, w)
    return f - mu * float(np.sum(np.log(dl[prob.has_lo]))) \
        - mu * float(np.sum(np.log(du[prob.has_hi])))


def _error(prob, st, mu):
    """W&B eq. 5: the scaled optimality error of the barrier problem (mu = 0: of the
    problem itself)."""
    dl, du = _gaps(prob, st.w)
    dual = st.gw + st.A.T @ st.y - st.zl + st.zu
    nz = int(np.sum(prob.has_lo) + np.sum(prob.has_hi))
    zsum = float(np.sum(np.abs(st.zl)) + np.sum(np.abs(st.zu)))
    sd = max(S_MAX, (float(np.sum(np.abs(st.y))) + zsum) / max(prob.m + nz, 1)) / S_MAX
    sc = max(S_MAX, zsum / max(nz, 1)) / S_MAX
    comp = max(float(np.max(np.abs(np.where(prob.has_lo, dl * st.zl - mu, 0.0)), initial=0.0)),
               float(np.max(np.abs(np.where(prob.has_hi, du * st.zu - mu, 0.0)), initial=0.0)))
    return max(float(np.max(np.abs(dual), initial=0.0)) / sd,
               float(np.max(np.abs(st.h), initial=0.0)), comp / sc)


def _start(prob, x0):
    """x pushed PUSH (relative, at most a PUSH share of the box) inside its bounds;
    slacks from the constraints' values, pushed off zero (W&B section 3.6)."""
    lo, hi = prob.lo[:prob.n], prob.hi[:prob.n]
    x = np.clip(np.asarray(x0, dtype=float), lo, hi)
    width = hi - lo
    pl = np.minimum(PUSH * np.maximum(1.0, np.abs(lo)), np.where(np.isfinite(width),
                                                                 PUSH * width, np.inf))
    pu = np.minimum(PUSH * np.maximum(1.0, np.abs(hi)), np.where(np.isfinite(width),
                                                                 PUSH * width, np.inf))
    with np.errstate(invalid="ignore"):   # inf - inf where a side has no bound
        x = np.where(np.isfinite(lo), np.maximum(x, lo + pl), x)
        x = np.where(np.isfinite(hi), np.minimum(x, hi - pu), x)
    both = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
    x[both] = lo[both]
    c = prob.ck.values(x) if prob.m else np.zeros(0)
    s = np.maximum(-c[prob.ineq], PUSH)
    return np.concatenate([x, s])


def _step(prob, st, W, mu, dw_last):
    """Solve the primal-dual system with inertia correction. Returns (dw, dy, dzl, dzu,
    the shift d_w used, a solver of the factored system for corrections, grad phi) or
    None where no shift up to DELTA_W_MAX gives the right inertia."""
    N, m = prob.N, prob.m
    dl, du = _gaps(prob, st.w)
    sig = np.where(prob.has_lo, st.zl / dl, 0.0) + np.where(prob.has_hi, st.zu / du, 0.0)
    gphi = st.gw - np.where(prob.has_lo, mu / dl, 0.0) + np.where(prob.has_hi, mu / du, 0.0)
    rhs = -np.concatenate([gphi + st.A.T @ st.y, st.h])
    if not prob.kkt.prepare(W, sig, st.A):
        return None
    dc = 0.0
    shift = 0.0
    while True:
        verdict, solve = prob.kkt.factor(shift, dc)
        if verdict == "ok":
            break
        if verdict == "singular" and dc == 0.0 and m:
            dc = 1e-8 * mu ** 0.25      # a rank-deficient Jacobian (W&B section 3.1)
            continue
        if shift == 0.0:
            shift = DELTA_W_FIRST if dw_last == 0.0 else max(DELTA_W_MIN, dw_last / 3.0)
        else:
            shift *= 100.0 if dw_last == 0.0 else 8.0
        if shift > DELTA_W_MAX:
            return None
    sol = solve(rhs)
    dw, dy = sol[:N], sol[N:]
    dzl = np.where(prob.has_lo, mu / dl - st.zl - st.zl / dl * dw, 0.0)
    dzu = np.where(prob.has_hi, mu / du - st.zu + st.zu / du * dw, 0.0)
    return dw, dy, dzl, dzu, shift, solve, gphi


def _fraction_to_boundary(prob, w, dw, z, dz, tau):
    """The largest alpha in (0, 1] keeping w + alpha dw at least (1 - tau) of its gap
    from each bound and z + alpha dz >= (1 - tau) z (W&B eq. 15)."""
    alpha = 1.0
    dl, du = _gaps(prob, w)
    for gap, d, has in ((dl, -dw, prob.has_lo), (du, dw, prob.has_hi)):
        hit = has & (d > 0.0)
        if np.any(hit):
            alpha = min(alpha, float(np.min(tau * gap[hit] / d[hit])))
    alpha_z = 1.0
    for zz, dd, has in ((z[0], dz[0], prob.has_lo), (z[1], dz[1], prob.has_hi)):
        hit = has & (dd < 0.0)
        if np.any(hit):
            alpha_z = min(alpha_z, float(np.min(-tau * zz[hit] / dd[hit])))
    return alpha, alpha_z


class _Filter:
    """W&B section 2.3: the pairs (theta, phi) a trial point must not be dominated by."""

    def __init__(self, theta0):
        self.theta_max = 1e4 * max(1.0, theta0)
        self.theta_min = 1e-4 * max(1.0, theta0)
        self.pairs = []

    def reset(self):
        self.pairs = []

    def blocks(self, theta, phi):
        return theta > self.theta_max or any(theta >= t and phi >= p for t, p in self.pairs)

    def add(self, theta, phi):
        self.pairs.append(((1.0 - GAMMA_THETA) * theta, phi - GAMMA_PHI * theta))


def _acceptable(flt, theta, phi, slope, alpha, theta_t, phi_t):
    """(accepted, f-type): the filter's acceptance test for a trial point."""
    if not (math.isfinite(phi_t) and math.isfinite(theta_t)) or flt.blocks(theta_t, phi_t):
        return False, False
    switching = slope < 0.0 and alpha * (-slope) ** S_PHI > DELTA * theta ** S_THETA
    if theta <= flt.theta_min and switching:
        return phi_t <= phi + ETA_PHI * alpha * slope, True
    return theta_t <= (1.0 - GAMMA_THETA) * theta or phi_t <= phi - GAMMA_PHI * theta, False


def _alpha_min(flt, theta, slope):
    """W&B eq. 23: below this step the line search gives up."""
    a = GAMMA_THETA
    if slope < 0.0:
        a = min(a, GAMMA_PHI * theta / -slope)
        if theta <= flt.theta_min:
            a = min(a, DELTA * theta ** S_THETA / (-slope) ** S_PHI)
    return GAMMA_ALPHA * a


def _line_search(prob, st, d, mu, tau, flt):
    """The filter line search with second-order corrections. Returns (alpha, w, f, gw,
    h, f-type) for an accepted trial, or None."""
    dw, dy, dzl, dzu, _, _, gphi = d
    theta = float(np.sum(np.abs(st.h)))
    phi = _barrier(prob, st.f, st.w, mu)
    slope = float(gphi @ dw)
    alpha, _ = _fraction_to_boundary(prob, st.w, dw, (st.zl, st.zu), (dzl, dzu), tau)
    amin = _alpha_min(flt, theta, slope)
    first = True
    while alpha >= amin:
        wt = st.w + alpha * dw
        ft, gt, ht = prob.values(wt)
        theta_t = float(np.sum(np.abs(ht))) if math.isfinite(ft) else math.inf
        phi_t = _barrier(prob, ft, wt, mu) if math.isfinite(ft) else math.inf
        ok, ftype = _acceptable(flt, theta, phi, slope, alpha, theta_t, phi_t)
        if ok:
            return alpha, wt, ft, gt, ht, ftype
        if first and math.isfinite(theta_t) and theta_t >= theta and prob.m:
            found = _second_order(prob, st, d, mu, tau, flt, alpha, ht, theta, phi, slope)
            if found is not None:
                return found
        first = False
        alpha *= 0.5
    return None


def _second_order(prob, st, d, mu, tau, flt, alpha, h_trial, theta, phi, slope):
    """W&B section 2.4: steps that also correct the constraints' curvature, solving the
    same system with the constraint residual alpha h(w) + h(w + alpha dw)."""
    dw, _, _, _, _, solve, gphi = d
    N = prob.N
    c_soc = alpha * st.h + h_trial
    theta_old = float(np.sum(np.abs(h_trial)))
    for _ in range(SOC_MAX):
        rhs = -np.concatenate([gphi + st.A.T @ st.y, c_soc])
        dws = solve(rhs)[:N]
        none = np.zeros(N)
        a_soc, _ = _fraction_to_boundary(prob, st.w, dws, (st.zl, st.zu), (none, none), tau)
        wt = st.w + a_soc * dws
        ft, gt, ht = prob.values(wt)
        if not math.isfinite(ft):
            return None
        theta_t = float(np.sum(np.abs(ht)))
        ok, ftype = _acceptable(flt, theta, phi, slope, alpha, theta_t,
                                _barrier(prob, ft, wt, mu))
        if ok:
            return alpha, wt, ft, gt, ht, ftype
        if theta_t > KAPPA_SOC * theta_old:
            return None
        theta_old = theta_t
        c_soc = a_soc * c_soc + ht
    return None


def _answer_candidate(prob, st):
    """The iterate read as an answer: x on the bounds whose gap is below its multiplier,
    and internal multipliers y (>= 0 on inequalities; 0 where the slack exceeds its
    multiplier, so complementarity is exact for the inactive ones)."""
    n = prob.n
    x = st.w[:n].copy()
    dl, du = _gaps(prob, st.w)
    on_lo = prob.has_lo[:n] & (dl[:n] < st.zl[:n])
    on_hi = prob.has_hi[:n] & (du[:n] < st.zu[:n])
    x[on_lo] = prob.lo[:n][on_lo]
    x[on_hi] = prob.hi[:n][on_hi]
    y = st.y.copy()
    if prob.mi:
        s, zs = st.w[n:], st.zl[n:]
        y[prob.ineq] = np.where(s < zs, np.maximum(zs, 0.0), 0.0)
    return x, y


def run(bundle, x0, lo, hi, opts, deadline) -> Outcome:
    """The interior-point method from x0. ``opts``: tol, ctol, max_iter, typical_x,
    typical_f, history, _callback."""
    t0 = clock.now()
    count = Counter()
    cb = CountedBundle(bundle, count)
    prob = _Problem(cb, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    w = _start(prob, x0)
    f0, gw, h = prob.values(w)
    x_start = w[:prob.n].copy()
    if not math.isfinite(f0):
        return _end("diverged", x_start, np.zeros(prob.m), cb, lo, hi, opts, count, 0, t0, f0,
                    "the objective or a constraint is not finite at the start (moved "
                    f"{PUSH:g} inside its bounds)")
    rec = Recorder(prob.n) if opts.get("history", True) else None
    if rec is not None:
        rec.add(f0, x=x_start)
    where = [x_start, 0, np.zeros(prob.m)]   # newest iterate, steps, multipliers
    try:
        out = _iterate(prob, w, f0, gw, h, cb, lo, hi, opts, count, t0, deadline, rec, where)
    except KeyboardInterrupt:  # Ctrl-C, or the user's callback asked to stop
        out = _end("interrupted", where[0], where[2], cb, lo, hi, opts, count, where[1], t0,
                   f0, f"interrupted after {where[1]} interior-point steps; x is the last "
                   "point reached (not checked for feasibility)")
    if rec is not None:
        if not np.array_equal(out.x, where[0]):  # the answer was polished: a last row
            rec.add(out.f, step=float(np.max(np.abs(out.x - where[0]), initial=0.0)), x=out.x)
        out.history_table = rec.columns()
    return out


def _iterate(prob, w, f0, gw, h, cb, lo, hi, opts, count, t0, deadline, rec, where):
    tol, ctol = float(opts["tol"]), float(opts["ctol"])
    typical = (float(opts["typical_x"]), float(opts["typical_f"]))
    max_steps = int(opts["max_iter"])
    callback = opts.get("_callback")
    n = prob.n
    A = prob.jacobian(w)
    zl = np.where(prob.has_lo, 1.0, 0.0)
    zu = np.where(prob.has_hi, 1.0, 0.0)
    y = np.zeros(prob.m)
    if prob.m:   # least-squares multipliers (W&B section 3.6), dropped when large
        y = prob.kkt.multipliers(A, -(gw - zl + zu))
        if not np.max(np.abs(y), initial=0.0) <= 1e3:
            y = np.zeros(prob.m)
    st = _State(w, y, zl, zu, f0, gw, h, A)
    mu = MU_INIT
    mu_min = min(tol, ctol) / 10.0
    flt = _Filter(float(np.sum(np.abs(h))))
    shift_last = 0.0
    next_check = CHECK_ERROR
    for step in range(max_steps + 1):
        err0 = _error(prob, st, 0.0)
        if err0 <= next_check:
            x, y_out = _answer_candidate(prob, st)
            found = answer.accept_point(cb, x, y_out, lo, hi, tol, ctol, typical,
                                        float(np.max(np.abs(st.h), initial=0.0)),
                                        polish_steps=POLISH_STEPS)
            if found is not None and found[3] is None:
                return _end("converged", found[0], found[1], cb, lo, hi, opts, count, step,
                            t0, f0, None, note=found[2])
            if found is not None:
                return _end("saddle", x, y_out, cb, lo, hi, opts, count, step, t0, f0, None)
            next_check = 0.1 * err0
        if step == max_steps:
            break
        if deadline is not None and clock.now() > deadline:
            x, y_out = _answer_candidate(prob, st)
            return _end("timeout", st.w[:n].copy(), y_out, cb, lo, hi, opts, count, step, t0,
                        f0, None)
        while mu > mu_min and _error(prob, st, mu) <= KAPPA_EPS * mu:
            mu = max(mu_min, min(KAPPA_MU * mu, mu ** THETA_MU))
            flt.reset()
        W = prob.hessian(st.w, st.y)
        d = _step(prob, st, W, mu, shift_last)
        if d is None:
            return _stalled(prob, st, cb, lo, hi, opts, count, step, t0, f0,
                            "no shift of the Hessian gave the primal-dual system the right "
                            "inertia")
        shift_last = d[4] if d[4] > 0.0 else shift_last
        tau = max(0.99, 1.0 - mu)
        found = _line_search(prob, st, d, mu, tau, flt)
        if found is None:
            return _stalled(prob, st, cb, lo, hi, opts, count, step, t0, f0,
                            "the filter line search found no acceptable step (there is no "
                            "restoration phase; auto runs auglag after this)")
        alpha, wt, ft, gt, ht, ftype = found
        if not ftype:
            flt.add(float(np.sum(np.abs(st.h))), _barrier(prob, st.f, st.w, mu))
        dw, dy, dzl, dzu = d[:4]
        _, alpha_z = _fraction_to_boundary(prob, st.w, dw, (st.zl, st.zu), (dzl, dzu), tau)
        zl, zu = st.zl + alpha_z * dzl, st.zu + alpha_z * dzu
        dl, du = _gaps(prob, wt)
        # W&B eq. 16: keep each bound multiplier within a factor of mu / gap
        zl = np.where(prob.has_lo, np.clip(zl, mu / (KAPPA_SIGMA * dl), KAPPA_SIGMA * mu / dl), 0.0)
        zu = np.where(prob.has_hi, np.clip(zu, mu / (KAPPA_SIGMA * du), KAPPA_SIGMA * mu / du), 0.0)
        moved = float(np.max(np.abs(wt[:n] - st.w[:n]), initial=0.0))
        st = _State(wt, st.y + alpha * dy, zl, zu, ft, gt, ht, prob.jacobian(wt))
        where[0], where[1], where[2] = wt[:n].copy(), step + 1, st.y
        if rec is not None:
            rec.add(ft, step=moved, x=wt[:n])
        if callback is not None:
            callback(step + 1, wt[:n], ft, math.nan)
        if ft < UNBOUNDED_F and float(np.max(np.abs(ht), initial=0.0)) <= ctol:
            return _end("unbounded", wt[:n].copy(), st.y, cb, lo, hi, opts, count, step + 1,
                        t0, f0, f"the objective fell below {UNBOUNDED_F:g} at a feasible "
                        "point: it is unbounded below on the feasible set; add bounds or "
                        "constraints")
    x, y_out = _answer_candidate(prob, st)
    return _end("max_iter", st.w[:n].copy(), y_out, cb, lo, hi, opts, count, max_steps, t0,
                f0, None)


def _stalled(prob, st, cb, lo, hi, opts, count, steps, t0, f0, why):
    _, y_out = _answer_candidate(prob, st)
    return _end("stalled", st.w[:prob.n].copy(), y_out, cb, lo, hi, opts, count, steps, t0,
                f0, None, stall_words=why)


def _end(status, x, y, cb, lo, hi, opts, count, steps, t0, f0, message, *, note="",
         stall_words="the interior-point method made no further progress"):
    return answer.outcome(status, x, y, cb, lo, hi, opts, count, steps, t0, f0, message,
                          note=note, step_words="interior-point steps",
                          stall_words=stall_words)
