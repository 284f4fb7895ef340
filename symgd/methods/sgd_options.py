"""The options of method ``sgd``: their defaults and their checks.

Plain Python: this module imports neither numba nor sympy, so the method registry,
docs/ and the "did you mean" errors can read sgd's options without loading (or
compiling) the SGD loop (symgd.methods.sgd_loop).
"""
from __future__ import annotations

from symgd.errors import InputError, unknown_name_message
from symgd.methods.option_checks import OPTIMIZER_OPTIONS, bad, check_optimizer, real, whole

SGD_OPTIONS = {"batch_size": 32, "epochs": 100, "learning_rate": 0.01, "optimizer": "adam",
               **OPTIMIZER_OPTIONS, "schedule": "constant", "patience": None,
               "min_delta": 1e-4, "swa_start": None, "validation": None}
"""Options of ``sgd`` beyond the common ones, with their defaults. ``eps`` None: 1e-10
for adagrad, 1e-8 otherwise; ``decay``: RMSProp's rho; ``momentum``: momentum and
nesterov; ``beta1``, ``beta2``: adam and adamw; ``weight_decay``: adamw only;
``patience`` None: no early stopping; ``swa_start`` None: no weight averaging;
``min_delta``: relative improvement for patience and the plateau schedule;
``validation``: the fraction of the samples held out (seeded by ``seed``) whose loss
early stopping watches, None: no split."""

SUMMARY = "minibatch stochastic gradient descent (data fits)"


def check_sgd_options(opts: dict) -> dict:
    """A checked copy of ``opts`` (SGD_OPTIONS and the common options filled in).

    Raises symgd.errors.InputError(field="options.<name>", kind="option") naming what
    is wrong. Keys starting with '_' are private to the caller and passed through.
    """
    # symgd.methods imports this module for its registry: its COMMON_OPTIONS are read
    # when called, not at import (an import circle otherwise).
    from symgd.methods import COMMON_OPTIONS
    # schedules.py compiles the schedule function (numba) beside pack_schedule, which
    # checks the schedule's name and parameters: imported here, when options are
    # checked, so that importing this module stays free of numba.
    from symgd.methods.schedules import pack_schedule

    valid = {**COMMON_OPTIONS, **SGD_OPTIONS}
    for key in opts:
        if key not in valid and not str(key).startswith("_"):
            bad(key, unknown_name_message("option for method 'sgd'", key, valid))
    o = {**valid, **opts}
    whole(o, "batch_size")
    whole(o, "epochs")
    whole(o, "max_iter", none_ok=True)
    whole(o, "patience", none_ok=True)
    whole(o, "swa_start", none_ok=True)
    whole(o, "seed", none_ok=True, least=0)
    real(o, "learning_rate", lo=0.0, lo_closed=False)
    real(o, "tol", lo=0.0, lo_closed=False)
    real(o, "typical_x", lo=0.0, lo_closed=False)
    real(o, "typical_f", lo=0.0, lo_closed=False)
    real(o, "min_delta", lo=0.0, hi=1.0, hi_closed=False)
    real(o, "validation", lo=0.0, lo_closed=False, hi=1.0, hi_closed=False, none_ok=True)
    real(o, "time_limit", lo=0.0, lo_closed=False, none_ok=True)
    check_optimizer(o)
    if o.get("device", "cpu") != "cpu":
        raise InputError("method 'sgd' runs on device 'cpu' only so far",
                         field="options.device", kind="unavailable")
    pack_schedule(o["schedule"], default_t_max=1.0)
    return o
