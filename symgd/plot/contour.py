"""The contour figure of a two-variable problem.

Filled contours of f (grey, light where f is low) over a box holding the start, the
answer, the iterate path and the critical points; the path in magenta, the start as a
black square, the answer as a cyan star, each critical point by its class (minimum,
maximum, saddle, degenerate: one marker and colour each, in the legend). Constraints
are drawn as their zero-level curves with the infeasible side hatched in red, and
finite bounds likewise.
"""
from __future__ import annotations

import numpy as np

from symgd.plot import numeric, render

GRID = 200  # points per axis: enough for smooth contours, cheap to draw


def draw(scene, objective, *, grid: int = GRID):
    """(figure, {"main": Axes}, notes) of the contour figure of a 2-variable Scene."""
    fig, (ax,) = render.new_figure()
    core = [scene.start] + ([scene.answer] if scene.answer is not None else []) + \
        [x for _, x, _ in scene.points]
    box = numeric.view_box(core, scene.path if scene.path is not None else (),
                           scene.bounds())
    box, square = _squared(box)
    xs = np.linspace(box[0][0], box[0][1], grid)
    ys = np.linspace(box[1][0], box[1][1], grid)
    X, Y = np.meshgrid(xs, ys)
    Z = objective([X, Y])
    notes = list(scene.notes)
    if not np.isfinite(Z).any():
        notes.append("f is not finite anywhere in view")
    bar = render.filled_contours(fig, ax, X, Y, Z, scene.problem.sense)
    bar.set_label("f (minimized: light is low)" if scene.problem.sense == "minimize"
                  else "f (maximized: light is high)")
    bar.ax.yaxis.set_major_formatter(_short_formatter())
    extra = _constraints(ax, scene, X, Y) + _bounds(ax, scene, box)
    if scene.path is not None and scene.path.shape[1] >= 2:
        render.mark_path(ax, scene.path[:, 0], scene.path[:, 1])
    render.mark_points(ax, [(c, x[0], x[1]) for c, x, _ in scene.points])
    render.mark_start_answer(ax, scene.start, scene.answer)
    ax.set_xlim(*box[0])
    ax.set_ylim(*box[1])
    if square:
        ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(scene.names[0])
    ax.set_ylabel(scene.names[1])
    ax.set_title(_title(scene), fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, loc="best", fontsize=8, framealpha=0.85)
    return fig, {"main": ax}, notes


def _squared(box, ratio: float = 4.0):
    """(box, True) with the shorter side widened to the longer (about its middle) when
    the two spans are within ``ratio`` of each other, so that circles look round and
    angles are true; else (box, False)."""
    (a0, a1), (b0, b1) = box
    wa, wb = a1 - a0, b1 - b0
    if max(wa, wb) > ratio * min(wa, wb):
        return box, False
    w = max(wa, wb)
    ma, mb = 0.5 * (a0 + a1), 0.5 * (b0 + b1)
    return [(ma - w / 2, ma + w / 2), (mb - w / 2, mb + w / 2)], True


def _title(scene) -> str:
    p, r = scene.problem, scene.result
    head = f"{p.name}: {p.sense} {render.short(numeric.objective_words(p), 60)}"
    if r is None:
        return head
    return head + f"\n{r.method}: {r.status}, {r.iterations} iterations, f = {r.fun:.6g}"


def _short_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:.3g}")


def _constraints(ax, scene, X, Y) -> list:
    """Each constraint's zero-level curve; the side where g > 0 (infeasible) hatched.
    Returns legend proxies (contour sets make poor legend entries)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    shaded = False
    for c in scene.problem.constraints:
        fn = numeric.lambdified(scene.problem.symbols, c.g_le)
        G = numeric.evaluate(fn, [X, Y], X.shape)
        if not np.isfinite(G).any():
            continue
        G = np.ma.masked_invalid(G)
        if c.relation != "==" and G.max() > 0:
            ax.contourf(X, Y, G, levels=[0.0, float(G.max()) + 1.0], colors="none",
                        hatches=["///"], zorder=2)
            ax.contourf(X, Y, G, levels=[0.0, float(G.max()) + 1.0],
                        colors=[render.CONSTRAINT_COLOR], alpha=0.18, zorder=2)
            shaded = True
        if G.min() <= 0 <= G.max():
            ax.contour(X, Y, G, levels=[0.0], colors=[render.CONSTRAINT_COLOR],
                       linewidths=1.6, linestyles="solid" if c.relation != "==" else
                       "dashed", zorder=3)
        seen = G.min() <= 0 <= G.max()
        handles.append(Line2D([], [], color=render.CONSTRAINT_COLOR,
                              linestyle="solid" if c.relation != "==" else "dashed",
                              label=render.short(c.text, 40)
                              + ("" if seen else " (not in view)")))
    if shaded:
        handles.append(Patch(facecolor=render.CONSTRAINT_COLOR, alpha=0.25, hatch="///",
                             label="infeasible"))
    return handles


def _bounds(ax, scene, box) -> list:
    """Finite bounds as lines with the outside hatched (they are inequalities too).
    Returns a legend proxy when any bound is in view."""
    from matplotlib.patches import Patch

    drawn = False
    for j, (lo, hi) in enumerate(scene.bounds()[:2]):
        for value, outside in ((lo, (box[j][0], lo)), (hi, (hi, box[j][1]))):
            if value is None or not np.isfinite(value) or outside[1] <= outside[0]:
                continue
            span = [box[1 - j][0], box[1 - j][1]]
            if j == 0:
                ax.axvspan(*outside, facecolor=render.CONSTRAINT_COLOR, alpha=0.18,
                           hatch="\\\\", edgecolor=render.CONSTRAINT_COLOR, zorder=2)
                ax.plot([value, value], span, color=render.CONSTRAINT_COLOR, lw=1.6,
                        zorder=3)
            else:
                ax.axhspan(*outside, facecolor=render.CONSTRAINT_COLOR, alpha=0.18,
                           hatch="\\\\", edgecolor=render.CONSTRAINT_COLOR, zorder=2)
                ax.plot(span, [value, value], color=render.CONSTRAINT_COLOR, lw=1.6,
                        zorder=3)
            drawn = True
    return [Patch(facecolor=render.CONSTRAINT_COLOR, alpha=0.25, hatch="\\\\",
                  edgecolor=render.CONSTRAINT_COLOR, label="outside the bounds")] \
        if drawn else []
