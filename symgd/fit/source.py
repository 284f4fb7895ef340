"""The data kernel source: a fit Problem -> its data and compiled kernels (a bundle).

symgd.solver asks this module for a fit's bundle (symgd.fit.kernels.FitKernels, which
the method runners take like the symbolic source's Kernels), for the start check and
for the fit's part of the Result (statistics). It decides nothing about methods: the
solver does, from the registry's flags.
"""
from __future__ import annotations

import time
import weakref
from collections.abc import Mapping

import numpy as np

from symgd.errors import InputError
from symgd.fit.spec import fit_spec
from symgd.problem_interface import INDEXED
from symgd.solve_common import start_error

_DATA: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_KERNELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def spec_of(problem, opts, given):
    """The FitSpec, with huber's ``delta`` (an option only a huber fit may set)."""
    if "delta" in given and problem.loss != "huber":
        raise InputError(f"'delta' is the threshold of the huber loss; this fit's loss "
                         f"is {problem.loss or 'a per-sample objective'}",
                         field="options.delta", kind="option")
    delta = float(opts.get("delta", 1.0))
    if problem.kernel_source == INDEXED:  # from the warm index (symgd.warm)
        spec = problem.fit_spec(delta)
        if spec is None:
            raise LookupError("the indexed fit was built for another delta")
        return spec
    return fit_spec(problem, delta=delta)


def check_method(method_spec, spec) -> None:
    """What a method needs of a fit that this fit lacks (registry flags)."""
    if not method_spec.accepts_data:
        raise InputError("data fits are solved iteratively (their loss is a sum over "
                         "samples); use auto, lm, newton, linesearch, gd or sgd",
                         field="method", kind="option")
    if method_spec.needs_residuals and not spec.least_squares:
        raise InputError(f"method '{method_spec.name}' (Levenberg-Marquardt) needs a "
                         f"least-squares loss (mse, sse or a per-sample square), not "
                         f"{spec.loss}; use newton, linesearch or sgd", field="method",
                         kind="option")


def dataset(problem, spec):
    """The problem's samples (symgd.io.data.Dataset), read once per Problem."""
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
    if problem.kernel_source == INDEXED:  # from the warm index (symgd.warm)
        entry = problem.fit_kernels(spec, data, kinds)
        if entry is None:
            raise LookupError("the indexed fit kernels are gone or lack a kind")
    else:
        entry = build(problem, spec, data, kinds)
    store[key] = entry
    return entry


def kernels_of(problem):
    """The FitKernels of a fit solved in this process (the last built), or None."""
    store = _KERNELS.get(problem)
    return None if not store else list(store.values())[-1]


def kinds_for(method_spec, spec) -> set:
    """The kernel kinds a method needs (symgd.fit.codegen.KINDS) from its flags."""
    kinds = {"fg"}
    if spec.least_squares:
        kinds.add("lsq")             # lm's passes, and the statistics of any fit
    if method_spec.needs_residuals:
        kinds.add("avv")             # lm's geodesic acceleration
    if method_spec.needs_hessian or spec.loss == "cross_entropy":
        kinds.add("fgh")             # newton; the statistics of a logistic fit
    if method_spec.minibatch:
        kinds.add("batch")
    return kinds


def bundle(problem, method_spec, spec):
    """(FitKernels for ``method_spec``, seconds spent loading the data)."""
    t0 = time.perf_counter()
    data = dataset(problem, spec)
    t_load = time.perf_counter() - t0
    K = kernels(problem, spec, data, kinds_for(method_spec, spec))
    if spec.loss == "cross_entropy":
        _check_labels(K, data)
    if K.weight_field is not None:
        _check_weights(problem, K, data, K.weight_field)
    return K, t_load


def fit_kernels(problem, kinds=("fg",), *, delta: float = 1.0):
    """The compiled data kernels of a fit problem (symgd.fit.kernels.FitKernels), bound
    to its data: ``value``, ``value_grad``, ``value_grad_hess``, ``lsq``, ``predict`` and
    ``addresses["batch"]`` (the minibatch kernel for SGD). For benchmarks and tools."""
    spec = fit_spec(problem, delta=delta)
    return kernels(problem, spec, dataset(problem, spec), set(kinds))


def fit_kernels_with_hessian(problem, *, delta: float = 1.0) -> tuple:
    """(FitKernels with the Hessian where it can be compiled, None or the reason it
    could not: the limit's InputError); for tools that evaluate the loss at points
    of their choosing (symgd.compile, verify)."""
    try:
        return fit_kernels(problem, ("fg", "fgh"), delta=delta), None
    except InputError as err:
        if err.kind != "limit":
            raise
        return fit_kernels(problem, ("fg",), delta=delta), err


def _check_labels(K, data):
    y = K.targets()
    bad = np.flatnonzero((y != 0.0) & (y != 1.0))
    if bad.size:
        i = int(bad[0])
        line = int(data.lines[i]) if data.lines is not None else None
        raise InputError(f"cross_entropy needs binary labels (0 or 1); the target is "
                         f"{y[i]:g} at {data.where(i)}", file=data.source, field="target",
                         line=line, kind="data")


def _check_weights(problem, K, data, field):
    """Weights must be finite and >= 0 (sigma: finite and nonzero): an InputError at the
    first sample that is not, on its data-file line (or at the field, for inline
    data)."""
    w = K.weights()
    bad = np.flatnonzero(~(w >= 0.0) | ~np.isfinite(w))
    if not bad.size:
        return
    i = int(bad[0])
    if field == "sigma":
        what = "sigma is 0" if w[i] == np.inf else f"the weight 1/sigma² is {w[i]:g}"
        why = "sigma must be finite and nonzero (the weights are 1/sigma²)"
    else:
        what, why = f"the weight is {w[i]:g}", "weights must be finite and >= 0"
    if data.lines is not None:
        file, line = data.source, int(data.lines[i])
    else:
        file, line = problem.source, problem.location(field)[0]
    raise InputError(f"{what} at {data.where(i)}"
                     f"{f' of {data.source}' if data.source else ''}; {why}", file=file,
                     field=field, line=line, kind="data")


def result_fields(K, x, jac, start=None) -> dict:
    """The Result fields a fit sets (symgd.finish): every declared variable in
    ``names`` and ``x`` (held and tied ones rebuilt from the fitted x,
    FitKernels.expand), ``jac`` over them (nan for held and tied ones: they are not
    variables of the objective) and ``fit`` (symgd.fit.model.FitModel: predict,
    residuals, the declared variables' start values from ``start``, the fitted ones')."""
    from symgd.fit.model import FitModel

    declared = K.declared()
    values, _ = K.expand(x)
    full_jac = np.full(len(declared), np.nan)
    for i, (_, kind, _) in enumerate(declared):
        if kind == "fit":
            full_jac[i] = jac[K.spec.names.index(declared[i][0])]
    init = None if start is None else K.expand(np.asarray(start, dtype=float))[0]
    return {"names": tuple(d[0] for d in declared), "x": values, "jac": full_jac,
            "fit": FitModel(K, np.array(x, dtype=float), init)}


def bounds(problem):
    """(lower, upper) arrays of the parameters (-inf / inf where free)."""
    from symgd.methods.common import box
    return box([v.lower for v in problem.variables], [v.upper for v in problem.variables],
               len(problem.variables))


def check_start(K, x) -> None:
    """A loss or gradient that is not finite at the start is bad input naming it."""
    f, g = K.start_values(x)
    err = start_error(K.spec.names, x, f, g, what="loss")
    if err is not None:
        raise err


class LazyStatistics(Mapping):
    """Result.extra of a fit whose statistics are computed when first read.

    n_samples, loss, dof and history are there at once; rss, r_squared, stderr,
    correlation and notes (what the statistics could not estimate, and why) cost a pass
    over the data (JᵀJ at x) and are computed on first access, once. Used for minibatch
    fits (sgd): an epoch is a pass over the data, and a user timing epochs has not asked
    for standard errors (which, away from the least-squares optimum, mean little).
    """

    def __init__(self, base: dict, compute):
        self._data = dict(base)
        self._compute = compute

    def _full(self) -> dict:
        if self._compute is not None:
            stats, notes = self._compute()
            self._data = {**stats, **self._data, "notes": list(notes)}
            self._compute = None
        return self._data

    def __getitem__(self, key):
        if key in self._data and key != "notes":
            return self._data[key]
        return self._full()[key]

    def __iter__(self):
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def __repr__(self) -> str:
        return repr(self._full())


def result_extra(K, x, lower, upper, outcome, *, lazy: bool = False) -> tuple:
    """(Result.extra of a fit, notes for the message, seconds): n_samples, loss, dof,
    rss, r_squared, stderr, correlation (symgd.fit.stats); the loss history is the
    Result's ``history`` (symgd.history), as for every method.
    ``lazy``: the statistics wait until read (LazyStatistics, whose ``notes`` key holds
    what the message would have said) and the message gets no notes."""
    from symgd.fit.stats import statistics

    if lazy:
        x = np.array(x, dtype=float)
        base = {"n_samples": int(K.n), "loss": K.spec.loss, "dof": int(K.n - K.p),
                **_validation(K, outcome)}
        return LazyStatistics(base, lambda: statistics(K.spec, K, x, lower, upper,
                                                       lsq=outcome.lsq)), [], 0.0
    ts = time.perf_counter()
    extra, notes = statistics(K.spec, K, x, lower, upper, lsq=outcome.lsq)
    extra.update(_validation(K, outcome))
    return extra, notes, time.perf_counter() - ts


def _validation(K, outcome) -> dict:
    """sgd with a validation split (symgd.methods.sgd): the loss over the held-out
    samples at the returned x, in the user's sense, and how many they were."""
    got = (getattr(outcome, "extra", None) or {}).get("validation_loss")
    if got is None:
        return {}
    return {"validation_loss": K.spec.sign * float(got),
            "validation_samples": int(outcome.extra["validation_samples"])}
