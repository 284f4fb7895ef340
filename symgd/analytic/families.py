"""The objective's values on families of critical points, compared with an isolated point.

A family is a positive-dimensional set of critical points (a line, a circle, a face of a
simplex). Every family found by the polynomial path lies in the complex variety V(I) of an
ideal I = (g_1, ..., g_m) over Q (a component of grad f = 0, or of a KKT system). The values
that f takes on V(I) are roots of the generator p of the elimination ideal

    (I + (t - f)) ∩ Q[t]

(elimination theorem: Cox, Little, O'Shea, *Ideals, Varieties, and Algorithms*, 4th ed.,
ch. 3 §1-2). The cheap case: when f reduces to a constant c modulo a Groebner basis of I,
f = c on all of V(I) and p = t - c. When the elimination ideal is zero, f takes infinitely
many values on V(I) and nothing is claimed.

Why p is usually nonzero: f is constant along every smooth curve of critical points (its
derivative along the curve is grad f . gamma' = 0), so a polynomial has finitely many critical
values (semi-algebraic Sard). Families of Fritz John points (dependent constraint gradients)
are not critical points of f on a manifold, and f may vary on them; then p = 0.

Comparisons are exact: a value is a real root of p in Q[t] with an isolating interval
[lo, hi] (``lo < root < hi``, or ``lo = hi = root``), and an isolated point's value b lies in
Q(alpha) (:mod:`points`), whose sign against a rational is exact; equality is decided by
p(b) = 0 in Q(alpha), since b then is the one root of p inside [lo, hi].
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.polys.domains import QQ

from symgd.analytic.points import AlgNum, UnknownSign, decimal_string

LEX_MAX_VARIABLES = 4   # beyond this a lex Groebner basis may take longer than the budget
MAX_REFINEMENTS = 200


@dataclass
class RootValue:
    """The real root of ``p`` (a QQ Poly in one variable) inside [lo, hi]."""

    p: sp.Poly
    lo: object
    hi: object

    def text(self) -> str:
        if self.lo == self.hi:
            return sp.sstr(self.lo)
        if self.p.degree() == 1:
            c1, c0 = self.p.all_coeffs()
            return sp.sstr(-c0 / c1)
        self.refine(sp.Rational(1, 10 ** 20) * max(1, abs(self.lo), abs(self.hi)))
        import mpmath
        with mpmath.workdps(40):
            mid = (mpmath.mpf(int(self.lo.p)) / int(self.lo.q) +
                   mpmath.mpf(int(self.hi.p)) / int(self.hi.q)) / 2
            return decimal_string(mid, 15)

    def refine(self, eps=None):
        if self.lo == self.hi:
            return
        eps = eps if eps is not None else (self.hi - self.lo) / 4
        lo, hi = self.p.refine_root(self.lo, self.hi, eps=eps)
        self.lo, self.hi = sp.Rational(lo), sp.Rational(hi)
        self._clear_endpoints()

    def _clear_endpoints(self):
        # SymPy's isolating intervals may end at a neighbouring rational root (t(t-1)(2t-1)
        # gives (0, 1) for 1/2): shrink until the root is strictly inside
        for _ in range(MAX_REFINEMENTS):
            if self.lo == self.hi or (self.p.eval(self.lo) != 0 and self.p.eval(self.hi) != 0):
                return
            lo, hi = self.p.refine_root(self.lo, self.hi, eps=(self.hi - self.lo) / 4)
            self.lo, self.hi = sp.Rational(lo), sp.Rational(hi)
        raise UnknownSign("could not isolate a root of the family's value polynomial")

    def sign_minus(self, b) -> int:
        """sign(root - b) for b an AlgNum (exact) or any number with a float value."""
        if not isinstance(b, AlgNum):
            return self._sign_minus_numeric(b)
        if self.lo == self.hi:
            return (b * -1 + self.lo).sign()
        pb = _horner(self.p, b)
        for _ in range(MAX_REFINEMENTS):
            if (b * -1 + self.lo).sign() >= 0:   # b <= lo < root
                return 1
            if (b * -1 + self.hi).sign() <= 0:   # root < hi <= b
                return -1
            if pb.is_zero():                     # lo < b < hi and p(b) = 0: b is the root
                return 0
            self.refine()
        raise UnknownSign("could not separate a family value from the point's value")

    def _sign_minus_numeric(self, b) -> int:
        # an ExprNum (non-polynomial problems): decided only when clearly apart
        import mpmath
        self.refine(sp.Rational(1, 10 ** 45) * max(1, abs(self.lo), abs(self.hi)))
        with mpmath.workdps(60):
            r = (mpmath.mpf(int(self.lo.p)) / int(self.lo.q) +
                 mpmath.mpf(int(self.hi.p)) / int(self.hi.q)) / 2
            d = r - b.to_mpf(60)
            if abs(d) > mpmath.mpf(10) ** -30 * max(1, abs(r)):
                return 1 if d > 0 else -1
        raise UnknownSign("a family value and the point's value are too close to order "
                          "numerically")

    def contains(self, s: AlgNum) -> bool:
        """Is s (a root of p, exact) this root?"""
        if self.lo == self.hi:
            return (s * -1 + self.lo).is_zero()
        return (s * -1 + self.lo).sign() < 0 and (s * -1 + self.hi).sign() > 0


def _horner(p: sp.Poly, b: AlgNum) -> AlgNum:
    acc = b * 0
    for c in p.all_coeffs():
        acc = acc * b + sp.Rational(c)
    return acc


@dataclass
class FamilyValues:
    """What is known of f's values on one family.

    Attributes:
        description: the family, as in ``AnalyticReport.families``.
        values: every real value f may take on the family (a superset: roots of p), or None
            when unknown.
        attained: index into ``values`` of a value f takes at a real point of the family
            (the family's sample point), or None.
    """

    description: str
    values: list | None
    attained: int | None = None

    def text(self) -> str | None:
        if self.values is None:
            return None
        return " or ".join(v.text() for v in self.values)


def family_values(f, gens, description, ideal, sample) -> FamilyValues:
    """f's possible values on the real points of V(ideal) (see the module docstring)."""
    if ideal is None:
        return FamilyValues(description, None)
    try:
        p = _value_polynomial(f, tuple(gens), ideal)
        if p is None:
            return FamilyValues(description, None)
        values = [RootValue(p, sp.Rational(lo), sp.Rational(hi))
                  for (lo, hi), _ in p.intervals()]
        for v in values:
            v._clear_endpoints()
        if not values:  # no real value although the family has real points: do not guess
            return FamilyValues(description, None)
        attained = _attained(p, values, f, sample)
    except Exception:  # noqa: BLE001 - "unknown" is always a safe answer here
        return FamilyValues(description, None)
    return FamilyValues(description, values, attained)


def _value_polynomial(f, gens, ideal):
    """Square-free generator of (I + (t - f)) ∩ Q[t] in QQ[t], or None when it is zero."""
    t = sp.Dummy("t")
    G = sp.groebner(list(ideal), *gens, order="grevlex", domain=QQ)
    if list(G.exprs) == [1]:
        return None  # no point at all: nothing to say about values
    _, r = G.reduce(sp.expand(f))
    r = sp.expand(r)
    if not (r.free_symbols & set(gens)):
        return sp.Poly(t - r, t, domain=QQ)
    if len(gens) > LEX_MAX_VARIABLES:
        return None
    L = sp.groebner(list(G.exprs) + [t - r], *gens, t, order="lex", domain=QQ)
    univariate = [e for e in L.exprs if not (e.free_symbols & set(gens))]
    if not univariate:
        return None
    p = sp.Poly(univariate[0], t, domain=QQ)
    return p.sqf_part().monic() if p.degree() >= 1 else None


def _attained(p, values, f, sample):
    """Index of the value at the sample point (which lies on the family), or None."""
    if sample is None or sample.kind != "algebraic":
        return None
    s = sample.value(f)
    if not _horner(p, s).is_zero():
        return None  # the sample is not on V(I): should not happen; claim nothing
    for _ in range(MAX_REFINEMENTS):
        hits = [i for i, v in enumerate(values) if v.contains(s)]
        if len(hits) == 1:
            return hits[0]
        for v in values:
            v.refine()
    return None


@dataclass
class Verdict:
    """How an isolated point's value b compares with every family.

    ``kind``: ``"no_better"`` (every value on every family is no better than b),
    ``"better"`` (some family attains a value strictly better than b: ``family``),
    ``"unknown"`` (``undecided`` lists the families whose values could not be compared).
    ``ties`` lists the families that may reach b itself.
    """

    kind: str
    family: FamilyValues | None = None
    undecided: tuple = ()
    ties: tuple = ()


def compare(fams, b, sign) -> Verdict:
    """Compare b (the point's f) with every family; ``sign`` is +1 to minimize, -1 to maximize.

    A value v is better than b when sign * (v - b) < 0.
    """
    undecided, ties = [], []
    for fam in fams:
        if fam.values is None:
            undecided.append(fam)
            continue
        try:
            signs = [sign * v.sign_minus(b) for v in fam.values]
        except UnknownSign:
            undecided.append(fam)
            continue
        if fam.attained is not None and signs[fam.attained] < 0:
            return Verdict("better", family=fam)
        if any(s < 0 for s in signs):
            undecided.append(fam)  # some root beats b, but is it reached at a real point?
        elif any(s == 0 for s in signs):
            ties.append(fam)
    if undecided:
        return Verdict("unknown", undecided=tuple(undecided), ties=tuple(ties))
    return Verdict("no_better", ties=tuple(ties))


def _family_list(fams) -> str:
    return "; ".join(f.description for f in fams)


def family_summary(fvals, sign, verdict) -> str:
    """Words for a point that no family beats: the families' values."""
    texts = [f.text() for f in fvals]
    if len(set(texts)) == 1:
        out = f"f = {texts[0]} on every family of critical points, no better than this point"
    else:
        out = "no family of critical points is better: " + \
            "; ".join(f"f = {t} on {f.description}" for t, f in zip(texts, fvals))
    if verdict.ties:
        n = len(verdict.ties)
        out += (" (a family may reach the same value)" if n == 1 else
                f" ({n} of the families may reach the same value)")
    return out


def family_shortfall(fvals, verdict, sign, best_text) -> str:
    """Words for why no isolated point is given as the answer when there are families."""
    if verdict is not None and verdict.kind == "better":
        fam = verdict.family
        return (f"the family {fam.description} reaches f = {fam.values[fam.attained].text()}, "
                f"better than the best isolated critical point (f = {best_text}): no isolated "
                "point is the optimum")
    unknown = [f for f in fvals if f.values is None]
    if verdict is not None:
        unknown = list(verdict.undecided)
    known = [f for f in fvals if f.values is not None and f not in unknown]
    parts = []
    if unknown:
        against = f" with the best isolated critical point (f = {best_text})" \
            if best_text is not None else ""
        parts.append(f"families of critical points whose values could not be compared{against}: "
                     + _family_list(unknown))
    if known:
        parts.append("; ".join(f"f = {f.text()} on {f.description}" for f in known))
    if best_text is None:
        parts.insert(0, "no isolated local optimum to compare with the families")
    return "; ".join(parts)


def _rational_num(q):
    """A rational as an AlgNum of the field Q (for exact comparisons)."""
    from symgd.analytic.points import rational_point
    return rational_point({}, ()).const(q)


def _best_attained(fvals, sign):
    """(family, RootValue): an attained rational value no worse than any value of any family."""
    if not fvals or any(f.values is None for f in fvals):
        return None
    for cand in fvals:
        if cand.attained is None:
            continue
        v = cand.values[cand.attained]
        if v.lo != v.hi:
            continue  # irrational: comparing two roots of different polynomials is not done here
        q = _rational_num(v.lo)
        try:
            if all(sign * w.sign_minus(q) >= 0 for other in fvals for w in other.values):
                return cand, v
        except UnknownSign:
            continue
    return None


def optimum_on_family(fvals, sign, point_value) -> str | None:
    """Where a proven-attained optimum lies when it is on a family, in words, or None.

    Valid only when the optimum is attained and every critical point is listed or on a
    family: then a family value no worse than every other family value and strictly better
    than every isolated point's (``point_value``, the best of them, or None) is the optimum.
    """
    found = _best_attained(fvals, sign)
    if found is None:
        return None
    fam, v = found
    if point_value is not None:
        try:
            if sign * v.sign_minus(point_value) >= 0:
                return None
        except UnknownSign:
            return None
    return f"f = {v.text()}, attained on the family {fam.description}"


def family_at_bound(fvals, bound) -> str | None:
    """The family attaining f = ``bound`` (a rational that bounds f in the problem's sense)."""
    q = _rational_num(bound)
    for fam in fvals:
        if fam.values is None or fam.attained is None:
            continue
        try:
            if fam.values[fam.attained].sign_minus(q) == 0:
                return fam.description
        except UnknownSign:
            continue
    return None


__all__ = ["FamilyValues", "Verdict", "family_values", "compare", "family_summary",
           "family_shortfall", "optimum_on_family", "family_at_bound"]
