"""Per-iteration history of a run (SPEC §4 ``history``), and the user's callback.

The compiled loops write one row per iteration into a preallocated trace array
(symgd.methods.driver; columns status.T_*, then x); methods driven from Python (lm,
auglag, sgd) fill a :class:`Recorder`. Either becomes the same columns here, in the
user's sense (for ``maximize``, the objective as the user wrote it), row 0 the start:

    iteration, fun, grad_norm, step, learning_rate (gd, sgd), x, val_loss (sgd)

Columns are numpy arrays (``x`` a rows x min(n, HISTORY_MAX_X) matrix: the first
components of each iterate; JSON gets lists); NaN marks a value
the method does not know at that row (the gradient norm of the last accepted step of
a run stopped by its limit, for instance).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from symgd.methods import status as S
from symgd.outcome import CallbackStop
from symgd.result import HISTORY_MAX_X


class Recorder:
    """Rows of a run driven from Python, in the minimised sense: ``add`` after each
    iteration (and once for the start), then ``columns()``."""

    def __init__(self, n: int):
        self.nx = min(int(n), HISTORY_MAX_X)
        self.rows = []

    def add(self, f, grad_norm=math.nan, step=math.nan, x=None, learning_rate=math.nan):
        xs = [math.nan] * self.nx if x is None else [float(v) for v in x[:self.nx]]
        self.rows.append((float(f), float(grad_norm), float(step), float(learning_rate), xs))

    def columns(self) -> dict:
        if not self.rows:
            return {}
        f, gn, st, lr, xs = zip(*self.rows)
        out = {"fun": np.array(f), "grad_norm": np.array(gn), "step": np.array(st),
               "x": np.array(xs, dtype=float).reshape(len(xs), self.nx)}
        if any(math.isfinite(v) for v in lr):
            out["learning_rate"] = np.array(lr)
        return out


class LazyHistory(Mapping):
    """The history's columns, built from the run's trace on first use: a short solve
    that nobody asks the history of pays for the recording, not for the columns."""

    def __init__(self, outcome, sign: float, learning_rate: bool):
        self._args = (outcome, sign, learning_rate)
        self._cols = None

    def _columns(self) -> dict:
        if self._cols is None:
            self._cols = columns(*self._args)
            self._args = None
        return self._cols

    def __getitem__(self, key):
        return self._columns()[key]

    def __iter__(self):
        return iter(self._columns())

    def __len__(self):
        return len(self._columns())

    def __repr__(self):
        return f"history({', '.join(self._columns())}; {len(self['fun'])} rows)"


def from_outcome(outcome, sign: float, *, learning_rate: bool = False):
    """The Result's ``history`` of a method run (symgd.outcome.Outcome): a mapping of
    columns (:class:`LazyHistory`), or None when the run kept none. ``sign``: -1 for
    maximize (the loops minimise -f)."""
    if (outcome.trace is not None and len(outcome.trace)) or outcome.history_table or \
            outcome.history:
        return LazyHistory(outcome, sign, learning_rate)
    return None


def columns(outcome, sign: float, learning_rate: bool) -> dict:
    """The history's columns of a run that kept one (see :func:`from_outcome`)."""
    if outcome.trace is not None and len(outcome.trace):
        T = outcome.trace  # the run's own array: its columns are used as views
        cols = {"fun": T[:, S.T_F] if sign == 1.0 else sign * T[:, S.T_F],
                "grad_norm": T[:, S.T_GNORM], "step": T[:, S.T_STEP], "x": T[:, S.N_TRACE:]}
        if learning_rate:
            cols["learning_rate"] = T[:, S.T_LR]
    elif outcome.history_table:
        cols = dict(outcome.history_table)
        cols["fun"] = sign * np.asarray(cols["fun"], dtype=float)
    else:
        cols = {"fun": sign * np.asarray(outcome.history, dtype=float)}
    rows = len(cols["fun"])
    val = getattr(outcome, "val_history", None)
    if val:
        v = np.full(rows, np.nan)
        k = min(rows, len(val))
        v[:k] = np.asarray(val, dtype=float)[:k]
        cols["val_loss"] = v
    first = cols.pop("iteration", None)  # sgd's rows are epochs 1, 2, ...
    return {"iteration": np.arange(rows) if first is None else np.asarray(first), **cols}


@dataclass(frozen=True)
class IterationState:
    """What a callback sees each iteration (scipy's ``intermediate_result`` has the
    same x and fun): the iterate, the objective in the user's sense, the gradient norm
    (NaN where the method has none), and the iteration count."""

    x: np.ndarray
    fun: float
    grad_norm: float
    nit: int


class CallbackHook:
    """Wraps the user's ``callback(state)`` for the drivers: they call
    ``hook(nit, x, f, grad_norm)`` in the minimised sense. The user stops the run by
    returning True or raising StopIteration (as with scipy.optimize.minimize); the hook
    then raises CallbackStop, which every driver handles as it does Ctrl-C, and
    remembers that it did (``stopped``) so the result can say why."""

    def __init__(self, user, sign: float):
        self.user = user
        self.sign = sign
        self.stopped = False

    def __call__(self, nit, x, f, grad_norm):
        state = IterationState(x=np.array(x, dtype=float), fun=self.sign * float(f),
                               grad_norm=float(grad_norm), nit=int(nit))
        try:
            stop = self.user(state)
        except StopIteration:
            stop = True
        if stop is True:
            self.stopped = True
            raise CallbackStop
