"""Words for the derivative-free baselines' statuses (random_search, local_search).

They evaluate f only, so they have no convergence test and never claim one: the
message says what was done, how far f fell, and what to try next.
"""
from __future__ import annotations

import math

_POLISH = ("no gradient test was made (a derivative-free baseline); for a certified "
           "minimum run a gradient method from x (method=bfgs or newton, x0 = this x)")


def search_message(loop_name: str, o, budget: int, opts) -> str:
    """The message of a random_search or local_search outcome ``o`` (methods.driver)."""
    what = "random search" if loop_name.startswith("random") else "local search"
    fell = (f"f went from {o.f0:.6g} at the start to {o.f:.6g}"
            if math.isfinite(o.f0) else f"best f {o.f:.6g} (f is not finite at the start)")
    n = o.iterations
    if o.status == "max_iter":
        more = "raise samples" + (" or narrow the bounds (random search covers the box "
                                  "uniformly)" if what == "random search" else "")
        return f"{what}: budget of {budget} points spent; {fell}; {_POLISH}, or {more}"
    if o.status == "stalled":
        return (f"{what}: the step size fell to {o.last_step:.3g}, below tol {opts['tol']:g}, "
                f"after {n} points (the 1/5th success rule shrinks it while steps fail); "
                f"{fell}; x is probably near a local minimum, but {_POLISH}")
    if o.status == "unbounded":
        return (f"{what}: f fell below -1e150 after {n} points; the objective seems "
                "unbounded below: add bounds or constraints")
    if o.status == "diverged":
        return (f"{what}: f was not finite at any of the {n} points tried; give a start "
                "inside the objective's domain, or bounds that keep the points there")
    if o.status == "timeout":
        return (f"{what}: time_limit reached after {n} of {budget} points; {fell}; x is "
                "the best point seen; raise options.time_limit")
    if o.status == "interrupted":
        return f"{what}: interrupted after {n} points; {fell}; x is the best point seen"
    return f"{what}: {o.status} after {n} points; {fell}"
