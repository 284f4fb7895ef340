"""Iteratively reweighted least squares for the mean absolute error (SPEC §2: a loss
with kinks never goes to plain Newton).

Each sweep weights sample i by w_i = 1 / max(|r_i|, eps) at the current theta and
minimises sum_i w_i r_i(theta)² (Schlossmacher, JASA 68, 1973; for linear models the
least-squares solve is exact, for nonlinear ones it is Levenberg-Marquardt from the
current theta, symgd.fit.lm). This is the majorise-minimise iteration of the Huber
function with threshold eps,

    H(r) = r² / (2 eps)  for |r| <= eps,     |r| - eps/2  otherwise,

(w_i r_i²/2 + const majorises H at the current r_i), so H falls at every sweep and
|r| - eps/2 <= H(r) <= |r|: a minimiser of sum H is within n eps/2 of the least sum of
|r|. eps = IRLS_EPS times the largest |target| (or |r| at the start).

Convergence (SPEC §2, kinked losses): the weighted least-squares fixed point, i.e.
theta minimises sum w_i(theta) r_i² with the weights made at theta itself, tested as
MINPACK's cosine on the weighted problem,

    max_j |sum_i w_i r_i J_ij| / (||sqrt(w) J_j|| ||sqrt(w) r||) <= tol

over the components not held by a bound, recomputed from theta alone. sum_i w_i r_i J_ij
is the gradient of sum H: this is a stationary point of the smoothed loss. A sweep that
cannot lower sum H without the test holding is ``stalled``; running out of sweeps,
``max_iter``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from symgd.fit import lm as lm_mod
from symgd.fit import numpy_eval
from symgd.outcome import Outcome
from symgd import clock  # deadlines on the clock tests can replace

IRLS_EPS = 1e-10      # eps relative to the data's scale
INNER_STEPS = 50      # LM trial steps per sweep (nonlinear models)


@dataclass
class IRLSOutcome:
    status: str          # converged, max_iter, stalled, timeout, interrupted, diverged
    theta: np.ndarray
    iterations: int      # sweeps (weighted solves)
    message: str
    cos: float
    eps: float
    history: list = field(default_factory=list)   # sum |r| at each sweep's start
    d: np.ndarray | None = None   # w * (y - X theta): a dual point for the LP bound
    passes: int = 0


def huber_sum(a, eps) -> float:
    """sum H(r) from a = |r| (see the module docstring)."""
    return float(np.sum(np.where(a <= eps, a * a / (2.0 * eps), a - 0.5 * eps)))


def _scale(values) -> float:
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return m if (m > 0.0 and math.isfinite(m)) else 1.0


def _words(status, cos, tol, k, eps, what) -> str:
    test = (f"the weighted least-squares cosine max_j |sum w r J_j| / (||sqrt(w) J_j|| "
            f"||sqrt(w) r||) = {cos:.3g}")
    if status == "converged":
        return (f"{what}: a weighted least-squares fixed point: {test} <= tol {tol:g} after "
                f"{k} reweightings (w = 1/max(|r|, {eps:.3g})); a minimum of the mae "
                f"smoothed within {eps / 2:.3g} per sample")
    if status == "max_iter":
        return (f"{what}: stopped after max_iter={k} reweightings with {test} above tol "
                f"{tol:g}; raise options.max_iter")
    if status == "stalled":
        return (f"{what}: no reweighting lowers the smoothed loss any more, yet {test} is "
                f"above tol {tol:g}: rounding limits progress; loosen tol or rescale the "
                "model")
    if status == "timeout":
        return (f"{what}: time_limit reached after {k} reweightings ({test}); x is the "
                "last point; raise options.time_limit")
    if status == "interrupted":
        return f"{what}: interrupted by the user after {k} reweightings"
    return f"{what}: {status}"


def irls_linear(X, y, *, tol: float, max_iter: int, deadline=None,
                eps_rel: float = IRLS_EPS, theta0=None) -> IRLSOutcome:
    """min sum |y - X theta| by IRLS from theta0 (default: the least-squares fit); each
    weighted least-squares solve is exact (the scaled normal equations XᵀWX, p x p)."""
    n, p = X.shape
    eps = eps_rel * _scale(y)
    if theta0 is None:
        D = np.sqrt(np.einsum("ij,ij->j", X, X))
        D[~(D > 0.0)] = 1.0
        theta = np.linalg.lstsq(X / D, y, rcond=None)[0] / D
    else:
        theta = np.array(theta0, dtype=float)
    history = []
    H_prev, prev = math.inf, None
    status, k, cos, d = "max_iter", 0, math.inf, None
    try:
        while True:
            r = y - X @ theta
            a = np.abs(r)
            w = 1.0 / np.maximum(a, eps)
            wr = w * r
            g = X.T @ wr
            A = (X.T * w) @ X
            H = huber_sum(a, eps)
            if H > H_prev * (1.0 + 1e-13):
                # the majorisation guarantees a fall: a rise is rounding in the solve
                theta, status = prev, "stalled"
                break
            history.append(float(np.sum(a)))
            cos = lm_mod.cosine(g, A, float(r @ wr))
            d = wr
            if cos <= tol:
                status = "converged"
                break
            if k >= max_iter:
                break
            if deadline is not None and clock.now() >= deadline:
                status = "timeout"
                break
            dA = np.sqrt(np.diag(A))
            dA[~(dA > 0.0)] = 1.0
            step = np.linalg.lstsq(A / np.outer(dA, dA), g / dA, rcond=None)[0] / dA
            if np.all(np.abs(step) <= 4.0 * np.finfo(float).eps * np.abs(theta)):
                status = "stalled"
                break
            prev, H_prev = theta, H
            theta = theta + step
            k += 1
    except KeyboardInterrupt:
        status = "interrupted"
    return IRLSOutcome(status, theta, k, _words(status, cos, tol, k, eps, "IRLS"), cos, eps,
                       history, d, k + 1)


def irls_lm(resid_jac, x0, lower, upper, *, tol: float, max_iter: int, deadline=None,
            eps: float) -> IRLSOutcome:
    """IRLS for a nonlinear model: each sweep runs Levenberg-Marquardt on the weighted
    sum of squares from the current theta (bounds kept as lm keeps them).

    ``resid_jac(theta) -> (r, J)`` with r (n,) = model - target and J (n, p) = dr/dtheta,
    or None where they are not finite.
    """
    theta = np.clip(np.array(x0, dtype=float), lower, upper)
    history = []
    status, k, cos, passes = "max_iter", 0, math.inf, 0
    H_prev = math.inf
    try:
        while True:
            rj = resid_jac(theta)
            passes += 1
            if rj is None:
                status = "diverged"
                break
            r, J = rj
            a = np.abs(r)
            w = 1.0 / np.maximum(a, eps)
            g = J.T @ (w * r)
            A = (J.T * w) @ J
            S = float(r @ (w * r))
            H = huber_sum(a, eps)
            history.append(float(np.sum(a)))
            cos = lm_mod.cosine(g, A, S, lm_mod._free(theta, g, lower, upper))
            if cos <= tol:
                status = "converged"
                break
            if H > H_prev * (1.0 + 1e-13):
                status = "stalled"
                break
            if k >= max_iter:
                break
            if deadline is not None and clock.now() >= deadline:
                status = "timeout"
                break

            def lsq_w(x, g_out, A_out, w=w):
                nonlocal passes
                passes += 1
                got = resid_jac(x)
                if got is None:
                    return math.nan
                rr, JJ = got
                g_out[:] = JJ.T @ (w * rr)
                A_out[:] = (JJ.T * w) @ JJ
                return float(rr @ (w * rr))

            o = lm_mod.levenberg_marquardt(lsq_w, theta, lower, upper, tol=tol,
                                           max_iter=INNER_STEPS, deadline=deadline,
                                           polish=0)
            k += 1
            if o.status == "interrupted":
                raise KeyboardInterrupt
            if not (o.rss < S) or np.array_equal(o.x, theta):
                status = "stalled"
                break
            theta, H_prev = o.x, H
    except KeyboardInterrupt:
        status = "interrupted"
    return IRLSOutcome(status, theta, k, _words(status, cos, tol, k, eps, "IRLS over lm"),
                       cos, eps, history, None, passes)


def residual_jacobian(spec, K, data, x0):
    """(``resid_jac(theta) -> (r, J) or None`` with numpy over the data, checked against
    the kernels at x0, or None; and why not, in words, when None)."""
    from symgd.fit.derive import derive
    from symgd.fit.linear import MAX_DESIGN_ENTRIES

    n, p = data.n_samples, spec.p
    if n * p > MAX_DESIGN_ENTRIES:
        return None, (f"its Jacobian would hold more than {MAX_DESIGN_ENTRIES:.3g} numbers "
                      f"({n} samples x {p} parameters)")
    grad = derive(spec, hessian=False).grad
    fn = numpy_eval.columns_function([spec.value, *grad],
                                     list(spec.symbols) + list(spec.data_symbols))
    arrays = numpy_eval.data_arrays(spec, data)

    def resid_jac(theta):
        vals = numpy_eval.evaluate(fn, [float(t) for t in theta] + arrays, n)
        if vals is None:
            return None
        return vals[0], np.column_stack(vals[1:]) if p else np.empty((n, 0))

    first = None if fn is None else resid_jac(x0)
    if first is None:
        return None, "numpy cannot evaluate the model (or it is not finite at the start)"
    if not numpy_eval.agrees_with_kernels(K, x0, first[0]):
        return None, "numpy and the compiled kernels disagree on the model's residuals"
    return resid_jac, ""


def run_irls(spec, K, data, x0, lower, upper, opts, deadline):
    """(Outcome of IRLS over lm on a nonlinear mae fit, ""), or (None, why not) when
    the model cannot be evaluated with numpy (the caller then runs sgd)."""
    rj, why = residual_jacobian(spec, K, data, x0)
    if rj is None:
        return None, why
    y = K.targets()
    scale = _scale(y) if np.any(y != 0.0) else _scale(rj(x0)[0])
    o = irls_lm(rj, x0, lower, upper, tol=opts["tol"], max_iter=opts["max_iter"],
                deadline=deadline, eps=IRLS_EPS * scale)
    hist = [K.scale * h for h in o.history]
    return Outcome(o.status, o.theta, iterations=o.iterations,
                   evaluations={"f": o.passes, "grad": o.passes}, message=o.message,
                   history=hist), ""
