"""What a method run produced, before the solver turns it into a Result.

Shared by every runner (the compiled loops' driver, lm, sgd, IRLS, the linear closed
forms), so this module sits below methods/ and fit/ and imports neither.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


class CallbackStop(KeyboardInterrupt):
    """Raised by the solver's wrapper of a user callback that asked to stop (returned
    True or raised StopIteration): every driver already ends a run on Ctrl-C with
    status 'interrupted' and the best point so far, so a stop takes the same road."""


@dataclass
class Outcome:
    """One method run, in the minimised sense.

    Attributes:
        status: converged, max_iter, stalled, diverged, unbounded, timeout,
            interrupted (SPEC §4), or solved (a closed form).
        reason: the loop's reason code (methods/status.py R_*), 0 where not a loop.
        x: the point to report (the best seen where the run did not converge).
        f, g, grad_norm: the objective, gradient and projected gradient norm at x
            where the run knows them (nan / None: the solver recomputes them).
        iterations, evaluations: counts for the Result.
        message: the method's own words; None where the solver words the status.
        f0: the objective at the start; rel_grad: SPEC §2's relative gradient at x.
        trace: rows 0..iterations of status.T_* columns, where kept.
        history: f per iteration, where the method keeps it as a list (lm, sgd, IRLS).
        history_table, val_history: richer histories (symgd.history reads them).
        lsq: (S, Jᵀr, JᵀJ) at x where known (lm): saves passes over the data.
        method: what produced x when it is not the method asked to run (the
            linear closed forms: "analytic"); path: notes for Result.path.
    """

    status: str
    x: np.ndarray
    reason: int = 0
    f: float = math.nan
    grad_norm: float = math.nan
    g: np.ndarray | None = None
    iterations: int = 0
    evaluations: dict = field(default_factory=dict)
    time_s: float = 0.0
    last_step: float = math.nan
    f0: float = math.nan
    rel_grad: float = math.nan
    trace: np.ndarray | None = None
    message: str | None = None
    history: list | None = None
    # columns of symgd.history (fun, grad_norm, step, x, learning_rate) from methods
    # driven in Python (lm, auglag, sgd), in the minimised sense
    history_table: dict | None = None
    val_history: list | None = None  # sgd's validation loss per epoch (user's sense)
    lsq: tuple | None = None
    method: str | None = None
    path: tuple = ()
    timings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # method-specific (auglag: multipliers)
