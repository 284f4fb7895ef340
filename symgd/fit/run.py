"""Run one fit method and turn what it did into a Result (statistics included)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.result import Result


@dataclass
class RunOutcome:
    """What a fit method did, in the minimised sense (F = scale * sum of losses)."""

    status: str
    x: np.ndarray
    iterations: int
    evaluations: dict
    message: str
    history: list = field(default_factory=list)
    curvature: float = 0.0
    lsq: tuple | None = None   # (S, Jᵀr, JᵀJ) at x where known (lm): saves two passes


def _lm(problem, spec, K, x, lo, hi, opts, deadline) -> RunOutcome:
    from symgd.fit.lm import levenberg_marquardt
    y_norm2 = None
    if spec.model is not None:
        y = K.targets()
        y_norm2 = float(y @ y)
    tol = opts["tol"]
    user = opts.get("_progress")
    prog = None if user is None else \
        (lambda it, rss, g: user(it, K.scale * rss, 2.0 * K.scale * float(np.max(np.abs(g)))))
    kw = dict(tol=tol, damping=opts["damping"], deadline=deadline, y_norm2=y_norm2,
              progress=prog)
    o = levenberg_marquardt(K.lsq, x, lo, hi, max_iter=opts["max_iter"], **kw)
    if o.status == "diverged" and o.iterations == 0:
        from symgd.fit.solve import start_error
        raise start_error(problem, o.x, o.rss, o.g)
    attempts = "lm"
    if o.status == "stalled" and K.has_avv and o.iterations < opts["max_iter"]:
        # second attempt, from the same start, with geodesic acceleration
        o2 = levenberg_marquardt(K.lsq, x, lo, hi, max_iter=opts["max_iter"] - o.iterations,
                                 avv=K.avv, **kw)
        attempts = "lm stalled; restarted with geodesic acceleration"
        o2.iterations += o.iterations
        o2.nfev += o.nfev
        if o2.status == "converged" or o2.rss < o.rss:
            o = o2
        else:
            o.iterations, o.nfev, o.navv = o2.iterations, o2.nfev, o2.navv
    it = o.iterations
    cos = o.cos
    if o.status == "stalled" and o.vanished:
        names = ", ".join(spec.names[j] for j in o.vanished)
        msg = (f"the fit ran off to where {names} no longer affect the model (their "
               "Jacobian columns vanished, e.g. an exponential underflowed) with the sum "
               "of squares not at a minimum; try another start, or bounds on "
               f"{names}")
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
    if attempts != "lm":
        msg = f"{attempts}: {msg}"
    ev = {"f": o.nfev, "grad": o.nfev, "jtj": o.nfev, "avv": o.navv}
    return RunOutcome(o.status, o.x, it, ev, msg, [K.scale * h for h in o.history],
                      lsq=(o.rss, o.g, o.A))


def _fullbatch(method, problem, K, x, lo, hi, opts, deadline) -> RunOutcome:
    from symgd.fit.fullbatch import run_fullbatch
    from symgd.methods.common import projected_grad_norm
    from symgd.solver import _message, relative_gradient_at

    o, history, curv = run_fullbatch(method, K, x, lo, hi, opts, deadline)
    # the test of SPEC §2 recomputed at the point returned (one more data pass)
    g = np.empty(x.size)
    f = K.value_grad(o.x, g)
    gnorm = float(projected_grad_norm(o.x, g, lo, hi))
    relg = relative_gradient_at(o.x, g, f, lo, hi, opts)
    if o.status == "interrupted":
        msg = f"interrupted by the user after {o.iterations} iterations; x is the best point seen"
    else:
        msg = _message(o, opts, method, f, gnorm, relg)
    if o.status == "converged" and not relg <= opts["tol"]:
        kink = "; the mae loss has kinks, where no gradient test can pass" \
            if K.spec.loss == "mae" else ""
        o.status, curv = "stalled", 0.0
        msg = (f"the point returned has relative gradient {relg:.3g} above tol "
               f"{opts['tol']:g}{kink}; try method=auto")
    return RunOutcome(o.status, o.x, o.iterations, dict(o.evaluations), msg, history, curv)


def _sgd(problem, K, x, lo, hi, opts, deadline) -> RunOutcome:
    from symgd.methods.sgd import run_sgd
    # F = scale * sum = (n * scale) * mean: the batch kernel gives means
    o = run_sgd(K.addresses["batch"], K.data.rows(), x, lo, hi, opts, deadline, K.value,
                objective_scale=K.scale * K.n)
    msg = getattr(o, "message", None) or f"{o.status} after {o.iterations} epochs"
    hist = [float(h) for h in getattr(o, "history", ())]
    return RunOutcome(o.status, np.array(o.x, dtype=float), int(o.iterations),
                      dict(getattr(o, "evaluations", {}) or {}), msg, hist)


def run_method(method, problem, spec, K, x, lo, hi, opts, deadline) -> RunOutcome:
    """Run ``method`` (lm, gd, linesearch, newton, sgd) from x."""
    if method == "lm":
        return _lm(problem, spec, K, x, lo, hi, opts, deadline)
    if method == "sgd":
        return _sgd(problem, K, x, lo, hi, opts, deadline)
    return _fullbatch(method, problem, K, x, lo, hi, opts, deadline)


def finish(problem, spec, K, out: RunOutcome, opts, requested, method, path, timings,
           t_start, lo, hi) -> Result:
    """Gradient and statistics at the final point, then the Result."""
    from symgd.fit.stats import statistics
    from symgd.methods.common import projected_grad_norm

    x = out.x
    if out.lsq is not None:  # F = scale S, grad F = 2 scale Jᵀr
        f, g = K.scale * out.lsq[0], 2.0 * K.scale * out.lsq[1]
    else:
        g = np.empty(spec.p)
        f = K.value_grad(x, g)
    gnorm = float(projected_grad_norm(x, g, lo, hi))
    status, message = out.status, out.message
    if out.curvature < 0.0:
        status = "stalled"
        kind = "minimum" if spec.sign > 0 else "maximum"
        message = (f"saddle point: the gradient vanishes but the Hessian has an eigenvalue "
                   f"below {out.curvature / 2:.3g}, so this is not a {kind}; start elsewhere")
    ts = time.perf_counter()
    extra, notes = statistics(spec, K, x, lo, hi, lsq=out.lsq)
    timings = {**timings, "statistics": time.perf_counter() - ts}
    extra["history"] = [spec.sign * h for h in out.history]
    if notes:
        message = message.rstrip(". ") + "; " + "; ".join(notes)
    path = tuple(path) + (f"{method}: {status}",)
    return Result(problem=problem.name, method=method, requested_method=requested,
                  status=status, message=message, names=problem.names, x=x.copy(),
                  fun=spec.sign * f, grad_norm=gnorm, iterations=out.iterations,
                  evaluations=out.evaluations, time_s=time.perf_counter() - t_start,
                  path=path, timings=timings, jac=spec.sign * g, extra=extra)
