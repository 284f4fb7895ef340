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
    hess: tuple  # tuple of row tuples, symmetric; () when not built
    time_s: float
    hess_skipped: str = ""  # why the Hessian is missing, when it was asked for

    def hess_matrix(self) -> sp.Matrix:
        return sp.Matrix(self.hess)


def _smooth(expr: sp.Expr) -> sp.Expr:
    """Replace distributions that appear when differentiating Abs, sign, Max, Min.

    d/dx sign(x) = 2 DiracDelta(x) is zero almost everywhere; a kernel evaluates it as 0.
    """
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return expr


# Wall-clock budget for symbolic differentiation. Past it, the Hessian is given up (the
# methods that need none still run) or, for the gradient, the user is told. Override
# with the environment variable SYMGD_DERIVE_BUDGET (seconds).
DEFAULT_DERIVE_BUDGET_S = 30.0


def derive_budget() -> float:
    import os
    try:
        return float(os.environ.get("SYMGD_DERIVE_BUDGET", DEFAULT_DERIVE_BUDGET_S))
    except ValueError:
        return DEFAULT_DERIVE_BUDGET_S


def _terms_by_symbol(expr, syms) -> dict:
    """{symbol: the terms of expr (an Add's arguments, else expr itself) that hold it}.

    d(t_1 + ... + t_m)/dx is the sum of dt_k/dx over the terms holding x, which is
    what sympy's diff of an Add builds too, but sympy visits every term for every x:
    n variables times m terms. Grouping the terms once makes a sparse objective's
    gradient linear in its size (a chained Rosenbrock in 200 variables: 6-12 s down to
    well under a second)."""
    terms = expr.args if expr.is_Add else (expr,)
    wanted = set(syms)
    by_symbol: dict = {s: [] for s in syms}
    for t in terms:
        for s in t.free_symbols & wanted:
            by_symbol[s].append(t)
    return by_symbol


def _partial(by_symbol, s):
    """d/ds of the expression grouped by :func:`_terms_by_symbol`."""
    return _smooth(sp.Add(*[sp.diff(t, s) for t in by_symbol[s]]))


def derive(problem, *, hessian: bool = True, budget_s: float | None = None) -> Derivatives:
    """Gradient and (optionally) Hessian of the minimised objective.

    Args:
        problem: a :class:`symgd.Problem` that is not a data fit.
        hessian: also build the Hessian (Newton, verify, the saddle check need it).
        budget_s: seconds for the whole derivation (default :func:`derive_budget`).
            A Hessian not finished in time is left out (``hess == ()``, with
            ``hess_skipped`` saying why); a gradient not finished in time is an
            InputError of kind ``limit``.
    """
    t0 = time.perf_counter()
    budget = derive_budget() if budget_s is None else budget_s
    syms = problem.symbols
    f = problem.minimized_objective()
    grad = []
    by_symbol = _terms_by_symbol(f, syms)
    for s in syms:
        grad.append(_partial(by_symbol, s))
        if time.perf_counter() - t0 > budget:
            raise InputError(
                f"differentiating the objective took longer than the derivation budget of "
                f"{budget:g} s (after {len(grad)} of {len(syms)} partial derivatives); "
                "simplify the objective or raise SYMGD_DERIVE_BUDGET",
                field=problem.sense, kind="limit")
    grad = tuple(grad)
    hess: tuple = ()
    skipped = ""
    if hessian:
        n = len(syms)
        rows = [[None] * n for _ in range(n)]
        for i, gi in enumerate(grad):
            gi_terms = _terms_by_symbol(gi, syms[i:])
            for j in range(i, n):
                hij = _partial(gi_terms, syms[j])
                rows[i][j] = hij
                rows[j][i] = hij
            if time.perf_counter() - t0 > budget:
                skipped = (f"the Hessian was not finished within the derivation budget of "
                           f"{budget:g} s; methods that need it (newton) are unavailable: try "
                           "method=linesearch, or raise SYMGD_DERIVE_BUDGET")
                break
        else:
            hess = tuple(tuple(r) for r in rows)
    return Derivatives(syms, f, grad, hess, time.perf_counter() - t0, skipped)


def check_size(exprs, what: str, limit: int = MAX_HESSIAN_OPS) -> None:
    """Refuse derivative trees too large to compile in reasonable time."""
    ops = sum(sp.count_ops(e, visual=False) for e in exprs)
    if ops > limit:
        raise InputError(
            f"the {what} has {ops} operations (limit {limit}); try method=linesearch, "
            "which needs no Hessian, or simplify the objective", field="minimize", kind="limit")
