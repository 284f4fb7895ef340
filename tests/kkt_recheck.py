"""An independent check of a constrained answer, for tests and bench/hs_score.py.

Recomputes, from the returned x and multipliers alone, with sympy's own lambdify (not
symgd's generated kernels): the largest violation of the constraints and bounds,
complementarity, the multipliers' signs, and stationarity of the Lagrangian in SPEC
§4's convention (grad F = sum_c lambda_c grad(lhs_c - rhs_c), F the user's objective).
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp


def _bound_entries(problem):
    out = []
    for j, v in enumerate(problem.variables):
        def num(b):
            return str(int(b)) if float(b).is_integer() else repr(float(b))
        if v.lower is not None and v.upper is not None and v.lower == v.upper:
            out.append((f"{v.name} == {num(v.lower)}", "==", j, v.lower))
            continue
        if v.lower is not None:
            out.append((f"{v.name} >= {num(v.lower)}", ">=", j, v.lower))
        if v.upper is not None:
            out.append((f"{v.name} <= {num(v.upper)}", "<=", j, v.upper))
    return out


def recheck(problem, x, multipliers) -> dict:
    """{violation, complementarity, sign, stationarity (relative)} at x; the last three
    are None without multipliers."""
    syms = list(problem.symbols)
    n = len(syms)
    x = np.asarray(x, dtype=float)
    F = problem.objective
    fval = float(sp.lambdify(syms, F, "math")(*x))
    gF = np.array([float(sp.lambdify(syms, sp.diff(F, s), "math")(*x)) for s in syms])
    viol = 0.0
    rows = []
    for c in problem.constraints:
        e = c.lhs - c.rhs
        val = float(sp.lambdify(syms, e, "math")(*x))
        grad = np.array([float(sp.lambdify(syms, sp.diff(e, s), "math")(*x)) for s in syms])
        rows.append((c.text, c.relation, val, grad))
    for text, rel, j, b in _bound_entries(problem):
        grad = np.zeros(n)
        grad[j] = 1.0
        rows.append((text, rel, float(x[j] - b), grad))
    for text, rel, val, _ in rows:
        viol = max(viol, abs(val) if rel == "==" else max(val, 0.0) if rel == "<=" else
                   max(-val, 0.0))
    out = {"violation": viol, "f": fval, "complementarity": None, "sign": None,
           "stationarity": None}
    if multipliers is None:
        return out
    s = -1.0 if problem.sense == "maximize" else 1.0
    r = gF.copy()
    comp = sign = 0.0
    for text, rel, val, grad in rows:
        lam = float(multipliers.get(text, 0.0) or 0.0)
        r -= lam * grad
        if rel != "==":
            comp = max(comp, abs(lam * val))
            # minimize: <= has lambda <= 0, >= has lambda >= 0 (maximize: reversed)
            want = -s if rel == "<=" else s
            sign = max(sign, max(-want * lam, 0.0))
    scale = max(abs(fval), 1.0)
    out.update(complementarity=comp, sign=sign,
               stationarity=float(np.max(np.abs(r) * np.maximum(np.abs(x), 1.0),
                                         initial=0.0)) / scale)
    return out


def kkt_holds(check, tol=1e-6) -> bool:
    """Whether the rechecked point is a KKT point to ``tol`` (all four measures)."""
    vals = [check["violation"], check["complementarity"], check["sign"],
            check["stationarity"]]
    return all(v is not None and math.isfinite(v) and v <= tol for v in vals)
