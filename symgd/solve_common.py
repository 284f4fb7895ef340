"""Helpers every kernel source and runner shares: the start point and its check, a
point in words, and the words for each status (SPEC §4's ``message``).

Below solver.py, methods/ and fit/, so that none of them imports another's private
helpers (numpy only; the relative gradient imports the compiled helper when called).
"""
from __future__ import annotations

import math

import numpy as np

from symgd.errors import InputError
from symgd.methods import status as S


def start_point(problem, x0, lower, upper) -> np.ndarray:
    """The start: ``x0`` (an array, or {name or symbol: value} over the problem's own
    start) or the variables' starts; it must be finite and inside the bounds."""
    n = len(problem.variables)
    if x0 is None:
        return problem.start
    if isinstance(x0, dict):
        x = problem.start
        names = list(problem.names)
        for key, v in x0.items():
            k = getattr(key, "name", key)
            if k not in names:
                raise InputError(f"x0 names '{k}', which is not a variable", field="x0")
            x[names.index(k)] = float(v)
    else:
        x = np.array(x0, dtype=float).ravel()
        if x.size != n:
            raise InputError(f"x0 has {x.size} values for {n} variables", field="x0")
    if not np.all(np.isfinite(x)):
        raise InputError("x0 must be finite", field="x0")
    return x


def moved_inside(names, x, lower, upper) -> tuple:
    """(x moved to the nearest point of the box, the note saying so or None).

    SPEC §1: a start outside its bounds is moved inside, as scipy's L-BFGS-B and IPOPT
    do; the Result's path and message name what moved."""
    inside = np.clip(x, lower, upper)
    moved = [i for i in range(x.size) if inside[i] != x[i]]
    if not moved:
        return x, None
    what = ", ".join(f"{names[i]} {x[i]:.6g} -> {inside[i]:.6g}" for i in moved)
    return inside, f"start moved inside the bounds ({what})"


def point_text(names, x) -> str:
    """``x=1.5, y=-2`` (6 significant digits)."""
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(names, x))


def start_error(names, x, f, g, *, what: str = "objective") -> InputError | None:
    """The InputError for an objective (or a fit's loss) or gradient that is not finite
    at the start, naming the point; None when both are finite."""
    pt = point_text(names, x)
    if not math.isfinite(f):
        why = ("the model is not finite on some samples there" if what == "loss" else
               "the start is outside the objective's domain")
        return InputError(f"the {what} is {f} at the start ({pt}): {why}; choose another "
                          "start", field="variables", kind="domain")
    if not np.all(np.isfinite(g)):
        bad = [names[i] for i in range(len(x)) if not math.isfinite(g[i])]
        return InputError(f"the gradient is not finite at the start ({pt}) in "
                          f"{', '.join(bad)}; choose another start", field="variables",
                          kind="domain")
    return None


def relative_gradient_at(x, g, f, lower, upper, opts) -> float:
    """SPEC §2's relative gradient of the minimised objective at x (methods.common)."""
    from symgd.methods.common import relative_gradient
    return float(relative_gradient(np.asarray(x, dtype=float), np.asarray(g, dtype=float),
                                   lower, upper, float(f), float(opts["typical_x"]),
                                   float(opts["typical_f"])))


_ADVICE = {
    "max_iter": "raise options.max_iter, or try method=newton",
    "timeout": "raise options.time_limit, or try method=newton",
    "interrupted": "interrupted by the user; x is the best point seen",
}


def status_message(outcome, opts, gnorm, relg=math.nan) -> str:
    """Words for a compiled loop's status and reason (what to try, where it failed)."""
    st = outcome.status
    tol = opts["tol"]
    if st == "converged":
        return (f"relative gradient {relg:.3g} <= tol {tol:g} after "
                f"{outcome.iterations} iterations")
    if st == "max_iter":
        return (f"stopped after max_iter={outcome.iterations} iterations with gradient norm "
                f"{gnorm:.3g} (tol {tol:g}); {_ADVICE['max_iter']}")
    if st == "timeout":
        return (f"time_limit reached after {outcome.iterations} iterations; x is the best point "
                f"seen (gradient norm {gnorm:.3g}); {_ADVICE['timeout']}")
    if st == "interrupted":
        return f"{_ADVICE['interrupted']} after {outcome.iterations} iterations"
    if st == "unbounded":
        return ("the objective falls without bound (f below -1e150, |x| above 1e150, f "
                "falling over 2^40 times the first step, or a polynomial falling along the "
                "search direction); the problem has no finite optimum: add bounds or "
                "constraints")
    if st == "diverged":
        if outcome.reason == S.R_RISING:
            lr = opts.get("learning_rate", 0.0)
            return (f"f kept rising under learning_rate {lr:g}; x is the best point seen; "
                    f"try learning_rate {lr / 10:g} or method=linesearch")
        if outcome.reason == S.R_LS_NONFINITE:
            return ("the line search met only non-finite values (overflow or a domain "
                    "error, such as log of a negative) along the search direction; x is the "
                    "last finite point; try another start, add bounds, or method=linesearch")
        return ("f or the gradient became non-finite; x is the last finite point; try a "
                "smaller learning_rate, another start, or bounds that keep x in the domain")
    if st == "stalled":
        if outcome.reason == S.R_WORSE:
            return (f"the gradient test held (relative gradient {relg:.3g}) at a point where "
                    "f is worse than at the start (a step overshot into another basin); x "
                    "is the best point seen; try a smaller learning_rate or "
                    "method=linesearch")
        if outcome.reason == S.R_LS_NODECREASE:
            return (f"the line search found no decrease with gradient norm {gnorm:.3g} still "
                    f"above tol {tol:g}: rounding limits progress; loosen tol, or rescale "
                    "the problem")
        return (f"steps became negligible with gradient norm {gnorm:.3g} above tol {tol:g}; "
                "loosen tol or rescale the problem")
    return st
