"""One method run -> one Result: the final checks every kernel source shares.

At the point a run returns, recompute what its success claim rests on (SPEC §2's
relative gradient for the loop methods), look for a saddle or an objective falling
without bound where the Hessian is at hand, word the status, and add what the source
adds (a fit's statistics). symgd.solver calls :func:`finish` for every iterative run.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from symgd.methods import REGISTRY
from symgd.history import from_outcome
from symgd.result import Result
from symgd.solve_common import relative_gradient_at, status_message

# Methods without a Hessian still get one for the saddle check, up to this many variables;
# beyond, deriving and compiling n^2 entries costs more than the solve (200 variables:
# 7 s to derive, 21 s to compile, for a 15 ms linesearch run).
SADDLE_CHECK_MAX_VARS = 50


@dataclass(frozen=True)
class SolveContext:
    """What holds for the whole of one ``symgd.solve`` call.

    Attributes:
        requested: the method asked for (``auto`` included).
        given: the options as given (file, then keyword arguments), unchecked: a
            method chosen later (auto's choice, a fallback) checks its own from these.
        t_start: ``time.perf_counter()`` when the solve began (time_limit counts from it).
        progress: the user's progress callback, in the user's sense, or None.
        callback: the user's per-iteration callback (wrapped), or None.
    """

    requested: str
    given: Mapping
    t_start: float
    progress: Callable | None = None
    callback: Callable | None = None  # symgd.history.CallbackHook, or None

    def deadline(self, opts) -> float | None:
        return None if opts["time_limit"] is None else self.t_start + float(opts["time_limit"])


@dataclass(frozen=True)
class Run:
    """One method's run within a solve: its checked options, bounds, the path and
    timings so far, and the closed-form report that came before it (auto's polish)."""

    method: str
    opts: Mapping
    lower: np.ndarray
    upper: np.ndarray
    path: tuple = ()
    timings: Mapping = field(default_factory=dict)
    analytic: object = None


def _gradient_in_null_space(bundle, x, g) -> bool:
    """Whether g has a part along the Hessian's null space: f then changes linearly in
    that direction, where no curvature can stop it (so no minimum lies ahead)."""
    n = x.size
    if n > 500:
        return False
    H = np.zeros((n, n))
    bundle.hess(x, H)
    gn = float(np.linalg.norm(g))
    if not (np.all(np.isfinite(H)) and gn > 0.0):
        return False
    lam, vecs = np.linalg.eigh(H)
    scale = max(float(np.max(np.abs(lam))), 1e-300)
    null = vecs[:, np.abs(lam) <= 1e-10 * scale]
    return null.size > 0 and float(np.linalg.norm(null.T @ g)) > 1e-6 * gn


def negative_curvature(bundle, x, g, lower, upper) -> float:
    """The most negative curvature at x on the free variables, or 0 (loops.py's
    check, compiled for the bundle's kind, through the bundle's Hessian)."""
    from symgd.kernelgen.fastcall import entry_point
    from symgd.methods import loading
    loops = loading.load(bundle.loop_module)
    return float(entry_point(loops.negative_curvature)(bundle.loop_arg(with_hessian=True),
                                                       x, g, lower, upper))


def _final_point(bundle, outcome):
    """(f, g) at the returned point: from the run where it knows them, else one pass."""
    x = outcome.x
    if outcome.lsq is not None:  # a fit's F = scale S, grad F = 2 scale Jᵀr
        return bundle.scale * outcome.lsq[0], 2.0 * bundle.scale * outcome.lsq[1]
    if outcome.g is not None and math.isfinite(outcome.f):
        return outcome.f, outcome.g
    g = np.zeros(x.size)
    return float(bundle.fg(x, g)), g


def finish(problem, bundle, outcome, ctx: SolveContext, run: Run) -> Result:
    """The Result of ``outcome`` (a run of ``run.method`` on ``bundle``)."""
    from symgd.methods.common import projected_grad_norm

    spec = REGISTRY[run.method]
    opts, lo, hi = run.opts, run.lower, run.upper
    x = outcome.x
    f, g = _final_point(bundle, outcome)
    gnorm = outcome.grad_norm if math.isfinite(outcome.grad_norm) else \
        float(projected_grad_norm(x, g, lo, hi))
    if not spec.gradient_test:
        relg = math.nan
    elif outcome.g is not None and math.isfinite(outcome.rel_grad):
        relg = outcome.rel_grad  # the loop's own test at this very point
    else:
        relg = relative_gradient_at(x, g, f, lo, hi, opts)
    status = outcome.status
    message = outcome.message or status_message(outcome, opts, gnorm, relg)
    if spec.gradient_test and status == "converged" and not relg <= opts["tol"]:
        # The loop tested its current point; the point reported (the best seen, for
        # methods whose f is not monotone) must pass the same test, or no success.
        kink = ("; the mae loss has kinks, where no gradient test can pass"
                if problem.is_fit and bundle.spec.loss == "mae" else "")
        status = "stalled"
        message = (f"the point reported (the best seen) has relative gradient {relg:.3g} "
                   f"above tol {opts['tol']:g}{kink}; try a smaller learning_rate or "
                   "method=linesearch" + ("" if not kink else ", or method=auto"))
    if status == "converged" and not bundle.has_hessian and not problem.is_fit:
        message += (f"; not checked for a saddle point (no Hessian: it is built for that "
                    f"check up to {SADDLE_CHECK_MAX_VARS} variables, and when small enough "
                    "to derive)")
    extra = {}
    if spec.handles_constraints:  # auglag checked its KKT point (and its curvature) itself
        extra = _constrained_extra(problem, bundle, outcome, lo, hi)
    else:
        status, message = _curvature_checks(problem, bundle, outcome, run, x, f, g, gnorm,
                                            status, message)
    timings = dict(run.timings)
    if problem.is_fit:
        from symgd.fit.source import result_extra
        extra, notes, timings["statistics"] = result_extra(bundle, x, lo, hi, outcome,
                                                           lazy=spec.minibatch)
        if notes:
            message = message.rstrip(". ") + "; " + "; ".join(notes)
    produced = outcome.method or run.method
    sign = -1.0 if problem.sense == "maximize" else 1.0
    if status == "interrupted" and ctx.callback is not None and ctx.callback.stopped:
        message = (f"interrupted by the callback after {outcome.iterations} iterations; "
                   "x is the best point seen")
    # a fit's loss is already in the user's sense (spec.sign applied by its kernels)
    history = from_outcome(outcome, bundle.spec.sign if problem.is_fit else sign,
                           learning_rate=run.method in ("gd", "sgd"))
    path = tuple(run.path) + tuple(outcome.path) + (f"{produced}: {status}",)
    fields = {"names": problem.names, "x": x.copy(), "jac": sign * g}
    if problem.is_fit:  # held and tied variables back in x; the model for predict
        from symgd.fit.source import result_fields
        fields = result_fields(bundle, x, sign * g, problem.start)
        history = _declared_history(bundle, history, len(problem.names))
    return Result(problem=problem.name, method=produced, requested_method=ctx.requested,
                  status=status, message=message, fun=sign * f, grad_norm=gnorm,
                  iterations=outcome.iterations, evaluations=outcome.evaluations,
                  time_s=time.perf_counter() - ctx.t_start, path=path, timings=timings,
                  analytic=run.analytic, extra=extra, history=history, **fields)


def _declared_history(K, history, n_fitted):
    """A fit with held or tied variables: the history's x rows over every declared
    variable, as the Result's names list them (rows that hold every fitted one)."""
    from symgd.result import HISTORY_MAX_X

    declared = K.declared()
    if history is None or len(declared) == n_fitted or "x" not in history or \
            history["x"].shape[1] < n_fitted:
        return history
    rows = [K.expand(row)[0][:HISTORY_MAX_X] for row in np.asarray(history["x"])]
    return {**history, "x": np.array(rows, dtype=float).reshape(len(rows), -1)}


def _curvature_checks(problem, bundle, outcome, run, x, f, g, gnorm, status, message):
    """A saddle (negative curvature where the gradient vanished) is not a success, and
    far down a slope that never ends the gradient is small only against |f|."""
    opts = run.opts
    f0 = outcome.f0
    # f fell from f0 so far that ||g|| <= tol |f| while ||g|| is large on the start's
    # scale; the Hessian then shows why: negative curvature, or a gradient in its null
    # space (f falls linearly along it, as -x + y**2 does).
    far_down = (status in ("converged", "max_iter", "stalled") and math.isfinite(f0)
                and f < f0 and opts["tol"] * max(1.0, abs(f0)) < gnorm
                <= opts["tol"] * abs(f))
    if not (bundle.has_hessian and (status == "converged" or far_down)):
        return status, message
    curv = negative_curvature(bundle, x, g, run.lower, run.upper)
    if far_down and (curv < 0.0 or _gradient_in_null_space(bundle, x, g)):
        return "unbounded", (
            f"the objective falls without bound: f went from {f0:.6g} to {f:.6g}, where "
            f"the gradient ({gnorm:.3g}) is small only relative to |f| and the Hessian "
            "shows no minimum ahead; add bounds or constraints")
    if curv < 0.0 and status == "converged":
        kind = "minimum" if problem.sense == "minimize" else "maximum"
        return "stalled", (
            f"saddle point: the gradient vanishes but the Hessian has an eigenvalue below "
            f"{curv / 2:.3g}, so this is not a {kind}; start elsewhere or perturb the start "
            "(Newton steps away from saddles unless started on one)")
    return status, message


def _constrained_extra(problem, bundle, outcome, lo, hi) -> dict:
    """SPEC §4's ``multipliers`` (keyed by the constraint's text, bounds as the closed
    form keys them) and ``max_violation``, from a constrained method's outcome."""
    from symgd.constrained.kkt import user_multipliers

    e = outcome.extra
    mult = user_multipliers(bundle.constraints, e["multipliers_internal"],
                            e["grad_lagrangian"], outcome.x, lo, hi, problem.names,
                            problem.sense)
    return {"multipliers": mult, "max_violation": e["max_violation"],
            "complementarity": e["complementarity"]}
