"""What the closed form reports: critical points and the verdict on them (SPEC §4 ``analytic``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

STATUSES = ("solved", "no_closed_form", "infinite", "timeout")
CLASSES = ("local_min", "local_max", "saddle", "degenerate")


def _finite(v):
    return v if v is None or math.isfinite(v) else None


@dataclass(frozen=True)
class CriticalPoint:
    """One critical (Lagrange, KKT or Fritz John) point.

    Attributes:
        x: variable name -> float, in the problem's variable order.
        exact: variable name -> exact value in problem-file syntax (``"sqrt(2)/2"``), or a
            30-digit decimal when ``exact_kind`` is ``"algebraic"`` (a root with no radical form).
        exact_kind: ``"exact"`` or ``"algebraic"``.
        fun: the objective in the user's sense.
        fun_exact: the same, exact (or 30 digits).
        classification: local_min, local_max, saddle or degenerate (in the user's sense).
        multipliers: constraint text -> dV/d(rhs) (``{}`` without constraints; ``None`` where the
            active constraint gradients are dependent).
        kkt: for constrained problems, whether the multipliers' signs fit the problem's sense.
        how: which test decided the class (``hessian``, ``bordered hessian``,
            ``higher-order test``, ``global optimum``, ...).
        active: texts of the constraints active at the point.
        eigenvalues: ascending floats: the eigenvalues of the Hessian of f (user's sense) at
            the point, or, with active constraints, of the Hessian of the Lagrangian
            projected on the tangent space of the active constraints (what the bordered
            Hessian test classifies; symgd.analytic.eigen); None where there is no
            Lagrangian (dependent active gradients) or it could not be evaluated.
    """

    x: dict
    exact: dict
    exact_kind: str
    fun: float
    fun_exact: str
    classification: str
    multipliers: dict | None
    kkt: bool | None = None
    how: str = ""
    active: tuple = ()
    eigenvalues: tuple | None = None

    def to_dict(self) -> dict:
        return {
            "x": dict(self.x),
            "exact": dict(self.exact),
            "exact_kind": self.exact_kind,
            "fun": _finite(self.fun),
            "fun_exact": self.fun_exact,
            "classification": self.classification,
            "multipliers": None if self.multipliers is None else
            {k: _finite(v) for k, v in self.multipliers.items()},
            **({"kkt": self.kkt} if self.kkt is not None else {}),
            "how": self.how,
            **({"active": list(self.active)} if self.active else {}),
            "eigenvalues": None if self.eigenvalues is None else
            [_finite(v) for v in self.eigenvalues],
        }


@dataclass(frozen=True)
class AnalyticReport:
    """The result of the closed-form attempt.

    Attributes:
        status: solved | no_closed_form | infinite | timeout.
        critical_points: sorted by ``fun``, best first in the problem's sense.
        best: index into ``critical_points`` of the answer, or None.
        global_: True when ``best`` is proven the global optimum, False when the objective is
            proven unbounded (there is no optimum), None when unknown.
        families: descriptions of infinite families of critical points (``x = y``,
            ``x = 2*pi*k + pi/2``).
        unbounded: the objective is proven unbounded in the problem's sense.
        message: what happened, in words.
        time_s: wall time of the attempt (subprocess start included).
        complete: the list holds every critical point (proven for polynomial systems).
    """

    status: str
    critical_points: tuple = ()
    best: int | None = None
    global_: bool | None = None
    families: tuple = ()
    unbounded: bool = False
    message: str = ""
    time_s: float = 0.0
    complete: bool | None = None
    certificate: str = ""

    @property
    def success(self) -> bool:
        return self.status == "solved"

    @property
    def best_point(self) -> CriticalPoint | None:
        return None if self.best is None else self.critical_points[self.best]

    def to_dict(self) -> dict:
        """SPEC §4's ``analytic`` block."""
        out = {
            "status": self.status,
            "critical_points": [p.to_dict() for p in self.critical_points],
            "best": self.best,
            "global": self.global_,
        }
        if self.families:
            out["families"] = list(self.families)
        out["unbounded"] = self.unbounded
        out["complete"] = self.complete
        out["message"] = self.message
        out["time_s"] = self.time_s
        return out

    def _repr_latex_(self) -> str:
        """The report as LaTeX (Jupyter): status, then one row per critical point with its
        class, exact coordinates, f and the (reduced) Hessian's eigenvalues."""
        from symgd.analytic.latex import report_latex

        return report_latex(self)

    def with_time(self, time_s: float) -> "AnalyticReport":
        from dataclasses import replace

        return replace(self, time_s=time_s)


def failure(status: str, message: str, time_s: float = 0.0) -> AnalyticReport:
    return AnalyticReport(status=status, message=message, time_s=time_s)


__all__ = ["CriticalPoint", "AnalyticReport", "failure", "STATUSES", "CLASSES"]
