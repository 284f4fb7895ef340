"""Matplotlib, kept at arm's length: loading it, one figure, saving it, and the styles
every figure kind shares.

matplotlib is an optional extra (``pip install symgd[plot]``): it is imported here,
inside functions, only when a figure is drawn, so ``import symgd`` and every other
command stay free of it. Figures are built on :class:`matplotlib.figure.Figure` with
an Agg canvas of their own, never through ``pyplot``: no display is needed, and a
user's interactive backend is left exactly as it was.

The colours are chosen for readability and so that tests can find what is drawn by
its pixels: the landscape is grey, everything laid over it is saturated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from symgd.errors import InputError

# The iterate path: a pure magenta that no grey, marker or colour map produces.
PATH_COLOR = "#ff00ff"
START_COLOR = "#000000"
ANSWER_COLOR = "#00e5ff"
CONSTRAINT_COLOR = "#b00000"
# classification -> (marker, colour, legend words)
CLASS_STYLE = {
    "local_min": ("o", "#00c000", "local minimum"),
    "local_max": ("^", "#ff0000", "local maximum"),
    "saddle": ("X", "#ff8c00", "saddle point"),
    "degenerate": ("D", "#0040ff", "degenerate"),
}
GREY_LOW, GREY_HIGH = 0.30, 0.96   # the landscape's grey range (never black or white)
DPI = 100
FIGSIZE = (7.0, 5.6)               # inches: 700 x 560 pixels at DPI


@dataclass
class Plot:
    """A drawn figure: where it was written, and its parts for whoever wants more.

    Attributes:
        path: the image file written.
        kind: the figure kind drawn (``contour``, ``curve``, ``landscape``,
            ``convergence``, ``fit``, ``schedule``).
        figure: the matplotlib Figure (kept open; nothing else refers to it).
        axes: name -> Axes: ``main`` always; ``residuals`` (fit), ``learning_rate``
            (convergence) where drawn.
        notes: what the figure could not show, in words (no history, ...).
    """

    path: str
    kind: str
    figure: object
    axes: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def pixel(self, x: float, y: float, axes: str = "main") -> tuple:
        """(row, column) in the written image of the data point (x, y) of ``axes``
        (rows counted from the top, as image arrays index them)."""
        ax = self.axes[axes]
        px, py = ax.transData.transform((x, y))
        height = self.figure.bbox.height
        return int(round(height - py - 0.5)), int(round(px - 0.5))


def require_matplotlib():
    """Import matplotlib's object-oriented parts, or say how to install them.

    Returns:
        (Figure, FigureCanvasAgg).

    Raises:
        InputError: (kind ``unavailable``) matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise InputError(f"plots need matplotlib, which is not installed ({err}); "
                         "install it with: pip install symgd[plot]",
                         field="plot", kind="unavailable") from None
    return Figure, FigureCanvasAgg


def new_figure(rows: int = 1, *, heights=None, figsize=FIGSIZE, sharex=False):
    """A Figure on an Agg canvas with ``rows`` stacked Axes (a list)."""
    Figure, FigureCanvasAgg = require_matplotlib()
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    if rows == 1:
        return fig, [fig.add_subplot()]
    axes = fig.subplots(rows, 1, sharex=sharex,
                        gridspec_kw={"height_ratios": heights or [1] * rows})
    return fig, list(axes)


def grey_map(reverse: bool = False):
    """The landscape's colour map: light grey where f is low, dark where it is high
    (``reverse``: the other way round, so that light is always better)."""
    from matplotlib.colors import LinearSegmentedColormap

    ends = [(GREY_HIGH,) * 3, (GREY_LOW,) * 3]
    return LinearSegmentedColormap.from_list("symgd_grey", ends[::-1] if reverse else ends)


def filled_contours(fig, ax, X, Y, Z, sense):
    """Filled contours of Z over the grid (X, Y), non-finite values left blank, thin
    contour lines over them and a colour bar (returned); light is always better."""
    from symgd.plot.numeric import contour_levels

    levels = contour_levels(Z)
    masked = np.ma.masked_invalid(Z)
    filled = ax.contourf(X, Y, masked, levels=levels,
                         cmap=grey_map(reverse=sense == "maximize"))
    ax.contour(X, Y, masked, levels=levels, colors="#555555", linewidths=0.4, alpha=0.6,
               linestyles="solid")
    return fig.colorbar(filled, ax=ax, shrink=0.9)


def save(fig, out) -> str:
    """Write ``fig`` as an image at ``out`` atomically (a reader never sees half a
    PNG), in the format its suffix names; returns the path written."""
    from symgd.atomic import publish

    out = os.fspath(out)
    suffix = os.path.splitext(out)[1].lstrip(".").lower() or "png"
    publish(out, lambda fh: fig.savefig(fh, format=suffix, dpi=DPI), suffix=f".{suffix}")
    return out


def check_format(out) -> None:
    """Refuse an image format matplotlib cannot write, before any work is done."""
    suffix = os.path.splitext(os.fspath(out))[1].lstrip(".").lower()
    if suffix and suffix not in ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif",
                                 "tiff", "webp", "svgz", "pgf", "raw", "rgba"):
        raise InputError(f"cannot write a figure as '.{suffix}'; use .png, .pdf or .svg",
                         field="--out", kind="input")


def short(text: str, limit: int = 70) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (titles stay one line)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def mark_points(ax, points, *, size=9.0, zorder=6) -> None:
    """Critical points ``[(class, x, y)]`` with one marker and legend entry per class."""
    seen = set()
    for cls, x, y in points:
        marker, colour, words = CLASS_STYLE.get(cls, CLASS_STYLE["degenerate"])
        ax.plot([x], [y], linestyle="none", marker=marker, markersize=size,
                markerfacecolor=colour, markeredgecolor="black", markeredgewidth=0.8,
                zorder=zorder, label=None if cls in seen else words)
        seen.add(cls)


def mark_path(ax, xs, ys, *, label="iterates") -> None:
    """The iterate path: a magenta line with a dot at each iterate."""
    ax.plot(xs, ys, color=PATH_COLOR, linewidth=1.6, marker="o", markersize=3.5,
            markeredgewidth=0, zorder=5, label=label)


def mark_start_answer(ax, start, answer) -> None:
    """The start (black square) and the answer (a cyan star's outline)."""
    if start is not None:
        ax.plot([start[0]], [start[1]], linestyle="none", marker="s", markersize=8,
                color=START_COLOR, zorder=7, label="start")
    if answer is not None:
        # hollow, so that a critical point under it stays visible
        ax.plot([answer[0]], [answer[1]], linestyle="none", marker="*", markersize=19,
                markerfacecolor="none", markeredgecolor=ANSWER_COLOR,
                markeredgewidth=2.2, zorder=8, label="answer")
