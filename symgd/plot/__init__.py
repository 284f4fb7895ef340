"""Figures of a problem and its solution (``python -m symgd plot``, ``solve --plot``).

``plot(problem, result=None, kind=None, out="fig.png")`` draws one figure and writes
it (PNG, or the format the file name's suffix names). Kinds:

    contour      two variables: filled contours of f, the iterate path, the start, the
                 answer, every closed-form critical point by class, constraints with
                 their infeasible side hatched (one variable: the curve f(x); more than
                 two: the landscape below)
    landscape    f on the plane through the answer spanned by two directions (the
                 Hessian's flattest, or random ones); one variable: the curve
    convergence  f − f_best and the gradient norm against the iteration (log), and the
                 learning rate of gd/sgd below
    fit          data fits: the data, the fitted model and the residuals
    schedule     the learning rate of the problem's gd/sgd schedule against the step

matplotlib is an optional extra (``pip install symgd[plot]``), imported only when a
figure is drawn; without it, plotting raises :class:`symgd.InputError` (kind
``unavailable``). Importing this package imports neither matplotlib nor sympy.
"""
from __future__ import annotations

import os

from symgd.errors import InputError, unknown_name_message

KINDS = ("contour", "landscape", "convergence", "fit", "schedule")
__all__ = ["plot", "choose_kind", "KINDS"]


def choose_kind(problem) -> str:
    """The figure a problem is best shown by: ``fit`` for a data fit, ``contour`` for
    one or two variables (one: the curve), ``landscape`` beyond."""
    if problem.is_fit:
        return "fit"
    return "contour" if len(problem.variables) <= 2 else "landscape"


def check_kind(kind, problem=None) -> str:
    """``kind`` when it is one this problem can be drawn as, else an InputError."""
    if kind is None:
        return choose_kind(problem) if problem is not None else None
    if kind not in KINDS:
        raise InputError(unknown_name_message("plot kind", kind, KINDS), file="--kind",
                         kind="option")
    if kind == "fit" and problem is not None and not problem.is_fit:
        raise InputError(f"kind 'fit' draws data fits (a problem with data); this problem "
                         f"has {len(problem.variables)} variable(s) and no data: use "
                         "contour, landscape or convergence", file="--kind", kind="option")
    return kind


def plot(problem, result=None, kind=None, out="fig.png", *, return_figure: bool = False,
         critical_points: bool = False, grid: int | None = None, full_problem=None):
    """Draw ``problem`` (solved as ``result``) and write the figure to ``out``.

    Args:
        problem: a :class:`symgd.Problem` (or a problem file's path).
        result: its :class:`symgd.Result`; None solves first with ``symgd.solve``
            (not for ``schedule``, which needs no run).
        kind: one of KINDS, or None for :func:`choose_kind`'s choice.
        out: the image file (its suffix names the format; PNG by default).
        return_figure: return a :class:`symgd.plot.render.Plot` (path, figure, axes)
            instead of the path, for adding to the figure or finding what was drawn.
        critical_points: when the result holds no closed form, run it
            (``symgd.critical_points``, 3 s at most) to mark the critical points.
        grid: points per axis of contour grids (default 200).
        full_problem: for a problem from the warm index (``symgd.warm``, no sympy), a
            function returning the full Problem, called only where a figure needs its
            expressions (data fits; the closed form); default: load its file again.

    Returns:
        The path written (or a Plot with ``return_figure``).

    Raises:
        InputError: an unknown kind, ``fit`` for a problem without data, a schedule
            figure for a method without one, or matplotlib missing (kind
            ``unavailable``: ``pip install symgd[plot]``).
    """
    from symgd.plot import render

    render.check_format(out)
    render.require_matplotlib()   # before any solving: say so at once
    if isinstance(problem, (str, bytes, os.PathLike)):
        import symgd
        problem = symgd.load(os.fsdecode(problem))
    kind = check_kind(kind, problem)
    problem = _full_problem(problem, kind, critical_points, full_problem)
    if result is None and kind != "schedule":
        import symgd
        result = symgd.solve(problem)
    analytic = None
    if critical_points and kind in ("contour", "landscape") and not problem.is_fit and \
            getattr(result, "analytic", None) is None:
        analytic = _closed_form(problem)
    fig, axes, notes, drawn = _draw(problem, result, kind, analytic, grid)
    path = render.save(fig, out)
    if return_figure:
        return render.Plot(path, drawn, fig, axes, notes)
    fig.clear()
    return path


def _draw(problem, result, kind, analytic, grid):
    """(figure, axes, notes, kind drawn) of one figure."""
    from symgd.plot import scene as scenes

    scene = scenes.build(problem, result, analytic)
    kw = {} if grid is None else {"grid": int(grid)}
    if kind in ("contour", "landscape"):
        from symgd.plot import contour, landscape
        from symgd.plot.numeric import objective_for

        objective = objective_for(problem)
        if scene.n == 1:
            return (*landscape.draw_curve(scene, objective), "curve")
        if scene.n == 2 and kind == "contour":
            return (*contour.draw(scene, objective, **kw), "contour")
        return (*landscape.draw_landscape(scene, objective, **kw), "landscape")
    if kind == "convergence":
        from symgd.plot import convergence
        return (*convergence.draw(scene), kind)
    if kind == "fit":
        from symgd.plot import fit
        return (*fit.draw(scene), kind)
    from symgd.plot import schedule
    return (*schedule.draw(scene), kind)


def _full_problem(problem, kind, critical_points, full_problem):
    """The problem with its sympy expressions where the figure needs them.

    A problem solved from the warm index (no sympy) draws contours, curves and
    landscapes from its compiled kernels, and convergence from the history alone; a
    data fit's figures and the closed form need the expressions, so the full Problem
    is loaded for those (``full_problem()``, or its file again)."""
    from symgd.problem_interface import INDEXED

    if problem.kernel_source != INDEXED:
        return problem
    needs = (problem.is_fit and kind != "convergence") or \
        (critical_points and kind in ("contour", "landscape"))
    if not needs:
        return problem
    if full_problem is not None:
        return full_problem()
    import symgd
    return symgd.load(problem.source)


def _closed_form(problem):
    """The closed form's report within a short time, or None."""
    import symgd
    try:
        return symgd.critical_points(problem, timeout=3.0)
    except InputError:
        return None
