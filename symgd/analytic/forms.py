"""Signs of homogeneous forms (exact, rational coefficients).

``form_sign(p)`` says whether a homogeneous polynomial p of degree k in r variables is
positive definite (``pd``: p(u) > 0 for u != 0), negative definite (``nd``), semidefinite
(``psd``/``nsd``, with nonzero zeros), ``indefinite`` (takes both signs), ``zero``, or
``unknown`` (no decision). It is used for the leading form of a Taylor expansion (higher-order
test of a degenerate critical point) and for the leading form of an objective (coercive when
pd, unbounded when it is negative somewhere).

Decisions (never a guess):

* odd degree and p != 0: indefinite (p(-u) = -p(u));
* one variable: the sign of the coefficient;
* two variables: p is positive definite iff p(0, 1) > 0 and p(s, 1) > 0 for every real s;
  the signs of the univariate polynomial p(s, 1) between its real roots are exact (root
  isolation by Sturm sequences / Vincent-Collins-Akritas);
* quadratic forms: the exact inertia of their symmetric matrix;
* more variables: a rational point with p < 0 and one with p > 0 prove ``indefinite``; all
  exponents even and all coefficients positive prove ``psd`` (``pd`` when every variable has
  its pure power, since then p >= sum c_i u_i^k); otherwise ``unknown``.
"""
from __future__ import annotations

import itertools

import sympy as sp


def homogeneous_part(poly: sp.Poly, degree: int) -> sp.Poly:
    terms = {m: c for m, c in poly.terms() if sum(m) == degree}
    return sp.Poly.from_dict(terms, *poly.gens, domain=poly.domain) if terms else \
        sp.Poly(0, *poly.gens, domain=poly.domain)


def leading_form(poly: sp.Poly) -> sp.Poly:
    return homogeneous_part(poly, poly.total_degree())


def lowest_form(poly: sp.Poly):
    """(degree, form) of the lowest-degree nonzero homogeneous part, or (None, 0)."""
    degs = sorted({sum(m) for m, c in poly.terms() if c != 0})
    if not degs:
        return None, poly
    return degs[0], homogeneous_part(poly, degs[0])


def _univariate_signs(poly: sp.Poly) -> set:
    """The set of signs {-1, 0, 1} that a univariate polynomial takes on the real line."""
    if poly.is_zero:
        return {0}
    if poly.degree() == 0:
        c = poly.LC()
        return {1 if c > 0 else -1}
    sqf = sp.Poly(sp.quo(poly, sp.gcd(poly, poly.diff())), *poly.gens)
    ivs = [iv for iv, _ in sqf.intervals()]
    signs = set()
    if ivs:
        signs.add(0)
    # sample points: left of all roots, between isolating intervals, right of all roots
    samples = []
    if not ivs:
        samples = [sp.Integer(0)]
    else:
        samples.append(sp.Rational(ivs[0][0]) - 1)
        for (a0, b0), (a1, b1) in zip(ivs, ivs[1:]):
            samples.append((sp.Rational(b0) + sp.Rational(a1)) / 2 if b0 != a1 else
                           sp.Rational(b0))
        samples.append(sp.Rational(ivs[-1][1]) + 1)
    for s in samples:
        v = poly.eval(s)
        if v != 0:
            signs.add(1 if v > 0 else -1)
        else:  # an interval endpoint that is itself a root: step off it
            for d in (sp.Rational(1, 10 ** 6), -sp.Rational(1, 10 ** 6)):
                w = poly.eval(s + d)
                if w != 0:
                    signs.add(1 if w > 0 else -1)
    return signs


def sample_points(r: int, limit: int = 400):
    """Small integer and rational directions in r dimensions (nonzero)."""
    vals = [0, 1, -1, 2, -2, sp.Rational(1, 2), -sp.Rational(1, 2), 3, -3]
    count = 0
    width = 5 if r <= 3 else 3
    for combo in itertools.product(vals[:width], repeat=r):
        if any(c != 0 for c in combo):
            yield combo
            count += 1
            if count >= limit:
                return


def form_sign(p: sp.Poly) -> str:
    """pd, nd, psd, nsd, indefinite, zero or unknown, as in the module docstring."""
    if p.is_zero:
        return "zero"
    gens = p.gens
    r = len(gens)
    k = p.total_degree()
    if k % 2 == 1:
        return "indefinite"
    if k == 0:
        return "pd" if p.LC() > 0 else "nd"
    if r == 1:
        return "pd" if p.LC() > 0 else "nd"
    if k == 2:
        return _quadratic_sign(p)
    if r == 2:
        s = sp.Dummy("s")
        u1, u2 = gens
        on_line = sp.Poly(p.as_expr().subs({u1: s, u2: 1}), s)
        signs = _univariate_signs(on_line)
        c_end = p.as_expr().subs({u1: 1, u2: 0})  # direction (1, 0)
        signs.add(int(bool(c_end > 0)) - int(bool(c_end < 0)))
        return _from_signs(signs)
    # r >= 3
    signs = set()
    for combo in sample_points(r):
        v = p(*combo)
        if v != 0:
            signs.add(1 if v > 0 else -1)
        if 1 in signs and -1 in signs:
            return "indefinite"
    monoms = p.terms()
    if all(all(e % 2 == 0 for e in m) for m, _ in monoms):
        coeffs = [c for _, c in monoms]
        for sgn, name in ((1, "p"), (-1, "n")):
            if all(sgn * c > 0 for c in coeffs):
                pure = {i for m, _ in monoms for i in range(r) if m[i] == k}
                return name + ("d" if len(pure) == r else "sd")
    return "unknown"


def _quadratic_sign(p: sp.Poly) -> str:
    """Exact sign of a quadratic form from the inertia of its (rational) matrix.

    The characteristic polynomial of a symmetric matrix has only real roots, so Descartes'
    rule counts its positive eigenvalues exactly.
    """
    expr = p.as_expr()
    gens = p.gens
    M = sp.Matrix(len(gens), len(gens), lambda i, j: sp.diff(expr, gens[i], gens[j]) / 2)
    coeffs = sp.Poly(M.charpoly().as_expr(), *M.charpoly().gens).all_coeffs()
    n = len(gens)
    zero = 0
    while zero < n and coeffs[n - zero] == 0:
        zero += 1
    nonzero = [c for c in coeffs[: n - zero + 1] if c != 0]
    pos = sum(1 for a, b in zip(nonzero, nonzero[1:]) if (a > 0) != (b > 0))
    neg = n - zero - pos
    signs = set()
    if pos:
        signs.add(1)
    if neg:
        signs.add(-1)
    if zero:
        signs.add(0)
    return _from_signs(signs)


def _from_signs(signs: set) -> str:
    if 1 in signs and -1 in signs:
        return "indefinite"
    if signs == {1}:
        return "pd"
    if signs == {-1}:
        return "nd"
    if signs == {1, 0}:
        return "psd"
    if signs == {-1, 0}:
        return "nsd"
    return "zero"


def negative_somewhere(sign: str) -> bool:
    return sign in ("nd", "nsd", "indefinite")


def positive_somewhere(sign: str) -> bool:
    return sign in ("pd", "psd", "indefinite")
