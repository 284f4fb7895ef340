"""Check an analytic answer against an iterative one, and the compiled derivatives
against finite differences (SPEC §3, ``verify``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


# Extrapolated central differences (below) agree with exact derivatives to ~1e-10 on
# smooth problems; 1e-5 leaves room for badly scaled ones and still catches a gradient
# that is wrong in its fifth digit.
FD_REL_TOL = 1e-5
MATCH_X_TOL = 1e-5


@dataclass
class VerifyReport:
    analytic: object | None
    iterative: dict | None
    match: dict | None
    gradient_check: dict
    hessian_check: dict | None
    ok: bool
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        from symgd.result import finite_or_none
        return finite_or_none({
            "analytic": None if self.analytic is None else self.analytic.to_dict(),
            "iterative": self.iterative,
            "match": self.match,
            "gradient_check": self.gradient_check,
            "hessian_check": self.hessian_check,
            "ok": self.ok,
            "notes": list(self.notes),
        })


def _check_points(problem, extra_points, seed=0):
    """The start, a few seeded points near it (inside the bounds), and extra points."""
    rng = np.random.default_rng(seed)
    x0 = problem.start
    pts = [x0]
    scale = np.maximum(1.0, np.abs(x0))
    for _ in range(3):
        pts.append(x0 + 0.5 * scale * rng.standard_normal(x0.size))
    pts += [np.asarray(p, dtype=float) for p in extra_points]
    lo = np.array([-np.inf if v.lower is None else v.lower for v in problem.variables])
    hi = np.array([np.inf if v.upper is None else v.upper for v in problem.variables])
    return [np.clip(p, lo, hi) for p in pts]


# Ridders' extrapolation of central differences (Ridders, Adv. Eng. Software 4, 1982;
# Press et al., Numerical Recipes, 3rd ed., §5.7 dfridr): steps h0, h0/2, ..., at most
# RIDDERS_STEPS of them, from h0 = RIDDERS_H0 * max(|x_i|, RIDDERS_FLOOR) (1 where x_i
# is 0). A step relative to |x_i| is what badly scaled fits need (NIST Misra1a:
# b2 ~ 5e-4 multiplies data ~ 800; a step of 6e-6 there moves each residual by ~1).
RIDDERS_H0 = 0.1
RIDDERS_FLOOR = 1e-8
RIDDERS_STEPS = 14
RIDDERS_SAFE = 2.0
# Ridders' error estimate of the extrapolated derivative, times this, is allowed for on
# top of FD_REL_TOL (it is what rounding and truncation alone can explain).
ERROR_FACTOR = 10.0


def _ridders(fun, x, i):
    """d fun / d x_i at x by Ridders' extrapolation: (derivative, error estimate), both
    arrays of fun's shape (a float fun gives shape (1,)); NaN where no step gave a
    finite difference."""
    s = abs(x[i]) if x[i] != 0.0 else 1.0
    h = RIDDERS_H0 * max(s, RIDDERS_FLOOR)
    fac2 = 4.0  # CON = 2: CON**2
    prev = []   # the previous column of the Neville tableau
    ans = err = None
    for _ in range(RIDDERS_STEPS):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        d = (np.atleast_1d(fun(xp)) - np.atleast_1d(fun(xm))) / (2.0 * h)
        h /= 2.0
        if not np.all(np.isfinite(d)):
            prev = []   # a step into a region where fun is not finite: restart smaller
            continue
        if ans is None:
            ans, err = d.copy(), np.full(d.shape, np.inf)
        col = [d]
        fac = fac2
        for j in range(1, len(prev) + 1):
            col.append((col[j - 1] * fac - prev[j - 1]) / (fac - 1.0))
            fac *= fac2
            errt = np.maximum(np.abs(col[j] - col[j - 1]), np.abs(col[j] - prev[j - 1]))
            better = errt <= err
            ans[better], err[better] = col[j][better], errt[better]
        if prev and np.all(np.abs(col[-1] - prev[-1]) >= RIDDERS_SAFE * err):
            break   # higher orders only get worse: rounding has taken over
        prev = col
    if ans is None:
        return np.array([np.nan]), np.array([np.inf])
    return ans, err


def _rel_error(fd, err, exact):
    """|fd - exact| / max(1, |exact|, ERROR_FACTOR err / FD_REL_TOL), largest entry."""
    denom = np.maximum(np.maximum(1.0, np.abs(exact)), ERROR_FACTOR * err / FD_REL_TOL)
    return float(np.max(np.abs(fd - exact) / denom))


def derivative_checks(problem, kernels, points):
    """Compiled gradient and Hessian against extrapolated central differences.

    g_i against d f / d x_i and the Hessian's column i against d g / d x_i, both by
    Ridders' extrapolation of central differences (:func:`_ridders`), which also
    estimates its own error e. Error: |fd - exact| / max(1, |exact|, ERROR_FACTOR e /
    FD_REL_TOL); the check passes at or below FD_REL_TOL. Points where f or the gradient
    is not finite are skipped. ``kernels``: anything with ``fun(x)``, ``fg(x, g)``,
    ``hess(x, H)`` and ``has_hessian`` (an objective's Kernels or a fit's FitKernels).
    """
    n = len(problem.variables)
    g_err = 0.0
    h_err = 0.0
    used = 0
    g = np.zeros(n)
    H = np.zeros((n, n))

    def grad(x):
        out = np.empty(n)
        kernels.fg(x, out)
        return out

    for x in points:
        x = np.array(x, dtype=float)
        f = kernels.fg(x, g)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            continue
        used += 1
        if kernels.has_hessian:
            kernels.hess(x, H)
        for i in range(n):
            fd, err = _ridders(kernels.fun, x, i)
            g_err = max(g_err, _rel_error(fd[0], err[0], g[i]))
            if kernels.has_hessian:
                col, err = _ridders(grad, x, i)
                h_err = max(h_err, _rel_error(col, err, H[:, i]))
    g_check = {"ok": used > 0 and g_err <= FD_REL_TOL, "max_rel_error": g_err, "points": used}
    h_check = None
    if kernels.has_hessian:
        h_check = {"ok": used > 0 and h_err <= FD_REL_TOL, "max_rel_error": h_err,
                   "points": used}
    return g_check, h_check


def _class_of_result(problem, result) -> str | None:
    if result.status != "converged":
        return None
    return "local_max" if problem.sense == "maximize" else "local_min"


def verify(problem) -> VerifyReport:
    """Closed form vs iterative solve, plus derivative checks (SPEC §3 ``verify``)."""
    from symgd import analytic as analytic_mod
    from symgd.choose import iterative_choice
    from symgd.solver import compiled, solve

    if problem.is_fit:
        return verify_fit(problem)
    comp = compiled(problem, need_hessian=False)
    notes = []
    timeout = float(problem.options.get("timeout", 10.0))
    report = analytic_mod.critical_points(problem, timeout=timeout)
    finite = report.status == "solved" and len(report.critical_points) > 0
    extra_pts = []
    if finite:
        extra_pts = [[p.x[n] for n in problem.names] for p in report.critical_points][:5]
    g_check, h_check = derivative_checks(problem, comp.kernels,
                                         _check_points(problem, extra_pts))
    ok = g_check["ok"] and (h_check is None or h_check["ok"])
    if not finite:
        notes.append(f"no finite closed form ({report.status}): only the derivative checks ran")
        return VerifyReport(report, None, None, g_check, h_check, False, notes)

    kkt = _kkt_checks(problem, report) if problem.constraints else None
    # the iterative side is the constrained method auto picks, or auto's unconstrained one
    method = "auglag" if problem.constraints else iterative_choice(len(problem.variables))[0]
    res = solve(problem, method=method)
    it = res.to_dict()
    if report.unbounded and res.status != "converged":
        # No optimum exists and the iterative run (rightly) found none; a run that does
        # converge must have found a local optimum, matched below like any other.
        notes.append(f"the closed form proves the objective unbounded; the iterative run "
                     f"ended '{res.status}' without claiming an optimum")
        match = {"unbounded": True, "iterative_status": res.status, "agrees": True}
        return VerifyReport(report, it, match, g_check, h_check, bool(ok), notes)
    xs = np.array([[p.x[n] for n in problem.names] for p in report.critical_points])
    dist = np.max(np.abs(xs - res.x[None, :]), axis=1)
    k = int(np.argmin(dist))
    point = report.critical_points[k]
    cls_it = _class_of_result(problem, res)
    cls_an = point.classification
    if report.best == k and report.global_:
        cls_agree = cls_it == cls_an
    elif cls_an == "degenerate":
        cls_agree = cls_it is not None  # the second-derivative test cannot say
        notes.append("the matched point is degenerate by the second-derivative test")
    else:
        cls_agree = cls_it == cls_an
    scale = max(1.0, float(np.max(np.abs(xs[k]))))
    df = abs(res.fun - point.fun)
    match = {"point": k, "distance_x": float(dist[k]), "distance_f": df,
             "classification_analytic": cls_an, "classification_iterative": cls_it,
             "classes_agree": bool(cls_agree),
             "best_agrees": bool(report.best is None or report.best == k or
                                 res.status != "converged" or
                                 abs(res.fun - report.critical_points[report.best].fun)
                                 <= 1e-8 * max(1.0, abs(res.fun)))}
    # Flat (degenerate) minima pin f far better than x: |x - x*| ~ (tol)^(1/(k-1)) for a
    # minimum of order k, so agreement in f (to the stopping tolerance) is enough there.
    near = dist[k] <= MATCH_X_TOL * scale or (cls_an == "degenerate" or
                                              point.classification in ("local_min", "local_max")
                                              and df <= 1e-10 * max(1.0, abs(point.fun)))
    agree = (res.status == "converged" and near and cls_agree
             and df <= 1e-8 * max(1.0, abs(point.fun)))
    if res.status != "converged":
        notes.append(f"the iterative solve ended '{res.status}': {res.message}")
    if kkt is not None:  # each closed-form point's KKT conditions, numerically
        match.update(points=kkt["points"], all_ok=kkt["all_ok"])
        agree = agree and kkt["all_ok"]
    return VerifyReport(report, it, match, g_check, h_check, bool(ok and agree), notes)


def _kkt_checks(problem, report) -> dict:
    """Each analytic point's KKT conditions and second-order class, numerically."""
    from symgd.kkt_check import check_point

    checks = [check_point(problem, p) for p in report.critical_points]
    return {"points": checks, "all_ok": all(c["ok"] for c in checks)}


# ----------------------------------------------------------------------------- data fits
FIT_MATCH_F_RTOL = 1e-8   # the closed form's loss against the iterative one, relative


@dataclass
class FitClosedForm:
    """The closed form of a least-squares fit whose model is linear in its parameters
    (symgd.fit.linear: min ||X theta - y||^2 by the SVD of the column-scaled design X),
    or why there is none to compare (``status`` ``no_closed_form``)."""

    status: str
    message: str
    x: dict | None = None
    fun: float | None = None
    rank: int | None = None
    how: str = ""

    def to_dict(self) -> dict:
        out = {"status": self.status, "message": self.message}
        if self.x is not None:
            out.update(x=dict(self.x), fun=self.fun, rank=self.rank, how=self.how)
        return out


def _fit_closed_form(problem, spec, K) -> FitClosedForm:
    """symgd.fit.linear's least squares on the fit's design matrix, where it applies."""
    from symgd.fit import linear
    from symgd.fit.source import bounds

    form = linear.linear_form(spec)
    if form is None:
        return FitClosedForm("no_closed_form", "the model is not linear in its parameters"
                             if spec.loss in linear.LOSSES else
                             f"no closed form for the {spec.loss} loss")
    if not spec.least_squares:
        return FitClosedForm("no_closed_form", f"the {spec.loss} closed form (a linear "
                             "program) has no iterative counterpart to compare with; "
                             "verify compares least-squares closed forms")
    built = linear.design(form, spec, K.data)
    if built is None:
        return FitClosedForm("no_closed_form", "the design matrix cannot be evaluated "
                             "(too large, or numpy cannot evaluate the model's terms)")
    X, y = built
    if not linear.agrees(spec, K, X, y, problem.start):
        return FitClosedForm("no_closed_form", "numpy and the compiled kernels disagree "
                             "on the residuals of the linear model")
    R = linear.rank_analysis(X)
    ans = linear.least_squares(X, y, spec.names, R)
    lo, hi = bounds(problem)
    if not (np.all(ans.theta >= lo) and np.all(ans.theta <= hi)):
        return FitClosedForm("no_closed_form", "the least-squares solution lies outside "
                             "the bounds, so it is not the bounded optimum")
    fun = spec.sign * K.value(ans.theta)
    return FitClosedForm("solved", ans.message, dict(zip(spec.names, map(float, ans.theta))),
                         float(fun), R.rank, f"linear least squares ({ans.how})")


def _smooth_fit(spec) -> bool:
    """False for losses or per-sample values with kinks (mae, Abs, sign, Max, Min): there
    central differences are wrong where a residual crosses the kink, as at an answer."""
    import sympy as sp

    if spec.loss == "mae":
        return False
    return not spec.value.has(sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside)


def verify_fit(problem) -> VerifyReport:
    """``verify`` on a data fit (SPEC §3).

    The compiled loss gradient and Hessian are checked by central differences
    (:func:`derivative_checks`) at the start, three seeded points and the answers (the
    iterative one and the closed form; not for losses with kinks, whose answers sit on
    them). Where the model is linear in its parameters and the loss is least squares,
    the closed form (:class:`FitClosedForm`) is compared with ``lm``: the same loss to
    FIT_MATCH_F_RTOL and, when the design has full rank (a unique minimiser), the same
    parameters to MATCH_X_TOL times max(1, |x|). ``ok``: the checks pass and, with a
    closed form, the answers match; without one only the checks count.
    """
    from symgd.fit.source import fit_kernels_with_hessian
    from symgd.fit.spec import fit_spec
    from symgd.solver import solve

    delta = float(problem.options.get("delta", 1.0))
    spec = fit_spec(problem, delta=delta)
    notes = []
    K, err = fit_kernels_with_hessian(problem, delta=delta)
    if err is not None:
        notes.append(f"the Hessian was not compiled ({err}): no Hessian check")
    closed = _fit_closed_form(problem, spec, K)
    method = "lm" if closed.status == "solved" else "auto"
    res = solve(problem, method=method)
    answers = [res.x] if np.all(np.isfinite(res.x)) else []
    if closed.x is not None:
        answers.append(np.array([closed.x[n] for n in problem.names]))
    smooth = _smooth_fit(spec)
    if not smooth:
        answers = []
        notes.append("the loss has kinks: derivatives checked at the start and seeded "
                     "points only (an answer lies on a kink, where no derivative exists)")
    g_check, h_check = derivative_checks(problem, K, _check_points(problem, answers))
    ok = bool(g_check["ok"] and (h_check is None or h_check["ok"]))
    if res.status != "converged":
        notes.append(f"the iterative solve ended '{res.status}': {res.message}")
    if closed.status != "solved":
        notes.append(f"no closed form to compare ({closed.message}): only the derivative "
                     "checks ran")
        return VerifyReport(closed, res.to_dict(), None, g_check, h_check, ok, notes)
    xc = np.array([closed.x[n] for n in problem.names])
    dist = float(np.max(np.abs(res.x - xc))) if xc.size else 0.0
    df = abs(res.fun - closed.fun)
    f_ok = df <= FIT_MATCH_F_RTOL * max(1.0, abs(closed.fun))
    unique = closed.rank == xc.size
    x_ok = dist <= MATCH_X_TOL * max(1.0, float(np.max(np.abs(xc)))) if unique else True
    if not unique:
        notes.append(f"the design has rank {closed.rank} < {xc.size}: the minimiser is not "
                     "unique, so only the losses are compared")
    agree = res.status == "converged" and f_ok and x_ok
    match = {"distance_x": dist, "distance_f": df, "unique": unique,
             "iterative_status": res.status, "agrees": bool(agree)}
    return VerifyReport(closed, res.to_dict(), match, g_check, h_check, bool(ok and agree),
                        notes)
