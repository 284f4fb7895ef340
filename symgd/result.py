"""The Result of a solve (SPEC §4), with scipy's OptimizeResult names as aliases."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("converged", "max_iter", "diverged", "stalled", "unbounded", "infeasible",
            "timeout", "interrupted", "solved", "no_closed_form")
SUCCESS = ("converged", "solved")
HISTORY_MAX_X = 20  # history (and --trace) keeps x for up to this many variables


def finite_or_none(v):
    """JSON has no inf or nan: those become null (SPEC §3)."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, dict):
        return {k: finite_or_none(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [finite_or_none(x) for x in v]
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f":  # the fast road for long histories
            fin = math.isfinite
            if v.ndim == 1:
                return [x if fin(x) else None for x in v.tolist()]
            if v.ndim == 2:
                return [[x if fin(x) else None for x in row] for row in v.tolist()]
        return [finite_or_none(x) for x in v.tolist()]
    return v


@dataclass(frozen=True)
class Result:
    """What a solve produced.

    ``x`` is a float array in variable order; ``x_dict`` maps names to floats.
    ``fun`` is in the user's sense (the maximum for maximize problems).
    """

    problem: str
    method: str
    requested_method: str
    status: str
    message: str
    names: tuple
    x: np.ndarray
    fun: float
    grad_norm: float | None
    iterations: int
    evaluations: dict
    time_s: float
    path: tuple = ()
    timings: dict = field(default_factory=dict)
    analytic: Any = None  # symgd.analytic AnalyticReport, or None
    jac: np.ndarray | None = None  # gradient in the user's sense at x
    extra: dict = field(default_factory=dict)  # multipliers, fit statistics, ...
    # multistart (symgd.multistart): one {start, status, fun, x, iterations} per start,
    # start and x as {name: value}, fun in the user's sense; None for a single start
    runs: tuple | None = None
    # per iteration (row 0: the start), as columns: iteration, fun (user's sense),
    # grad_norm, step, learning_rate (gd/sgd), x (rows of up to HISTORY_MAX_X values),
    # val_loss (sgd with a validation split); None where no iterative method ran
    history: dict | None = None

    @property
    def success(self) -> bool:
        return self.status in SUCCESS

    @property
    def x_dict(self) -> dict:
        return {n: float(v) for n, v in zip(self.names, self.x)}

    # scipy.optimize.OptimizeResult names
    @property
    def nit(self) -> int:
        return self.iterations

    @property
    def nfev(self) -> int:
        return int(self.evaluations.get("f", 0))

    @property
    def njev(self) -> int:
        return int(self.evaluations.get("grad", 0))

    @property
    def nhev(self) -> int:
        return int(self.evaluations.get("hess", 0))

    def to_dict(self) -> dict:
        """The JSON object of SPEC §4 (non-finite numbers as null)."""
        out = {
            "problem": self.problem,
            "method": self.method,
            "requested_method": self.requested_method,
            "success": self.success,
            "status": self.status,
            "message": self.message,
            "x": finite_or_none(self.x_dict),
            "fun": finite_or_none(self.fun),
            "grad_norm": finite_or_none(self.grad_norm),
            "iterations": int(self.iterations),
            "evaluations": {k: int(v) for k, v in self.evaluations.items()},
            "time_s": finite_or_none(self.time_s),
            "path": list(self.path),
            "timings": finite_or_none(dict(self.timings)),
            "analytic": None if self.analytic is None else self.analytic.to_dict(),
        }
        out.update(finite_or_none(dict(self.extra)))
        if self.runs is not None:
            out["runs"] = finite_or_none([dict(r) for r in self.runs])
        if self.history is not None:
            out["history"] = {k: finite_or_none(v) for k, v in self.history.items()}
        return out

    def __repr__(self) -> str:
        xs = ", ".join(f"{k}={v:.10g}" for k, v in self.x_dict.items())
        return (f"Result(status={self.status!r}, method={self.method!r}, fun={self.fun:.10g}, "
                f"x=({xs}), iterations={self.iterations})")

    # -- data fits (SPEC §4; symgd.fit) ---------------------------------------------------
    # the fitted model (symgd.fit.model.FitModel) behind predict and residuals; None for
    # other problems. Not part of to_dict: the JSON has the numbers, not the model.
    fit: Any = field(default=None, repr=False, compare=False)

    def predict(self, data) -> np.ndarray:
        """A data fit's model at the fitted parameters over ``data`` (a mapping of
        column name to values, or a pandas DataFrame, with the columns the model
        reads); raises ValueError for a Result that is not a model fit's."""
        if self.fit is None:
            raise ValueError("predict needs the Result of a data fit")
        return self.fit.predict(data)

    @property
    def residuals(self) -> np.ndarray | None:
        """target - model at each sample of the fit's data (unweighted), or None."""
        return None if self.fit is None else self.fit.residuals

    @property
    def covariance(self) -> np.ndarray | None:
        """A data fit's covariance matrix over ``names`` (extra["covariance"]), or
        None where it was not estimated or the problem is not a fit."""
        cov = self.extra.get("covariance")
        return None if cov is None else np.array(cov, dtype=float)
