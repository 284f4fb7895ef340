"""All real solutions of a polynomial system over Q.

Method (Cox, Little, O'Shea, *Ideals, Varieties, and Algorithms*, 4th ed., ch. 2-3;
Rouillier 1999 for the univariate representation):

1. A Groebner basis in grevlex order (cheap); ``[1]`` means no complex solution at all.
2. Zero-dimensional ideals: convert to lex order by FGLM (Faugere, Gianni, Lazard, Mora 1993).
   In *shape position* the lex basis is ``x_i - h_i(s), p(s)``; each real root of each
   irreducible factor q of p gives one real point ``x_i = h_i(alpha)``. When the basis is not
   in shape position the ideal is first made radical (Seidenberg's lemma: add the square-free
   parts of the univariate eliminants) and, if needed, a random linear form
   ``s = sum c_i x_i`` is used as the separating coordinate.
3. Positive-dimensional ideals: split by factoring basis elements (V(I + fg) = V(I + f) u
   V(I + g)), replace an element that is a sum of even monomials with positive coefficients by
   its monomials (same real zeros), and recurse. What stays positive-dimensional is a
   *family*; it is reported as infinite only when random rational slices of it have real
   points, otherwise as *undecided* (never as "no critical points").

Float coefficients must be turned into rationals before calling (``rationalize``): Groebner
bases over floating-point coefficients are wrong (Beale's gradient gives ``[1.0]``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import sympy as sp
from sympy.polys.domains import QQ

from symgd.analytic.points import AlgebraicPoint, rational_point


class TooHard(RuntimeError):
    """The system is beyond the closed form's size gate (Bezout bound)."""


@dataclass
class PolyResult:
    points: list = field(default_factory=list)
    families: list = field(default_factory=list)      # (description, sample point, generators)
    undecided: list = field(default_factory=list)     # descriptions of components


BEZOUT_LIMIT = 400
SLICE_VALUES = [sp.Rational(1, 3), sp.Rational(-2, 7), sp.Rational(7, 5), sp.Rational(-11, 6),
                sp.Rational(23, 7), sp.Rational(-41, 9), sp.Rational(1, 17),
                sp.Rational(97, 13)]


def rationalize(expr):
    """Replace every Float by the Rational of its decimal text (0.1 -> 1/10)."""
    expr = sp.sympify(expr)
    floats = expr.atoms(sp.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sp.Rational(str(f)) for f in floats})


def is_polynomial_over_q(exprs, gens) -> bool:
    """True when every expression is a polynomial in gens with rational coefficients."""
    for e in exprs:
        e = sp.sympify(e)
        if not e.is_polynomial(*gens):
            return False
        try:
            sp.Poly(e, *gens, domain=QQ)
        except (sp.PolynomialError, sp.polys.polyerrors.CoercionFailed):
            return False
    return True


def bezout_bound(polys, gens) -> int:
    degs = sorted((sp.Poly(p, *gens).total_degree() for p in polys if p != 0), reverse=True)
    bound = 1
    for d in degs[: len(gens)]:
        bound *= max(d, 1)
    return bound


def real_solutions(polys, gens, *, bezout_limit: int = BEZOUT_LIMIT) -> PolyResult:
    """Every real solution of ``polys == 0`` (see the module docstring)."""
    gens = tuple(gens)
    polys = [sp.expand(p) for p in polys]
    polys = [p for p in polys if p != 0]
    result = PolyResult()
    if not polys:
        result.families.append(("every point (all equations vanish identically)",
                                rational_point({g: 0 for g in gens}, gens), []))
        return result
    if any(p.is_Number for p in polys):
        return result  # a nonzero constant equation: no solution
    if bezout_bound(polys, gens) > bezout_limit:
        raise TooHard(f"Bezout bound {bezout_bound(polys, gens)} exceeds {bezout_limit}")
    seen = set()
    _solve(polys, gens, result, seen, depth=0)
    # a point found in one branch may lie on a family found in another: it is not isolated
    result.points = [pt for pt in result.points
                     if not any(all(pt.value(e).is_zero() for e in fam[2])
                                for fam in result.families)]
    return result


def _groebner(polys, gens, order="grevlex"):
    return sp.groebner(polys, *gens, order=order, domain=QQ)


def _solve(polys, gens, result, seen, depth):
    G = _groebner(polys, gens)
    if list(G.exprs) == [1]:
        return
    if G.is_zero_dimensional:
        for pt in _zero_dimensional(G, gens):
            key = pt.key()
            if key not in seen:
                seen.add(key)
                result.points.append(pt)
        return
    if depth > 12:
        result.undecided.append(_describe(G.exprs, gens))
        return
    exprs = list(G.exprs)
    # (a) an element that is a positive combination of even monomials: same real zeros as
    # the monomials; the real radical of a monomial is the product of its variables.
    for i, b in enumerate(exprs):
        for sgn in (1, -1):
            p = sp.Poly(sgn * b, *gens, domain=QQ)
            terms = p.terms()
            if len(terms) > 1 and all(c > 0 for _, c in terms) and \
                    all(all(e % 2 == 0 for e in m) for m, _ in terms):
                if any(sum(m) == 0 for m, _ in terms):
                    return  # positive constant term: no real zero
                repl = [sp.Mul(*[g for g, e in zip(gens, m) if e]) for m, _ in terms]
                _solve(exprs[:i] + exprs[i + 1:] + repl, gens, result, seen, depth + 1)
                return
    # (b) split on a factorisation
    for i, b in enumerate(exprs):
        _, factors = sp.factor_list(b, *gens)
        factors = [f for f, _ in factors if not f.is_Number]
        if len(factors) > 1 or (len(factors) == 1 and sp.expand(factors[0] - b) != 0
                                and sp.expand(factors[0] + b) != 0
                                and sp.Poly(factors[0], *gens).total_degree()
                                < sp.Poly(b, *gens).total_degree()):
            rest = exprs[:i] + exprs[i + 1:]
            for f in factors:
                _solve(rest + [f], gens, result, seen, depth + 1)
            return
    # (c) an irreducible positive-dimensional component: look for real points on slices
    _family(exprs, gens, result)


def _family(exprs, gens, result):
    """Decide whether a positive-dimensional component has (infinitely many) real points."""
    description = _describe(exprs, gens)
    sample = _real_sample(exprs, gens)
    if sample is not None:
        result.families.append((description, sample, list(exprs)))
    else:
        result.undecided.append(description)


def _real_sample(exprs, gens, depth=0, budget=None):
    """A real point of V(exprs) on generic rational slices, or None (at most 60 slices)."""
    budget = [60] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return None
    G = _groebner(exprs, gens)
    if list(G.exprs) == [1]:
        return None
    if G.is_zero_dimensional:
        pts = _zero_dimensional(G, gens)
        return pts[0] if pts else None
    if depth > len(gens):
        return None
    for g in reversed(gens):
        for v in SLICE_VALUES:
            sub = [sp.expand(e.subs(g, v)) for e in G.exprs]
            sub = [e for e in sub if e != 0]
            if any(e.is_Number for e in sub):
                break  # g is not free on this component
            rest = tuple(h for h in gens if h != g)
            if not rest:
                continue
            if not sub:
                pt = rational_point({h: 0 for h in rest}, rest)
            else:
                pt = _real_sample(sub, rest, depth + 1, budget)
            if pt is not None:
                coords = dict(pt.coords)
                coords[g] = [QQ.convert(v)] if v != 0 else []
                return AlgebraicPoint(pt.q, (pt.a, pt.b), coords, gens)
    return None


def _describe(exprs, gens) -> str:
    """A readable description of a component: solved form when SymPy finds one."""
    try:
        sols = sp.solve(list(exprs), list(gens), dict=True)
    except Exception:  # noqa: BLE001 - description only
        sols = []
    real_sols = [s for s in sols if not any(v.has(sp.I) for v in s.values())]
    if len(real_sols) == 1 and real_sols[0]:
        sol = real_sols[0]
        parts = [f"{sp.sstr(k)} = {sp.sstr(v)}" for k, v in sorted(sol.items(), key=lambda kv:
                                                                     gens.index(kv[0]))]
        free = [g for g in gens if g not in sol]
        text = ", ".join(parts)
        if free:
            text += f" ({', '.join(map(str, free))} free)"
        return text
    return ", ".join(f"{sp.sstr(e)} = 0" for e in exprs)


# ---------------------------------------------------------------------------------------
# zero-dimensional systems
# ---------------------------------------------------------------------------------------
def _shape(lex_exprs, gens, s):
    """{x_i: h_i(s)} and p(s) if the lex basis (s last) is in shape position, else None."""
    others = [g for g in gens if g != s]
    if len(lex_exprs) != len(others) + 1:
        return None
    univ = lex_exprs[-1]
    if univ.free_symbols - {s}:
        return None
    coords = {}
    for e in lex_exprs[:-1]:
        lead = [g for g in others if e.has(g)]
        if len(lead) != 1:
            return None
        g = lead[0]
        p = sp.Poly(e, g)
        if p.degree() != 1:
            return None
        c1, c0 = p.all_coeffs()
        if c1.free_symbols:
            return None
        coords[g] = sp.expand(-c0 / c1)
    if set(coords) != set(others):
        return None
    return coords, univ


def _univariate_eliminant(G, gens, g):
    order = tuple(h for h in gens if h != g) + (g,)
    L = sp.groebner(G.exprs, *order, order="grevlex", domain=QQ).fglm("lex")
    return L.exprs[-1]


def _zero_dimensional(G, gens):
    """Real points of a zero-dimensional ideal given by its grevlex basis G."""
    gens = tuple(gens)
    if len(gens) == 1:
        return _points_from_shape({}, G.exprs[-1], gens[0], gens)
    radical_done = False
    rng = random.Random(12345)
    for attempt in range(8):
        if attempt == 0:
            s, work, order = gens[-1], G, gens
        else:
            s = sp.Dummy("s")
            coeffs = [rng.randint(-4, 4) for _ in gens]
            if not any(coeffs[:-1]):
                coeffs[0] = 1
            lin = sum(c * g for c, g in zip(coeffs, gens))
            order = gens + (s,)
            work = sp.groebner(list(G.exprs) + [s - lin], *order, order="grevlex", domain=QQ)
        lex = work.fglm("lex")
        shape = _shape(list(lex.exprs), order, s)
        if shape is not None:
            coords, univ = shape
            return _points_from_shape(coords, univ, s, gens)
        if not radical_done:
            radical_done = True
            extra = []
            for g in gens:
                e = _univariate_eliminant(G, gens, g)
                sqf = sp.sqf_part(e)
                if sp.expand(sqf - e) != 0:
                    extra.append(sqf)
            if extra:
                G = sp.groebner(list(G.exprs) + extra, *gens, order="grevlex", domain=QQ)
                if len(gens) == 1:
                    return _points_from_shape({}, G.exprs[-1], gens[0], gens)
    raise RuntimeError("no separating linear form found for a zero-dimensional system")


def _points_from_shape(coords, univ, s, gens):
    """One AlgebraicPoint per real root of each irreducible factor of univ(s)."""
    points = []
    _, factors = sp.factor_list(univ, s)
    for fac, _ in factors:
        q = sp.Poly(fac, s, domain=QQ)
        if q.degree() < 1:
            continue
        q = q.monic()
        rep = q.rep.to_list()
        for (a, b), _ in q.intervals():
            hs = {}
            for g in gens:
                h = s if g == s else coords.get(g, s)
                hp = sp.Poly(h, s, domain=QQ).rem(q)
                hs[g] = hp.rep.to_list()
            points.append(AlgebraicPoint(rep, (QQ.convert(a), QQ.convert(b)), hs, gens))
    return points
