"""Fit statistics (SPEC §4), as lmfit defines them where lmfit has them.

With N samples, N_varys = p fitted parameters and residuals r_i = model_i - target_i
(weights w_i, 1 unweighted; ``sigma`` s_i means w_i = 1/s_i²), following lmfit's
MinimizerResult ("Goodness-of-Fit Statistics", lmfit 1.3 docs):

    chisqr = sum_i w_i r_i²                    redchi = chisqr / (N - p)
    aic    = N ln(chisqr / N) + 2 p            bic    = N ln(chisqr / N) + ln(N) p

(lmfit's code computes aic and bic with chisqr at least 1e-250 N, so that an exact fit
gives a finite number; so does this.) ``rss`` = sum r_i² is unweighted; R² = 1 - chisqr
/ sum_i w_i (y_i - ȳ_w)², ȳ_w = sum w y / sum w (the weighted coefficient of
determination; with unit weights the usual 1 - RSS/TSS).

Least-squares losses (mse, sse, a per-sample square): s² = chisqr / (N - p) and

    cov = s² (JᵀJ)⁻¹,   stderr_j = sqrt(cov_jj),   corr_jk = cov_jk / (stderr_j stderr_k)

(J of the weighted residuals sqrt(w) r), computed from the column-scaled matrix C =
D⁻¹ JᵀJ D⁻¹ with D = diag(||J_j||) (unit diagonal), so that (JᵀJ)⁻¹ = D⁻¹ C⁻¹ D⁻¹ loses
only what C's own conditioning costs (NIST Bennett5: 7.4 correct digits unscaled, 10.4
scaled; DESIGN.md). C is inverted by its eigen-decomposition; an eigenvalue below p * 10
* eps of the largest makes J singular (parameters not identifiable from the data) and
no error is reported. cross_entropy: the maximum-likelihood covariance, the inverse of
the Hessian of the summed loss (the observed information; Agresti, Categorical Data
Analysis, 2013, §5.5), scaled the same way. Other losses (mae, huber, logcosh, a general
per-sample objective) have no such formula: stderr and correlation are null with the
reason. A variable on a bound gets null, and the others are estimated with it held.

Every declared variable v = v(theta) (symgd.fit.kernels.FitKernels.expand: a fitted one
is itself, a held one a constant, a tied one its expression) gets the covariance of the
linear error propagation T cov Tᵀ, T = dv/dtheta (the delta method; lmfit propagates
ties the same way, through the uncertainties package): a held variable's row is 0 and
its stderr null; a tied one's stderr is sqrt(∇e cov ∇e). ``covariance`` is that matrix
over the declared variables, in their order (nan where a variable on a bound enters).
``confidence_interval`` is value ± t_{(1+level)/2, N-p} stderr (Student's t,
symgd.fit.tdist), level ``CONFIDENCE_LEVEL``; correlations are between fitted
variables (lmfit's ``correl``).
"""
from __future__ import annotations

import math

import numpy as np

EPS = np.finfo(float).eps
CONFIDENCE_LEVEL = 0.95


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


def goodness(chisqr, n: int, p: int) -> dict:
    """lmfit's chisqr, redchi, aic and bic from chi-square (module docstring); None
    where undefined (no chi-square; redchi with N <= p)."""
    if chisqr is None:
        return {"chisqr": None, "redchi": None, "aic": None, "bic": None}
    neg2loglik = n * math.log(max(chisqr, 1e-250 * n) / n)
    return {"chisqr": chisqr, "redchi": chisqr / (n - p) if n > p else None,
            "aic": neg2loglik + 2.0 * p, "bic": neg2loglik + math.log(n) * p}


def _sums(spec, kernels, x, lsq):
    """(rss, chisqr, r_squared, note) of a model fit (chisqr = sum w r² for least
    squares, = rss for other losses); per-sample fits: (S, S, None, None) for a square,
    else all None."""
    weighted = kernels.weight_field is not None
    if spec.model is None or spec.loss == "cross_entropy":  # a per-sample square: S
        s = float(lsq[0]) if lsq is not None else None
        return s, s, None, None
    tss_of = getattr(kernels, "target_tss", None)
    if tss_of is not None:  # data on a Dask cluster (symgd.dask.fit): no sample arrays
        rss = float(lsq[0]) if lsq is not None and not weighted else kernels.rss(x)
        chisqr = float(lsq[0]) if lsq is not None else rss
        tss = tss_of()
        if not tss > 0.0:
            return rss, chisqr, None, "R² undefined: the target is constant"
        return rss, chisqr, 1.0 - chisqr / tss, None
    if lsq is not None and not weighted:
        rss = float(lsq[0])
        y, w = kernels.targets(), None
    else:
        pred, y, w = kernels.evaluate(x)
        r = pred - y
        rss = float(r @ r)
    chisqr = float(lsq[0]) if lsq is not None else rss
    if w is None:
        tss = float(np.sum((y - y.mean()) ** 2))
    else:
        yw = float(w @ y) / float(np.sum(w))
        tss = float(w @ (y - yw) ** 2)
    if not tss > 0.0:
        return rss, chisqr, None, "R² undefined: the target is constant"
    return rss, chisqr, 1.0 - chisqr / tss, None


def _free_covariance(spec, kernels, x, lower, upper, lsq, chisqr, notes):
    """(cov over the fitted parameters with nan rows for those on a bound, or None)."""
    n, p = kernels.n, spec.p
    fixed = on_bound(x, lower, upper)
    free = np.flatnonzero(~fixed)
    if fixed.any():
        held = ", ".join(spec.names[j] for j in np.flatnonzero(fixed))
        notes.append(f"no standard error for {held}: on a bound")
    if spec.least_squares:
        if n <= p:
            notes.append(f"standard errors need more samples than parameters (n = {n}, "
                         f"p = {p})")
            return None
        A, s2 = lsq[2], chisqr / (n - p)
    else:
        A = np.empty((p, p))
        kernels.value_grad_hess(x, np.empty(p), A)
        A, s2 = A / kernels.scale, 1.0  # the Hessian of the summed loss
    if not free.size:
        return None
    inv = _scaled_inverse(A[np.ix_(free, free)])
    if inv is None:
        notes.append("standard errors not estimated: "
                     + ("JᵀJ" if spec.least_squares else "the Hessian")
                     + " is singular at the solution (the parameters are not all "
                     "identifiable from the data)")
        return None
    cov = np.full((p, p), np.nan)
    cov[np.ix_(free, free)] = s2 * inv
    return cov


def _correlation(names, cov):
    """{name: {name: corr}} between the fitted variables that have a standard error."""
    ok = [j for j in range(len(names)) if math.isfinite(cov[j, j])]
    se = {j: math.sqrt(max(cov[j, j], 0.0)) for j in ok}
    corr = {names[j]: {} for j in ok}
    for j in ok:
        for k in ok:
            den = se[j] * se[k]
            corr[names[j]][names[k]] = 1.0 if j == k else (
                float(cov[j, k] / den) if den > 0 else None)
    return corr


def _declared_covariance(cov, T):
    """T cov Tᵀ, nan in the rows and columns of declared variables that depend on a
    fitted one without an estimate (a zero row of T, a held variable, stays 0)."""
    bad = ~np.isfinite(np.diag(cov))
    C0 = np.where(np.isfinite(cov), cov, 0.0)
    full = T @ C0 @ T.T
    touched = np.any(T[:, bad] != 0.0, axis=1)
    full[touched, :] = np.nan
    full[:, touched] = np.nan
    return full


def statistics(spec, kernels, x, lower, upper, lsq=None) -> tuple:
    """(fields for Result.extra, notes explaining nulls) at the solution x; ``lsq`` =
    (S, Jᵀr, JᵀJ) at x when the caller has them (least squares; saves two data passes).

    Fields: n_samples, loss, dof, rss, chisqr, redchi, aic, bic, r_squared, weighted
    ("weights", "sigma" or None), stderr and
    relative_error (%) {name: float or None}, covariance (ndarray or None),
    confidence_level, confidence_interval {name: [lo, hi] or None}, correlation
    {name: {name: float}} or None, fixed [names], tied {name: expr}; names are every
    declared variable (module docstring).
    """
    n, p = kernels.n, spec.p
    notes = []
    if lsq is None and spec.least_squares:
        A = np.empty((p, p))
        lsq = (float(kernels.lsq(x, np.empty(p), A)), None, A)
    rss, chisqr, r2, note = _sums(spec, kernels, x, lsq)
    if note:
        notes.append(note)
    declared = kernels.declared()
    values, T = kernels.expand(x)
    out = {"n_samples": int(n), "loss": spec.loss, "dof": int(n - p), "rss": rss,
           **goodness(chisqr, n, p), "r_squared": r2, "weighted": kernels.weight_field,
           "fixed": [d[0] for d in declared if d[1] == "fixed"],
           "tied": {d[0]: d[2] for d in declared if d[1] == "tied"}}
    cov = None
    if spec.least_squares or spec.loss == "cross_entropy":
        cov = _free_covariance(spec, kernels, x, lower, upper, lsq, chisqr, notes)
    else:
        what = {"mae": "mae", "huber": "huber", "logcosh": "logcosh",
                "per_sample": "a general per-sample objective"}[spec.loss]
        notes.append(f"standard errors are not estimated for {what} (no residual-variance "
                     "formula; they need a least-squares or cross_entropy loss)")
    full = None if cov is None else _declared_covariance(cov, T)
    stderr, rel, ci = {}, {}, {}
    t = None
    if full is not None and n > p:
        from symgd.fit.tdist import t_quantile
        t = t_quantile((1.0 + CONFIDENCE_LEVEL) / 2.0, n - p)
    for i, (name, kind, _) in enumerate(declared):
        se = None if full is None or kind == "fixed" or not math.isfinite(full[i, i]) \
            else math.sqrt(max(float(full[i, i]), 0.0))
        v = float(values[i])
        stderr[name] = se
        rel[name] = None if se is None or v == 0.0 else 100.0 * se / abs(v)
        ci[name] = None if se is None or t is None else [v - t * se, v + t * se]
    out.update({"stderr": stderr, "relative_error": rel, "covariance": full,
                "confidence_level": CONFIDENCE_LEVEL, "confidence_interval": ci,
                "correlation": None if cov is None else _correlation(spec.names, cov)})
    return out, notes
