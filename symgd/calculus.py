"""Symbolic derivatives: sympy in, sympy out.

Everything here is computed once per problem and cached on a small frozen record,
so the CLI's ``derive``, the code generator and the closed form share one derivation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from symgd.errors import InputError

# A derivative tree bigger than this (in sympy operation count, after CSE) is refused
# with advice; numba's compile time grows steeply with code length (DESIGN.md).
MAX_HESSIAN_OPS = 40_000


@dataclass(frozen=True)
class Derivatives:
    """The minimised objective f (``-objective`` for maximize), its gradient and Hessian."""

    symbols: tuple
    f: sp.Expr
    grad: tuple
    hess: tuple  # tuple of row tuples, symmetric
    time_s: float

    def hess_matrix(self) -> sp.Matrix:
        return sp.Matrix(self.hess)


def _smooth(expr: sp.Expr) -> sp.Expr:
    """Replace distributions that appear when differentiating Abs, sign, Max, Min.

    d/dx sign(x) = 2 DiracDelta(x) is zero almost everywhere; a kernel evaluates it as 0.
    """
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return expr


def derive(problem, *, hessian: bool = True) -> Derivatives:
    """Gradient and (optionally) Hessian of the minimised objective.

    Args:
        problem: a :class:`symgd.Problem` that is not a data fit.
        hessian: also build the Hessian (Newton, verify, the saddle check need it).
    """
    t0 = time.perf_counter()
    syms = problem.symbols
    f = problem.minimized_objective()
    grad = tuple(_smooth(sp.diff(f, s)) for s in syms)
    hess: tuple = ()
    if hessian:
        rows = []
        for i, gi in enumerate(grad):
            rows.append([None] * len(syms))
        for i, gi in enumerate(grad):
            for j in range(i, len(syms)):
                hij = _smooth(sp.diff(gi, syms[j]))
                rows[i][j] = hij
                rows[j][i] = hij
        hess = tuple(tuple(r) for r in rows)
    return Derivatives(syms, f, grad, hess, time.perf_counter() - t0)


def user_sense_derivatives(problem, d: Derivatives) -> tuple:
    """(gradient, Hessian) of the objective in the user's own sense, for display."""
    if problem.sense == "maximize":
        return tuple(-g for g in d.grad), tuple(tuple(-h for h in row) for row in d.hess)
    return d.grad, d.hess


def check_size(exprs, what: str, limit: int = MAX_HESSIAN_OPS) -> None:
    """Refuse derivative trees too large to compile in reasonable time."""
    ops = sum(sp.count_ops(e, visual=False) for e in exprs)
    if ops > limit:
        raise InputError(
            f"the {what} has {ops} operations (limit {limit}); try method=linesearch, "
            "which needs no Hessian, or simplify the objective", field="minimize", kind="limit")
