"""What a figure shows, gathered once from a Problem and its Result: the start, the
answer, the iterate path (from ``result.history``) and the closed form's critical
points, as plain arrays.

``result.history`` (SPEC §4) holds per iteration, row 0 being the start, the objective
in the user's sense, the gradient norm, the step, the learning rate (gd, sgd) and x for
the first min(n, 20) variables; it is None where no iterative method ran. Every figure
takes it as it comes: no history means no path, said in the figure's notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Scene:
    """The arrays a figure draws.

    Attributes:
        problem, result: what was solved and what came of it (result may be None).
        names: the variables' names, in order.
        start: the start (n floats).
        answer: result.x, or None without a result.
        path: iterates (k x min(n, 20)), row 0 the start; None without a history.
        path_fun: f at each iterate (user's sense), or None.
        points: critical points [(classification, x (n floats), fun)].
        notes: what is missing, in words.
    """

    problem: object
    result: object
    names: tuple
    start: np.ndarray
    answer: np.ndarray | None
    path: np.ndarray | None
    path_fun: np.ndarray | None
    points: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.names)

    def bounds(self) -> list:
        """(lower, upper) per variable, None where free."""
        return [(v.lower, v.upper) for v in self.problem.variables]


def history_column(result, key) -> np.ndarray | None:
    """A history column as floats (None, and unknown values, as NaN), or None when the
    result has no history or no such column."""
    history = getattr(result, "history", None) if result is not None else None
    if not history or key not in history or history[key] is None:
        return None
    values = history[key]
    if key == "x":
        rows = [[np.nan if v is None else v for v in row] for row in values]
        return np.array(rows, dtype=float).reshape(len(rows), -1) if rows else None
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def build(problem, result, analytic=None) -> Scene:
    """The Scene of ``problem`` solved as ``result``; ``analytic`` (an AnalyticReport)
    supplies the critical points when the result has none of its own."""
    names = tuple(problem.names)
    start = np.array([float(v.start) for v in problem.variables])
    answer = None if result is None else np.asarray(result.x, dtype=float)
    notes = []
    if answer is not None and not (np.all(np.isfinite(answer)) and
                                   np.isfinite(result.fun)):
        answer = None  # no answer to mark (unbounded, no closed form, ...)
        notes.append(f"no answer to mark ({result.status})")
    path = history_column(result, "x")
    path_fun = history_column(result, "fun")
    if result is not None and path is None:
        notes.append(f"no iterate path: {result.method} kept no history"
                     if result.history is None else "no iterate path in the history")
    report = analytic if analytic is not None else getattr(result, "analytic", None)
    points = []
    if report is not None:
        for cp in getattr(report, "critical_points", ()) or ():
            x = np.array([float(cp.x.get(n, np.nan)) for n in names])
            points.append((cp.classification, x, float(cp.fun)))
        if getattr(report, "families", ()):
            notes.append("infinitely many critical points (" +
                         "; ".join(map(str, report.families)) + "): not marked")
    return Scene(problem, result, names, start, answer, path, path_fun, points, notes)
