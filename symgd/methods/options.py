"""Checking a method's options: defaults filled in, every value checked, names that
belong to another method set aside (SPEC §2). Plain Python: no sympy, no numba.
"""
from __future__ import annotations

import math

from symgd.errors import InputError, unknown_name_message
from symgd.methods.option_checks import bad, check_optimizer, real, whole

# Options every method accepts (SPEC §2).
COMMON_OPTIONS = {"max_iter": None, "tol": 1e-8, "ctol": 1e-8, "typical_x": 1.0, "typical_f": 1.0,
                  "time_limit": None, "seed": None, "device": "cpu", "timeout": None,
                  "starts": 1, "history": True}
# Options of every method on a data fit: huber's threshold; where the data passes run
# (auto, local or off: symgd.dask.cluster; an address only at run time, never here).
DATA_OPTIONS = {"delta": 1.0, "cluster": "auto"}
LINE_SEARCHES = ("armijo", "wolfe", "exact")
# lbfgs's memory: the loop keeps 2 memory n floats; past a few dozen pairs L-BFGS gains
# little (Nocedal & Wright section 7.2 suggest 3 to 20), and bfgs keeps them all
MAX_MEMORY = 1000


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
    from symgd.methods.registry import REGISTRY
    if not _ANY_OPTIONS:
        _ANY_OPTIONS.update(k for spec in REGISTRY.values() for k in spec.options)
    return _ANY_OPTIONS


_RESOLVED: dict = {}  # (method, data, given items) -> checked options, for repeated solves
_RESOLVED_MAX = 256


def resolve_options(method: str, given: dict, *, data: bool = False) -> dict:
    """Defaults filled in and every value checked (a new dict the caller may change).

    A name no method knows is an InputError naming the valid ones. A name that belongs
    to another method (a file written for ``gd`` solved with ``--method newton``) is
    left out and listed under ``_ignored``, so switching methods needs no file edit.
    Checked options are remembered for the same method and given options (a repeated
    solve re-checks nothing); given values that cannot be hashed skip the memo.
    """
    try:
        # the type too: True == 1 and 1.0 == 1, but only some of them are valid
        key = (method, data, tuple(sorted((k, type(v), v) for k, v in given.items())))
        hash(key)
    except TypeError:
        return _resolve(method, given, data)
    found = _RESOLVED.get(key)
    if found is None:
        found = _resolve(method, given, data)
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[key] = found
    return dict(found)


def _resolve(method: str, given: dict, data: bool) -> dict:
    from symgd.methods.registry import method_spec
    spec = method_spec(method, internal_ok=True)
    valid = {**COMMON_OPTIONS, **spec.options, **(DATA_OPTIONS if data else {})}
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
    if opts["max_iter"] is None and not spec.minibatch:
        # sgd counts epochs: its ``epochs`` is the limit unless max_iter is given too
        opts["max_iter"] = spec.default_max_iter or 1000
    if opts["max_iter"] is not None:
        _number(opts, "max_iter", positive=True, integer=True)
    _number(opts, "tol", positive=True)
    _number(opts, "ctol", positive=True)
    if opts.get("penalty") is not None:  # auglag's initial penalty (None: its own)
        _number(opts, "penalty", positive=True)
    if data:
        _number(opts, "delta", positive=True)
        from symgd.dask.cluster import check_option
        opts["cluster"] = check_option(opts["cluster"])
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
    if "learning_rate" in opts:
        _number(opts, "learning_rate", positive=True)
    if "c1" in opts:
        _number(opts, "c1", lo=0.0, hi=1.0)
    if "c2" in opts:
        _number(opts, "c2", lo=0.0, hi=1.0)
        if opts["c2"] <= opts["c1"]:
            raise InputError(f"c2 ({opts['c2']}) must exceed c1 ({opts['c1']})",
                             field="options.c2", kind="option")
    if "memory" in opts:
        whole(opts, "memory", least=1)
        if opts["memory"] > MAX_MEMORY:
            bad("memory", f"must be at most {MAX_MEMORY}, got {opts['memory']!r}; for a "
                          "memory that large, method bfgs keeps every pair")
    if not isinstance(opts["history"], bool):
        bad("history", f"expected true or false, got {opts['history']!r}")
    whole(opts, "starts", least=1)  # multistart (symgd.multistart)
    if opts["device"] == "cuda":  # a data fit or a multistart, a ported method, a device
        from symgd.cuda.availability import check_device
        check_device(method, data, opts["starts"])
    if "samples" in opts:  # random_search, local_search
        whole(opts, "samples", least=1, none_ok=True)
    for key in ("radius", "step"):
        if key in opts:
            real(opts, key, lo=0.0, lo_closed=False)
    if "line_search" in opts and opts["line_search"] not in LINE_SEARCHES:
        raise InputError(unknown_name_message("line_search", opts["line_search"], LINE_SEARCHES),
                         field="options.line_search", kind="option")
    if "schedule" in opts:
        from symgd.methods.schedules import pack_schedule
        pack_schedule(opts["schedule"], default_t_max=float(opts["max_iter"] or 1))
    return opts
