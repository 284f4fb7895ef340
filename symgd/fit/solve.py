"""Solve a data-fitting problem: choose the method, run it, and make one Result.

``auto`` for fits (SPEC §2): a model linear in its parameters with loss mse, sse or mae
gets its closed form first (symgd.fit.linear: linear least squares; least absolute
deviations by linear programming, or IRLS above the LP's sample gate); otherwise ``lm``
for least-squares losses (mse, sse, a per-sample square) with at most 100 variables;
mae (a kinked loss, never plain Newton) IRLS over lm, or sgd with a decaying schedule
and patience where the model cannot be evaluated with numpy; else ``newton`` up to 50
variables, else ``linesearch``.
"""
from __future__ import annotations

import math
import time
import weakref

import numpy as np

from symgd import methods
from symgd.errors import InputError, unknown_name_message
from symgd.fit.spec import fit_spec
from symgd.result import Result

FIT_METHODS = ("auto", "lm", "gd", "linesearch", "newton", "sgd")
FIT_OPTIONS = {"delta": 1.0}        # options of every fit method (huber's threshold)
AUTO_LM_MAX_VARS = 100
AUTO_NEWTON_MAX_VARS = 50
# sgd where auto meets a kinked loss it cannot reweight: a decaying step and early stop
SGD_FALLBACK = {"schedule": "cosine", "patience": 10}

_DATA: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_KERNELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# ----------------------------------------------------------------------------- options
def _check_number(value, field, *, positive=True):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or (positive and value <= 0):
        raise InputError(f"expected a {'positive ' if positive else ''}finite number, got "
                         f"{value!r}", field=field, kind="option")
    return float(value)


def _auto_choice(spec):
    p = spec.p
    from symgd.fit.linear import linear_form
    if linear_form(spec) is not None:
        return "linear", None   # run_linear says which closed form, in path
    if spec.loss == "mae" and p <= AUTO_LM_MAX_VARS:
        return "irls", (f"IRLS over lm (mae loss, a model nonlinear in its parameters: "
                        "a kinked loss never goes to plain newton)")
    if spec.loss == "mae":
        return "sgd", (f"sgd with a cosine schedule and patience (mae loss, {p} variables "
                       f"> {AUTO_LM_MAX_VARS}: a kinked loss never goes to plain newton)")
    if spec.least_squares and p <= AUTO_LM_MAX_VARS:
        return "lm", f"lm ({spec.loss} loss, {p} variables <= {AUTO_LM_MAX_VARS})"
    if p <= AUTO_NEWTON_MAX_VARS:
        why = "not least squares" if not spec.least_squares else f"{p} variables > 100"
        return "newton", f"newton ({spec.loss} loss: {why}; {p} variables <= " \
                         f"{AUTO_NEWTON_MAX_VARS})"
    return "linesearch", f"linesearch ({p} variables > {AUTO_NEWTON_MAX_VARS}, no Hessian)"


def _resolve(method, given, spec):
    """(method to run, its options, the path note for auto). Options that belong to
    other methods are left out (symgd.methods.resolve_options); unknown names refused."""
    note = None
    if method == "auto":
        method, why = _auto_choice(spec)
        note = None if why is None else f"auto chose {why}"
        if method == "sgd":
            given = {**SGD_FALLBACK, **given}
    if method in ("linear", "irls"):
        # auto's own paths, not registry methods: the common options (tol, max_iter)
        return method, methods.resolve_options("auto", given), note
    if method == "sgd":
        try:
            import symgd.methods.sgd  # noqa: F401
        except ImportError:
            raise InputError("method 'sgd' (minibatch stochastic gradient descent) is not "
                             "available in this build; use lm, newton or linesearch",
                             field="method", kind="unavailable") from None
    try:
        opts = methods.resolve_options(method, given)
    except InputError as err:
        if err.field and err.field.startswith("options.") and "unknown option" in err.message:
            valid = {**methods.COMMON_OPTIONS, **methods.REGISTRY[method].options,
                     **FIT_OPTIONS}
            raise InputError(unknown_name_message(f"option for method '{method}'",
                                                  err.field[8:], valid),
                             field=err.field, kind="option") from None
        raise
    return method, opts, note


def _ready(chosen, opts, progress):
    """The options of ``chosen`` with lm's damping checked and the progress callback."""
    if chosen == "lm":
        opts["damping"] = _check_number(opts.get("damping", 1e-3), "options.damping")
    if progress is not None:
        opts["_progress"] = progress
    return opts


def _ignored_note(chosen, opts) -> str:
    who = {"linear": "the closed form", "irls": "IRLS"}.get(chosen, chosen)
    return f"options not used by {who}, ignored: {', '.join(opts['_ignored'])}"


def _check_method(problem, method, spec):
    if method == "analytic":
        raise InputError("data fits are solved iteratively (their loss is a sum over "
                         "samples); use auto, lm, newton, linesearch, gd or sgd",
                         field="method", kind="option")
    methods.method_spec(method)
    if method not in FIT_METHODS:
        raise InputError(f"method '{method}' does not fit data; use one of "
                         f"{', '.join(FIT_METHODS)}", field="method", kind="option")
    if method == "lm" and not spec.least_squares:
        raise InputError(f"method 'lm' (Levenberg-Marquardt) needs a least-squares loss "
                         f"(mse, sse or a per-sample square), not {spec.loss}; use newton, "
                         "linesearch or sgd", field="method", kind="option")
    if problem.constraints:
        raise InputError(f"the fit methods ({', '.join(FIT_METHODS[1:])}) cannot enforce "
                         f"the {len(problem.constraints)} constraint(s); use bounds on the "
                         "variables instead. Refusing rather than returning an "
                         "unconstrained answer", field="constraints", kind="option")


# ----------------------------------------------------------------------------- data, kernels
def dataset(problem):
    """The problem's samples (symgd.io.data.Dataset), read once per Problem."""
    spec = fit_spec(problem)
    want = tuple(s.name for s in spec.data_symbols)
    entry = _DATA.get(problem)
    if entry is not None and entry.symbols == want:
        return entry
    from symgd.io.data import load
    entry = load(problem.data, want)
    _DATA[problem] = entry
    return entry


def kernels(problem, spec, data, kinds):
    """Compiled kernels of the fit (built once per Problem, loss and kernel set)."""
    from symgd.fit.kernels import build
    store = _KERNELS.setdefault(problem, {})
    key = (spec.loss, spec.delta)
    entry = store.get(key)
    if entry is not None and set(kinds) <= entry.kinds and entry.data is data:
        return entry
    if entry is not None and entry.data is data:
        kinds = set(kinds) | entry.kinds
    entry = build(problem, spec, data, kinds)
    store[key] = entry
    return entry


def fit_kernels(problem, kinds=("fg",), *, delta: float = 1.0):
    """The compiled data kernels of a fit problem (symgd.fit.kernels.FitKernels), bound
    to its data: ``value``, ``value_grad``, ``value_grad_hess``, ``lsq``, ``predict`` and
    ``addresses["batch"]`` (the minibatch kernel for SGD). For benchmarks and tools."""
    spec = fit_spec(problem, delta=delta)
    return kernels(problem, spec, dataset(problem), set(kinds))


def _kinds(method, spec):
    kinds = {"fg"}
    if method in ("linear", "irls"):
        return kinds | ({"lsq"} if spec.least_squares else set())
    if method == "lm" or spec.least_squares:
        kinds.add("lsq")
    if method == "lm":
        kinds.add("avv")
    if method == "newton" or spec.loss == "cross_entropy":
        kinds.add("fgh")
    if method == "sgd":
        kinds.add("batch")
    return kinds


def _check_labels(K, data):
    y = K.targets()
    bad = np.flatnonzero((y != 0.0) & (y != 1.0))
    if bad.size:
        i = int(bad[0])
        line = int(data.lines[i]) if data.lines is not None else None
        raise InputError(f"cross_entropy needs binary labels (0 or 1); the target is "
                         f"{y[i]:g} at {data.where(i)}", file=data.source, field="target",
                         line=line, kind="data")


def start_error(problem, x, f, g):
    """The InputError for a loss or gradient that is not finite at the start, or None."""
    pt = ", ".join(f"{n}={v:.6g}" for n, v in zip(problem.names, x))
    if not math.isfinite(f):
        return InputError(f"the loss is {f} at the start ({pt}): the model is not finite on "
                          "some samples there; choose another start", field="variables",
                          kind="domain")
    if not np.all(np.isfinite(g)):
        bad = [problem.names[i] for i in range(x.size) if not math.isfinite(g[i])]
        return InputError(f"the gradient is not finite at the start ({pt}) in "
                          f"{', '.join(bad)}; choose another start", field="variables",
                          kind="domain")
    return None


def _check_start(problem, K, x):
    g = np.empty(x.size)
    err = start_error(problem, x, K.value_grad(x, g), g)
    if err is not None:
        raise err


# ----------------------------------------------------------------------------- solve
def solve_fit(problem, method: str, options: dict, x0=None, t_start=None, *,
              progress=None) -> Result:
    """Solve a data-fitting Problem (SPEC §1, §2, §4).

    Args:
        problem: a Problem with ``data``.
        method: auto, lm, gd, linesearch, newton or sgd.
        options: the merged options (file < keyword arguments), unchecked.
        x0: a start overriding the variables' starts.
        t_start: ``time.perf_counter()`` when the solve began (time_limit counts from it).

    Returns:
        A Result whose ``extra`` holds n_samples, loss, dof, rss, r_squared, history,
        stderr and correlation.
    """
    from symgd.methods.common import box

    t_start = time.perf_counter() if t_start is None else t_start
    given = dict(options)
    delta = given.pop("delta", None)
    if delta is not None:
        delta = _check_number(delta, "options.delta")
        if problem.loss != "huber":
            raise InputError(f"'delta' is the threshold of the huber loss; this fit's loss "
                             f"is {problem.loss or 'a per-sample objective'}",
                             field="options.delta", kind="option")
    spec = fit_spec(problem, delta=1.0 if delta is None else delta)
    _check_method(problem, method, spec)
    chosen, opts, note = _resolve(method, given, spec)
    if opts.get("line_search") == "exact":
        raise InputError("line_search 'exact' is not available for data fits; use armijo "
                         "or wolfe", field="options.line_search", kind="option")
    opts = _ready(chosen, opts, progress)
    path = [_ignored_note(chosen, opts)] if opts.get("_ignored") else []
    path += [note] if note else []

    t0 = time.perf_counter()
    data = dataset(problem)
    t_load = time.perf_counter() - t0
    K = kernels(problem, spec, data, _kinds(chosen, spec))
    if spec.loss == "cross_entropy":
        _check_labels(K, data)
    lo, hi = box([v.lower for v in problem.variables], [v.upper for v in problem.variables],
                 spec.p)
    from symgd.solver import _start_point
    x = _start_point(problem, x0, lo, hi)
    if chosen != "lm":  # lm checks its first evaluation itself
        _check_start(problem, K, x)
    deadline = None if opts.get("time_limit") is None else t_start + float(opts["time_limit"])
    timings = {"load": t_load, "derive": K.derive_s, "compile": K.compile_s}

    from symgd.fit import run
    t1 = time.perf_counter()
    produced = chosen
    run_out = None
    if chosen == "linear":
        from symgd.fit.linear import linear_form, run_linear
        lin = run_linear(spec, K, data, linear_form(spec), x, lo, hi, opts, deadline)
        timings.update(lin.timings)
        if lin.fallback is None:
            path.append(f"auto chose {lin.note}")
            run_out, produced = lin.outcome, lin.method
        else:
            path.append(f"auto: {lin.note}")
            chosen, opts, _ = _resolve(lin.fallback, given, spec)
            opts = _ready(chosen, opts, progress)
            produced = chosen
            K = kernels(problem, spec, data, _kinds(chosen, spec))
    if run_out is None and chosen == "irls":
        from symgd.fit.irls import run_irls
        run_out, why = run_irls(spec, K, data, x, lo, hi, opts, deadline)
        if run_out is None:
            path.append(f"IRLS needs the model's residuals and Jacobian in numpy, but {why}: "
                        "sgd with a cosine schedule and patience instead")
            chosen, opts, _ = _resolve("sgd", {**SGD_FALLBACK, **given}, spec)
            opts = _ready(chosen, opts, progress)
            K = kernels(problem, spec, data, _kinds(chosen, spec))
    if run_out is None:
        produced = chosen
        run_out = run.run_method(chosen, problem, spec, K, x, lo, hi, opts, deadline)
    timings["iterate"] = time.perf_counter() - t1
    return run.finish(problem, spec, K, run_out, opts, method, produced, path, timings,
                      t_start, lo, hi)
