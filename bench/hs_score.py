"""Score symgd's methods on the Hock-Schittkowski problems of tests/data/hs.

    python bench/hs_score.py [--method auglag] [--only hs001,hs071] [--jobs 2]

For each problem (standard start, default options): whether the answer is the published
optimum (f within 1e-6 relative, max violation <= 1e-6), whether success was claimed,
and whether a claim is false (the KKT conditions, rechecked independently from x and the
multipliers by tests/kkt_recheck.py, fail at 1e-6; or the point is infeasible). Prints a
table and the counts, and the median f evaluations of the iterative stage.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sympy as sp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
HS = ROOT / "tests" / "data" / "hs"


def f_star(entry):
    v = entry["f_star"]
    return float(sp.sympify(v)) if isinstance(v, str) else float(v)


def score_one(args):
    name, method, extra = args
    import symgd
    from kkt_recheck import kkt_holds, recheck

    ref = yaml.safe_load((HS / "reference.yaml").read_text())[name]
    p = symgd.load(HS / f"{name}.yaml")
    t0 = time.perf_counter()
    try:
        r = symgd.solve(p, method=method, **extra)
    except symgd.InputError as err:
        return dict(name=name, status="input_error", msg=str(err)[:80], solved=False,
                    claimed=False, false=False, nf=None, t=time.perf_counter() - t0)
    t = time.perf_counter() - t0
    d = r.to_dict()
    chk = recheck(p, r.x, d.get("multipliers"))
    fs = f_star(ref)
    tol_f = max(1e-6 * max(abs(fs), 1.0), ref.get("f_tol_abs", 0.0))
    solved = chk["violation"] <= 1e-6 and abs(chk["f"] - fs) <= tol_f
    claimed = r.success
    false = claimed and (chk["violation"] > 1e-6 or (
        d.get("multipliers") is not None and not kkt_holds(chk)))
    nf = r.evaluations.get("f")
    return dict(name=name, status=r.status, solved=solved, claimed=claimed, false=false,
                nf=nf, f=chk["f"], fs=fs, viol=chk["violation"], t=t,
                method=r.method, msg=r.message[:90])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="auglag")
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="option=value")
    a = ap.parse_args()
    ref = yaml.safe_load((HS / "reference.yaml").read_text())
    names = [k for k, v in ref.items() if "skipped" not in v]
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    extra = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)}
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(score_one, [(n, a.method, extra) for n in names]))
    for r in rows:
        mark = "FALSE" if r["false"] else ("ok" if r["solved"] else "--")
        print(f"{r['name']:7s} {mark:5s} {r['status']:12s} nf={r['nf']!s:6s} "
              f"f={r.get('f', math.nan):<14.8g} f*={r.get('fs', math.nan):<14.8g} "
              f"viol={r.get('viol', math.nan):.1e} {r['t']:.2f}s {r.get('method', '')} "
              f"{'' if r['solved'] else r['msg']}")
    solved = sum(r["solved"] for r in rows)
    false = sum(r["false"] for r in rows)
    claimed = sum(r["claimed"] for r in rows)
    iterative = [r["nf"] for r in rows if r["nf"] and r.get("method") != "analytic"]
    med = statistics.median(iterative) if iterative else None
    print(f"\n{a.method}: solved {solved}/{len(rows)} ({100 * solved / len(rows):.1f}%), "
          f"claimed success {claimed}, false successes {false}, median f evaluations of "
          f"iterative answers {med} (over {len(iterative)})")


if __name__ == "__main__":
    main()
