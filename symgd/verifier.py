"""Check an analytic answer against an iterative one, and the compiled derivatives
against finite differences (SPEC §3, ``verify``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Central differences with h ~ eps^(1/3) |x| have error ~ eps^(2/3) ~ 4e-11 relative to
# the third derivative's scale; 1e-5 leaves room for badly scaled problems.
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


def derivative_checks(problem, kernels, points):
    """Compiled gradient and Hessian against central finite differences.

    g_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h with h = eps^(1/3) max(1, |x_i|), and the
    Hessian's columns from differences of the compiled gradient the same way.
    Error: |fd - exact| / max(1, |exact|), over points where f is finite.
    """
    n = len(problem.variables)
    g_err = 0.0
    h_err = 0.0
    used = 0
    g = np.zeros(n)
    gp, gm = np.zeros(n), np.zeros(n)
    H = np.zeros((n, n))
    for x in points:
        f = kernels.fg(x, g)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            continue
        used += 1
        for i in range(n):
            h = np.cbrt(np.finfo(float).eps) * max(1.0, abs(x[i]))
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            fd = (kernels.fun(xp) - kernels.fun(xm)) / (2 * h)
            g_err = max(g_err, abs(fd - g[i]) / max(1.0, abs(g[i])))
            if kernels.has_hessian:
                kernels.fg(xp, gp)
                kernels.fg(xm, gm)
                col = (gp - gm) / (2 * h)
                kernels.hess(x, H)
                h_err = max(h_err, float(np.max(np.abs(col - H[:, i]) /
                                                np.maximum(1.0, np.abs(H[:, i])))))
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
        raise problem.input_error(
            "verify compares a closed form with an iterative answer, and a data fit has no "
            "closed form; solve it instead (its result carries stderr and a fit report)",
            field="data", kind="unavailable")
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
