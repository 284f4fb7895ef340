"""IPOPT (through casadi) on the Hock-Schittkowski problems of tests/data/hs, scored like
bench/hs_score.py so symgd's numbers can be read side by side.

casadi is not a dependency of symgd; run this from a separate environment:

    python3 -m venv /tmp/benchenv
    /tmp/benchenv/bin/pip install casadi pyyaml sympy numpy scipy
    /tmp/benchenv/bin/pip install -e .
    /tmp/benchenv/bin/python bench/ipopt_hs.py [--only hs001,hs071] [--json rows.json] [--jobs 2]

Each problem is read by ``symgd.load`` and its sympy expressions are turned into casadi SX
(exact Hessians by casadi's AD). IPOPT runs with its defaults (tol 1e-8) from the
published start (IPOPT moves a start outside the bounds inside by itself). The answer is
rechecked independently of casadi by tests/kkt_recheck.py (sympy lambdify in float):
f, the largest constraint/bound violation, and, from casadi's multipliers (lam_g, lam_x,
converted to symgd's SPEC §4 sign convention), complementarity, the multipliers' signs
and relative stationarity.

solved: violation <= 1e-6 and |f - f*| <= max(1e-6 max(|f*|, 1), f_tol_abs).
claimed: casadi's stats()['success'] (IPOPT's Solve_Succeeded or Solved_To_Acceptable_Level).
false success: claimed, and the point is infeasible (violation > 1e-6) or not stationary
(kkt_recheck's relative stationarity of the Lagrangian with casadi's multipliers > 1e-6).
strict false success (column "strict", counted apart): claimed and kkt_holds fails, the full
test bench/hs_score.py applies to symgd's claims (violation, complementarity, signs,
stationarity, all at 1e-6). IPOPT relaxes every bound and inequality by 1e-8 max(1, |bound|)
(bound_relax_factor), so at an active constraint with a multiplier above ~100 the absolute
complementarity |lambda g| exceeds 1e-6 although the point is a KKT point: the strict count
includes these.
nf: stats()['n_call_nlp_f'] (objective evaluations; gradients, Jacobians and Hessians of the
Lagrangian are counted apart, in nfg, ngrad, nhess).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import sympy as sp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
HS = ROOT / "tests" / "data" / "hs"
TOL = 1e-6


def f_star(entry):
    v = entry["f_star"]
    return float(sp.sympify(v)) if isinstance(v, str) else float(v)


def _casadi_modules(ca):
    return [{"exp": ca.exp, "log": ca.log, "sqrt": ca.sqrt, "sin": ca.sin, "cos": ca.cos,
             "tan": ca.tan, "atan": ca.atan, "asin": ca.asin, "acos": ca.acos,
             "sinh": ca.sinh, "cosh": ca.cosh, "tanh": ca.tanh, "Abs": ca.fabs,
             "sign": ca.sign, "Max": ca.fmax, "Min": ca.fmin, "atan2": ca.atan2}, "math"]


def to_sx(ca, syms, xs, expr):
    """A sympy expression as casadi SX of the entries xs (in the order of syms)."""
    fn = sp.lambdify(syms, expr, modules=_casadi_modules(ca))
    out = fn(*xs)
    if not isinstance(out, ca.SX):  # a constant expression
        out = ca.SX(float(out))
    return out


def ipopt_multipliers(problem, lam_g, lam_x, tol_split=0.0):
    """casadi's multipliers as symgd's dict {constraint/bound text: lambda}.

    casadi: grad f + J^T lam_g + lam_x = 0 with f the minimized objective; SPEC §4 /
    kkt_recheck: grad F = sum_c lambda_c grad(lhs_c - rhs_c), F the user's objective.
    So lambda = -lam (minimize) or +lam (maximize). One lam_x per variable is given to
    the lower bound when it pushes up (lam_x < 0), to the upper one otherwise."""
    from kkt_recheck import _bound_entries

    s = -1.0 if problem.sense == "minimize" else 1.0
    out = {}
    for c, lg in zip(problem.constraints, lam_g):
        out[c.text] = out.get(c.text, 0.0) + s * float(lg)
    by_var = {}
    for text, rel, j, _b in _bound_entries(problem):
        by_var.setdefault(j, {})[rel] = text
    for j, lx in enumerate(lam_x):
        ent = by_var.get(j)
        if not ent or float(lx) == 0.0:
            continue
        if "==" in ent:
            key = ent["=="]
        elif float(lx) < 0:
            key = ent.get(">=", ent.get("<="))
        else:
            key = ent.get("<=", ent.get(">="))
        out[key] = out.get(key, 0.0) + s * float(lx)
    return out


def score_one(args):
    name, opts = args
    import casadi as ca

    import symgd
    from kkt_recheck import kkt_holds, recheck

    ref = yaml.safe_load((HS / "reference.yaml").read_text())[name]
    fs = f_star(ref)
    tol_f = max(TOL * max(abs(fs), 1.0), ref.get("f_tol_abs", 0.0))
    p = symgd.load(HS / f"{name}.yaml")
    syms = list(p.symbols)
    n = len(syms)
    x = ca.SX.sym("x", n)
    xs = [x[i] for i in range(n)]
    F = to_sx(ca, syms, xs, p.objective)
    f = -F if p.sense == "maximize" else F
    g, lbg, ubg = [], [], []
    for c in p.constraints:
        g.append(to_sx(ca, syms, xs, c.lhs - c.rhs))
        lbg.append(0.0 if c.relation in ("==", ">=") else -math.inf)
        ubg.append(0.0 if c.relation in ("==", "<=") else math.inf)
    lbx = [-math.inf if v.lower is None else float(v.lower) for v in p.variables]
    ubx = [math.inf if v.upper is None else float(v.upper) for v in p.variables]
    x0 = [float(v.start) for v in p.variables]
    nlp = {"x": x, "f": f}
    if g:
        nlp["g"] = ca.vertcat(*g)
    o = {"ipopt.print_level": 0, "print_time": False, "ipopt.sb": "yes",
         "ipopt.tol": 1e-8}
    o.update({"ipopt." + k: v for k, v in opts.items()})
    solver = ca.nlpsol("s", "ipopt", nlp, o)
    t0 = time.perf_counter()
    kw = dict(x0=x0, lbx=lbx, ubx=ubx)
    if g:
        kw.update(lbg=lbg, ubg=ubg)
    try:
        sol = solver(**kw)
        err = None
    except RuntimeError as e:  # casadi raises on some evaluation errors
        sol, err = None, str(e)[:80]
    t = time.perf_counter() - t0
    st = solver.stats()
    row = dict(name=name, n=n, m=len(g), status=st.get("return_status", "error"),
               claimed=bool(st.get("success", False)), nf=st.get("n_call_nlp_f"),
               nfg=st.get("n_call_nlp_g"), ngrad=st.get("n_call_nlp_grad_f"),
               nhess=st.get("n_call_nlp_hess_l"), iters=st.get("iter_count"), t=t,
               fs=fs, tol_f=tol_f)
    if sol is None:
        row.update(status="exception: " + (err or ""), claimed=False, solved=False,
                   false=False, strict_false=False, f=math.nan, viol=math.nan, x=None)
        return row
    xv = np.array(sol["x"]).ravel()
    lam_g = np.array(sol["lam_g"]).ravel() if g else []
    lam_x = np.array(sol["lam_x"]).ravel()
    mult = ipopt_multipliers(p, lam_g, lam_x)
    try:
        chk = recheck(p, xv, mult)
    except (ValueError, OverflowError, ZeroDivisionError, TypeError) as e:
        chk = {"violation": math.nan, "f": math.nan, "complementarity": None,
               "sign": None, "stationarity": None, "error": str(e)[:60]}
    fval, viol = chk["f"], chk["violation"]
    solved = (math.isfinite(viol) and viol <= TOL and math.isfinite(fval)
              and abs(fval - fs) <= tol_f)
    kkt = kkt_holds(chk, TOL)
    stat = chk.get("stationarity")
    stationary = stat is not None and math.isfinite(stat) and stat <= TOL
    false = row["claimed"] and (not (viol <= TOL) or not stationary)
    strict = row["claimed"] and (not (viol <= TOL) or not kkt)
    row.update(solved=solved, false=false, strict_false=strict, f=fval, viol=viol, kkt=kkt,
               f_ipopt=float(sol["f"]) * (-1 if p.sense == "maximize" else 1),
               stationarity=chk.get("stationarity"),
               complementarity=chk.get("complementarity"), sign=chk.get("sign"),
               x=[float(v) for v in xv], multipliers=mult)
    return row


def _g(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) and v is not None else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="",
                    help="comma-separated names: the median nf is also given over these")
    ap.add_argument("--run-only", action="store_true",
                    help="run only the --only problems (default: all, --only for the median)")
    ap.add_argument("--json", default="", help="write the per-problem rows here")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[],
                    help="IPOPT option=value (e.g. --set max_iter=500)")
    a = ap.parse_args()
    ref = yaml.safe_load((HS / "reference.yaml").read_text())
    names = [k for k, v in ref.items() if "skipped" not in v]
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in names]
    if unknown:
        print(f"--only: not among the problems: {', '.join(unknown)}", file=sys.stderr)
    if only and a.run_only:
        names = [nm for nm in names if nm in only]
    opts = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)}
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(score_one, [(nm, opts) for nm in names]))
    print(f"{'name':7s} {'mark':5s} {'status':28s} {'nf':>5s} {'iter':>5s} "
          f"{'f':>15s} {'f*':>15s} {'viol':>8s} {'stat':>8s} {'compl':>8s} {'strict':6s} "
          f"{'time':>6s}")
    for r in rows:
        mark = "FALSE" if r["false"] else ("ok" if r["solved"] else "--")
        print(f"{r['name']:7s} {mark:5s} {r['status'][:28]:28s} {r['nf']!s:>5s} "
              f"{r['iters']!s:>5s} {r['f']:15.8g} {r['fs']:15.8g} {r['viol']:8.1e} "
              f"{_g(r.get('stationarity'), '8.1e'):>8s} "
              f"{_g(r.get('complementarity'), '8.1e'):>8s} "
              f"{'FALSE' if r['strict_false'] else '':6s} {r['t']:6.2f}")
    solved = sum(r["solved"] for r in rows)
    claimed = sum(r["claimed"] for r in rows)
    false = sum(r["false"] for r in rows)
    strict = sum(r["strict_false"] for r in rows)
    nfs = [r["nf"] for r in rows if r["nf"] is not None]
    med = statistics.median(nfs) if nfs else None
    print(f"\nipopt: solved {solved}/{len(rows)} ({100 * solved / len(rows):.1f}%), "
          f"claimed success {claimed}, false successes {false} (strict, with "
          f"complementarity: {strict}), median n_call_nlp_f "
          f"{med} (over {len(nfs)}), median iterations "
          f"{statistics.median([r['iters'] for r in rows if r['iters'] is not None])}")
    if only:
        sub = [r["nf"] for r in rows if r["name"] in only and r["nf"] is not None]
        msub = statistics.median(sub) if sub else None
        print(f"median n_call_nlp_f over the --only list: {msub} (over {len(sub)})")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1, default=float) + "\n")
        print(f"rows written to {a.json}")


if __name__ == "__main__":
    main()
