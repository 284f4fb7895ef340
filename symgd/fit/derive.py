"""Symbolic per-sample derivatives of a fit, derived once (never an N-term sum).

The loss over n samples is sum_i l(v_i) where v_i = v(theta; data_i) is one sympy
expression in the parameters and the data *symbols*; only v, its gradient and (for
Newton) its Hessian in theta are derived, and the kernels evaluate them per sample.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from symgd.errors import InputError

# Second derivatives of more than this many sympy operations are refused (compile time).
MAX_HESSIAN_OPS = 40_000


@dataclass(frozen=True)
class SampleDerivatives:
    """v (residual, logit or per-sample objective), dv/dtheta_j, and the nonzero
    d2v/dtheta_j dtheta_k for j <= k (``hess``: {(j, k): expr}, None if not derived)."""

    value: sp.Expr
    grad: tuple
    hess: dict | None
    time_s: float


def _smooth(expr: sp.Expr) -> sp.Expr:
    """d/dx sign(x) = 2 DiracDelta(x) is zero almost everywhere: evaluate it as 0."""
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return expr


def _sympy_diff(terms, s):
    return _smooth(sp.Add(*[sp.diff(t, s) for t in terms]))


def _differentiator():
    """symengine's differentiation where it is on (symgd.symengine_backend), else None."""
    from symgd import symengine_backend
    eng = symengine_backend.engine()
    return None if eng is None else symengine_backend.Differentiator(eng, _sympy_diff)


def _diffs(expr, syms, fast) -> list:
    """[d expr/ds for s in syms], by symengine where ``fast`` is given."""
    if fast is None:
        return [_sympy_diff([expr], s) for s in syms]
    return fast.partials([([expr] if s in expr.free_symbols else [], s) for s in syms])


def derive(spec, *, hessian: bool) -> SampleDerivatives:
    """Gradient (and Hessian) of the per-sample value of ``spec`` in the parameters."""
    t0 = time.perf_counter()
    v = spec.value
    syms = spec.symbols
    fast = _differentiator()
    grad = tuple(_diffs(v, syms, fast))
    hess = None
    if hessian:
        hess = {}
        ops = 0
        for j, gj in enumerate(grad):
            for k, h in enumerate(_diffs(gj, syms[j:], fast), start=j):
                if h != 0:
                    hess[(j, k)] = h
                    ops += sp.count_ops(h)
            if ops > MAX_HESSIAN_OPS:
                raise InputError(f"the per-sample Hessian has more than {MAX_HESSIAN_OPS} "
                                 "operations; use method=lm (least squares) or "
                                 "method=linesearch, which need no Hessian",
                                 field="model", kind="limit")
    return SampleDerivatives(v, grad, hess, time.perf_counter() - t0)
