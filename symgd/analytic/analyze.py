"""The closed-form attempt from start to report (runs inside the worker process).

Input is a plain, picklable description of the problem (:func:`payload`); output is an
:class:`~symgd.analytic.report.AnalyticReport`. The steps:

1. rationalize floats, refuse what has no closed form in principle (data fits, non-smooth
   objectives);
2. critical points: grad f = 0 (:mod:`solve_system`), or Lagrange/KKT points by active sets
   (:mod:`kkt`), with bounds as inequalities;
3. classification (:mod:`classify`, bordered Hessians in :mod:`kkt`), and the (reduced)
   Hessian's eigenvalues at each point for the report (:mod:`eigen`);
4. attained / unbounded (:mod:`bounded`) decides ``best`` and ``global`` (SPEC §4);
   with families of critical points, f's values on each family (:mod:`families`) must be
   no better than the point's before it is named ``best``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from symgd.analytic.bounded import (compact_feasible_set, eliminate_linear_equalities,
                                    lower_bound, polynomial_growth, ray_unbounded)
from symgd.analytic.classify import classify_free, hessian
from symgd.analytic.eigen import EigenvalueMaker
from symgd.analytic.families import (compare, family_at_bound, family_shortfall,
                                     family_summary, family_values, optimum_on_family)
from symgd.analytic.kkt import Candidate, Con, constrained_points
from symgd.analytic.points import UnknownSign, expr_sign
from symgd.analytic.polynomial import TooHard, is_polynomial_over_q, rationalize
from symgd.analytic.report import AnalyticReport, CriticalPoint
from symgd.analytic.solve_system import periods, solve_system

NONSMOOTH = (sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise, sp.floor,
             sp.ceiling)


def payload(problem) -> dict:
    """The picklable pieces of a Problem that the closed form needs."""
    return {
        "name": getattr(problem, "name", "problem"),
        "names": [v.name for v in problem.variables],
        "symbols": [v.symbol for v in problem.variables],
        "objective": problem.objective,
        "sense": problem.sense,
        "constraints": [(c.relation, c.lhs, c.rhs, c.text) for c in problem.constraints],
        "bounds": [(v.name, v.lower, v.upper) for v in problem.variables],
        "is_fit": bool(getattr(problem, "is_fit", False)),
    }


def _number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def build_constraints(data) -> list:
    syms = dict(zip(data["names"], data["symbols"]))
    cons = []
    for rel, lhs, rhs, text in data["constraints"]:
        cons.append(Con(text, rel, rationalize(sp.expand(lhs - rhs))))
    for name, lo, hi in data["bounds"]:
        x = syms[name]
        if lo is not None and hi is not None and lo == hi:  # a fixed variable
            cons.append(Con(f"{name} == {_number_text(lo)}", "==",
                            x - sp.Rational(repr(float(lo)))))
            continue
        if lo is not None and lo != float("-inf"):
            cons.append(Con(f"{name} >= {_number_text(lo)}", ">=",
                            x - sp.Rational(repr(float(lo))), name, "lower"))
        if hi is not None and hi != float("inf"):
            cons.append(Con(f"{name} <= {_number_text(hi)}", "<=",
                            x - sp.Rational(repr(float(hi))), name, "upper"))
    return cons


def analyze(data: dict) -> AnalyticReport:
    """The whole closed-form attempt on a :func:`payload`; never raises for bad luck."""
    t0 = time.perf_counter()
    try:
        report = _analyze(data)
    except TooHard as exc:
        report = AnalyticReport(status="no_closed_form", message=f"too large for the closed "
                                f"form: {exc}", complete=False)
    return report.with_time(time.perf_counter() - t0)


def _analyze(data) -> AnalyticReport:
    if data.get("is_fit"):
        return AnalyticReport(status="no_closed_form", complete=False,
                              message="data-fitting problems have no closed form here; "
                                      "use lm, newton or sgd")
    gens = tuple(data["symbols"])
    names = tuple(data["names"])
    sense = data["sense"]
    f = rationalize(sp.sympify(data["objective"]))
    if f.has(*NONSMOOTH):
        return AnalyticReport(status="no_closed_form", complete=False,
                              message="the objective is not differentiable everywhere "
                                      "(Abs, sign, Max, Min, ...); the second-derivative "
                                      "test does not apply")
    cons = build_constraints(data)
    if any(c.e.has(*NONSMOOTH) for c in cons):
        return AnalyticReport(status="no_closed_form", complete=False,
                              message="a constraint is not differentiable everywhere")
    polynomial = is_polynomial_over_q([f] + [c.e for c in cons], gens)
    notes = []
    if not cons:
        res = solve_system([sp.diff(f, g) for g in gens], gens, objective=f)
        H = hessian(f, gens)
        cands = []
        for pt in res.points:
            cls, how = classify_free(f, gens, pt, H, polynomial=polynomial)
            cands.append(Candidate(pt, cls, how, {}, None))
        families, undecided, complete = res.families, res.undecided, res.complete
        # periodic families come with a listed representative each: their values are covered
        fam_data = [FamilyData(d, smp, ideal, any(smp is p for p in res.points))
                    for d, smp, ideal in zip(res.families, res.family_samples,
                                             res.family_ideals)]
        if res.message:
            notes.append(res.message)
    else:
        cres = constrained_points(f, gens, cons, sense=sense)
        cands = cres.candidates
        families, undecided, complete = cres.families, cres.undecided, cres.complete
        fam_data = [FamilyData(d, smp, ideal, False)
                    for d, smp, ideal in zip(cres.families, cres.family_samples,
                                             cres.family_ideals)]
        if cres.message:
            notes.append(cres.message)
    complete = complete and not undecided
    return _report(f, gens, names, sense, cons, cands, fam_data, undecided, complete,
                   polynomial, notes)


@dataclass(frozen=True)
class FamilyData:
    """A family of critical points as found: description, a real point on it, an ideal whose
    variety holds it (polynomial systems), and whether a listed point represents its values
    (periodic families)."""

    description: str
    sample: object
    ideal: list | None
    represented: bool


# ---------------------------------------------------------------------------------------
def _point_record(f, gens, names, cand: Candidate):
    pt = cand.point
    x, exact, kinds = {}, {}, set()
    for g, name in zip(gens, names):
        num = pt.coord(g)
        x[name] = float(num)
        text, kind = pt.exact_string(num)
        exact[name] = text
        kinds.add(kind)
    if "algebraic" in kinds:  # one style per point: no radicals beside decimals
        exact = {name: pt.exact_string(pt.coord(g), radicals=False)[0]
                 for g, name in zip(gens, names)}
    fnum = pt.value(f)
    fun_text, fkind = pt.exact_string(fnum)
    mult = None
    if cand.multipliers is not None:
        mult = {k: (float(v) if not isinstance(v, (int, float)) else float(v))
                for k, v in cand.multipliers.items()}
    return {
        "x": x, "exact": exact, "exact_kind": "algebraic" if "algebraic" in kinds else "exact",
        "fun": float(fnum), "fun_exact": fun_text, "classification": cand.classification,
        "multipliers": mult, "kkt": cand.kkt, "how": cand.how, "active": cand.active,
        "_fnum": fnum, "_cand": cand,
    }


def _equal_values(a, b) -> bool:
    """Exact equality of two objective values at (possibly different) points."""
    ra, rb = getattr(a, "rep", None), getattr(b, "rep", None)
    if ra is not None and rb is not None:
        const = lambda r: (r[0] if r else 0) if len(r) <= 1 else None  # noqa: E731
        ca, cb = const(ra), const(rb)
        if ca is not None and cb is not None:
            return ca == cb
        return False
    ea = getattr(a, "expr", None)
    eb = getattr(b, "expr", None)
    if ea is not None and eb is not None:
        try:
            return expr_sign(ea - eb) == 0
        except UnknownSign:
            return False
    return False


def _report(f, gens, names, sense, cons, cands, fams, undecided, complete, polynomial,
            notes) -> AnalyticReport:
    sign = 1 if sense == "minimize" else -1
    families = [d.description for d in fams]
    # families whose values are not those of a listed point (all but periodic ones)
    open_fams = [d for d in fams if not d.represented]
    # every critical value is among the listed points: needed to call the best one global
    values_covered = complete and not open_fams
    recs = [_point_record(f, gens, names, c) for c in cands]
    # by value, best first; among equal values exact points before algebraic decimals
    recs.sort(key=lambda r: (sign * r["fun"], r["exact_kind"] != "exact",
                             tuple(r["x"].values())))
    F = sign * f  # the minimised objective
    want = "local_min" if sense == "minimize" else "local_max"

    unbounded, attained, why = False, False, ""
    rel_cons = [(c.relation, c.e) for c in cons]
    if not cons:
        growth, direction = polynomial_growth(F, gens)
        if growth == "unbounded":
            unbounded, why = True, "the leading form of the objective is " + \
                ("of odd degree" if sp.Poly(F, *gens).total_degree() % 2 else
                 f"negative along {direction}")
        elif growth == "coercive":
            attained, why = True, "the objective's leading form is definite (coercive)"
    else:
        growth, _ = polynomial_growth(F, gens) if polynomial else (None, None)
        if growth == "coercive":
            attained, why = True, ("the objective's leading form is definite (coercive) and "
                                   "the feasible set is closed")
        elif polynomial and compact_feasible_set(gens, rel_cons):
            attained, why = True, "the feasible set is compact"
        elif polynomial:
            elim = eliminate_linear_equalities(F, gens, rel_cons)
            if elim is not None:
                Fr, free, rest, _ = elim
                growth, _ = polynomial_growth(Fr, free) if free else (None, None)
                if growth == "coercive":
                    attained, why = True, ("the objective restricted to the linear "
                                           "constraints is coercive")
                elif growth == "unbounded" and not rest:
                    unbounded, why = True, ("the objective restricted to the linear "
                                            "constraints is unbounded")
    if not unbounded and not attained and polynomial:
        bases = []
        origin = {g: sp.Integer(0) for g in gens}
        if all(_holds(c, origin) for c in cons):
            bases.append(origin)
        for r in recs[:6]:
            pt = r["_cand"].point
            if pt.kind == "algebraic" and pt.degree == 1:
                bases.append({g: sp.Rational(pt.coords[g][0]) if pt.coords[g] else
                              sp.Integer(0) for g in gens})
        ray = ray_unbounded(F, gens, bases, rel_cons)
        if ray is not None:
            unbounded, why = True, (f"the objective goes to {'-' if sign > 0 else '+'}infinity "
                                    f"along the ray from {ray['base']} in direction "
                                    f"{ray['direction']}")

    per = {} if (cons or polynomial) else periods(f, gens)
    if families and per and set(per) == set(gens) and values_covered:
        attained, why = True, "the objective is periodic in every variable"

    best, global_ = None, None
    fvals, fam_note = [], ""
    if open_fams and not unbounded:
        f_poly = is_polynomial_over_q([f], gens)
        fvals = [family_values(f, gens, d.description, d.ideal if f_poly else None, d.sample)
                 for d in open_fams]
    if unbounded:
        global_ = False
    elif recs and attained and values_covered:
        best, global_ = 0, True
    elif attained and complete and open_fams:
        # every critical point is listed or on a family: the optimum is the best of their values
        verdict = compare(fvals, recs[0]["_fnum"], sign) if recs else None
        if verdict is not None and verdict.kind == "no_better":
            best, global_ = 0, True
            why += "; " + family_summary(fvals, sign, verdict)
        else:
            fam_note = family_shortfall(fvals, verdict, sign, recs[0]["fun_exact"] if recs
                                        else None)
            opt = optimum_on_family(fvals, sign, recs[0]["_fnum"] if recs else None)
            if opt:
                fam_note += f"; the global {'minimum' if sign > 0 else 'maximum'} is {opt} " \
                            f"({why})"
    else:
        L = lower_bound(F)
        if L is not None:
            for i, r in enumerate(recs):
                try:
                    if (r["_fnum"] * sign - L).is_zero():
                        best, global_ = i, True
                        why = f"the objective is bounded {'below' if sign > 0 else 'above'} " \
                              f"by {sp.sstr(sign * L)}, which this point attains"
                        break
                except Exception:  # noqa: BLE001 - e.g. an irrational bound at an algebraic point
                    continue
        if best is None:
            cand = next((i for i, r in enumerate(recs) if r["classification"] == want), None)
            verdict = compare(fvals, recs[cand]["_fnum"], sign) \
                if cand is not None and open_fams else None
            if verdict is None or verdict.kind == "no_better":
                best = cand
                if verdict is not None:
                    fam_note = family_summary(fvals, sign, verdict)
            else:
                fam_note = family_shortfall(fvals, verdict, sign, recs[cand]["fun_exact"])
            if open_fams and cand is None:
                fam_note = family_shortfall(fvals, None, sign, None)
            if best is None and L is not None and L.is_Rational:
                opt = family_at_bound(fvals, sign * L)
                if opt:
                    fam_note += f"; the objective is bounded {'below' if sign > 0 else 'above'}" \
                                f" by {sp.sstr(sign * L)}, attained on the family {opt}"
    if best is not None and fvals and not fam_note and "famil" not in why:
        fam_note = family_summary(fvals, sign, compare(fvals, recs[best]["_fnum"], sign))
    if global_ and best is not None:
        bval = recs[best]["_fnum"]
        for i, r in enumerate(recs):
            if i == best or _equal_values(r["_fnum"], bval):
                if r["classification"] != want:
                    r["classification"] = want
                    r["how"] = f"global optimum ({why})" if i == best else \
                        "same value as the global optimum"

    eig = EigenvalueMaker(f, gens, cons)
    points = tuple(CriticalPoint(x=r["x"], exact=r["exact"], exact_kind=r["exact_kind"],
                                 fun=r["fun"], fun_exact=r["fun_exact"],
                                 classification=r["classification"],
                                 multipliers=r["multipliers"],
                                 kkt=r["kkt"], how=r["how"], active=tuple(r["active"]),
                                 eigenvalues=eig.at(r["x"], names, r["multipliers"],
                                                    r["active"]))
                   for r in recs)
    if families:
        status = "infinite"
    elif undecided or (not points and not complete):
        status = "no_closed_form"
    else:
        status = "solved"
    msg = _message(points, status, families, undecided, complete, unbounded, best, global_,
                   why, notes, sense, fam_note)
    return AnalyticReport(status=status, critical_points=points, best=best, global_=global_,
                          families=tuple(families), unbounded=unbounded, message=msg,
                          complete=complete and not families, certificate=why)


def _holds(c, point) -> bool:
    try:
        v = expr_sign(c.e.xreplace(point))
    except UnknownSign:
        return False
    return (c.relation == "==" and v == 0) or (c.relation == "<=" and v <= 0) or \
        (c.relation == ">=" and v >= 0)


def _message(points, status, families, undecided, complete, unbounded, best, global_, why,
             notes, sense, fam_note=""):
    counts = {}
    for p in points:
        counts[p.classification] = counts.get(p.classification, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    parts = [f"{len(points)} critical point{'s' if len(points) != 1 else ''}"
             + (f" ({summary})" if summary else "")]
    if status == "infinite":
        parts.append("infinitely many critical points: " + "; ".join(families))
    if fam_note:
        parts.append(fam_note)
    if undecided:
        parts.append("could not decide the real points of: " + "; ".join(undecided))
    if not complete and status != "infinite":
        parts.append("the list may be incomplete (no proof that SymPy found every solution)")
    opt = "minimum" if sense == "minimize" else "maximum"
    if unbounded:
        parts.append(f"no {opt}: {why}")
    elif global_:
        parts.append(f"best is the global {opt}: {why}")
    elif best is not None:
        parts.append(f"best is the best local {opt}; global optimality not proven")
    parts.extend(notes)
    return "; ".join(parts)
