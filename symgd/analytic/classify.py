"""Second-derivative test, exact, with finer tests where the Hessian is inconclusive.

At a critical point x0 of f with Hessian H (exact inertia, :mod:`symgd.analytic.linalg`):

* H positive (negative) definite: strict local min (max).
* H indefinite, singular or not: saddle (an eigenvector of each sign).
* H semidefinite and singular: ``degenerate`` unless a finer test decides:

  - one variable: the first nonzero derivative f^(k)(x0): k odd is an inflection (``saddle``
    in SPEC's vocabulary), k even a min or max by its sign;
  - several variables, at rational points of polynomials: the splitting lemma
    (Gromoll-Meyer; Arnold, Gusein-Zade, Varchenko, *Singularities of Differentiable Maps* I,
    §11): with z = N u + R w (N a basis of ker H, R of its range) solve dF/dw = 0 for
    w(u) as a power series and let g(u) = F(u, w(u)). f has a strict local min at x0 when
    H is psd and the lowest form of g is positive definite; it is a saddle when H is psd
    and nonzero and g takes negative values (Peano's (y - x^2)(y - 2x^2) is caught this
    way, although f increases along every line). With H = 0, g = f and the lowest form
    decides both ways. Lines alone never prove a minimum.

The power series is computed by the fixed-matrix Newton iteration w <- w - A^-1 dF/dw
(A = d2F/dw2 at 0), which gains one order per step; with w exact through degree m, g is
exact through degree 2m + 1.
"""
from __future__ import annotations

import sympy as sp

from symgd.analytic import linalg
from symgd.analytic.forms import form_sign, lowest_form, negative_somewhere, positive_somewhere
from symgd.analytic.points import UnknownSign

MAX_DERIVATIVE = 16
MAX_SERIES_ORDER = 6
TAYLOR_DEGREE = 8  # non-polynomial objectives: the finer test sees this many orders


def hessian(f, gens):
    return [[sp.diff(f, a, b) for b in gens] for a in gens]


def class_from_inertia(inertia, n) -> str | None:
    """local_min / local_max / saddle, or None for semidefinite singular."""
    p, q, z = inertia
    if p > 0 and q > 0:
        return "saddle"
    if z == 0:
        return "local_min" if p == n else "local_max"
    return None


def classify_free(f, gens, point, H=None, *, polynomial: bool = False):
    """(classification, how) of an unconstrained critical point."""
    gens = tuple(gens)
    n = len(gens)
    H = H or hessian(f, gens)
    one = point.const(1)
    try:
        Hv = [[point.value(H[i][j]) for j in range(n)] for i in range(n)]
        inert = linalg.inertia(Hv, one)
    except UnknownSign as exc:
        return "degenerate", f"second-derivative test undecided ({exc})"
    cls = class_from_inertia(inert, n)
    if cls is not None:
        return cls, "hessian"
    try:
        if n == 1:
            finer = _higher_derivative(f, gens[0], point)
        elif polynomial and _is_rational_point(point):
            finer = _splitting(f, gens, point, inert)
        elif _is_rational_point(point):
            taylor = _taylor(f, gens, _rational_coords(point, gens), TAYLOR_DEGREE)
            finer = _splitting(taylor, gens, point, inert, exact_limit=TAYLOR_DEGREE)
        else:
            finer = None
    except (UnknownSign, sp.PolynomialError, ValueError, NotImplementedError):
        finer = None
    if finer is not None:
        return finer, "higher-order test"
    return "degenerate", "hessian semidefinite and singular"


def _is_rational_point(point) -> bool:
    if point.kind == "algebraic":
        return point.degree == 1
    return all(v.is_Rational for v in point.coords.values())


def _rational_coords(point, gens):
    if point.kind == "algebraic":
        out = {}
        for g in gens:
            rep = point.coords[g]
            out[g] = sp.Rational(rep[0]) if rep else sp.Integer(0)
        return out
    return {g: point.coords[g] for g in gens}


def _higher_derivative(f, x, point):
    d = sp.diff(f, x, 2)
    for k in range(3, MAX_DERIVATIVE + 1):
        d = sp.diff(d, x)
        if d == 0:
            return None
        s = point.value(d).sign()
        if s != 0:
            if k % 2 == 1:
                return "saddle"
            return "local_min" if s > 0 else "local_max"
    return None


def _truncate(expr, gens, degree):
    if expr == 0:
        return sp.Integer(0)
    p = sp.Poly(expr, *gens)
    return sp.Add(*[c * sp.Mul(*[g ** e for g, e in zip(gens, m)])
                    for m, c in p.terms() if sum(m) <= degree])


def _taylor(f, gens, x0, degree):
    """The Taylor polynomial of f at x0 through ``degree`` (exact: sympy series in t)."""
    t = sp.Dummy("t")
    shifted = f.xreplace({g: x0[g] + t * (g - x0[g]) for g in gens})
    poly = sp.series(shifted, t, 0, degree + 1).removeO()
    return sp.expand(poly.subs(t, 1))


def _splitting(f, gens, point, inert, exact_limit=float("inf")):
    n = len(gens)
    x0 = _rational_coords(point, gens)
    z = sp.symbols(f"z0:{n}", real=True)
    F = sp.expand(f.xreplace({g: x0[g] + zi for g, zi in zip(gens, z)}))
    F = F - F.subs({zi: 0 for zi in z})
    p, q, zdim = inert
    flip = q > 0  # work with an H that is positive semidefinite
    if flip:
        F = -F
    H0 = sp.Matrix(n, n, lambda i, j: sp.diff(F, z[i], z[j]).subs({zi: 0 for zi in z}))
    N = H0.nullspace()
    R = H0.columnspace()
    r = len(N)
    u = sp.symbols(f"u0:{r}", real=True)
    w = sp.symbols(f"w0:{n - r}", real=True)
    zsub = sp.zeros(n, 1)
    for k, v in enumerate(N):
        zsub += v * u[k]
    for k, v in enumerate(R):
        zsub += v * w[k]
    G = sp.expand(F.xreplace({zi: zsub[i] for i, zi in enumerate(z)}))
    h_nonzero = r < n
    for order in range(1, MAX_SERIES_ORDER + 1):
        exact_through = min(2 * order + 1, exact_limit)
        if h_nonzero:
            A = sp.Matrix(n - r, n - r,
                          lambda i, j: sp.diff(G, w[i], w[j]).subs({s: 0 for s in u + w}))
            Ainv = A.inv()
            grad_w = [sp.diff(G, wi) for wi in w]
            ws = [sp.Integer(0)] * (n - r)
            for _ in range(order):
                gw = [_truncate(sp.expand(gi.xreplace(dict(zip(w, ws)))), u, order)
                      for gi in grad_w]
                ws = [_truncate(sp.expand(ws[i] - sum(Ainv[i, j] * gw[j]
                                                      for j in range(n - r))), u, order)
                      for i in range(n - r)]
            g = sp.expand(G.xreplace(dict(zip(w, ws))))
            g = _truncate(g, u, exact_through)
        else:
            g, exact_through = G, exact_limit  # H = 0: g is f itself
        if g == 0:
            if not h_nonzero:
                return None
            continue
        if exact_limit != float("inf"):
            g = _truncate(g, u, exact_through)
            if g == 0 and exact_through >= exact_limit:
                return None
        if g == 0:
            continue
        k, form = lowest_form(sp.Poly(g, *u))
        if k is None or k > exact_through:
            if exact_through >= exact_limit:
                return None
            continue
        sign = form_sign(form)
        cls = _decide(sign, h_nonzero)
        if cls is None:
            return None
        if flip:
            cls = {"local_min": "local_max", "local_max": "local_min"}.get(cls, cls)
        return cls
    return None


def _decide(sign, h_nonzero):
    """Class of F (H psd) from the sign of g's lowest form."""
    if sign == "pd":
        return "local_min"
    if negative_somewhere(sign):
        if h_nonzero or positive_somewhere(sign):
            return "saddle"
        if sign == "nd":
            return "local_max"
    return None
