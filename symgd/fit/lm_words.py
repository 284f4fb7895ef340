"""Levenberg-Marquardt's outcome in words (SPEC §4's ``message``) for a fit's Result."""
from __future__ import annotations

import math


def lm_message(o, names, tol: float, restarted: bool) -> str:
    """What lm did and, where it did not converge, what to try.

    Args:
        o: symgd.fit.lm.LMOutcome.
        names: the parameters' names (for the columns that vanished).
        restarted: the first run stalled and a second used geodesic acceleration.
    """
    it, cos = o.iterations, o.cos
    if o.status == "stalled" and o.vanished:
        gone = ", ".join(names[j] for j in o.vanished)
        msg = (f"the fit ran off to where {gone} no longer affect the model (their "
               "Jacobian columns vanished, e.g. an exponential underflowed) with the sum "
               "of squares not at a minimum; try another start, or bounds on "
               f"{gone}")
    elif o.status == "converged":
        if o.exact:
            msg = (f"exact fit: ||r|| = {math.sqrt(o.rss):.3g} <= 1e-12 ||y|| after {it} "
                   "iterations")
        else:
            msg = (f"MINPACK test: max_j |J_j.r| / (||J_j|| ||r||) = {cos:.3g} <= tol "
                   f"{tol:g} after {it} iterations")
    elif o.status == "max_iter":
        msg = (f"stopped after max_iter={it} trial steps with the cosine max_j |J_j.r| / "
               f"(||J_j|| ||r||) = {cos:.3g} above tol {tol:g}; raise options.max_iter or "
               "try another start")
    elif o.status == "stalled":
        msg = (f"no step lowers the sum of squares, yet the cosine max_j |J_j.r| / (||J_j|| "
               f"||r||) = {cos:.3g} is above tol {tol:g}: rounding limits progress (an "
               "ill-conditioned or over-parametrised model); loosen tol, rescale the "
               "variables, or try another start")
    elif o.status == "timeout":
        msg = (f"time_limit reached after {it} iterations; x is the best point seen "
               f"(cosine {cos:.3g}); raise options.time_limit")
    elif o.status == "interrupted":
        msg = f"interrupted by the user after {it} iterations; x is the best point seen"
    else:
        msg = o.reason
    if restarted:
        msg = f"lm stalled; restarted with geodesic acceleration: {msg}"
    return msg
