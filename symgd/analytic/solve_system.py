"""Real solutions of a system of equations, exact where possible, honest where not.

* Polynomials over Q (after ``rationalize``): :func:`symgd.analytic.polynomial.real_solutions`,
  complete by construction.
* Rational functions: the numerators' real solutions, minus the points where a denominator
  vanishes; complete.
* Separable transcendental systems (each equation in one unknown, e.g. ``cos(x) = 0``,
  ``-sin(y) = 0`` for sin(x) + cos(y)): ``solveset`` over the reals per unknown. A
  ``FiniteSet`` is complete; an ``ImageSet`` ``{a*n + b : n in Z}`` is a periodic family,
  reported with its representative ``b mod a`` and the description ``x = b + a*k``.
* Anything else: ``sympy.solve``; every candidate is substituted back and kept only when the
  residual is exactly zero (or below 1e-40 at 60 digits) and its coordinates are real. The list
  is then not known to be complete, and an empty list means "unknown", never "none".
  (``sympy.solve`` returns 4 of Himmelblau's 9 critical points, hence the polynomial path.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symgd.analytic.points import ExprPoint, UnknownSign, expr_sign
from symgd.analytic.polynomial import is_polynomial_over_q, rationalize, real_solutions

INTEGER_LETTERS = ["k", "m", "j", "l", "p", "r"]


@dataclass
class SystemResult:
    points: list = field(default_factory=list)
    families: list = field(default_factory=list)    # descriptions (str)
    family_samples: list = field(default_factory=list)  # one point per family (or None)
    # per family, generators over Q of an ideal whose variety holds it (or None)
    family_ideals: list = field(default_factory=list)
    undecided: list = field(default_factory=list)
    complete: bool = True
    message: str = ""


def solve_system(eqs, gens, *, objective=None) -> SystemResult:
    """All real solutions of ``eqs == 0`` in ``gens`` (see the module docstring).

    ``objective`` (optional) is checked for periodicity: if it is periodic in a variable,
    every solution found starts a periodic family of critical points.
    """
    gens = tuple(gens)
    eqs = [rationalize(sp.sympify(e)) for e in eqs]
    eqs = [e for e in eqs if e != 0]
    if is_polynomial_over_q(eqs, gens):
        return _from_poly(real_solutions(eqs, gens))
    nums, dens = [], []
    for e in eqs:
        n, d = sp.together(e).as_numer_denom()
        nums.append(sp.expand(n))
        dens.append(d)
    if is_polynomial_over_q(nums + dens, gens):
        res = _from_poly(real_solutions(nums, gens))
        res.points = [p for p in res.points if not any(p.value(d).is_zero() for d in dens)]
        kept, samples, ideals = [], [], []
        for desc, sample, ideal in zip(res.families, res.family_samples, res.family_ideals):
            if sample is not None and not any(sample.value(d).is_zero() for d in dens):
                kept.append(desc)
                samples.append(sample)
                ideals.append(ideal)
            else:
                res.undecided.append(desc)
        res.families, res.family_samples, res.family_ideals = kept, samples, ideals
        return res
    separable = _separable(eqs, gens)
    if separable is not None:
        return separable
    return _general(eqs, gens, objective)


def _from_poly(pr) -> SystemResult:
    return SystemResult(points=list(pr.points), families=[d for d, _, _ in pr.families],
                        family_samples=[s for _, s, _ in pr.families],
                        family_ideals=[list(g) for _, _, g in pr.families],
                        undecided=list(pr.undecided), complete=True)


# ---------------------------------------------------------------------------------------
# separable systems: solveset per unknown
# ---------------------------------------------------------------------------------------
def _separable(eqs, gens):
    by_var = {g: [] for g in gens}
    for e in eqs:
        syms = e.free_symbols & set(gens)
        if len(syms) > 1:
            return None
        if not syms:
            return SystemResult(complete=True)  # a nonzero constant: no solution
        by_var[next(iter(syms))].append(e)
    per_var = {}
    for g in gens:
        if not by_var[g]:
            per_var[g] = None  # free
            continue
        try:
            sol = sp.solveset(by_var[g][0], g, sp.S.Reals)
        except Exception:  # noqa: BLE001 - fall back to sympy.solve
            return None
        items = _set_items(sol)
        if items is None:
            return None
        kept = []
        for value, period in items:
            try:
                if all(expr_sign(e.subs(g, value)) == 0 for e in by_var[g][1:]):
                    kept.append((value, period))
            except UnknownSign:
                return None
        per_var[g] = kept
    res = SystemResult(complete=True)
    combos = [{}]
    for g in gens:
        options = per_var[g]
        if options is None:
            options = [(sp.Integer(0), "free")]
        combos = [dict(c, **{g.name: (g, v, p)}) for c in combos for v, p in options]
    for combo in combos:
        coords = {g: v for g, v, _ in combo.values()}
        pt = ExprPoint(coords, gens)
        parts, letters, used = [], iter(INTEGER_LETTERS), []
        periodic = False
        for g, v, p in combo.values():
            if p == "free":
                parts.append(f"{g} free")
                periodic = True
            elif p is not None:
                k = sp.Symbol(next(letters, "n"), integer=True)
                used.append(str(k))
                parts.append(f"{g} = {sp.sstr(v + p * k)}")
                periodic = True
            else:
                parts.append(f"{g} = {sp.sstr(v)}")
        res.points.append(pt)
        if periodic:
            desc = ", ".join(parts) + (f" ({', '.join(used)} integers)" if used else "")
            res.families.append(desc)
            res.family_samples.append(pt)
            res.family_ideals.append(None)
    return res


def _set_items(sol):
    """[(value, period or None)] for a FiniteSet / ImageSet / Union of them, else None."""
    if sol is sp.S.EmptySet:
        return []
    if isinstance(sol, sp.FiniteSet):
        vals = list(sol.args)
        if all(v.is_real is not False and not v.free_symbols for v in vals):
            return [(v, None) for v in vals]
        return None
    if isinstance(sol, sp.Union):
        out = []
        for a in sol.args:
            items = _set_items(a)
            if items is None:
                return None
            out.extend(items)
        return out
    if isinstance(sol, sp.ImageSet) and sol.base_sets == (sp.S.Integers,):
        lam = sol.lamda
        (n,) = lam.variables
        expr = sp.expand(lam.expr)
        if not expr.is_polynomial(n) or sp.Poly(expr, n).degree() != 1:
            return None
        a, b = sp.Poly(expr, n).all_coeffs()
        a = abs(a)
        rep = sp.simplify(b - a * sp.floor(b / a))
        return [(rep, a)]
    return None


# ---------------------------------------------------------------------------------------
# the general case: sympy.solve, each candidate checked
# ---------------------------------------------------------------------------------------
def periods(expr, gens) -> dict:
    """{x: T} for each variable in which ``expr`` is T-periodic (T from its trig arguments).

    x counts as periodic when every occurrence of x is inside sin, cos or tan of an argument
    ``a*x + (terms without x)`` with rational a; T = lcm of 2*pi/a (pi/a for tan), and
    ``expr(x + T) == expr(x)`` is checked by simplification.
    """
    out = {}
    expr = sp.sympify(expr)
    for g in gens:
        if not expr.has(g):
            continue
        mults = []
        ok = True
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.sin, sp.cos, sp.tan)) and node.has(g):
                arg = sp.expand(node.args[0])
                a = arg.coeff(g)
                if not a.is_Rational or a == 0 or (arg - a * g).has(g):
                    ok = False
                    break
                base = sp.Rational(1, 2) if isinstance(node, sp.tan) else sp.Integer(1)
                mults.append(base / abs(a))
        if not ok or not mults:
            continue
        stripped = expr.replace(lambda n: isinstance(n, (sp.sin, sp.cos, sp.tan)) and n.has(g),
                                lambda n: sp.Integer(0))
        if stripped.has(g):
            continue
        num = sp.ilcm(*[m.p for m in mults]) if len(mults) > 1 else mults[0].p
        den = sp.igcd(*[m.q for m in mults]) if len(mults) > 1 else mults[0].q
        T = 2 * sp.pi * sp.Rational(num, den)
        try:
            if sp.simplify(expr.subs(g, g + T) - expr) == 0:
                out[g] = T
        except Exception:  # noqa: BLE001
            pass
    return out


def _general(eqs, gens, objective) -> SystemResult:
    res = SystemResult(complete=False)
    try:
        sols = sp.solve(eqs, list(gens), dict=True)
    except NotImplementedError as exc:
        res.message = f"SymPy cannot solve the system ({exc})"
        return res
    except Exception as exc:  # noqa: BLE001 - a solver failure means "unknown"
        res.message = f"SymPy's solver failed: {type(exc).__name__}: {exc}"
        return res
    per = periods(objective, gens) if objective is not None else {}
    seen = set()
    for sol in sols:
        free = [g for g in gens if g not in sol or sol[g].free_symbols]
        if free:
            desc = _parametric(sol, gens, eqs)
            if desc is not None:
                res.families.append(desc)
                res.family_samples.append(None)
                res.family_ideals.append(None)
            continue
        coords = {g: sol[g] for g in gens}
        try:
            if any(expr_sign(sp.im(v)) != 0 for v in coords.values()):
                continue
            coords = {g: sp.re(v) if v.has(sp.I) else v for g, v in coords.items()}
            if any(expr_sign(e.xreplace(coords)) != 0 for e in eqs):
                continue
        except UnknownSign:
            continue
        pt = ExprPoint(coords, gens)
        key = pt.key()
        if key in seen:
            continue
        seen.add(key)
        res.points.append(pt)
        if per:
            letters = iter(INTEGER_LETTERS)
            parts = []
            for g in gens:
                if g in per:
                    k = sp.Symbol(next(letters, "n"), integer=True)
                    parts.append(f"{g} = {sp.sstr(coords[g] + per[g] * k)}")
                else:
                    parts.append(f"{g} = {sp.sstr(coords[g])}")
            res.families.append(", ".join(parts) + " (integer shifts by the period)")
            res.family_samples.append(pt)
            res.family_ideals.append(None)
    if not sols:
        res.message = "SymPy returned no solution; that does not prove there is none"
    return res


def _parametric(sol, gens, eqs):
    """Description of a parametric solution if it is real for random real parameters."""
    import random

    rng = random.Random(7)
    free = sorted({s for v in sol.values() for s in v.free_symbols} |
                  {g for g in gens if g not in sol}, key=str)
    for _ in range(3):
        subs = {s: sp.Rational(rng.randint(-50, 50), rng.randint(1, 9)) for s in free}
        vals = {g: (sol[g].xreplace(subs) if g in sol else subs[g]) for g in gens}
        try:
            if all(expr_sign(sp.im(v)) == 0 for v in vals.values()) and \
                    all(expr_sign(e.xreplace(vals)) == 0 for e in eqs):
                parts = [f"{g} = {sp.sstr(sol[g])}" for g in gens if g in sol]
                parts += [f"{g} free" for g in gens if g not in sol]
                return ", ".join(parts)
        except (UnknownSign, ZeroDivisionError):
            continue
    return None
