"""Figures for problems that are not two-dimensional.

One variable: the curve f(x) over a range holding the start, the answer, the iterates
and the critical points, each marked (iterates in magenta on the curve).

More than two variables: the landscape f(x* + a u + b v) on the plane through the
answer x* spanned by two directions u, v (symgd.plot.numeric.directions says which, and
the title repeats it), with the iterates, the start and any critical point lying in that
plane projected onto it: a = (x - x*)·u, b = (x - x*)·v.
"""
from __future__ import annotations

import numpy as np

from symgd.plot import numeric, render

GRID = 200
CURVE_POINTS = 800


def draw_curve(scene, objective):
    """(figure, {"main": Axes}, notes) of f(x) for a one-variable Scene."""
    fig, (ax,) = render.new_figure()
    core = [scene.start] + ([scene.answer] if scene.answer is not None else []) + \
        [x for _, x, _ in scene.points]
    (lo, hi), = numeric.view_box(np.reshape(core, (-1, 1)),
                                 scene.path if scene.path is not None else (),
                                 scene.bounds())
    xs = np.linspace(lo, hi, CURVE_POINTS)
    ax.plot(xs, objective([xs]), color="#404040", linewidth=1.5, label="f", zorder=3)
    notes = list(scene.notes)
    if scene.path is not None:
        px = scene.path[:, 0]
        render.mark_path(ax, px, _on_curve(objective, px, scene.path_fun))
    render.mark_points(ax, [(c, x[0], f) for c, x, f in scene.points])
    f0 = float(objective([scene.start])[0])
    fa = None if scene.answer is None else float(objective([scene.answer])[0])
    render.mark_start_answer(ax, (scene.start[0], f0),
                             None if fa is None else (scene.answer[0], fa))
    for b in scene.bounds()[0]:
        if b is not None and lo <= b <= hi:
            ax.axvline(b, color=render.CONSTRAINT_COLOR, linewidth=1.4, label="bound")
    ax.set_xlim(lo, hi)
    ax.set_xlabel(scene.names[0])
    ax.set_ylabel("f")
    ax.set_title(_title(scene, "f"), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return fig, {"main": ax}, notes


def _on_curve(objective, px, path_fun):
    """f at the iterates: evaluated (so the dots sit on the drawn curve), else the
    history's recorded values."""
    f = objective([px])
    if path_fun is not None and len(path_fun) == len(px):
        f = np.where(np.isfinite(f), f, path_fun)
    return f


def project(points, centre, u, v) -> np.ndarray:
    """(a, b) coordinates of ``points`` (rows, possibly only the first m variables)
    on the plane through ``centre`` spanned by u, v."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    m = pts.shape[1]
    d = pts - centre[:m]
    return np.column_stack([d @ u[:m], d @ v[:m]])


def draw_landscape(scene, objective, *, grid: int = GRID, seed: int = 0):
    """(figure, {"main": Axes}, notes) of f on the plane through the answer."""
    fig, (ax,) = render.new_figure()
    centre = scene.answer if scene.answer is not None else scene.start
    u, v, how = numeric.directions(objective, centre, seed=seed)
    notes = list(scene.notes)
    path = None
    if scene.path is not None and scene.path.shape[1] == scene.n:
        path = project(scene.path, centre, u, v)
    elif scene.path is not None:
        notes.append(f"the iterates hold only {scene.path.shape[1]} of {scene.n} "
                     "variables: path not drawn")
    start = project(scene.start, centre, u, v)[0]
    offplane = []
    on_plane = []
    for cls, x, f in scene.points:
        ab = project(x, centre, u, v)[0]
        rest = (x - centre) - ab[0] * u - ab[1] * v
        (on_plane if np.linalg.norm(rest) <= 1e-6 * (1 + np.linalg.norm(x)) else
         offplane).append((cls, ab[0], ab[1]))
    reach = [np.abs(start)] + ([np.abs(path).max(axis=0)] if path is not None and
                               np.isfinite(path).any() else []) + \
        [np.abs([a, b]) for _, a, b in on_plane]
    half = max(1.15 * float(np.nanmax(reach)) if reach else 0.0,
               0.1 * max(1.0, float(np.max(np.abs(centre)))), 1e-3)
    ts = np.linspace(-half, half, grid)
    A, B = np.meshgrid(ts, ts)
    coords = [centre[i] + A * u[i] + B * v[i] for i in range(scene.n)]
    Z = objective(coords)
    render.filled_contours(fig, ax, A, B, Z, scene.problem.sense).set_label("f")
    if path is not None:
        render.mark_path(ax, path[:, 0], path[:, 1], label="iterates (projected)")
    render.mark_points(ax, on_plane)
    render.mark_start_answer(ax, start, (0.0, 0.0) if scene.answer is not None else None)
    if offplane:
        notes.append(f"{len(offplane)} critical point(s) off this plane: not marked")
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.set_xlabel("a  (along u)")
    ax.set_ylabel("b  (along v)")
    ax.set_title(_title(scene, "f(x* + a u + b v)") + f"\nu, v: {how}", fontsize=9)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return fig, {"main": ax}, notes


def _title(scene, what: str) -> str:
    p, r = scene.problem, scene.result
    expr = render.short(numeric.objective_words(p), 50)
    head = f"{p.name}: {what}, {p.sense} {expr}"
    if r is None:
        return head
    return head + f"\n{r.method}: {r.status}, {r.iterations} iterations, f = {r.fun:.6g}"
