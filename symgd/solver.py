"""The one place that decides which path runs, runs it, and makes one Result.

    problem --(kernel source: compile/ for objectives, fit/ for data, the warm index)-->
    bundle --(registry runner)--> Outcome --(symgd.finish)--> Result

``auto`` and ``analytic`` are composed here (the closed form in its worker beside an
iterative method; symgd.choose says which); every other method is a registry entry.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import numpy as np

from symgd import choose, clock, methods
from symgd.closed_form import (auto_closed_form_start, count, polish_kkt,
                                result_from_analytic, solve_analytic, solve_analytic_unbounded)
from symgd.dask.cluster import cluster_request, current, on_cluster
from symgd.errors import InputError
from symgd.finish import SADDLE_CHECK_MAX_VARS, Run, SolveContext, finish
from symgd.kernelgen.templated import templated_kernels
from symgd.methods import loading
from symgd.methods import status as S
from symgd.methods.common import box
from symgd.methods.runners import Unsuitable
from symgd.problem_interface import INDEXED
from symgd.result import Result
from symgd.solve_common import moved_inside, start_error, start_point



@dataclass
class _Compiled:
    derivatives: object
    kernels: object
    lower: np.ndarray
    upper: np.ndarray


# Kernels per Problem object: a repeated solve of the same problem compiles nothing.
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def kernels_of(problem):
    """The compiled kernels of a problem already solved in this process (a fit's
    FitKernels), or None (symgd.warm records them in the warm index)."""
    if problem.is_fit:
        from symgd.fit.source import kernels_of as fit_kernels_of
        return fit_kernels_of(problem)
    entry = _COMPILED.get(problem)
    return None if entry is None else entry.kernels


def compiled(problem, *, need_hessian: bool = True, need_line_poly: bool = False,
             want_hessian: bool = False) -> _Compiled:
    """Derivatives and kernels of ``problem`` (built once per Problem object).
    ``want_hessian``: the exact Hessian where it is affordable, never refused (auglag
    and sqp, which otherwise difference the gradient: n gradients a Hessian)."""
    entry = _COMPILED.get(problem)
    if entry is not None and (entry.kernels.has_hessian or entry.kernels.band >= 0
                              or entry.kernels.sparse_nnz >= 0
                              or not (need_hessian or want_hessian)) and (
            entry.kernels.line_poly or not need_line_poly):
        return entry
    lo, hi = box([v.lower for v in problem.variables], [v.upper for v in problem.variables],
                 len(problem.variables))
    if problem.kernel_source == INDEXED:  # from the warm index: kernels exist already
        k = problem.kernels()
        if k is None:
            raise LookupError("the indexed kernel module is gone")
        entry = _COMPILED[problem] = _Compiled(None, k, lo, hi)
        return entry
    from symgd.kernelgen import expr_index
    hess_key = True if need_hessian else expr_index.WANTED if want_hessian else False
    k = expr_index.lookup(problem, hess_key, need_line_poly)
    if k is not None:  # built by an earlier process: no derivation, no code generation
        entry = _COMPILED[problem] = _Compiled(None, k, lo, hi)
        return entry
    from symgd import calculus
    from symgd.kernelgen.kernels import compile_problem

    k = templated_kernels(problem, need_hessian, need_line_poly,
                          want_hessian or len(problem.variables) <= SADDLE_CHECK_MAX_VARS)
    if k is not None:   # repeated terms compiled as loops: no whole-objective derivation
        entry = _COMPILED[problem] = _Compiled(None, k, lo, hi)
        expr_index.record(problem, k, hess_key, need_line_poly)
        return entry
    d = calculus.derive(problem, hessian=need_hessian or want_hessian
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
    entry = _COMPILED[problem] = _Compiled(d, k, lo, hi)
    expr_index.record(problem, k, hess_key, need_line_poly)
    return entry


def _located(problem, err: InputError) -> InputError:
    line, col = problem.location(err.field or "")
    return err.located(file=problem.source, line=line, column=col)


def solve(problem, method: str | None = None, x0=None, *, progress=None, callback=None,
          cluster=None, **options) -> Result:
    """Solve ``problem`` (SPEC §5).

    Args:
        problem: a :class:`symgd.Problem` (or a path to a problem file).
        method: overrides the problem's ``method`` (default ``auto``).
        x0: a start overriding the variables' ``start`` (array or {name: value}).
        progress: optional callable(iterations, f, grad_norm), called between chunks
            of iterations (about every 20 ms) during iterative runs.
        callback: optional callable(state), called once per iteration (per epoch for
            sgd) with a symgd.history.IterationState (x, fun, grad_norm, nit); returning
            True or raising StopIteration stops the run (status 'interrupted').
        cluster: a data fit's Dask cluster, "local", "tcp://host:port" or a Client
            (symgd.dask.cluster; default $SYMGD_DASK_SCHEDULER, then options.cluster).
        **options: override the problem's options key by key.

    Returns:
        A :class:`symgd.Result`. Failing to converge is a status, never an exception;
        bad input raises :class:`symgd.InputError`.
    """
    t_start = clock.now()  # time_limit counts from here, on the loops' clock
    if isinstance(problem, (str, bytes)) or hasattr(problem, "__fspath__"):
        # a problem file: the warm index first (no sympy when it was solved before by
        # the same method); symgd.warm records it after a full solve
        from symgd.warm import solve_file
        if cluster is not None:
            options["cluster"] = cluster  # solve_file hands it back to solve
        return solve_file(problem, method=method, x0=x0, progress=progress,
                          callback=callback, **options)[1]
    given = {**problem.options, **options}
    hook = None
    if callback is not None:
        if not callable(callback):
            raise InputError(f"callback must be callable, got {type(callback).__name__}",
                             field="callback", kind="option")
        from symgd.history import CallbackHook
        hook = CallbackHook(callback, -1.0 if problem.sense == "maximize" else 1.0)
    ctx = SolveContext(method or problem.method or "auto", given, t_start,
                       _in_user_sense(problem, progress), hook)
    loaded_before = loading.spent()
    with cluster_request(problem, cluster):  # a fit's Dask cluster, opened on first use
        result = _solve(problem, ctx, x0)
    return _finish_notes(result, loading.spent() - loaded_before)


def _checked(problem, method, given, *, internal_ok=False):
    """(registry spec, checked options) of ``method`` on ``problem``; InputError for a
    method that cannot run this problem (the registry's flags say what it needs)."""
    spec = methods.method_spec(method, internal_ok=internal_ok)
    if spec.needs_data and not problem.is_fit:
        raise InputError(f"method '{method}' fits data: it needs a problem with data "
                         "(SPEC §1)", field="method", kind="option")
    if problem.constraints and not spec.handles_constraints:
        enforcing = [n for n in methods.public_methods()
                     if methods.REGISTRY[n].handles_constraints]
        extra = "; use bounds on the variables instead" if problem.is_fit else ""
        raise InputError(
            f"method '{method}' cannot enforce the {len(problem.constraints)} "
            f"constraint(s); methods that enforce constraints: {', '.join(enforcing)}"
            f"{extra}. Refusing rather than returning an "
            "unconstrained answer", field="constraints", kind="option")
    opts = methods.resolve_options(method, given, data=problem.is_fit)
    if opts.get("line_search") == "exact" and method == "linesearch":
        if problem.is_fit:
            raise InputError("line_search 'exact' is not available for data fits; use "
                             "armijo or wolfe", field="options.line_search", kind="option")
        if not problem.is_polynomial:
            raise InputError("line_search 'exact' needs a polynomial objective (the step "
                             "solves d/da f(x + a d) = 0 in closed form); use armijo or "
                             "wolfe", field="options.line_search", kind="option")
    return spec, opts


def _solve(problem, ctx, x0) -> Result:
    requested = ctx.requested
    fitspec = None
    try:
        spec, opts = _checked(problem, requested, ctx.given)
        if problem.is_fit:
            from symgd.fit import source
            fitspec = source.spec_of(problem, opts, ctx.given)
            source.check_method(spec, fitspec)
    except InputError as err:
        raise _located(problem, err) from None
    if requested == "analytic":
        return _noted(solve_analytic(problem, _with_progress(opts, ctx), requested,
                                     ctx.t_start), requested, opts)
    if requested == "auto" and not problem.is_fit:
        return _noted(_solve_auto(problem, _with_progress(opts, ctx), x0, ctx), requested,
                      opts)
    path = []
    method = requested
    if requested == "auto":
        method, why = choose.fit_choice(fitspec)
        path = [] if why is None else [f"auto chose {why}"]
        if method in ("linear", "irls", "sgd") and on_cluster(problem, opts, ctx):
            method = "lm" if fitspec.least_squares else "lbfgs"  # passes on the cluster
            path = [f"auto chose {method} (data passes on a Dask cluster)"]
    return _solve_iterative(problem, method, x0, ctx, path, {}, fitspec=fitspec,
                            opts=opts if method == requested else None, checked=True)


def _with_progress(opts, ctx):
    opts["_progress"] = ctx.progress
    opts["_callback"] = ctx.callback
    return opts


def _noted(result, method, opts) -> Result:
    if not opts.get("_ignored"):
        return result
    return Result(**{**result.__dict__,
                     "path": (choose.ignored_note(method, opts["_ignored"]),) + result.path})


def _options_for(problem, method, ctx, opts=None):
    """The checked options of ``method``: from the user's options when it is the method
    asked for or auto's choice on a fit; from ``opts`` (another method's, keeping what
    this one reads) when it polishes or follows another."""
    if opts is None:
        given = dict(ctx.given)
        if method == "sgd" and ctx.requested == "auto":
            given = {**choose.SGD_FALLBACK, **given}
        return _checked(problem, method, given, internal_ok=True)[1]
    spec = methods.REGISTRY[method]
    keep = {**methods.COMMON_OPTIONS, **spec.options,
            **(methods.DATA_OPTIONS if problem.is_fit else {})}
    return methods.resolve_options(method, {k: v for k, v in opts.items() if k in keep},
                                   data=problem.is_fit)


def _solve_iterative(problem, method, x0, ctx, path, timings, *, opts=None, analytic=None,
                     fitspec=None, checked=False) -> Result:
    """Run registry method ``method`` on the problem's kernel bundle and finish.
    ``opts``: options already checked for this method (``checked``), or another
    method's to take what this one reads from, or None (from the user's)."""
    spec = methods.REGISTRY[method]
    if not (checked and opts is not None):
        try:
            opts = _options_for(problem, method, ctx, opts)
        except InputError as err:
            raise _located(problem, err) from None
    _with_progress(opts, ctx)
    path = list(path)
    if opts.get("_ignored"):
        path.insert(0, choose.ignored_note(method, opts["_ignored"]))
    tc = time.perf_counter()
    if problem.is_fit:
        from symgd.fit import source
        if on_cluster(problem, opts, ctx):
            from symgd.dask.fit import bundle as dask_bundle
            try:
                bundle, t_load = dask_bundle(problem, spec, fitspec, current())
            except InputError as err:
                raise _located(problem, err) from None
            path.append(f"data passes on {current().description}")
        else:
            bundle, t_load = source.bundle(problem, spec, fitspec)
        timings = {**timings, "load": t_load, "derive": bundle.derive_s,
                   "compile": bundle.compile_s}
    else:
        before = _COMPILED.get(problem)
        comp = compiled(problem, need_hessian=spec.needs_hessian,
                        need_line_poly=opts.get("line_search") == "exact",
                        want_hessian=spec.handles_constraints)
        bundle = comp.kernels
        if bundle.backend == "python":
            path.append("kernels: Python fallback (the generated code is longer than the "
                        "compile budget SYMGD_MAX_COMPILE_LINES)")
        built = comp is not before  # a repeated solve derives nothing: 0 s
        derive_s = comp.derivatives.time_s if built and comp.derivatives is not None else 0.0
        if spec.handles_constraints:  # auglag: the constraints' kernels beside f's
            from symgd.constrained.kernels import ConstrainedBundle, constraint_kernels
            from symgd.constrained.sparse_newton import objective_cliques
            bundle = ConstrainedBundle(bundle, constraint_kernels(problem),
                                       objective_cliques(problem))
        timings = {**timings, "derive": derive_s,
                   "compile": max(time.perf_counter() - tc - derive_s, 0.0)}
    lo, hi = (source.bounds(problem) if problem.is_fit else (comp.lower, comp.upper))
    try:
        x, moved = moved_inside(problem.names, start_point(problem, x0, lo, hi), lo, hi)
        if moved:
            path.append(moved)
        if problem.is_fit and method != "lm":  # lm checks its first pass itself
            source.check_start(bundle, x)
    except InputError as err:
        raise _located(problem, err) from None
    t1 = time.perf_counter()
    if opts["starts"] > 1 and analytic is None and not spec.internal:  # not a polish
        from symgd.multistart import solve_starts
        try:
            return solve_starts(problem, spec, bundle, x, ctx,
                                Run(method, opts, lo, hi, tuple(path), timings))
        except InputError as err:
            raise _located(problem, err) from None
    try:
        outcome = spec.run(bundle, x, lo, hi, opts, ctx.deadline(opts))
    except Unsuitable as why:
        return _solve_iterative(problem, why.instead, x0, ctx, path + [why.note], timings,
                                fitspec=fitspec)
    except InputError as err:
        raise _located(problem, err) from None
    timings["iterate"] = time.perf_counter() - t1
    if outcome.iterations == 0 and outcome.reason == S.R_NONFINITE and not problem.is_fit:
        g = np.zeros(x.size)
        err = start_error(problem.names, x, bundle.fg(x, g), g)
        if err is not None:
            raise _located(problem, err) from None
    return finish(problem, bundle, outcome, ctx,
                  Run(method, opts, lo, hi, tuple(path), timings, analytic))


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
        if note.startswith(("options not used by", "start moved inside")) and \
                note not in message:
            message = f"{message}; {note}"
    timings = dict(result.timings)
    if t_loops > 0.0:
        timings["compile_loops"] = t_loops
        timings["compile"] = timings.get("compile", 0.0) + t_loops
    return Result(**{**result.__dict__, "message": message, "timings": timings})


def _solve_auto(problem, opts, x0, ctx):
    """``auto`` without data (SPEC §2): the closed form runs in its worker while the
    iterative method runs here, so the wall time is the longer of the two. The closed
    form answers whenever it finishes within ``timeout`` (a fast local iterative answer
    never replaces a global closed-form one, and the choice does not depend on which
    finished first); the iterative answer is used when it does not. A nonlinear system
    in many variables is not tried (closed_form.AUTO_CLOSED_FORM_MAX_VARS)."""
    path, timings = [], {}
    pending = auto_closed_form_start(problem, opts, ctx.t_start)
    iterative, error = None, None
    try:
        if not problem.constraints:
            method, why = choose.iterative_choice(len(problem.variables))
            # lbfgs needs about 5 n steps on long valleys: its own max_iter, not auto's
            lbfgs_opts = opts if "max_iter" in ctx.given else \
                {**opts, "max_iter": methods.REGISTRY["lbfgs"].default_max_iter}
            try:
                iterative = _solve_iterative(problem, method, x0, ctx,
                                             [f"auto chose {why}"], {},
                                             opts=opts if method == "newton" else lbfgs_opts)
            except InputError as err:  # e.g. a start outside the domain: the closed
                error = err            # form may still answer
                if method == "newton" and err.kind == "limit":  # newton's Hessian is too big
                    note = f"auto chose lbfgs (newton cannot run: {err.message.split(';')[0]})"
                    try:
                        iterative = _solve_iterative(problem, "lbfgs", x0, ctx, [note], {},
                                                     opts=lbfgs_opts)
                        error = None
                    except InputError as err_lbfgs:
                        error = err_lbfgs
        else:
            try:
                iterative = _solve_constrained(problem, x0, ctx, opts)
            except InputError as err:  # the closed form may still answer
                error = err
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
    res = result_from_analytic(problem, report, "auto", [], timings, ctx.t_start, opts)
    if res is not None:
        path.append(f"analytic: solved ({count(len(report.critical_points), 'critical point')})")
        if problem.constraints:
            return polish_kkt(problem, res, path, timings)
        return _polish(problem, res, opts, path, timings, ctx, report)
    why = report.message or report.status
    path.append(f"analytic: {report.status} ({why})")
    if report.unbounded:
        return solve_analytic_unbounded(problem, report, path, timings, ctx.t_start)
    if error is not None:
        raise error
    return Result(**{**iterative.__dict__, "path": tuple(path) + iterative.path,
                     "timings": {**iterative.timings, **timings}, "analytic": report})


# auto's sqp bound: below symgd.constrained.sparse_newton.MIN_VARS variables, or where
# the terms and constraints fill the factor, the interior-point method's system is a
# dense (n + |I| + m)-square matrix, eigendecomposed every step (primal_dual.DenseKKT)
SQP_MAX_SIZE = 400


def _solve_constrained(problem, x0, ctx, opts):
    """auto's iterative stage with constraints: the interior-point method (``sqp``),
    fewer evaluations on the Hock-Schittkowski set; where it ends without an answer
    (it has no restoration phase) or the problem is large, ``auglag`` from the start.
    The evaluations of both runs are counted."""
    m = len(problem.constraints)
    n = len(problem.variables)
    first = None
    if n + 2 * m <= SQP_MAX_SIZE:
        first = _solve_iterative(problem, "sqp", x0, ctx,
                                 [f"auto chose sqp ({count(m, 'constraint')})"], {}, opts=opts)
        if first.status in ("converged", "unbounded", "interrupted", "timeout"):
            return first
        note = f"sqp: {first.status}; auto ran auglag from the start"
    else:
        note = f"auto chose auglag ({count(m, 'constraint')}; n + 2 m > {SQP_MAX_SIZE})"
    second = _solve_iterative(problem, "auglag", x0, ctx, [note], {}, opts=opts)
    if first is None:
        return second
    evaluations = {k: first.evaluations.get(k, 0) + second.evaluations.get(k, 0)
                   for k in set(first.evaluations) | set(second.evaluations)}
    return Result(**{**second.__dict__, "path": first.path + second.path,
                     "evaluations": evaluations})


def _polish(problem, res, opts, path, timings, ctx, report):
    """Newton from the closed-form best point, to full float precision."""
    polished = _solve_iterative(problem, "newton", res.x, ctx, [], timings, opts=opts,
                                analytic=report)
    if polished.status == "converged" and np.allclose(polished.x, res.x, rtol=1e-6, atol=1e-8):
        path.append("newton: polished the closed-form point")
        return Result(**{**polished.__dict__, "method": "analytic", "status": "solved",
                         "message": res.message + "; polished by Newton: " + polished.message,
                         "path": tuple(path), "extra": res.extra})
    path.append(f"newton: polish {polished.status}; kept the closed-form point")
    return Result(**{**res.__dict__, "path": tuple(path)})
