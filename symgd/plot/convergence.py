"""The convergence figure: how far each iterate was from the best one, and the gradient
norm, against the iteration (epoch for sgd), on log scales; the learning rate (gd,
sgd) in a panel of its own below, sharing the iteration axis.

f − f_best is measured in the problem's sense (f_best − f for maximize), against the
best of the history and the result, so it is never negative; the best iterate itself
(zero) has no place on a log scale and is left out.
"""
from __future__ import annotations

import numpy as np

from symgd.plot import render
from symgd.plot.scene import history_column


def gap(fun, best, sense: str) -> np.ndarray:
    """f − f_best (minimize) or f_best − f (maximize); NaN where f is unknown and
    where the gap is zero (log scales)."""
    g = (fun - best) if sense == "minimize" else (best - fun)
    return np.where(np.isfinite(g) & (g > 0), g, np.nan)


def best_value(fun, result, sense: str) -> float:
    """The best f of the history and the result, in the problem's sense."""
    values = [v for v in list(fun) + [getattr(result, "fun", np.nan)] if np.isfinite(v)]
    if not values:
        return np.nan
    return min(values) if sense == "minimize" else max(values)


def draw(scene):
    """(figure, axes, notes) of the convergence figure of a Scene."""
    result, problem = scene.result, scene.problem
    fun = history_column(result, "fun")
    notes = list(n for n in scene.notes if not n.startswith("no iterate path"))
    if fun is None:
        fig, (ax,) = render.new_figure()
        why = "no history" if result is None or result.history is None else \
            "the history has no objective values"
        method = getattr(result, "method", "the method")
        ax.text(0.5, 0.5, f"{why}:\n{method} ran no iterations to show"
                + (" (closed form)" if method == "analytic" else ""),
                ha="center", va="center", fontsize=12, transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(f"{problem.name}: convergence", fontsize=10)
        notes.append(f"{why}: nothing to plot")
        return fig, {"main": ax}, notes
    it = history_column(result, "iteration")
    if it is None or len(it) != len(fun):
        it = np.arange(len(fun), dtype=float)
    gnorm = history_column(result, "grad_norm")
    lr = history_column(result, "learning_rate")
    has_lr = lr is not None and np.isfinite(lr).any()
    if has_lr:
        fig, (ax, ax_lr) = render.new_figure(2, heights=[3, 1.3], sharex=True)
    else:
        fig, (ax,) = render.new_figure()
        ax_lr = None
    best = best_value(fun, result, problem.sense)
    diff = gap(fun, best, problem.sense)
    label = "f − f_best" if problem.sense == "minimize" else "f_best − f"
    if np.isfinite(diff).any():
        ax.plot(it, diff, color=render.PATH_COLOR, linewidth=1.5, label=label)
    else:
        notes.append("f never differed from its best value")
    if gnorm is not None and np.isfinite(gnorm).any() and (gnorm > 0).any():
        ax.plot(it, np.where(gnorm > 0, gnorm, np.nan), color="#1f5fbf", linewidth=1.2,
                label="gradient norm")
    val = history_column(result, "val_loss")
    if val is not None and np.isfinite(val).any() and len(val) == len(it):
        vbest = np.nanmin(val)
        ax.plot(it, np.where(val > vbest, val - vbest, np.nan), color="#2ca02c",
                linewidth=1.0, label="validation loss − its best")
    ax.set_yscale("log")
    epochs = getattr(result, "method", "") == "sgd"
    ax.set_ylabel("log scale")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{problem.name}: {result.method}, {result.status} after "
                 f"{result.iterations} {'epochs' if epochs else 'iterations'}; "
                 f"f_best = {best:.8g}", fontsize=10)
    axes = {"main": ax}
    bottom = ax
    if ax_lr is not None:
        ax_lr.plot(it, lr, color="#d62728", linewidth=1.3)
        ax_lr.set_ylabel("learning rate")
        positive = lr[np.isfinite(lr) & (lr > 0)]
        if positive.size and positive.max() > 20 * positive.min():
            ax_lr.set_yscale("log")
        ax_lr.grid(True, which="both", alpha=0.25)
        axes["learning_rate"] = bottom = ax_lr
    bottom.set_xlabel("epoch" if epochs else "iteration")
    return fig, axes, notes
