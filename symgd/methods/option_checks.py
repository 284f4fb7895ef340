"""Checks of option values shared by the methods (plain Python: no numba, no sympy).

Each check reads ``opts[name]``, raises symgd.errors.InputError naming the option when
the value is wrong, and stores the normalised value (int or float) back.
"""
from __future__ import annotations

import math

import numpy as np

from symgd.errors import InputError, unknown_name_message

_NUMBER = (int, float, np.integer, np.floating)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
"""The optimizer names of gd and sgd, in the order of symgd.methods.optimizers.CODES."""

OPTIMIZER_OPTIONS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": None,
                     "weight_decay": 0.01, "decay": 0.9}
"""Hyperparameters of the optimizers (gd and sgd): ``momentum`` for momentum and
nesterov; ``beta1``, ``beta2`` for adam and adamw; ``weight_decay`` for adamw only;
``decay``: RMSProp's rho; ``eps`` None: 1e-10 for adagrad, 1e-8 otherwise."""


def bad(name, message):
    raise InputError(message, field=f"options.{name}", kind="option")


def whole(opts, name, *, none_ok=False, least=1):
    """A whole number >= least that the compiled loops can count (int64)."""
    from symgd.methods import count_defect

    v = opts[name]
    if v is None and none_ok:
        return
    if isinstance(v, bool) or not isinstance(v, _NUMBER) or not math.isfinite(v) or \
            int(v) != v:
        bad(name, f"expected a whole number, got {v!r}")
    if v < least:
        bad(name, f"must be at least {least}, got {v!r}")
    why = count_defect(int(v))
    if why is not None:
        bad(name, why)
    opts[name] = int(v)


def real(opts, name, *, lo=None, hi=None, lo_closed=True, hi_closed=True, none_ok=False):
    """A finite number in the interval given (closed or open at each end)."""
    v = opts[name]
    if v is None and none_ok:
        return
    if isinstance(v, bool) or not isinstance(v, _NUMBER) or not math.isfinite(v):
        bad(name, f"expected a finite number, got {v!r}")
    below = lo is not None and (v < lo if lo_closed else v <= lo)
    above = hi is not None and (v > hi if hi_closed else v >= hi)
    if below or above:
        lb, rb = "[" if lo_closed else "(", "]" if hi_closed else ")"
        bad(name, f"must lie in {lb}{lo if lo is not None else '-inf'}, "
                  f"{hi if hi is not None else 'inf'}{rb}, got {v!r}")
    opts[name] = float(v)


def check_optimizer(opts):
    """The optimizer's name and hyperparameters (gd and sgd)."""
    if not isinstance(opts["optimizer"], str) or opts["optimizer"] not in OPTIMIZERS:
        bad("optimizer", unknown_name_message("optimizer", opts["optimizer"], OPTIMIZERS))
    real(opts, "momentum", lo=0.0, hi=1.0, hi_closed=False)
    real(opts, "beta1", lo=0.0, hi=1.0, hi_closed=False)
    real(opts, "beta2", lo=0.0, hi=1.0, hi_closed=False)
    real(opts, "decay", lo=0.0, hi=1.0, hi_closed=False)
    real(opts, "eps", lo=0.0, lo_closed=False, none_ok=True)
    real(opts, "weight_decay", lo=0.0)
