"""The one place that decides which path runs, runs it, and makes one Result."""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass

import numpy as np

from symgd import methods
from symgd.closed_form import (analytic_budget, count, polish_kkt, result_from_analytic,
                                solve_analytic, solve_analytic_unbounded)
from symgd.errors import InputError
from symgd.methods import loading
from symgd.methods import status as S
from symgd.methods.common import box
from symgd.result import Result

AUTO_NEWTON_MAX_VARS = 50
# Methods without a Hessian still get one for the saddle check, up to this many variables;
# beyond, deriving and compiling n^2 entries costs more than the solve (200 variables:
# 7 s to derive, 21 s to compile, for a 15 ms linesearch run).
SADDLE_CHECK_MAX_VARS = 50
ENFORCING = ("analytic", "auto")  # methods that respect general constraints today


@dataclass
class _Compiled:
    derivatives: object
    kernels: object
    lower: np.ndarray
    upper: np.ndarray


# Kernels per Problem object: a repeated solve of the same problem compiles nothing.
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compiled(problem, *, need_hessian: bool = True, need_line_poly: bool = False) -> _Compiled:
    """Derivatives and kernels of ``problem`` (built once per Problem object)."""
    entry = _COMPILED.get(problem)
    if entry is not None and (entry.kernels.has_hessian or not need_hessian) and (
            entry.kernels.line_poly or not need_line_poly):
        return entry
    if getattr(problem, "light", False):  # from the warm index: kernels exist already
        from symgd.warm import kernels_for
        k = kernels_for(problem)
        if k is None:
            raise LookupError("the indexed kernel module is gone")
        lo, hi = box([v.lower for v in problem.variables],
                     [v.upper for v in problem.variables], len(problem.variables))
        entry = _Compiled(None, k, lo, hi)
        _COMPILED[problem] = entry
        return entry
    from symgd import calculus
    from symgd.compile.kernels import compile_problem

    d = calculus.derive(problem, hessian=need_hessian
                        or len(problem.variables) <= SADDLE_CHECK_MAX_VARS)
    with_h = bool(d.hess)
    if not with_h and need_hessian:
        raise problem.input_error(d.hess_skipped, field=problem.sense, kind="limit")
    try:
        if with_h:
            calculus.check_size([h for row in d.hess for h in row], "Hessian")
    except InputError as err:
        if need_hessian:
            raise _located(problem, err) from None
        with_h = False
    try:
        k = compile_problem(problem, d, with_hessian=with_h, with_line_poly=need_line_poly)
    except InputError as err:
        if not (with_h and not need_hessian and err.kind == "limit"):
            raise
        # the Hessian was only for the saddle check: a method without it still runs
        k = compile_problem(problem, d, with_hessian=False, with_line_poly=need_line_poly)
    lo, hi = box([v.lower for v in problem.variables], [v.upper for v in problem.variables],
                 len(problem.variables))
    entry = _Compiled(d, k, lo, hi)
    _COMPILED[problem] = entry
    return entry


def _merge_options(problem, method, options):
    given = dict(problem.options)
    given.update(options)
    name = method or problem.method or "auto"
    return name, given


def _located(problem, err: InputError) -> InputError:
    line, col = problem.location(err.field or "")
    return err.located(file=problem.source, line=line, column=col)


def _start_point(problem, x0, lower, upper):
    n = len(problem.variables)
    if x0 is None:
        return problem.start
    if isinstance(x0, dict):
        x = problem.start
        names = list(problem.names)
        for key, v in x0.items():
            k = getattr(key, "name", key)
            if k not in names:
                raise InputError(f"x0 names '{k}', which is not a variable", field="x0")
            x[names.index(k)] = float(v)
    else:
        x = np.array(x0, dtype=float).ravel()
        if x.size != n:
            raise InputError(f"x0 has {x.size} values for {n} variables", field="x0")
    if not np.all(np.isfinite(x)):
        raise InputError("x0 must be finite", field="x0")
    if np.any(x < lower) or np.any(x > upper):
        raise InputError(f"x0 {x.tolist()} is outside the bounds", field="x0")
    return x


def _point_text(problem, x) -> str:
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(problem.names, x))


def _check_start(problem, kernels, x):
    """A non-finite f or gradient at the start is bad input, naming the point."""
    g = np.zeros(x.size)
    f = kernels.fg(x, g)
    if not math.isfinite(f):
        raise problem.input_error(
            f"the objective is {f} at the start ({_point_text(problem, x)}): the start is "
            "outside the objective's domain; choose another start", field="variables",
            kind="domain")
    if not np.all(np.isfinite(g)):
        bad = [problem.names[i] for i in range(x.size) if not math.isfinite(g[i])]
        raise problem.input_error(
            f"the gradient is not finite at the start ({_point_text(problem, x)}) in "
            f"{', '.join(bad)}; choose another start", field="variables", kind="domain")


_ADVICE = {
    "max_iter": "raise options.max_iter, or try method=newton",
    "timeout": "raise options.time_limit, or try method=newton",
    "interrupted": "interrupted by the user; x is the best point seen",
}


def _message(outcome, opts, method, f_user, gnorm, relg=math.nan) -> str:
    st = outcome.status
    tol = opts["tol"]
    if st == "converged":
        return (f"relative gradient {relg:.3g} <= tol {tol:g} after "
                f"{outcome.iterations} iterations")
    if st == "max_iter":
        return (f"stopped after max_iter={outcome.iterations} iterations with gradient norm "
                f"{gnorm:.3g} (tol {tol:g}); {_ADVICE['max_iter']}")
    if st == "timeout":
        return (f"time_limit reached after {outcome.iterations} iterations; x is the best point "
                f"seen (gradient norm {gnorm:.3g}); {_ADVICE['timeout']}")
    if st == "interrupted":
        return f"{_ADVICE['interrupted']} after {outcome.iterations} iterations"
    if st == "unbounded":
        return ("the objective falls without bound (f below -1e150, |x| above 1e150, f "
                "falling over 2^40 times the first step, or a polynomial falling along the "
                "search direction); the problem has no finite optimum: add bounds or "
                "constraints")
    if st == "diverged":
        if outcome.reason == S.R_RISING:
            lr = opts.get("learning_rate", 0.0)
            return (f"f kept rising under learning_rate {lr:g}; x is the best point seen; "
                    f"try learning_rate {lr / 10:g} or method=linesearch")
        if outcome.reason == S.R_LS_NONFINITE:
            return ("the line search met only non-finite values (overflow or a domain "
                    "error, such as log of a negative) along the search direction; x is the "
                    "last finite point; try another start, add bounds, or method=linesearch")
        return ("f or the gradient became non-finite; x is the last finite point; try a "
                "smaller learning_rate, another start, or bounds that keep x in the domain")
    if st == "stalled":
        if outcome.reason == S.R_WORSE:
            return (f"the gradient test held (relative gradient {relg:.3g}) at a point where "
                    "f is worse than at the start (a step overshot into another basin); x "
                    "is the best point seen; try a smaller learning_rate or "
                    "method=linesearch")
        if outcome.reason == S.R_LS_NODECREASE:
            return (f"the line search found no decrease with gradient norm {gnorm:.3g} still "
                    f"above tol {tol:g}: rounding limits progress; loosen tol, or rescale "
                    "the problem")
        return (f"steps became negligible with gradient norm {gnorm:.3g} above tol {tol:g}; "
                "loosen tol or rescale the problem")
    return st


def relative_gradient_at(x, g, f, lower, upper, opts) -> float:
    """SPEC §2's relative gradient of the minimised objective at x (methods.common)."""
    from symgd.methods.common import relative_gradient
    return float(relative_gradient(np.asarray(x, dtype=float), np.asarray(g, dtype=float),
                                   lower, upper, float(f), float(opts["typical_x"]),
                                   float(opts["typical_f"])))


def _gradient_in_null_space(kernels, x, g) -> bool:
    """Whether g has a part along the Hessian's null space: f then changes linearly in
    that direction, where no curvature can stop it (so no minimum lies ahead)."""
    n = x.size
    if n > 500:
        return False
    H = np.zeros((n, n))
    kernels.hess(x, H)
    gn = float(np.linalg.norm(g))
    if not (np.all(np.isfinite(H)) and gn > 0.0):
        return False
    lam, vecs = np.linalg.eigh(H)
    scale = max(float(np.max(np.abs(lam))), 1e-300)
    null = vecs[:, np.abs(lam) <= 1e-10 * scale]
    return null.size > 0 and float(np.linalg.norm(null.T @ g)) > 1e-6 * gn


def _finish(problem, comp, outcome, opts, requested, method, path, timings, t_start,
            analytic=None):
    """Gradient and saddle check at the final point, then the Result."""
    k = comp.kernels
    x = outcome.x
    if outcome.g is not None:
        g, f = outcome.g, outcome.f
    else:
        g = np.zeros(x.size)
        f = float(k.fg(x, g))
    if math.isfinite(outcome.grad_norm):
        gnorm = outcome.grad_norm
    else:
        from symgd.methods.common import projected_grad_norm
        gnorm = float(projected_grad_norm(x, g, comp.lower, comp.upper))
    relg = relative_gradient_at(x, g, f, comp.lower, comp.upper, opts)
    status = outcome.status
    message = _message(outcome, opts, method, f, gnorm, relg)
    if status == "converged" and not relg <= opts["tol"]:
        # The loop tested its current point; the point reported (the best seen, for
        # methods whose f is not monotone) must pass the same test, or no success.
        status = "stalled"
        message = (f"the point reported (the best seen) has relative gradient {relg:.3g} "
                   f"above tol {opts['tol']:g}; try a smaller learning_rate or "
                   "method=linesearch")
    if status == "converged" and not k.has_hessian:
        message += (f"; not checked for a saddle point (no Hessian: it is built for that "
                    f"check up to {SADDLE_CHECK_MAX_VARS} variables, and when small enough "
                    "to derive)")
    f0 = getattr(outcome, "f0", float("nan"))
    # Far down a slope that never ends the gradient is small only against |f|: f fell
    # from f0 so far that ||g|| <= tol |f|, while ||g|| is large on the start's scale.
    # The Hessian then shows why: negative curvature, or a gradient in its null space
    # (f falls linearly along it, as -x + y**2 does).
    far_down = (status in ("converged", "max_iter", "stalled") and math.isfinite(f0)
                and f < f0 and opts["tol"] * max(1.0, abs(f0)) < gnorm
                <= opts["tol"] * abs(f))
    if k.has_hessian and (status == "converged" or far_down):
        from symgd.compile.fastcall import entry_point
        from symgd.methods.loops import negative_curvature
        curv = entry_point(negative_curvature)(k.addresses[2], x, g, comp.lower, comp.upper)
        if far_down and (curv < 0.0 or _gradient_in_null_space(k, x, g)):
            status = "unbounded"
            message = (f"the objective falls without bound: f went from {f0:.6g} to {f:.6g}, "
                       f"where the gradient ({gnorm:.3g}) is small only relative to |f| and "
                       "the Hessian shows no minimum ahead; add bounds or constraints")
            curv = 0.0
        if curv < 0.0 and status == "converged":
            status = "stalled"
            kind = "minimum" if problem.sense == "minimize" else "maximum"
            message = (f"saddle point: the gradient vanishes but the Hessian has an "
                       f"eigenvalue below {curv / 2:.3g}, so this is not a {kind}; start "
                       "elsewhere or perturb the start (Newton steps away from saddles "
                       "unless started on one)")
    sign = -1.0 if problem.sense == "maximize" else 1.0
    timings = dict(timings)
    timings["iterate"] = outcome.time_s
    path = tuple(path) + (f"{method}: {status}",)
    return Result(problem=problem.name, method=method, requested_method=requested, status=status,
                  message=message, names=problem.names, x=x.copy(), fun=sign * f,
                  grad_norm=gnorm, iterations=outcome.iterations, evaluations=outcome.evaluations,
                  time_s=time.perf_counter() - t_start, path=path, timings=timings,
                  analytic=analytic, jac=sign * g)


def solve(problem, method: str | None = None, x0=None, *, progress=None, **options) -> Result:
    """Solve ``problem`` (SPEC §5).

    Args:
        problem: a :class:`symgd.Problem` (or a path to a problem file).
        method: overrides the problem's ``method`` (default ``auto``).
        x0: a start overriding the variables' ``start`` (array or {name: value}).
        progress: optional callable(iterations, f, grad_norm), called between chunks
            of iterations (about every 20 ms) during iterative runs.
        **options: override the problem's options key by key.

    Returns:
        A :class:`symgd.Result`. Failing to converge is a status, never an exception;
        bad input raises :class:`symgd.InputError`.
    """
    t_start = time.perf_counter()
    if isinstance(problem, (str, bytes)) or hasattr(problem, "__fspath__"):
        from symgd.io.problem_file import load
        problem = load(problem)
    requested, given = _merge_options(problem, method, options)
    progress = _in_user_sense(problem, progress)
    loaded_before = loading.spent()
    result = _solve(problem, requested, given, x0, t_start, progress)
    return _finish_notes(result, loading.spent() - loaded_before)


def _solve(problem, requested, given, x0, t_start, progress) -> Result:
    try:
        if problem.is_fit:
            from symgd.fit import solve_fit
            return solve_fit(problem, requested, given, x0, t_start, progress=progress)
        if requested in ("lm", "sgd"):
            raise InputError(f"method '{requested}' fits data: it needs a problem with data "
                             "(SPEC §1)", field="method", kind="option")
        spec = methods.method_spec(requested)
        opts = methods.resolve_options(requested, given)
        if problem.constraints and not spec.enforces_constraints:
            raise InputError(
                f"method '{requested}' cannot enforce the {len(problem.constraints)} "
                f"constraint(s); methods that enforce constraints: {', '.join(ENFORCING)} "
                "(auglag is planned). Refusing rather than returning an unconstrained answer",
                field="constraints", kind="option")
        if opts.get("line_search") == "exact" and requested in ("linesearch",) and \
                not _is_polynomial(problem):
            raise InputError("line_search 'exact' needs a polynomial objective (the step "
                             "solves d/da f(x + a d) = 0 in closed form); use armijo or wolfe",
                             field="options.line_search", kind="option")
    except InputError as err:
        raise _located(problem, err) from None
    opts["_progress"] = progress
    if opts["_ignored"]:
        note = (f"options not used by {requested}, ignored: {', '.join(opts['_ignored'])}")
        opts["_notes"] = [note]

    if requested == "analytic":
        result = solve_analytic(problem, opts, requested, t_start)
    elif requested == "auto":
        result = _solve_auto(problem, opts, x0, t_start)
    else:
        result = _solve_iterative(problem, requested, opts, x0, t_start, requested, [], {})
    if opts.get("_notes"):
        result = Result(**{**result.__dict__, "path": tuple(opts["_notes"]) + result.path})
    return result


def _in_user_sense(problem, progress):
    """The progress callback sees f in the user's sense (the maximum, for maximize)."""
    if progress is None or problem.sense != "maximize":
        return progress
    return lambda iterations, f, grad_norm: progress(iterations, -f, grad_norm)


def _finish_notes(result, t_loops) -> Result:
    """Options ignored by the method that ran are named in the message too (SPEC §2),
    and the time spent compiling the method loops is counted in ``timings``."""
    message = result.message
    for note in result.path:
        if note.startswith("options not used by") and note not in message:
            message = f"{message}; {note}"
    timings = dict(result.timings)
    if t_loops > 0.0:
        timings["compile_loops"] = t_loops
        timings["compile"] = timings.get("compile", 0.0) + t_loops
    return Result(**{**result.__dict__, "message": message, "timings": timings})


def _is_polynomial(problem) -> bool:
    if getattr(problem, "light", False):
        return problem.is_polynomial
    return bool(problem.objective.is_polynomial(*problem.symbols))


def _deadline(opts, t_start):
    return None if opts["time_limit"] is None else t_start + float(opts["time_limit"])


def _solve_iterative(problem, method, opts, x0, t_start, requested, path, timings,
                     analytic=None):
    spec = methods.REGISTRY[method]
    if method != requested:
        # options of the requested method that this one lacks are dropped, not refused
        progress = opts.get("_progress")
        opts = {**methods.resolve_options(method, {k: v for k, v in opts.items()
                                                   if k in {**methods.COMMON_OPTIONS,
                                                            **spec.options}})}
        opts["_progress"] = progress
    tc = time.perf_counter()
    comp = compiled(problem, need_hessian=spec.needs_hessian,
                    need_line_poly=opts.get("line_search") == "exact")
    if comp.kernels.backend == "python":
        path = list(path) + ["kernels: Python fallback (the generated code is longer than the "
                             "compile budget SYMGD_MAX_COMPILE_LINES)"]
    derive_s = comp.derivatives.time_s if comp.derivatives is not None else 0.0
    timings = {**timings, "derive": derive_s,
               "compile": max(time.perf_counter() - tc - derive_s, 0.0)}
    x = _start_point(problem, x0, comp.lower, comp.upper)
    outcome = spec.run(comp.kernels, x, comp.lower, comp.upper, opts, _deadline(opts, t_start))
    if outcome.iterations == 0 and outcome.reason == S.R_NONFINITE:
        _check_start(problem, comp.kernels, x)  # raises the InputError naming the point
    return _finish(problem, comp, outcome, opts, requested, method, path, timings, t_start,
                   analytic)


def _iterative_choice(problem):
    n = len(problem.variables)
    if n <= AUTO_NEWTON_MAX_VARS:
        return "newton", f"newton ({n} variables <= {AUTO_NEWTON_MAX_VARS})"
    return "linesearch", f"linesearch ({n} variables > {AUTO_NEWTON_MAX_VARS}, no Hessian)"


def _solve_auto(problem, opts, x0, t_start):
    """``auto`` without data (SPEC §2): the closed form runs in its worker while the
    iterative method runs here, so the wall time is the longer of the two. The closed
    form answers whenever it finishes within ``timeout`` (a fast local iterative answer
    never replaces a global closed-form one, and the choice does not depend on which
    finished first); the iterative answer is used when it does not."""
    from symgd import analytic

    path, timings = [], {}
    pending = analytic.critical_points_start(
        problem, timeout=analytic_budget(problem, opts, t_start))
    iterative, error = None, None
    try:
        if not problem.constraints:
            method, why = _iterative_choice(problem)
            try:
                iterative = _solve_iterative(problem, method, opts, x0, t_start, "auto",
                                             [f"auto chose {why}"], {})
            except InputError as err:  # e.g. a start outside the domain: the closed
                error = err            # form may still answer
        if iterative is not None and iterative.status == "interrupted":
            pending.cancel()
            return Result(**{**iterative.__dict__, "path": ("analytic: stopped (interrupted)",)
                             + iterative.path})
        report = pending.result()
    except KeyboardInterrupt:
        pending.cancel()
        if iterative is None:
            raise
        return Result(**{**iterative.__dict__, "status": "interrupted",
                         "message": "interrupted while waiting for the closed form; x is the "
                                    f"iterative answer ({iterative.status}: "
                                    f"{iterative.message})"})
    timings["analytic"] = report.time_s
    res = result_from_analytic(problem, report, "auto", [], timings, t_start, opts)
    if res is not None:
        path.append(f"analytic: solved ({count(len(report.critical_points), 'critical point')})")
        if problem.constraints:
            return polish_kkt(problem, res, path, timings)
        return _polish(problem, res, opts, path, timings, t_start, report)
    why = report.message or report.status
    path.append(f"analytic: {report.status} ({why})")
    if report.unbounded:
        return solve_analytic_unbounded(problem, report, path, timings, t_start)
    if problem.constraints:
        advice = ("try a longer options.timeout" if report.status == "timeout" else
                  "the closed form cannot answer it")
        raise problem.input_error(
            f"the closed form did not answer this constrained problem ({why}), and the "
            f"iterative method for constraints (auglag) is planned; {advice}",
            field="constraints", kind="unavailable")
    if error is not None:
        raise error
    return Result(**{**iterative.__dict__, "path": tuple(path) + iterative.path,
                     "timings": {**iterative.timings, **timings}, "analytic": report})


def _polish(problem, res, opts, path, timings, t_start, report):
    """Newton from the closed-form best point, to full float precision."""
    polished = _solve_iterative(problem, "newton", opts, res.x, t_start, "auto", [], timings,
                                report)
    if polished.status == "converged" and np.allclose(polished.x, res.x, rtol=1e-6, atol=1e-8):
        path.append("newton: polished the closed-form point")
        return Result(**{**polished.__dict__, "method": "analytic", "status": "solved",
                         "message": res.message + "; polished by Newton: " + polished.message,
                         "path": tuple(path), "extra": res.extra})
    path.append(f"newton: polish {polished.status}; kept the closed-form point")
    return Result(**{**res.__dict__, "path": tuple(path)})
