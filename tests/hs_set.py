"""The transcribed Hock-Schittkowski problems (tests/data/hs) solved by one method and
scored against their published optima, with every success claim rechecked
independently (kkt_recheck): shared by the auglag and sqp tests."""
from __future__ import annotations

from pathlib import Path

import sympy as sp
import yaml

import symgd
from kkt_recheck import kkt_holds, recheck

HS = Path(__file__).parent / "data" / "hs"
REFERENCE = yaml.safe_load((HS / "reference.yaml").read_text())
HS_NAMES = [k for k, v in REFERENCE.items() if "skipped" not in v]


def f_star(entry) -> float:
    v = entry["f_star"]
    return float(sp.sympify(v)) if isinstance(v, str) else float(v)


def solve_all(method: str) -> dict:
    """name -> (problem, result) from the standard starts."""
    out = {}
    for name in HS_NAMES:
        p = symgd.load(HS / f"{name}.yaml")
        out[name] = (p, symgd.solve(p, method=method))
    return out


def score(results: dict):
    """(names at the published optimum: f within 1e-6 relative, violation <= 1e-6;
    false success claims with their rechecks; f evaluations per problem)."""
    solved, false, evals = [], [], []
    for name, (p, r) in results.items():
        chk = recheck(p, r.x, r.extra.get("multipliers"))
        ref = REFERENCE[name]
        fs = f_star(ref)
        if r.success and not kkt_holds(chk):
            false.append((name, chk))
        tol = max(1e-6 * max(abs(fs), 1.0), ref.get("f_tol_abs", 0.0))
        if chk["violation"] <= 1e-6 and abs(chk["f"] - fs) <= tol:
            solved.append(name)
        evals.append(r.evaluations["f"])
    return solved, false, evals
