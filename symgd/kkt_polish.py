"""Newton's method on the KKT equations, from a closed-form constrained point (``auto``).

At a point x0 the active set A holds the equality constraints and the inequalities with
c_i(x0) = 0; variables sitting on a bound are held there. With f the minimised
objective, the KKT equations on the free variables and the multipliers mu are

    F(x, mu) = [ grad f(x) + J_A(x)^T mu ]  = 0,
               [ c_A(x)                  ]

and Newton's step solves [[H, J_A^T], [J_A, 0]] (dx, dmu) = -F, H = hess f + sum_i mu_i
hess c_i (Nocedal & Wright, Numerical Optimization, 2nd ed., eq. 18.9: the Lagrange-Newton
/ SQP step on the active constraints). mu starts from least squares on the first block.
The point is the closed form's, often exact: the polish is a numerical confirmation,
so it runs in 30-digit mpmath arithmetic on sympy's own expressions (problems solved in
closed form are small) and is accepted only if it converges to a point within 1e-6 of
where it began. Multipliers are not taken from here: the closed form's are exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

DIGITS = 30
MAX_STEPS = 8
ACTIVE_TOL = 1e-12      # |c_i(x0)| below this (relative to max(1, |terms|)): active
RESIDUAL_TOL = 1e-20    # ||F||_inf at convergence (30-digit arithmetic)


@dataclass
class Polished:
    x: np.ndarray
    iterations: int
    residual: float
    active: tuple  # texts of the active constraints, then the bounds held


def polish(problem, x0) -> Polished | None:
    """Newton on the KKT equations from x0; None when it does not converge near x0."""
    import mpmath

    syms = list(problem.symbols)
    x0 = [sp.Float(float(v), DIGITS) for v in x0]
    fixed, held = {}, []
    for s, v, var in zip(syms, x0, problem.variables):
        for b, rel in ((var.lower, ">="), (var.upper, "<=")):
            if b is not None and abs(float(v) - b) <= ACTIVE_TOL * max(1.0, abs(b)):
                fixed[s] = sp.Float(b, DIGITS)
                held.append(f"{var.name} {rel} {b:g}")
    free = [s for s in syms if s not in fixed]
    at0 = dict(zip(syms, x0))
    active = []
    for c in problem.constraints:
        g = c.expr
        if c.relation == "==" or abs(g.evalf(DIGITS, subs=at0)) <= ACTIVE_TOL * max(
                1.0, abs(c.lhs.evalf(DIGITS, subs=at0)), abs(c.rhs.evalf(DIGITS, subs=at0))):
            active.append(c)
    names = tuple(c.text for c in active) + tuple(held)
    if not free:
        return Polished(np.array([float(v) for v in x0]), 0, 0.0, names)
    f = problem.minimized_objective().xreplace(fixed)
    cs = [c.expr.xreplace(fixed) for c in active]
    mus = [sp.Dummy(f"mu{i}") for i in range(len(cs))]
    lagr = f + sum(m * c for m, c in zip(mus, cs))
    unknowns = free + mus
    F = [sp.diff(lagr, s) for s in free] + cs
    J = [[sp.diff(Fi, u) for u in unknowns] for Fi in F]
    args = tuple(unknowns)
    Ff = sp.lambdify(args, F, modules="mpmath")
    Jf = sp.lambdify(args, J, modules="mpmath")
    with mpmath.workdps(DIGITS):
        x = [mpmath.mpf(str(at0[s])) for s in free]
        z = x + _least_squares_multipliers(Ff, Jf, x, len(cs))
        start = list(z)
        res = float("inf")
        for it in range(MAX_STEPS + 1):
            Fz = mpmath.matrix(Ff(*z))
            res = float(mpmath.norm(Fz, mpmath.inf))
            if res <= RESIDUAL_TOL:
                break
            if it == MAX_STEPS:
                return None
            try:
                dz = mpmath.lu_solve(mpmath.matrix(Jf(*z)), -Fz)
            except ZeroDivisionError:  # singular KKT matrix: leave the point as it is
                return None
            z = [zi + dzi for zi, dzi in zip(z, dz)]
        moved = max((abs(a - b) / max(1, abs(b)) for a, b in zip(z[:len(free)], start)),
                    default=0)
        if not moved <= 1e-6:
            return None
        values = dict(zip(free, z[:len(free)]))
    out = np.array([float(values[s]) if s in values else float(fixed[s]) for s in syms])
    return Polished(out, it, res, names)


def _least_squares_multipliers(Ff, Jf, x, m):
    """mu minimising ||grad f + J_A^T mu|| at x (the starting multipliers), read off
    the KKT residual and Jacobian at mu = 0: the first block of F is grad f, the upper
    right block of its Jacobian is J_A^T."""
    import mpmath

    if m == 0:
        return []
    z0 = list(x) + [mpmath.mpf(0)] * m
    k = len(x)
    g = np.array([float(v) for v in Ff(*z0)[:k]])
    JT = np.array([[float(v) for v in row[k:]] for row in Jf(*z0)[:k]])
    mu = np.linalg.lstsq(JT, -g, rcond=None)[0]
    return [mpmath.mpf(float(v)) for v in mu]
