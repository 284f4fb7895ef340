"""Fit statistics: RSS, R², standard errors and correlations (SPEC §4).

Least-squares losses (mse, sse, a per-sample square): with p parameters, n samples,
s² = RSS / (n - p) and

    cov = s² (JᵀJ)⁻¹,   stderr_j = sqrt(cov_jj),   corr_jk = cov_jk / (stderr_j stderr_k)

computed from the column-scaled matrix C = D⁻¹ JᵀJ D⁻¹ with D = diag(||J_j||) (unit
diagonal), so that (JᵀJ)⁻¹ = D⁻¹ C⁻¹ D⁻¹ loses only what C's own conditioning costs
(NIST Bennett5: 7.4 correct digits unscaled, 10.4 scaled; DESIGN.md). C is inverted by
its eigen-decomposition; an eigenvalue below p * 10 * eps of the largest makes J
singular (parameters not identifiable from the data) and no error is reported.

cross_entropy: the maximum-likelihood covariance, the inverse of the Hessian of the
summed loss (the observed information; e.g. Agresti, Categorical Data Analysis, 2013,
§5.5), scaled the same way.

Other losses (mae, huber, logcosh, a general per-sample objective) have no such
formula: stderr and correlation are null with the reason. A variable on a bound gets
null, and the others are estimated with it held fixed.
"""
from __future__ import annotations

import numpy as np

EPS = np.finfo(float).eps


def _scaled_inverse(M):
    """M⁻¹ for a symmetric positive semidefinite M via D⁻¹ (D⁻¹ M D⁻¹)⁻¹ D⁻¹; None if
    singular."""
    d = np.sqrt(np.diag(M))
    if not np.all(np.isfinite(M)) or np.any(~(d > 0.0)):
        return None
    C = M / np.outer(d, d)
    w, V = np.linalg.eigh(C)
    if not (w[0] > w[-1] * M.shape[0] * 10.0 * EPS):
        return None
    Cinv = (V / w) @ V.T
    return Cinv / np.outer(d, d)


def on_bound(x, lower, upper):
    return (x <= lower) | (x >= upper)


def statistics(spec, kernels, x, lower, upper, lsq=None) -> tuple:
    """(fields for Result.extra, notes explaining nulls) at the solution x; ``lsq`` =
    (S, Jᵀr, JᵀJ) at x when the caller has them (least squares; saves two data passes).

    Fields: n_samples, loss, dof, rss, r_squared, stderr {name: float or None},
    correlation {name: {name: float}} or None.
    """
    n, p = kernels.n, spec.p
    names = spec.names
    notes = []
    out = {"n_samples": int(n), "loss": spec.loss, "dof": int(n - p), "rss": None,
           "r_squared": None}
    if lsq is None and spec.least_squares:
        A = np.empty((p, p))
        lsq = (float(kernels.lsq(x, np.empty(p), A)), None, A)
    if spec.model is not None and spec.loss != "cross_entropy":
        if lsq is not None:
            rss = float(lsq[0])
            y = kernels.targets()
        else:
            pred, y = kernels.predict(x)
            r = pred - y
            rss = float(r @ r)
        out["rss"] = rss
        tss = float(np.sum((y - y.mean()) ** 2))
        out["r_squared"] = (1.0 - rss / tss) if tss > 0.0 else None
        if tss <= 0.0:
            notes.append("R² undefined: the target is constant")
    elif spec.least_squares:  # per-sample square: RSS is the sum of the squares
        out["rss"] = float(lsq[0])
    stderr = {nm: None for nm in names}
    corr = None
    fixed = on_bound(x, lower, upper)
    free = np.flatnonzero(~fixed)
    if spec.least_squares or spec.loss == "cross_entropy":
        if spec.least_squares:
            rss, A = float(lsq[0]), lsq[2]
            if n <= p:
                notes.append(f"standard errors need more samples than parameters (n = {n}, "
                             f"p = {p})")
                A = None
            else:
                s2 = rss / (n - p)
        else:
            A = np.empty((p, p))
            kernels.value_grad_hess(x, np.empty(p), A)
            A = A / kernels.scale  # Hessian of the summed loss
            s2 = 1.0
        if A is not None and free.size:
            inv = _scaled_inverse(A[np.ix_(free, free)])
            if inv is None:
                notes.append("standard errors not estimated: "
                             + ("JᵀJ" if spec.least_squares else "the Hessian")
                             + " is singular at the solution (the parameters are not all "
                             "identifiable from the data)")
            else:
                cov = s2 * inv
                se = np.sqrt(np.maximum(np.diag(cov), 0.0))
                for k, j in enumerate(free):
                    stderr[names[j]] = float(se[k])
                corr = {names[j]: {} for j in free}
                for a, j in enumerate(free):
                    for b, k in enumerate(free):
                        den = se[a] * se[b]
                        c = 1.0 if a == b else (float(cov[a, b] / den) if den > 0 else None)
                        corr[names[j]][names[k]] = c
        if fixed.any():
            held = ", ".join(names[j] for j in np.flatnonzero(fixed))
            notes.append(f"no standard error for {held}: on a bound")
    else:
        what = {"mae": "mae", "huber": "huber", "logcosh": "logcosh",
                "per_sample": "a general per-sample objective"}[spec.loss]
        notes.append(f"standard errors are not estimated for {what} (no residual-variance "
                     "formula; they need a least-squares or cross_entropy loss)")
    out["stderr"] = stderr
    out["correlation"] = corr
    return out, notes
