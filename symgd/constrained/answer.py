"""The end of a constrained run, shared by auglag and the interior-point method:
accepting a point (SPEC §2's KKT test and the second-order check, with the KKT-Newton
polish of the active set), and the Outcome with its measures and message.
"""
from __future__ import annotations

import numpy as np

from symgd import clock
from symgd.constrained import kkt
from symgd.outcome import Outcome

SADDLE_CURVATURE = 1e-6  # relative eigenvalue below -this: negative curvature

POLISHED_NOTE = "; polished by Newton on the KKT equations of the active set"


def accept_point(bundle, x, y, lo, hi, tol, ctol, typical, infeas, polish_steps=20):
    """(x, y, note, None) passing SPEC §2's constrained test and the second-order
    check: the point itself, or its KKT-Newton polish; (None, None, "", d) at a KKT
    point with negative curvature d (a saddle: the caller may step off along d); None
    when neither passes. ``infeas``: the method's own measure of infeasibility (the
    polish is tried only near feasibility); ``polish_steps``: its Newton steps at most
    (a method that tries again later gives it few: at a degenerate minimum Newton
    converges only linearly and the steps are evaluations spent)."""
    m = kkt.measures(bundle, x, y, lo, hi, typical)
    candidate = None
    if m.ok(tol, ctol):
        candidate = (x, y, "")
    elif infeas <= 1e-2 * max(1.0, abs(m.f)):
        polished = kkt.polish(bundle, x, y, lo, hi, active_tol=max(1e-6, 10.0 * infeas),
                              max_steps=polish_steps)
        if polished is not None:
            xp, yp = polished
            if kkt.measures(bundle, xp, yp, lo, hi, typical).ok(tol, ctol):
                candidate = (xp, yp, POLISHED_NOTE)
    if candidate is None:
        return None
    xc, yc, note = candidate
    curv, d = kkt.reduced_curvature(bundle, xc, yc, lo, hi, 1e-8, SADDLE_CURVATURE)
    if curv > -SADDLE_CURVATURE:
        return xc, yc, note, None
    return None, None, "", d


def outcome(status, x, y, bundle, lo, hi, opts, count, steps, t0, f0, message, *,
            note="", step_words="Newton steps", stall_words="the method made no further "
            "progress") -> Outcome:
    """The Outcome of a constrained run at (x, y), its status checked against the
    recomputed KKT measures (a 'converged' that fails them becomes 'stalled') and its
    message worded from them where ``message`` is None."""
    typical = (float(opts["typical_x"]), float(opts["typical_f"]))
    m = kkt.measures(bundle, x, y, lo, hi, typical)
    tol, ctol = float(opts["tol"]), float(opts["ctol"])
    if status == "converged" and not m.ok(tol, ctol):   # belt and braces: never a false claim
        status = "stalled"
    if message is None:
        measured = (f"max violation {m.violation:.2g} (ctol {ctol:g}), complementarity "
                    f"{m.complementarity:.2g}, relative Lagrangian gradient {m.rel_grad:.2g} "
                    f"(tol {tol:g})")
        if status == "converged":
            message = f"KKT conditions hold: {measured}{note}"
        elif status == "max_iter":
            message = (f"stopped after {steps} {step_words} (max_iter) without meeting the "
                       f"KKT test: {measured}; raise max_iter or try another start")
        elif status == "saddle":
            status = "stalled"
            message = (f"saddle point: the KKT conditions hold ({measured}) but the "
                       "Lagrangian's Hessian has negative curvature along the constraints, "
                       "so this is not a minimum, and stepping off it came back; try "
                       "another start or options.starts")
        elif status == "timeout":
            message = f"time_limit reached: {measured}; x is the last point"
        else:
            message = (f"stalled: {stall_words} and the KKT test fails: {measured}; try "
                       "another start or options.starts")
    out = Outcome(status, x.copy(), f=m.f, iterations=steps, evaluations=count.as_dict(),
                  time_s=clock.now() - t0, f0=f0, message=message)
    out.extra = {"multipliers_internal": np.array(y, dtype=float), "max_violation": m.violation,
                 "complementarity": m.complementarity, "rel_grad_lagrangian": m.rel_grad,
                 "grad_lagrangian": m.grad_lagrangian}
    return out
