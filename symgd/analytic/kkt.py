"""Lagrange and KKT points by enumerating active sets, classified on the constraint set.

Constraints are ``e_j(x) = lhs - rhs`` with relation ``==``, ``<=`` (e <= 0) or ``>=`` (e >= 0);
bounds arrive as ``x >= l`` / ``x <= u``. For each active set S (all equalities plus a subset A of
the inequalities) the candidates are the real solutions of

    e_j(x) = 0 (j in S),   rank [grad f; grad e_S] <= |S|   (all (|S|+1)-minors vanish),

which are the critical points of f on the face {e_S = 0} *including* the points where the
active gradients are dependent (Fritz John points without a Lagrange multiplier; min x s.t.
y^2 = x^3 has its minimum at the origin, where grad e = 0). Inactive inequalities must hold
strictly, so each point belongs to exactly one active set (a weakly active constraint appears
in the larger set with multiplier 0).

Multipliers: where the active gradients are independent, nu solves grad f = sum_j nu_j grad e_j
exactly. Then ``nu_j = dV/db_j``, the rate of change of the optimal value (user's sense) as the
right-hand side b_j of constraint j grows (envelope theorem; fencing: 25). Inactive: 0.

Sign conditions and classification (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
Thms 12.5-12.6): releasing an active inequality k moves into e_k < 0 (``<=``) or e_k > 0 (``>=``);
f changes at first order by ``-nu_k`` resp. ``+nu_k`` times a positive amount, so s_k = the sign
of that change. Mixed signs: f falls along one feasible direction and rises along another,
so the point is no critical point and is dropped. With W = Hess f - sum nu_j Hess e_j
(the Lagrangian's Hessian) and T(S') = ker grad e_S':

* all s_k >= 0 and W positive definite on T(equalities + inequalities with s_k != 0): strict
  local min (second-order sufficient condition; the bordered Hessian gives the inertia);
* a negative eigenvalue of W on T(S), or some s_k < 0: not a local min; symmetric for max;
* neither min nor max: saddle; otherwise ``degenerate``. Points without multipliers are
  ``degenerate`` unless the optimum is shown attained there.

A KKT point (``kkt: true``) is one whose signs fit the problem's sense (s_k >= 0 for minimize).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import sympy as sp

from symgd.analytic import linalg
from symgd.analytic.points import UnknownSign
from symgd.analytic.polynomial import is_polynomial_over_q
from symgd.analytic.solve_system import solve_system

MAX_INEQUALITIES = 12


@dataclass(frozen=True)
class Con:
    """A constraint for the analytic method: ``e REL 0`` with e = lhs - rhs."""

    text: str
    relation: str
    e: sp.Expr
    bound_of: str | None = None   # variable name for bounds
    bound_side: str | None = None  # "lower" or "upper"


@dataclass
class Candidate:
    point: object
    classification: str
    how: str
    multipliers: dict | None   # text -> number (AlgNum / ExprNum / 0), or None
    kkt: bool | None
    active: tuple = ()


@dataclass
class ConstrainedResult:
    candidates: list = field(default_factory=list)
    families: list = field(default_factory=list)
    family_samples: list = field(default_factory=list)  # a feasible point of each family
    family_ideals: list = field(default_factory=list)   # an ideal holding it, or None
    undecided: list = field(default_factory=list)
    complete: bool = True
    message: str = ""


def _active_sets(ineq):
    """Subsets of inequality indices, skipping lower and upper bounds of one variable together."""
    idx = range(len(ineq))
    for size in range(len(ineq) + 1):
        for combo in itertools.combinations(idx, size):
            vars_lo = [ineq[i].bound_of for i in combo if ineq[i].bound_side == "lower"]
            vars_hi = [ineq[i].bound_of for i in combo if ineq[i].bound_side == "upper"]
            if set(vars_lo) & set(vars_hi):
                continue  # l < u: both bounds of one variable cannot be active
            yield combo


def constrained_points(f, gens, cons, *, sense, deadline=None) -> ConstrainedResult:
    """All Lagrange/KKT/Fritz-John points of f subject to ``cons`` (see the module docstring)."""
    gens = tuple(gens)
    n = len(gens)
    eqc = [c for c in cons if c.relation == "=="]
    ineq = [c for c in cons if c.relation != "=="]
    out = ConstrainedResult()
    if len(ineq) > MAX_INEQUALITIES:
        out.complete = False
        out.undecided.append(f"{len(ineq)} inequalities: more than {MAX_INEQUALITIES} "
                             "active-set combinations to enumerate")
        return out
    grad_f = [sp.diff(f, g) for g in gens]
    hess_f = [[sp.diff(f, a, b) for b in gens] for a in gens]
    cache = {}

    def grad(c):
        if c.text not in cache:
            cache[c.text] = ([sp.diff(c.e, g) for g in gens],
                             [[sp.diff(c.e, a, b) for b in gens] for a in gens])
        return cache[c.text]

    polynomial = is_polynomial_over_q([f] + [c.e for c in cons], gens)
    for combo in _active_sets(ineq):
        active = eqc + [ineq[i] for i in combo]
        inactive = [c for i, c in enumerate(ineq) if i not in combo]
        system = [c.e for c in active]
        if active and len(active) < n:
            M = sp.Matrix([grad_f] + [grad(c)[0] for c in active])
            k = len(active) + 1
            for cols in itertools.combinations(range(n), k):
                system.append(sp.expand(M[:, list(cols)].det(method="berkowitz")))
        elif not active:
            system = list(grad_f)
        res = solve_system(system, gens, objective=None)
        if not res.complete:
            out.complete = False
            if res.message:
                out.message = res.message
        out.undecided.extend(res.undecided)
        for desc, sample, ideal in zip(res.families, res.family_samples, res.family_ideals):
            if _off_face(ideal, inactive, gens):
                continue  # no point of it is in this active set's face: nothing undecided
            ok = sample is not None and _feasible(sample, inactive)
            if ok:
                cand = _candidate(sample, f, gens, grad_f, hess_f, active, grad, cons, sense)
                ok = cand is not None
            label = f"{desc} (active: {', '.join(c.text for c in active) or 'none'})"
            if ok:
                out.families.append(label)
                out.family_samples.append(sample)
                out.family_ideals.append(ideal)
            else:
                out.undecided.append(label)
        for pt in res.points:
            try:
                if not _feasible(pt, inactive):
                    continue
                cand = _candidate(pt, f, gens, grad_f, hess_f, active, grad, cons, sense)
            except UnknownSign:
                out.complete = False
                continue
            if cand is not None:
                if not active:  # interior point: the unconstrained test with finer tests
                    from symgd.analytic.classify import classify_free
                    cand.classification, cand.how = classify_free(
                        f, gens, pt, hess_f, polynomial=polynomial)
                out.candidates.append(cand)
    if not polynomial:
        out.complete = False
    return out


def _off_face(ideal, inactive, gens) -> bool:
    """True when no point of V(ideal) keeps every inactive constraint strict.

    An inactive constraint e must hold strictly (e < 0 or e > 0). If e reduces modulo a
    Groebner basis of the ideal to a constant that is zero or of the wrong sign, e has that
    value on the whole family (the y = z = 0 line with y > 0 required).
    """
    if not ideal or not inactive:
        return False
    try:
        G = sp.groebner(list(ideal), *gens, order="grevlex", domain="QQ")
        for c in inactive:
            _, r = G.reduce(sp.expand(c.e))
            r = sp.sympify(r)
            if r.free_symbols & set(gens) or not r.is_Rational:
                continue
            if r == 0 or (c.relation == "<=" and r > 0) or (c.relation == ">=" and r < 0):
                return True
    except Exception:  # noqa: BLE001 - not shown off the face: keep it
        return False
    return False


def _feasible(pt, inactive) -> bool:
    for c in inactive:
        s = pt.value(c.e).sign()
        if (c.relation == "<=" and s >= 0) or (c.relation == ">=" and s <= 0):
            return False
    return True


def _candidate(pt, f, gens, grad_f, hess_f, active, grad, cons, sense):
    n = len(gens)
    one = pt.const(1)
    zero = one * 0
    J = [[pt.value(d) for d in grad(c)[0]] for c in active]
    if active and linalg.rank(J, one) < len(active):
        return Candidate(pt, "degenerate", "active constraint gradients are dependent "
                         "(no Lagrange multipliers)", None, None,
                         tuple(c.text for c in active))
    g = [pt.value(d) for d in grad_f]
    nu = linalg.least_squares_multipliers(J, g, one) if active else []
    # stationarity must hold exactly
    for i in range(n):
        r = g[i] - sum((nu[j] * J[j][i] for j in range(len(active))), zero)
        if not r.is_zero():
            return None
    s = {}
    for j, c in enumerate(active):
        if c.relation == "==":
            continue
        sg = nu[j].sign()
        s[j] = -sg if c.relation == "<=" else sg
    if any(v > 0 for v in s.values()) and any(v < 0 for v in s.values()):
        return None  # f falls along one feasible direction and rises along another
    multipliers = {c.text: zero for c in cons}
    for j, c in enumerate(active):
        multipliers[c.text] = nu[j]
    kkt = all(v >= 0 for v in s.values()) if sense == "minimize" else \
        all(v <= 0 for v in s.values())
    try:
        cls, how = _second_order(pt, n, hess_f, active, grad, nu, J, s, one, sense)
    except UnknownSign as exc:
        cls, how = "degenerate", f"second-order test undecided ({exc})"
    return Candidate(pt, cls, how, multipliers, kkt, tuple(c.text for c in active))


def _second_order(pt, n, hess_f, active, grad, nu, J, s, one, sense):
    """(class, how) from the first-order signs s and the Lagrangian's Hessian on T(S)."""
    W = [[pt.value(hess_f[a][b]) for b in range(n)] for a in range(n)]
    for j, c in enumerate(active):
        if nu[j].is_zero():
            continue
        He = grad(c)[1]
        for a in range(n):
            for b in range(n):
                W[a][b] = W[a][b] - nu[j] * pt.value(He[a][b])
    strong = [j for j, c in enumerate(active) if c.relation == "==" or s.get(j, 0) != 0]
    in_all = linalg.reduced_inertia(W, J, one)
    J_plus = [J[j] for j in strong]
    in_plus = in_all if len(strong) == len(active) else linalg.reduced_inertia(W, J_plus, one)
    dim_plus = n - len(strong)
    possible_min = all(v >= 0 for v in s.values())
    possible_max = all(v <= 0 for v in s.values())
    not_min = not possible_min or in_all[1] > 0
    not_max = not possible_max or in_all[0] > 0
    is_min = possible_min and in_plus[0] == dim_plus
    is_max = possible_max and in_plus[1] == dim_plus
    if is_min and is_max:
        cls = "local_min" if sense == "minimize" else "local_max"
    elif is_min:
        cls = "local_min"
    elif is_max:
        cls = "local_max"
    elif not_min and not_max:
        cls = "saddle"
    else:
        cls = "degenerate"
    return cls, ("bordered hessian" if active else "hessian")
