"""The schedule figure: the learning rate a problem's schedule gives at each step.

:func:`rates` is a numpy transcription of the formulas of
``symgd.methods.schedules.learning_rate`` (SPEC §2), vectorised over the step counter
t: a whole curve in one call, with no compiled loop to load. The schedule's name and
parameters are read and checked by the same ``pack_schedule`` the solvers use, so a
figure never disagrees with a run about defaults (tests compare the two functions).

The step counter is the iteration for ``gd`` (iteration k takes the rate at
t = k − 1) and the minibatch step for ``sgd`` (epoch e ends at t = e·⌈n/batch⌉ − 1);
where the result's history recorded the rate, it is drawn over the curve.
``plateau`` depends on the run (it cuts the rate after ``patience`` steps without
improvement): the figure shows the recorded rate, or the constant start rate.
"""
from __future__ import annotations

import math

import numpy as np

from symgd.plot import render
from symgd.plot.scene import history_column

MAX_DRAWN = 20_000  # steps evaluated for the curve (evenly spaced beyond that)


def rates(code: int, t, lr: float, p0: float, p1: float, p2: float) -> np.ndarray:
    """The learning rate at each step in ``t`` (floats >= 0) for schedule ``code``
    with the parameters packed by ``pack_schedule``."""
    t = np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):
        if code == 1:      # step
            return lr * p1 ** np.floor(t / p0)
        if code == 2:      # exponential
            return lr * p0 ** t
        if code == 3:      # inverse_time
            return lr / (1.0 + p0 * t)
        if code == 4:      # cosine, held at lr_min after t_max
            tt = np.minimum(t, p0)
            return p1 + (lr - p1) * 0.5 * (1.0 + np.cos(math.pi * tt / p0))
        if code == 5:      # sgdr: restart after t_0, t_0 t_mult, t_0 t_mult^2, ... steps
            start, period = _restarts(t.max() if t.size else 0.0, p0, p1)
            k = np.searchsorted(start, t, side="right") - 1
            return p2 + (lr - p2) * 0.5 * (1.0 + np.cos(math.pi * (t - start[k]) / period[k]))
        if code in (6, 7):  # triangular, triangular2
            cycle = np.floor(t / (2.0 * p1))
            pos = np.abs(t / p1 - 2.0 * cycle - 1.0)
            amp = (lr - p0) * np.maximum(0.0, 1.0 - pos)
            if code == 7:
                amp = amp / 2.0 ** cycle
            return p0 + amp
    return np.full(t.shape, float(lr))  # constant, and plateau before the run decides


def _restarts(t_last: float, t0: float, mult: float):
    """(start, period) of each SGDR cycle up to the one holding ``t_last``."""
    start, period = [0.0], [t0]
    while start[-1] + period[-1] <= t_last and len(start) < 1_000_000:
        start.append(start[-1] + period[-1])
        period.append(period[-1] * mult)
    return np.array(start), np.array(period)


def settings(problem, result=None) -> dict:
    """What the figure needs: the method whose schedule it is (gd or sgd), its resolved
    options, the packed schedule, the number of steps and the steps per epoch (sgd)."""
    from symgd.errors import InputError
    from symgd.methods import resolve_options
    from symgd.methods.schedules import CODES, PARAMETERS, pack_schedule

    method = getattr(result, "method", None) or problem.method or "auto"
    if method not in ("gd", "sgd"):
        if "schedule" not in problem.options and "learning_rate" not in problem.options:
            raise InputError(f"kind 'schedule' draws the learning rate of gd or sgd; this "
                             f"problem runs {method}, which has none (set method: gd, or "
                             "sgd for a data fit)", file="--kind", kind="option")
        method = "sgd" if problem.is_fit else "gd"
    opts = resolve_options(method, dict(problem.options), data=problem.is_fit)
    per_epoch = 1
    if method == "sgd":
        n = _samples(problem)
        per_epoch = -(-n // min(int(opts["batch_size"]), n))
        epochs = opts["epochs"] if opts.get("max_iter") is None else \
            min(opts["epochs"], opts["max_iter"])
        steps = int(epochs) * per_epoch
    else:
        steps = int(opts["max_iter"])
    code, p0, p1, p2 = pack_schedule(opts["schedule"], default_t_max=float(steps))
    name = {v: k for k, v in CODES.items()}[code]
    words = ", ".join(f"{p}={v:g}" for (p, _), v in zip(PARAMETERS[name], (p0, p1, p2)))
    return {"method": method, "options": opts, "code": code, "params": (p0, p1, p2),
            "name": name, "words": words, "steps": steps, "per_epoch": per_epoch,
            "learning_rate": float(opts["learning_rate"])}


def _samples(problem) -> int:
    from symgd.fit.source import dataset
    from symgd.fit.spec import fit_spec

    return int(dataset(problem, fit_spec(problem)).n_samples)


def recorded(result, s) -> tuple | None:
    """(steps, rates) the result's history recorded, on the schedule's step axis."""
    lr = history_column(result, "learning_rate")
    it = history_column(result, "iteration")
    if lr is None or it is None or getattr(result, "method", None) != s["method"]:
        return None
    t = it - 1.0 if s["method"] == "gd" else it * s["per_epoch"] - 1.0
    ok = np.isfinite(lr) & (t >= 0)
    return (t[ok], lr[ok]) if ok.any() else None


def _run_end(result, s):
    """The last step the run took, on the schedule's step axis, or None."""
    if result is None or getattr(result, "method", None) != s["method"]:
        return None
    return max(0, int(result.iterations) * s["per_epoch"] - 1)


def draw(scene):
    """(figure, {"main": Axes}, notes) of the schedule figure."""
    problem, result = scene.problem, scene.result
    s = settings(problem, result)
    notes = [n for n in scene.notes if not n.startswith("no iterate path")]
    fig, (ax,) = render.new_figure()
    count = max(s["steps"], 1)
    t = np.unique(np.linspace(0, count - 1, min(count, MAX_DRAWN)).round())
    lr = rates(s["code"], t, s["learning_rate"], *s["params"])
    label = f"{s['name']} schedule"
    if s["name"] == "plateau":
        label += " (start rate; cuts depend on the run)"
    ax.plot(t, lr, color=render.PATH_COLOR, linewidth=1.8, label=label, zorder=3)
    rec = recorded(result, s)
    if rec is not None:
        ax.plot(rec[0], rec[1], linestyle="none", marker=".", markersize=4,
                color="#1f5fbf", label="recorded in the run", zorder=4)
    elif result is not None:
        notes.append("the run recorded no learning rate")
    end = _run_end(result, s)
    if end is not None and end < count - 1:
        ax.axvline(end, color="#404040", linestyle="dotted", linewidth=1.2,
                   label=f"the run ended ({result.status})")
    positive = lr[np.isfinite(lr) & (lr > 0)]
    if s["name"] in ("exponential", "step") and positive.size and \
            positive.max() > 100 * positive.min():  # multiplicative decay: log scale
        ax.set_yscale("log")
    ax.set_xlabel("step t (iteration k uses t = k − 1)" if s["method"] == "gd" else
                  f"minibatch step t ({s['per_epoch']} per epoch)")
    ax.set_ylabel("learning rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{problem.name}: {s['method']} learning rate {s['learning_rate']:g}, "
                 f"{s['name']}" + (f" ({s['words']})" if s["words"] else "")
                 + f", {s['steps']} steps", fontsize=10)
    return fig, {"main": ax}, notes
