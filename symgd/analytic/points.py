"""Exact numbers at a critical point, with exact signs.

A real solution of a polynomial system over Q is written as a *rational univariate
representation*: a real root ``alpha`` of an irreducible ``q(t)`` in Q[t], and coordinates
``x_i = h_i(alpha)`` with ``h_i`` in Q[t] (Rouillier, "Solving zero-dimensional systems
through the rational univariate representation", AAECC 9, 1999). Every quantity we need
(objective value, Hessian entries, characteristic-polynomial coefficients, constraint values,
multipliers) is then an element of the field Q(alpha) = Q[t]/(q), and

* it is zero exactly when its remainder modulo ``q`` is the zero polynomial;
* otherwise its sign is the sign of ``r(a)`` for any rational ``a`` in an isolating interval
  ``[a, b]`` of ``alpha`` on which ``r`` has no real root (Sturm counting, exact).

So signs are decided exactly, never by a tolerance. Rational points are the case deg q = 1.

Points that come from SymPy's solvers (non-polynomial systems: ``pi/2``, ``log(2)``) are
:class:`ExprPoint` s; their numbers are SymPy expressions whose sign is read from a 60-digit
evaluation when it is clearly away from zero and proven zero by simplification otherwise; when
neither works the sign is *unknown* (:class:`UnknownSign`), and the classifier then says
``degenerate`` rather than guess.
"""
from __future__ import annotations

import mpmath
import sympy as sp
from sympy.polys.densearith import (dup_add, dup_mul, dup_mul_ground, dup_neg, dup_rem,
                                    dup_sub)
from sympy.polys.densebasic import dup_degree, dup_strip
from sympy.polys.densetools import dup_eval
from sympy.polys.domains import QQ
from sympy.polys.euclidtools import dup_invert
from sympy.polys.rootisolation import dup_count_real_roots, dup_refine_real_root

DIGITS = 30  # digits of the decimal form of an algebraic number (SPEC §4)


class UnknownSign(ArithmeticError):
    """The sign of a number could not be decided (only for :class:`ExprPoint`)."""


# ----------------------------------------------------------------------------------------
# Elements of Q(alpha)
# ----------------------------------------------------------------------------------------
class AlgNum:
    """An element r(alpha) of Q(alpha), stored as a dense QQ coefficient list, deg < deg q."""

    __slots__ = ("rep", "pt")

    def __init__(self, rep, pt: "AlgebraicPoint"):
        self.rep = rep
        self.pt = pt

    def _lift(self, other):
        if isinstance(other, AlgNum):
            return other.rep
        return self.pt.const(other).rep

    def __add__(self, other):
        return AlgNum(dup_add(self.rep, self._lift(other), QQ), self.pt)

    __radd__ = __add__

    def __sub__(self, other):
        return AlgNum(dup_sub(self.rep, self._lift(other), QQ), self.pt)

    def __rsub__(self, other):
        return AlgNum(dup_sub(self._lift(other), self.rep, QQ), self.pt)

    def __neg__(self):
        return AlgNum(dup_neg(self.rep, QQ), self.pt)

    def __mul__(self, other):
        if not isinstance(other, AlgNum):
            return AlgNum(dup_mul_ground(self.rep, QQ.convert(sp.Rational(other)), QQ)
                          if other != 0 else [], self.pt)
        return AlgNum(self.pt.reduce(dup_mul(self.rep, other.rep, QQ)), self.pt)

    __rmul__ = __mul__

    def inverse(self) -> "AlgNum":
        if not self.rep:
            raise ZeroDivisionError("inverse of zero in Q(alpha)")
        return AlgNum(dup_invert(self.rep, self.pt.q, QQ), self.pt)

    def __truediv__(self, other):
        if not isinstance(other, AlgNum):
            return self * (sp.Rational(1) / sp.Rational(other))
        return self * other.inverse()

    def is_zero(self) -> bool:
        return not self.rep

    def sign(self) -> int:
        return self.pt.sign_of(self.rep)

    def to_mpf(self, dps: int = DIGITS + 20):
        return self.pt.eval_rep(self.rep, dps)

    def __float__(self) -> float:
        return float(self.to_mpf(30))


class AlgebraicPoint:
    """A real point x = h(alpha), alpha the ``index``-th real root of an irreducible q."""

    kind = "algebraic"

    def __init__(self, q, interval, coords: dict, gens):
        self.q = dup_strip([QQ.convert(c) for c in q])
        if self.q[0] != 1:  # monic
            lc = self.q[0]
            self.q = [c / lc for c in self.q]
        self.a, self.b = QQ.convert(interval[0]), QQ.convert(interval[1])
        self.degree = dup_degree(self.q)
        self.gens = tuple(gens)
        self.coords = {s: self.reduce([QQ.convert(c) for c in h]) for s, h in coords.items()}
        self._pow = {}
        self._num_cache = {}

    # -- field operations --------------------------------------------------------------
    def reduce(self, rep):
        rep = dup_strip(rep)
        if rep and dup_degree(rep) >= self.degree:
            rep = dup_rem(rep, self.q, QQ)
        return rep

    def const(self, value) -> AlgNum:
        value = QQ.convert(sp.Rational(value)) if not isinstance(value, type(QQ(1))) else value
        return AlgNum([value] if value else [], self)

    def coord(self, sym) -> AlgNum:
        return AlgNum(self.coords[sym], self)

    def _power(self, sym, e):
        key = (sym, e)
        if key not in self._pow:
            if e == 0:
                self._pow[key] = [QQ(1)]
            else:
                self._pow[key] = self.reduce(dup_mul(self._power(sym, e - 1), self.coords[sym], QQ))
        return self._pow[key]

    def value(self, expr) -> AlgNum:
        """The exact value of a polynomial expression (rational coefficients) at this point."""
        expr = sp.sympify(expr)
        if expr.is_Number:
            return self.const(expr)
        gens = [g for g in self.gens if g in expr.free_symbols]
        extra = expr.free_symbols - set(self.coords)
        if extra:
            raise ValueError(f"no value for {sorted(map(str, extra))}")
        if not expr.is_polynomial(*gens):  # a rational function: numerator / denominator
            num, den = sp.together(expr).as_numer_denom()
            if den.free_symbols:
                d = self.value(den)
                if d.is_zero():
                    raise UnknownSign(f"{expr} is not finite at this point")
                return self.value(num) * d.inverse()
        poly = sp.Poly(expr, *gens, domain=QQ) if gens else None
        if poly is None:
            return self.const(expr)
        acc = []
        for monom, coeff in poly.terms():
            term = [QQ.convert(coeff)]
            for g, e in zip(gens, monom):
                if e:
                    term = self.reduce(dup_mul(term, self._power(g, e), QQ))
            acc = dup_add(acc, term, QQ)
        return AlgNum(self.reduce(acc), self)

    # -- signs and numerics -------------------------------------------------------------
    def sign_of(self, rep) -> int:
        """Exact sign of r(alpha): refine alpha's interval until r has no root in it."""
        rep = dup_strip(rep)
        if not rep:
            return 0
        if dup_degree(rep) == 0:
            return 1 if rep[0] > 0 else -1
        if self.degree == 1:
            v = dup_eval(rep, self.a, QQ)
            return (v > 0) - (v < 0)
        while dup_count_real_roots(rep, QQ, self.a, self.b) > 0:
            self._refine((self.b - self.a) / 64)
        v = dup_eval(rep, self.a, QQ)
        return 1 if v > 0 else -1

    def _refine(self, eps):
        if self.degree == 1 or self.a == self.b:
            return
        self.a, self.b = dup_refine_real_root(self.q, self.a, self.b, QQ, eps=eps)

    def alpha_mpf(self, dps: int):
        """alpha to about ``dps`` digits (interval refined below 10**-(dps+5))."""
        if dps in self._num_cache:
            return self._num_cache[dps]
        if self.degree == 1:
            val = -self.q[1] / self.q[0]
            with mpmath.workdps(dps + 10):
                out = mpmath.mpf(int(val.numerator)) / int(val.denominator)
        else:
            width = QQ(1, 10 ** (dps + 5))
            scale = max(abs(self.a), abs(self.b), QQ(1))
            if self.b - self.a > width * scale:
                self._refine(width * scale)
            mid = (self.a + self.b) / 2
            with mpmath.workdps(dps + 10):
                out = mpmath.mpf(int(mid.numerator)) / int(mid.denominator)
        self._num_cache[dps] = out
        return out

    def eval_rep(self, rep, dps: int):
        with mpmath.workdps(dps + 10):
            alpha = self.alpha_mpf(dps + 10)
            acc = mpmath.mpf(0)
            for c in rep:
                acc = acc * alpha + mpmath.mpf(int(c.numerator)) / int(c.denominator)
        return acc

    # -- output ---------------------------------------------------------------------------
    def radical_alpha(self):
        """alpha in radicals, when SymPy finds a real radical form of moderate size, else None."""
        if hasattr(self, "_radical"):
            return self._radical
        self._radical = None
        t = sp.Dummy("t")
        if self.degree == 1:
            self._radical = sp.Rational(-self.q[1] / self.q[0])
            return self._radical
        if self.degree > 4:
            return None
        qexpr = sum(sp.Rational(c) * t ** (len(self.q) - 1 - i) for i, c in enumerate(self.q))
        try:
            rts = sp.roots(sp.Poly(qexpr, t), cubics=True, quartics=True)
        except Exception:  # noqa: BLE001 - no radical form is an answer, not an error
            return None
        if sum(rts.values()) != self.degree:
            return None
        target = self.alpha_mpf(40)
        for r in rts:
            if r.has(sp.I) or len(sp.sstr(r)) > 200:
                continue
            if abs(sp.N(r, 40) - sp.Float(target, 40)) < sp.Float(10) ** -25:
                self._radical = r
                break
        return self._radical

    def exact_string(self, num: AlgNum, radicals: bool = True):
        """(text, kind): the exact form of a number of Q(alpha), or its 30-digit decimal.

        Rationals are always exact; irrational numbers are written with radicals when
        ``radicals`` and a short real radical form exists, else as 30-digit decimals.
        """
        rep = num.rep
        if not rep or dup_degree(rep) == 0:
            return sp.sstr(sp.Rational(rep[0]) if rep else sp.Integer(0)), "exact"
        rad = self.radical_alpha() if radicals else None
        if rad is not None:
            t = sp.Dummy("t")
            expr = sum(sp.Rational(c) * t ** (len(rep) - 1 - i) for i, c in enumerate(rep))
            val = sp.radsimp(sp.expand(expr.subs(t, rad)))
            if self.degree > 2:
                val = sp.nsimplify(val) if len(sp.sstr(val)) > 200 else val
            text = sp.sstr(val)
            if len(text) <= (200 if self.degree <= 2 else 100) and not val.has(sp.I):
                return text, "exact"
        return decimal_string(num.to_mpf(DIGITS + 10)), "algebraic"

    def key(self):
        """A hashable key (coordinates to 25 digits) used to merge duplicate solutions."""
        return tuple(mpmath.nstr(self.coord(g).to_mpf(30), 25) for g in self.gens)


def decimal_string(value, digits: int = DIGITS) -> str:
    """``value`` (an mpf) with ``digits`` significant digits, in plain Python syntax."""
    if value == 0:
        return "0"
    text = mpmath.nstr(value, digits, min_fixed=-5, max_fixed=digits + 5, strip_zeros=True)
    return text


# ----------------------------------------------------------------------------------------
# Points given by SymPy expressions
# ----------------------------------------------------------------------------------------
class ExprNum:
    """A number given by a SymPy expression (from SymPy's solvers)."""

    __slots__ = ("expr",)

    def __init__(self, expr):
        self.expr = sp.sympify(expr)

    def _lift(self, other):
        return other.expr if isinstance(other, ExprNum) else sp.sympify(other)

    def __add__(self, other):
        return ExprNum(self.expr + self._lift(other))

    __radd__ = __add__

    def __sub__(self, other):
        return ExprNum(self.expr - self._lift(other))

    def __rsub__(self, other):
        return ExprNum(self._lift(other) - self.expr)

    def __neg__(self):
        return ExprNum(-self.expr)

    def __mul__(self, other):
        return ExprNum(self.expr * self._lift(other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        return ExprNum(self.expr / self._lift(other))

    def inverse(self):
        return ExprNum(1 / self.expr)

    def is_zero(self) -> bool:
        return self.sign() == 0

    def sign(self) -> int:
        return expr_sign(self.expr)

    def to_mpf(self, dps: int = DIGITS + 20):
        val = sp.N(self.expr, dps + 10)
        return mpmath.mpf(sp.re(val)._to_mpmath(dps * 4))

    def __float__(self) -> float:
        return float(sp.re(sp.N(self.expr, 30)))


def expr_sign(expr) -> int:
    """Sign of a constant SymPy expression; :class:`UnknownSign` when it cannot be decided.

    A value whose 60-digit evaluation exceeds 1e-40 in size has that sign (the evaluation
    error of ``evalf`` at 60 digits is far smaller); a smaller one is zero only when
    simplification proves it.
    """
    expr = sp.sympify(expr)
    if expr.is_Number:
        return int(bool(expr > 0)) - int(bool(expr < 0))
    if expr.free_symbols:
        raise UnknownSign(f"not a number: {expr}")
    try:
        val = sp.N(expr, 60)
    except Exception as exc:  # noqa: BLE001
        raise UnknownSign(str(exc)) from None
    re_, im_ = val.as_real_imag()
    if im_ != 0 and abs(im_) > sp.Float("1e-40"):
        raise UnknownSign(f"complex value {val}")
    if re_.is_Number and abs(re_) > sp.Float("1e-40"):
        return 1 if re_ > 0 else -1
    try:
        simp = sp.simplify(expr)
    except Exception:  # noqa: BLE001
        simp = expr
    if simp == 0 or simp.equals(0):
        return 0
    raise UnknownSign(f"cannot decide the sign of {expr}")


class ExprPoint:
    """A real point whose coordinates are SymPy expressions (``pi/2``, ``log(2)``)."""

    kind = "expr"
    degree = 0

    def __init__(self, coords: dict, gens):
        self.gens = tuple(gens)
        self.coords = {s: sp.sympify(v) for s, v in coords.items()}

    def const(self, value) -> ExprNum:
        return ExprNum(value)

    def coord(self, sym) -> ExprNum:
        return ExprNum(self.coords[sym])

    def value(self, expr) -> ExprNum:
        expr = sp.sympify(expr)
        val = expr.xreplace(self.coords)
        if val.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise UnknownSign(f"{expr} is not finite at this point")
        return ExprNum(val)

    def exact_string(self, num: ExprNum, radicals: bool = True):
        expr = num.expr
        try:
            simp = sp.simplify(expr) if len(sp.sstr(expr)) < 400 else expr
        except Exception:  # noqa: BLE001
            simp = expr
        text = sp.sstr(simp)
        if (radicals or simp.is_Rational) and len(text) <= 200 and not simp.has(sp.I):
            return text, "exact"
        return decimal_string(num.to_mpf(DIGITS + 10)), "algebraic"

    def key(self):
        return tuple(mpmath.nstr(self.coord(g).to_mpf(30), 25) for g in self.gens)


def rational_point(values: dict, gens) -> AlgebraicPoint:
    """A point with rational coordinates, as a degree-1 algebraic point."""
    coords = {s: [QQ.convert(sp.Rational(v))] if sp.Rational(v) != 0 else [] for s, v in
              values.items()}
    return AlgebraicPoint([QQ(1), QQ(0)], (QQ(0), QQ(0)), coords, gens)

