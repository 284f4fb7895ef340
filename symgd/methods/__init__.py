"""Iterative methods: a registry from method name to its options and its runner.

Arrays in, arrays out: nothing here imports sympy. The loops themselves are in
methods/loops.py (compiled once for all problems); this module only checks options
and packs them for the loops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from symgd.errors import InputError, unknown_name_message
from symgd.methods import loading
from symgd.methods.option_checks import OPTIMIZER_OPTIONS, check_optimizer, real

# Options every method accepts (SPEC §2).
COMMON_OPTIONS = {"max_iter": None, "tol": 1e-8, "typical_x": 1.0, "typical_f": 1.0,
                  "time_limit": None, "seed": None, "device": "cpu", "timeout": None}


@dataclass(frozen=True)
class MethodSpec:
    name: str
    options: dict                     # option -> default (beyond COMMON_OPTIONS)
    default_max_iter: int | None
    needs_hessian: bool
    enforces_constraints: bool
    run: Callable | None              # run(kernels, x0, lower, upper, opts, deadline) -> Outcome
    planned: bool = False
    summary: str = ""


def _run_gd(kernels, x0, lower, upper, opts, deadline):
    from symgd.methods.driver import run_loop

    loops = loading.load("loops")
    from symgd.methods.schedules import pack_schedule

    from symgd.methods import optimizers as O

    lr = opts["learning_rate"]
    code, p0, p1, p2 = pack_schedule(opts["schedule"], default_t_max=float(opts["max_iter"]))
    name = opts["optimizer"]
    hyper = O.hyper_array(name, momentum=opts["momentum"], beta1=opts["beta1"],
                          beta2=opts["beta2"], eps=opts["eps"],
                          weight_decay=opts["weight_decay"], decay=opts["decay"])
    fpar = [opts["tol"], lr, p0, p1, p2, *hyper]
    # Momentum and adaptive steps are not monotone even when they converge: they may
    # climb for a while, so 'diverged' on rising f waits longer than for plain steps.
    rise_limit = 5 if name == "sgd" else 50
    ipar = [opts["max_iter"], 0, code, rise_limit, O.CODES[name]]
    return run_loop(loops.gd_loop, (kernels.addresses[1],), x0, lower, upper, fpar, ipar,
                    typical=_typical(opts), deadline=deadline, report_best_always=True,
                    progress=opts.get("_progress"))


def _typical(opts):
    return float(opts["typical_x"]), float(opts["typical_f"])


def _run_linesearch(kernels, x0, lower, upper, opts, deadline):
    from symgd.methods.driver import run_loop

    loops = loading.load("loops")

    if opts["line_search"] == "exact":
        return run_loop(loops.exact_linesearch_loop, kernels.addresses[:2] + (kernels.line_poly,),
                        x0, lower, upper, [opts["tol"]], [opts["max_iter"], 0],
                        typical=_typical(opts), deadline=deadline,
                        progress=opts.get("_progress"))
    kind = {"armijo": 0, "wolfe": 1}[opts["line_search"]]
    fpar = [opts["tol"], opts["c1"], opts["c2"]]
    ipar = [opts["max_iter"], 0, kind]
    return run_loop(loops.linesearch_loop, kernels.addresses[:2], x0, lower, upper, fpar, ipar,
                    typical=_typical(opts), deadline=deadline, progress=opts.get("_progress"))


def _run_newton(kernels, x0, lower, upper, opts, deadline):
    from symgd.methods.driver import run_loop

    loops = loading.load("loops")

    fpar = [opts["tol"], opts["c1"]]
    ipar = [opts["max_iter"], 0]
    return run_loop(loops.newton_loop, kernels.addresses, x0, lower, upper, fpar, ipar,
                    typical=_typical(opts), deadline=deadline, progress=opts.get("_progress"))


REGISTRY = {
    "auto": MethodSpec("auto", {"line_search": "armijo", "c1": 1e-4, "c2": 0.9,
                                "learning_rate": 0.01, "schedule": "constant"},
                       None, False, True, None,
                       summary="fits: linear closed form (least squares, LAD), else lm, IRLS or "
                               "newton; otherwise the closed form in its worker beside "
                               "newton (linesearch above 50 variables)"),
    "analytic": MethodSpec("analytic", {}, None, False, True, None,
                           summary="closed-form critical points, classified"),
    "gd": MethodSpec("gd", {"learning_rate": 0.01, "schedule": "constant", "optimizer": "sgd",
                            **OPTIMIZER_OPTIONS}, 10_000, False, False, _run_gd,
                     summary="gradient descent with a fixed or scheduled step, and the "
                             "optimizers of sgd (momentum, nesterov, adagrad, rmsprop, adam, "
                             "adamw) on any objective"),
    "linesearch": MethodSpec("linesearch", {"line_search": "armijo", "c1": 1e-4, "c2": 0.9},
                             10_000, False, False, _run_linesearch,
                             summary="steepest descent with a line search"),
    "newton": MethodSpec("newton", {"c1": 1e-4}, 500, True, False, _run_newton,
                         summary="Newton with a modified Cholesky, damped by a line search"),
    # Data fits only, run by symgd.fit (lm there, sgd in methods/sgd.py), so no loop
    # runner here. sgd's options are methods/sgd.py's SGD_OPTIONS, written out so that
    # importing this registry does not load (compile) the SGD loop; a test keeps the two
    # equal.
    "lm": MethodSpec("lm", {"damping": 1e-3}, 10_000, False, False, None,
                     summary="Levenberg-Marquardt for least-squares fits"),
    "sgd": MethodSpec("sgd", {"batch_size": 32, "epochs": 100, "learning_rate": 0.01,
                              "optimizer": "adam", **OPTIMIZER_OPTIONS,
                              "schedule": "constant", "patience": None,
                              "min_delta": 1e-4, "swa_start": None}, None, False, False, None,
                      summary="minibatch stochastic gradient descent (data fits)"),
    "auglag": MethodSpec("auglag", {}, None, False, True, None, planned=True,
                         summary="augmented Lagrangian"),
    "bfgs": MethodSpec("bfgs", {}, None, False, False, None, planned=True,
                       summary="quasi-Newton BFGS"),
    "lbfgs": MethodSpec("lbfgs", {}, None, False, False, None, planned=True,
                        summary="limited-memory BFGS"),
}

LINE_SEARCHES = ("armijo", "wolfe", "exact")


def method_spec(name, *, field="method") -> MethodSpec:
    if not isinstance(name, str) or name not in REGISTRY:
        available = [n for n, s in REGISTRY.items() if not s.planned]
        planned = [n for n, s in REGISTRY.items() if s.planned]
        raise InputError(unknown_name_message("method", name, available)
                         + f" (planned, not available yet: {', '.join(planned)})",
                         field=field, kind="option")
    spec = REGISTRY[name]
    if spec.planned:
        raise InputError(f"method '{name}' ({spec.summary}) is planned and not available yet; "
                         f"available: {', '.join(n for n, s in REGISTRY.items() if not s.planned)}",
                         field=field, kind="unavailable")
    return spec


MAX_COUNT = 2 ** 62  # whole-number options travel to the compiled loops as int64


def count_defect(v: int) -> str | None:
    """Why the whole number v cannot be a count in the compiled loops, or None."""
    if abs(v) > MAX_COUNT:
        return (f"{v:.3g} is more than a run can count (at most {MAX_COUNT:.3g}, 2^62); "
                "give a smaller number")
    return None


def _number(opts, key, *, positive=False, integer=False, lo=None, hi=None):
    v = opts[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"expected a finite number, got {v!r}", field=f"options.{key}",
                         kind="option")
    if integer:
        if int(v) != v:
            raise InputError(f"expected a whole number, got {v!r}", field=f"options.{key}",
                             kind="option")
        v = int(v)
        why = count_defect(v)
        if why is not None:
            raise InputError(why, field=f"options.{key}", kind="option")
    if positive and v <= 0:
        raise InputError(f"must be positive, got {v!r}", field=f"options.{key}", kind="option")
    if (lo is not None and v <= lo) or (hi is not None and v >= hi):
        raise InputError(f"must lie in ({lo}, {hi}), got {v!r}", field=f"options.{key}",
                         kind="option")
    opts[key] = v


_ANY_OPTIONS: set = set()


def _options_of_any_method() -> set:
    if not _ANY_OPTIONS:
        _ANY_OPTIONS.update(k for spec in REGISTRY.values() for k in spec.options)
    return _ANY_OPTIONS


def resolve_options(method: str, given: dict) -> dict:
    """Defaults filled in and every value checked.

    A name no method knows is an InputError naming the valid ones. A name that belongs
    to another method (a file written for ``gd`` solved with ``--method newton``) is
    left out and listed under ``_ignored``, so switching methods needs no file edit.
    """
    spec = method_spec(method)
    valid = {**COMMON_OPTIONS, **spec.options}
    known_elsewhere = _options_of_any_method()
    ignored = []
    for key in given:
        if key not in valid:
            if key in known_elsewhere:
                ignored.append(key)
                continue
            raise InputError(unknown_name_message(f"option for method '{method}'", key, valid),
                             field=f"options.{key}", kind="option")
    opts = {**valid, **{k: v for k, v in given.items() if k not in ignored}}
    opts["_ignored"] = tuple(ignored)
    if opts["max_iter"] is None and method != "sgd":
        # sgd counts epochs: its ``epochs`` is the limit unless max_iter is given too
        opts["max_iter"] = spec.default_max_iter or 1000
    if opts["max_iter"] is not None:
        _number(opts, "max_iter", positive=True, integer=True)
    _number(opts, "tol", positive=True)
    real(opts, "typical_x", lo=0.0, lo_closed=False)
    real(opts, "typical_f", lo=0.0, lo_closed=False)
    if "optimizer" in opts:
        check_optimizer(opts)
    if opts["timeout"] is not None:  # None: the solver's default by kind of system
        _number(opts, "timeout", positive=True)
    if opts["time_limit"] is not None:
        _number(opts, "time_limit", positive=True)
    if opts["seed"] is not None:
        _number(opts, "seed", integer=True)
    if opts["device"] not in ("cpu", "cuda"):
        raise InputError(f"device must be cpu or cuda, got {opts['device']!r}",
                         field="options.device", kind="option")
    if opts["device"] == "cuda":
        raise InputError("device 'cuda' is planned and not available yet; use device: cpu",
                         field="options.device", kind="unavailable")
    if "learning_rate" in opts:
        _number(opts, "learning_rate", positive=True)
    if "c1" in opts:
        _number(opts, "c1", lo=0.0, hi=1.0)
    if "c2" in opts:
        _number(opts, "c2", lo=0.0, hi=1.0)
        if opts["c2"] <= opts["c1"]:
            raise InputError(f"c2 ({opts['c2']}) must exceed c1 ({opts['c1']})",
                             field="options.c2", kind="option")
    if "line_search" in opts and opts["line_search"] not in LINE_SEARCHES:
        raise InputError(unknown_name_message("line_search", opts["line_search"], LINE_SEARCHES),
                         field="options.line_search", kind="option")
    if "schedule" in opts:
        from symgd.methods.schedules import pack_schedule
        pack_schedule(opts["schedule"], default_t_max=float(opts["max_iter"] or 1))
    return opts
