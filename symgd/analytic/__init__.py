"""Closed-form critical points, their classification, Lagrange and KKT points (SPEC §2, §4).

``critical_points(problem)`` runs the work in a killable child process with a time and memory
budget; ``critical_points_inprocess(problem)`` does the same work in this process (tests,
debugging; it can run as long as SymPy takes). Both return an :class:`AnalyticReport`.

Modules, one job each: ``polynomial`` (Groebner bases, real roots), ``solve_system`` (any system;
SymPy's solvers with every candidate checked), ``points`` and ``linalg`` (exact arithmetic and
inertia at algebraic points), ``forms`` (signs of homogeneous forms), ``classify`` (second-
derivative and higher-order tests), ``kkt`` (active sets, multipliers, bordered Hessians),
``bounded`` (attained or unbounded), ``analyze`` (the whole attempt), ``worker`` (the child
process), ``report`` (the result dataclasses).
"""
from __future__ import annotations

from symgd.analytic.report import AnalyticReport, CriticalPoint

__all__ = ["critical_points", "critical_points_start", "critical_points_inprocess",
           "AnalyticReport", "CriticalPoint"]


def critical_points(problem, *, timeout: float = 10.0, memory_mb: int = 2048) -> AnalyticReport:
    """Every real critical point of ``problem``, classified, within ``timeout`` seconds.

    The symbolic work runs in a separate process limited to ``memory_mb`` MiB of address space
    and killed after ``timeout`` seconds (status ``timeout``). A failure inside it becomes status
    ``no_closed_form`` with the reason in ``message``; nothing is raised for them.

    Args:
        problem: a :class:`symgd.Problem`.
        timeout: wall-clock budget in seconds, worker start-up included.
        memory_mb: address-space limit of the worker (``RLIMIT_AS``); 0 for none.
    """
    from symgd.analytic.analyze import payload
    from symgd.analytic.worker import run

    return run(payload(problem), timeout=timeout, memory_mb=memory_mb)


def critical_points_start(problem, *, timeout: float = 10.0, memory_mb: int = 2048):
    """Start :func:`critical_points` in its worker and return at once.

    Returns:
        A :class:`symgd.analytic.worker.Pending`: ``.result()`` waits for the report (at
        most ``timeout`` seconds after the start), ``.cancel()`` kills the worker.
    """
    from symgd.analytic.analyze import payload
    from symgd.analytic.worker import Pending

    return Pending(payload(problem), timeout=timeout, memory_mb=memory_mb)


def critical_points_inprocess(problem) -> AnalyticReport:
    """The same work as :func:`critical_points`, in this process and without a time limit."""
    from symgd.analytic.analyze import analyze, payload

    return analyze(payload(problem))
