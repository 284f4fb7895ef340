"""Is the optimum attained? Is the objective unbounded? (SPEC §4 ``best`` and ``global``.)

Everything here is about F, the *minimised* objective (f for minimize, -f for maximize).

Attained (then the best critical point is the global optimum, when the list is complete):

* ``coercive``: F is a polynomial whose leading homogeneous form F_d is positive definite,
  so F(x) >= c|x|^d - C and the sublevel sets are compact;
* a compact feasible set (finite bounds on every variable, or a constraint ``g <= 0`` / ``g == 0``
  whose leading form is definite, or linear inequalities that bound a polytope, after
  eliminating linear equalities);
* after eliminating linear equality constraints, the reduced objective is coercive
  (fencing: l = 100 - w gives F = w^2 - 100 w);
* a lower-bound certificate: F written as a positive combination of even powers plus a
  constant L (a sum of squares as the user wrote it, e.g. Rosenbrock, Himmelblau), so
  F >= L everywhere; a critical point where F = L is then a global minimiser even when no
  coercivity is known. Bounded below alone is not enough: ((x-1)^2 + 1) e^(-x/2) is never
  attained at its infimum.

Unbounded (then there is no answer: ``best`` is null, ``global`` false):

* F_d of odd degree, or F_d negative somewhere: F(t v) -> -inf along v with F_d(v) < 0;
* a ray x0 + t d (x0 feasible, the ray feasible for all t >= 0) on which F is a polynomial in t
  with negative leading coefficient.
"""
from __future__ import annotations

import itertools

import sympy as sp
from sympy.polys.domains import QQ

from symgd.analytic.forms import form_sign, leading_form, negative_somewhere, sample_points
from symgd.analytic.polynomial import is_polynomial_over_q


def polynomial_growth(F, gens):
    """("coercive" | "unbounded" | None, direction or None) from F's leading form."""
    if not is_polynomial_over_q([F], gens):
        return None, None
    P = sp.Poly(F, *gens, domain=QQ)
    if P.total_degree() <= 0:
        return None, None
    lead = leading_form(P)
    sign = form_sign(lead)
    if sign == "pd":
        return "coercive", None
    if negative_somewhere(sign):
        for v in sample_points(len(gens), limit=2000):
            if lead(*v) < 0:
                return "unbounded", tuple(v)
        return "unbounded", None
    return None, None


def lower_bound(F):
    """A constant L with F >= L, read from F's written form, or None.

    Accepted shapes: a sum of terms c * b**(2k) (c > 0), c * prod of even powers, even
    functions of that kind nested in products of such, and constants; or, after expansion, a
    polynomial whose monomials all have even exponents and positive coefficients.
    """
    F = sp.sympify(F)
    L = _sos_bound(F)
    if L is not None:
        return L
    gens = sorted(F.free_symbols, key=str)
    if gens and F.is_polynomial(*gens):
        P = sp.Poly(sp.expand(F), *gens)
        const = P.as_expr().subs({g: 0 for g in gens})
        ok = True
        for m, c in P.terms():
            if sum(m) == 0:
                continue
            if not (all(e % 2 == 0 for e in m) and c.is_positive):
                ok = False
                break
        if ok and const.is_number:
            return const
    return None


def _nonneg(term) -> bool:
    """term >= 0 everywhere, by shape."""
    if term.is_number:
        return bool(term.is_nonnegative)
    if term.is_Pow:
        base, exp = term.args
        if exp.is_Integer and exp % 2 == 0 and exp > 0:
            return True
        if exp.is_Rational and exp > 0 and _nonneg(base) and base.is_real:
            return True
        if term.func == sp.exp:
            return True
        return False
    if isinstance(term, sp.exp) or isinstance(term, sp.Abs):
        return True
    if term.is_Mul:
        return all(_nonneg(a) for a in term.args)
    if term.is_Add:
        return all(_nonneg(a) for a in term.args)
    return False


def _sos_bound(F):
    terms = F.args if F.is_Add else (F,)
    const = sp.Integer(0)
    for t in terms:
        if t.is_number:
            const += t
        elif not _nonneg(t):
            return None
    return const


def ray_unbounded(F, gens, bases, constraints):
    """A feasible ray along which F -> -inf, or None.

    ``constraints`` are (relation, e) with e = lhs - rhs; the ray x0 + t d is feasible when
    every equality e(x0 + t d) vanishes identically in t and every inequality polynomial in t
    keeps its sign for t >= 0 (checked by a sufficient coefficient test).
    """
    if not is_polynomial_over_q([F] + [e for _, e in constraints], gens):
        return None
    t = sp.Dummy("t", nonnegative=True)
    n = len(gens)
    dirs = []
    for i in range(n):
        for s in (1, -1):
            d = [0] * n
            d[i] = s
            dirs.append(d)
    for i, j in itertools.combinations(range(n), 2):
        for si, sj in itertools.product((1, -1), repeat=2):
            d = [0] * n
            d[i], d[j] = si, sj
            dirs.append(d)
    for base in bases:
        for d in dirs:
            subs = {g: base[g] + di * t for g, di in zip(gens, d)}
            Ft = sp.Poly(sp.expand(F.xreplace(subs)), t)
            if Ft.degree() < 1 or Ft.LC() >= 0:
                continue
            if all(_ray_feasible(rel, e, subs, t) for rel, e in constraints):
                return {"base": {str(g): base[g] for g in gens}, "direction": d}
    return None


def _ray_feasible(rel, e, subs, t) -> bool:
    p = sp.Poly(sp.expand(e.xreplace(subs)), t)
    coeffs = p.all_coeffs()[::-1]  # c0, c1, ...
    if rel == "==":
        return p.is_zero
    sign = -1 if rel == "<=" else 1  # need sign * p(t) >= 0
    return all(sign * c >= 0 for c in coeffs)


def eliminate_linear_equalities(F, gens, constraints):
    """Solve the linear equalities for some variables; (F', free gens, other constraints, subs).

    Returns None when there is no linear equality (or they are inconsistent).
    """
    lin = [e for rel, e in constraints if rel == "==" and sp.sympify(e).is_polynomial(*gens)
           and sp.Poly(e, *gens).total_degree() <= 1]
    if not lin:
        return None
    try:
        sol = sp.solve(lin, list(gens), dict=True)
    except Exception:  # noqa: BLE001
        return None
    if len(sol) != 1:
        return None
    sol = sol[0]
    free = tuple(g for g in gens if g not in sol)
    rest = []
    for rel, e in constraints:
        e2 = sp.expand(sp.sympify(e).xreplace(sol))
        if e2 == 0:
            continue
        rest.append((rel, e2))
    return sp.expand(F.xreplace(sol)), free, rest, sol


def compact_feasible_set(gens, constraints) -> bool:
    """A sufficient test that the feasible set is bounded (it is closed anyway).

    After eliminating linear equalities: every remaining variable is boxed by single-variable
    linear inequalities, or some constraint ``g <= 0`` (``g == 0``) has a positive (definite)
    leading form, or the linear inequalities together bound every variable (a polytope:
    finite maximum and minimum of each variable by exact linear programming).
    """
    elim = eliminate_linear_equalities(sp.Integer(0), gens, constraints)
    if elim is not None:
        _, free, rest, _ = elim
    else:
        free, rest = tuple(gens), list(constraints)
    if not free:
        return True
    lower, upper = set(), set()
    for rel, e in rest:
        e = sp.sympify(e)
        syms = e.free_symbols & set(free)
        if not is_polynomial_over_q([e], free):
            continue
        P = sp.Poly(e, *free, domain=QQ)
        if len(syms) == 1 and P.total_degree() == 1:
            (v,) = syms
            a = P.coeff_monomial(v)
            # a*v + b REL 0
            le = (rel == "<=" and a > 0) or (rel == ">=" and a < 0)
            ge = (rel == ">=" and a > 0) or (rel == "<=" and a < 0)
            if rel == "==":
                le = ge = True
            if le:
                upper.add(v)
            if ge:
                lower.add(v)
            continue
        if P.total_degree() >= 2:
            sign = form_sign(leading_form(P))
            if (rel == "<=" and sign == "pd") or (rel == ">=" and sign == "nd") or \
                    (rel == "==" and sign in ("pd", "nd")):
                return True
    if all(v in lower and v in upper for v in free):
        return True
    return _bounded_polyhedron(free, rest)


def _bounded_polyhedron(free, constraints) -> bool:
    """The linear inequalities alone bound every variable (the simplex x + y <= 30, x, y >= 0).

    Exact rational simplex (SymPy's ``lpmax``/``lpmin``): each variable has a finite maximum
    and minimum over {linear constraints}, a superset of the feasible set. An empty
    polyhedron proves nothing here (False): "attained" must never rest on an empty set.
    """
    try:
        from sympy.solvers.simplex import InfeasibleLPError, UnboundedLPError, lpmax, lpmin
    except ImportError:  # an older SymPy: only the box test above
        return False
    rels = []
    for rel, e in constraints:
        e = sp.sympify(e)
        if rel == "==" or not is_polynomial_over_q([e], free) or \
                sp.Poly(e, *free, domain=QQ).total_degree() > 1:
            continue
        rels.append(e <= 0 if rel == "<=" else e >= 0)
    if not rels:
        return False
    try:
        for v in free:
            lpmax(v, rels)
            lpmin(v, rels)
    except (InfeasibleLPError, UnboundedLPError):
        return False
    except Exception:  # noqa: BLE001 - a solver failure proves nothing
        return False
    return True
