"""Per-sample sympy expressions evaluated over a dataset with numpy, for the fit paths
that need whole columns rather than sums: the design matrix of a model linear in its
parameters (symgd.fit.linear) and the residuals and Jacobian that IRLS reweights
(symgd.fit.irls).

The expressions are sympy objects already built by symgd's safe parser (never file
text); sympy.lambdify prints them as numpy calls. What numpy computes is then checked
against the compiled data kernels (``agrees_with_kernels``), so a function the two
evaluate differently (or one numpy lacks) sends the fit back to the kernel-only path
instead of giving a wrong answer.
"""
from __future__ import annotations

import warnings

import numpy as np

AGREE_RTOL = 1e-9      # kernels and numpy differ by rounding only


def columns_function(exprs, args):
    """A callable ``f(*arrays) -> list of float arrays`` evaluating ``exprs`` (sympy)
    elementwise over the arrays bound to ``args`` (symbols), or None when sympy cannot
    print one of them for numpy. Columns recorded in the warm index
    (symgd.warm_fit.RecordedColumn) bring their own numpy code: no sympy then."""
    recorded = [getattr(e, "numpy_function", None) for e in exprs]
    if exprs and all(recorded):
        return _calling([f() for f in recorded])
    import sympy as sp  # not at import: a warm auto fit runs without sympy
    try:
        fns = [sp.lambdify(list(args), e, modules="numpy", dummify=True) for e in exprs]
    except Exception:  # noqa: BLE001  (an unprintable function: no numpy route)
        return None
    return _calling(fns)


def _calling(fns):
    def call(*arrays):
        return [fn(*arrays) for fn in fns]
    return call


def evaluate(fn, arrays, n: int):
    """Run ``fn`` (from columns_function) and return its values as float64 arrays of
    length n (constants broadcast), or None if any value is complex, non-finite or of
    the wrong shape, or numpy raised."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            raw = fn(*arrays)
    except Exception:  # noqa: BLE001  (numpy could not evaluate it: no numpy route)
        return None
    out = []
    for v in raw:
        a = np.asarray(v)
        if np.iscomplexobj(a) or a.dtype == object:
            return None
        try:
            a = np.broadcast_to(a.astype(np.float64), (n,))
        except ValueError:
            return None
        if not np.all(np.isfinite(a)):
            return None
        out.append(a)
    return out


def data_arrays(spec, data) -> list:
    """The data columns in the order of ``spec.data_symbols``."""
    return [data.column(s.name) for s in spec.data_symbols]


def agrees_with_kernels(K, theta, r) -> bool:
    """Whether the residuals ``r`` computed with numpy at ``theta`` match the compiled
    kernels' (sqrt(w) (model - target), w the least-squares weight, 1 unweighted; a
    per-sample fit's kernels give (spec.value, 0), the residual of a recognised square
    included)."""
    pred, target, w = K.evaluate(theta)
    ref = np.sqrt(w) * (pred - target)
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(r))):
        return False
    tol = AGREE_RTOL * (np.sqrt(w) * (np.abs(pred) + np.abs(target)) + np.abs(r)) + 1e-300
    return bool(np.all(np.abs(ref - r) <= tol))
