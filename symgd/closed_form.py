"""Answers from the closed form: its time budget, the Result built from its best point,
``method: analytic`` on its own, and the KKT polish of a constrained answer.

Below symgd.solver, which decides when the closed form runs (alone, or beside an
iterative method under ``auto``) and polishes unconstrained answers by Newton.
"""
from __future__ import annotations

import time

import numpy as np

from symgd.result import Result
from symgd import clock  # deadlines on the clock tests can replace

# Default seconds for the closed form (options.timeout). Polynomial systems get the long
# budget (Groebner bases finish within it on the problems/ set); other systems rarely
# have a closed form at all, and what sympy can solve it solves quickly (measured in
# the closing note of issue 10: every non-polynomial problem of problems/ and the
# textbook examples answered in under 1.5 s, or not within 60 s).
DEFAULT_TIMEOUT = 10.0
NONPOLYNOMIAL_TIMEOUT = 3.0


def analytic_budget(problem, opts, t_start) -> float:
    """Seconds for the closed form: ``timeout`` (default DEFAULT_TIMEOUT, or
    NONPOLYNOMIAL_TIMEOUT when the system is not polynomial), within ``time_limit``."""
    budget = opts.get("timeout")
    if budget is None:
        budget = DEFAULT_TIMEOUT if is_polynomial_system(problem) else NONPOLYNOMIAL_TIMEOUT
    budget = float(budget)
    if opts["time_limit"] is not None:
        budget = min(budget, max(0.5, t_start + float(opts["time_limit"]) - clock.now()))
    return budget


# auto does not start the closed form of a nonlinear critical-point system in more
# variables than this: sympy never finishes one in time (chained Rosenbrock at n = 200
# spent the whole 10 s budget on every solve, beside an lbfgs answer of 0.1 s).
# method=analytic still tries; quadratics (a linear system) are tried at any size.
AUTO_CLOSED_FORM_MAX_VARS = 20


def auto_closed_form_start(problem, opts, t_start):
    """auto's closed form, started in its worker (symgd.analytic.worker.Pending), or an
    answered Pending saying why it was not tried."""
    from symgd import analytic
    from symgd.analytic.report import failure
    from symgd.analytic.worker import Answered

    n = len(problem.variables)
    if n > AUTO_CLOSED_FORM_MAX_VARS and not problem.constraints and not _quadratic(problem):
        return Answered(failure("no_closed_form", f"not tried: {n} variables and a "
                                "nonlinear gradient (method=analytic tries anyway)"))
    return analytic.critical_points_start(problem,
                                          timeout=analytic_budget(problem, opts, t_start))


def _quadratic(problem) -> bool:
    import sympy as sp

    f = problem.objective
    if not f.is_polynomial(*problem.symbols):
        return False
    return sp.Poly(f, *problem.symbols).total_degree() <= 2


def is_polynomial_system(problem) -> bool:
    """Objective and constraints polynomial in the variables (the closed form's home)."""
    syms = problem.symbols
    exprs = [problem.objective] + [c.g_le for c in problem.constraints]
    return all(bool(e.is_polynomial(*syms)) for e in exprs)


def analytic_report(problem, opts, t_start):
    from symgd import analytic
    return analytic.critical_points(problem, timeout=analytic_budget(problem, opts, t_start))


def result_from_analytic(problem, report, requested, path, timings, t_start, opts):
    """A Result answering from the closed form's ``best`` point, or None if it cannot.

    The report names a ``best`` only when it is an answer (SPEC §4): a global optimum, or the
    best local optimum with ``global: null``; with families of critical points (status
    ``infinite``) only when the point is shown no worse than every family. It is used for
    status ``solved`` and ``infinite``, and for any status when proven global (a lower-bound
    certificate holds even where the list of points may be incomplete).
    """
    if report.best is None or report.unbounded:
        return None
    if report.status not in ("solved", "infinite") and report.global_ is not True:
        return None
    best = report.critical_points[report.best]
    x = np.array([best.x[n] for n in problem.names], dtype=float)
    extra = {}
    if problem.constraints or problem.has_bounds:
        extra["multipliers"] = best.multipliers
        extra["max_violation"] = max_violation(problem, best.x)
    status = "solved"
    cls = best.classification
    n_pts, n_fam = len(report.critical_points), len(report.families)
    found = f"{n_pts} critical point{'' if n_pts == 1 else 's'}"
    if n_fam:
        found += f" and {n_fam} famil{'y' if n_fam == 1 else 'ies'} of critical points"
    if report.global_:
        verdict = f"best is the global {cls.replace('local_', '')} (classification {cls})"
        if report.certificate:
            verdict += f": {report.certificate}"
    else:
        verdict = f"best is a local {cls.replace('local_', '')} (classification {cls}); " \
                  "global optimality not proven"
    message = f"closed form: {found}; {verdict}"
    return Result(problem=problem.name, method="analytic", requested_method=requested,
                  status=status, message=message, names=problem.names, x=x, fun=best.fun,
                  grad_norm=None, iterations=0, evaluations={}, time_s=time.perf_counter() - t_start,
                  path=tuple(path), timings=dict(timings), analytic=report, extra=extra)


def max_violation(problem, xd):
    import sympy as sp
    subs = {v.symbol: xd[v.name] for v in problem.variables}
    worst = 0.0
    for c in problem.constraints:
        val = float(sp.N(c.g_le.xreplace(subs)))
        worst = max(worst, abs(val) if c.relation == "==" else max(val, 0.0))
    return worst


def solve_analytic(problem, opts, requested, t_start):
    t0 = time.perf_counter()
    report = analytic_report(problem, opts, t_start)
    timings = {"analytic": time.perf_counter() - t0}
    path = [f"analytic: {report.status}"]
    res = result_from_analytic(problem, report, requested, path, timings, t_start, opts)
    if res is not None:
        return res
    status = {"solved": "solved", "timeout": "timeout", "infinite": "no_closed_form",
              "no_closed_form": "no_closed_form"}.get(report.status, "no_closed_form")
    if report.unbounded:
        status = "unbounded"
    if report.status == "solved" and not report.unbounded:
        # Finite set of points, none shown to be the answer: report them, no x.
        status = "no_closed_form" if not report.critical_points else "solved"
    x = problem.start
    fun = float("nan")
    message = report.message or f"closed form: {report.status}"
    if status == "solved":
        message = (f"closed form: {count(len(report.critical_points), 'critical point')} "
                   "but none is "
                   "shown to be the optimum (see analytic.critical_points); x is the start")
        status = "no_closed_form"
    return Result(problem=problem.name, method="analytic", requested_method=requested,
                  status=status, message=message, names=problem.names, x=x, fun=fun,
                  grad_norm=None, iterations=0, evaluations={}, time_s=time.perf_counter() - t_start,
                  path=tuple(path), timings=timings, analytic=report)


def count(n: int, noun: str) -> str:
    """'1 critical point', '3 critical points'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def solve_analytic_unbounded(problem, report, path, timings, t_start):
    return Result(problem=problem.name, method="analytic", requested_method="auto",
                  status="unbounded", message=report.message or "the objective is unbounded",
                  names=problem.names, x=problem.start, fun=float("nan"), grad_norm=None,
                  iterations=0, evaluations={}, time_s=time.perf_counter() - t_start,
                  path=tuple(path), timings=timings, analytic=report)


def polish_kkt(problem, res, path, timings):
    """Newton on the KKT equations from the closed-form best point (symgd.kkt_polish)."""
    from symgd import kkt_polish

    t0 = time.perf_counter()
    try:
        p = kkt_polish.polish(problem, res.x)
        why = "it did not converge near the point"
    except Exception as err:  # noqa: BLE001  the closed-form answer stands without it
        p, why = None, f"it could not be evaluated ({type(err).__name__}: {err})"
    timings = {**timings, "polish": time.perf_counter() - t0}
    if p is None:
        path.append(f"newton (KKT): {why}; kept the closed-form point")
        return Result(**{**res.__dict__, "path": tuple(path), "timings": timings})
    active = ", ".join(p.active) or "none"
    steps = f"{p.iterations} step{'' if p.iterations == 1 else 's'}"
    path.append(f"newton (KKT): polished the closed-form point in {steps}, "
                f"residual {p.residual:.1e} (active: {active})")
    return Result(**{**res.__dict__, "x": p.x, "path": tuple(path), "timings": timings,
                     "message": res.message + f"; polished by Newton on the KKT equations "
                                              f"({steps})"})
