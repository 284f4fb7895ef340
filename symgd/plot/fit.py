"""The fit figure of a data-fitting problem.

With one input column (the model reads one data column besides the parameters): the
data (target against input), the fitted model as a curve over the input's range, and
the residuals (observed − fitted) in a panel below. Otherwise: fitted against observed,
with the line where they are equal, and the residuals against the fitted values.
For ``cross_entropy`` the fitted value is the probability 1 / (1 + e^(−z)) of the
logit z the model computes. A fit given as a per-sample objective (no model) shows the
per-sample residual of a recognised square, or the per-sample objective, by sample.

The model, the target and the per-sample value are evaluated with numpy at the fitted
parameters (symgd.plot.numeric), over the data the solve read (symgd.fit.source).
"""
from __future__ import annotations

import numpy as np

from symgd.errors import InputError
from symgd.plot import numeric, render

MAX_POINTS = 20_000   # samples drawn (a random, seeded subset of larger data)
CURVE_POINTS = 600


def draw(scene):
    """(figure, axes, notes) of the fit figure of a data-fit Scene."""
    from symgd.fit.source import dataset
    from symgd.fit.spec import fit_spec

    problem, result = scene.problem, scene.result
    if not problem.is_fit:
        raise InputError(f"kind 'fit' draws data fits (a problem with data); this "
                         f"problem has {scene.n} variable(s) and no data: use contour, "
                         "landscape or convergence", file="--kind", kind="option")
    spec = fit_spec(problem, delta=float(problem.options.get("delta", 1.0)))
    data = dataset(problem, spec)
    theta = [float(v) for v in (scene.answer if scene.answer is not None else scene.start)]
    cols = {s.name: data.column(s.name) for s in spec.data_symbols}
    n = data.n_samples
    keep = _subset(n)
    notes = list(n_ for n_ in scene.notes if not n_.startswith("no iterate path"))
    if keep is not None:
        notes.append(f"{keep.size} of {n} samples drawn")
    if problem.model is None:
        return _per_sample(scene, spec, cols, theta, keep, notes)
    model_syms = sorted((s for s in problem.model.free_symbols if s.name in cols),
                        key=lambda s: s.name)
    args = list(problem.symbols) + list(spec.data_symbols)
    arrays = [np.full(n, t) for t in theta] + [cols[s.name] for s in spec.data_symbols]
    fitted = numeric.evaluate(numeric.lambdified(args, problem.model), arrays, (n,))
    observed = numeric.evaluate(numeric.lambdified(args, problem.target), arrays, (n,))
    prob = spec.loss == "cross_entropy"
    if prob:
        fitted = 1.0 / (1.0 + np.exp(-np.clip(fitted, -700, 700)))
    resid = observed - fitted
    sel = slice(None) if keep is None else keep
    if len(model_syms) == 1:
        fig, axes = _one_input(problem, spec, args, theta, cols, model_syms[0], observed,
                               resid, sel, prob)
    else:
        fig, axes = _observed_fitted(problem, observed, fitted, resid, sel, prob)
    title = f"{problem.name}: {render.short(problem.model, 50)}"
    if result is not None:
        title += f"\n{result.method}: {result.status}, {spec.loss} = {result.fun:.6g}"
    axes["main"].set_title(title, fontsize=10)
    return fig, axes, notes


def _subset(n: int):
    """Sorted indices of at most MAX_POINTS samples (seeded), or None for all."""
    if n <= MAX_POINTS:
        return None
    return np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))


def _one_input(problem, spec, args, theta, cols, xsym, observed, resid, sel, prob):
    """Target against the input, the model's curve, and residuals below."""
    fig, (ax, ax_r) = render.new_figure(2, heights=[3, 1.3], sharex=True)
    x = cols[xsym.name]
    ax.scatter(x[sel], observed[sel], s=12, color="#1f5fbf", alpha=0.7, label="data",
               zorder=3)
    finite = x[np.isfinite(x)]
    grid = np.linspace(finite.min(), finite.max(), CURVE_POINTS) if finite.size else x
    # the model along the input, other data columns (if any) held at their medians
    arrays = [np.full(grid.size, t) for t in theta] + [
        grid if s.name == xsym.name else np.full(grid.size, np.nanmedian(cols[s.name]))
        for s in spec.data_symbols]
    curve = numeric.evaluate(numeric.lambdified(args, problem.model), arrays, grid.shape)
    if prob:
        curve = 1.0 / (1.0 + np.exp(-np.clip(curve, -700, 700)))
    ax.plot(grid, curve, color=render.PATH_COLOR, linewidth=2.0, zorder=4,
            label="fitted model" + (" (probability)" if prob else ""))
    ax.set_ylabel(render.short(problem.target, 30))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax_r.axhline(0.0, color="#404040", linewidth=1.0)
    ax_r.scatter(x[sel], resid[sel], s=10, color="#1f5fbf", alpha=0.7)
    ax_r.set_ylabel("residual")
    ax_r.set_xlabel(xsym.name)
    ax_r.grid(True, alpha=0.3)
    return fig, {"main": ax, "residuals": ax_r}


def _observed_fitted(problem, observed, fitted, resid, sel, prob):
    """Fitted against observed with the diagonal; residuals against fitted below."""
    fig, (ax, ax_r) = render.new_figure(2, heights=[3, 1.3])
    ax.scatter(observed[sel], fitted[sel], s=12, color="#1f5fbf", alpha=0.7,
               label="samples", zorder=3)
    both = np.concatenate([observed[np.isfinite(observed)], fitted[np.isfinite(fitted)]])
    if both.size:
        lo, hi = float(both.min()), float(both.max())
        ax.plot([lo, hi], [lo, hi], color=render.PATH_COLOR, linewidth=1.8,
                label="fitted = observed", zorder=4)
    ax.set_xlabel("observed " + render.short(problem.target, 30))
    ax.set_ylabel("fitted" + (" probability" if prob else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax_r.axhline(0.0, color="#404040", linewidth=1.0)
    ax_r.scatter(fitted[sel], resid[sel], s=10, color="#1f5fbf", alpha=0.7)
    ax_r.set_xlabel("fitted")
    ax_r.set_ylabel("residual")
    ax_r.grid(True, alpha=0.3)
    return fig, {"main": ax, "residuals": ax_r}


def _per_sample(scene, spec, cols, theta, keep, notes):
    """A per-sample objective: its residual (a recognised square) or value by sample."""
    problem, result = scene.problem, scene.result
    fig, (ax,) = render.new_figure()
    n = len(next(iter(cols.values()))) if cols else 0
    args = list(problem.symbols) + list(spec.data_symbols)
    arrays = [np.full(n, t) for t in theta] + [cols[s.name] for s in spec.data_symbols]
    value = numeric.evaluate(numeric.lambdified(args, spec.value), arrays, (n,))
    idx = np.arange(n)
    sel = slice(None) if keep is None else keep
    what = "residual" if spec.from_square else "per-sample objective"
    if not spec.from_square:
        value = spec.sign * value
    ax.axhline(0.0, color="#404040", linewidth=1.0)
    ax.scatter(idx[sel], value[sel], s=10, color=render.PATH_COLOR, label=what)
    ax.set_xlabel("sample")
    ax.set_ylabel(what)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    title = f"{problem.name}: {render.short(problem.objective, 50)} per sample"
    if result is not None:
        title += f"\n{result.method}: {result.status}, f = {result.fun:.6g}"
    ax.set_title(title, fontsize=10)
    notes.append("no model: the per-sample " + what + " is drawn by sample")
    return fig, {"main": ax}, notes
