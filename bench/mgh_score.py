"""Score symgd's methods on the 35 Moré-Garbow-Hillstrom problems of tests/data/mgh.

    python bench/mgh_score.py [--method auto] [--only mgh01_rosenbrock] [--set starts=8]

For each problem (standard start): whether f ends at the published global value (f <=
f* + 1e-6 max(1, |f*|), or below f* plus one unit in its sixth significant digit, since
the paper truncates f* to six digits) or at a published local value, whether success was
claimed, and whether a claim is false: the relative gradient, recomputed with sympy's lambdify (not
symgd's kernels), above 1e-6, or a clearly negative Hessian eigenvalue (finite
differences of that gradient). Prints a table, the counts and the median f evaluations.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import sympy as sp
import yaml

ROOT = Path(__file__).resolve().parents[1]
MGH = ROOT / "tests" / "data" / "mgh"


def recheck(problem, x):
    syms = list(problem.symbols)
    f = sp.lambdify(syms, problem.objective, "math")
    # d sign(x)/dx = 2 DiracDelta(x): zero off the kink (the helical valley's theta)
    grad = sp.lambdify(syms, [sp.diff(problem.objective, s).replace(
        lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero) for s in syms], "math")
    fx = float(f(*x))
    g = np.array(grad(*x), dtype=float)
    rel = float(np.max(np.abs(g) * np.maximum(np.abs(x), 1.0))) / max(abs(fx), 1.0)
    n = len(x)
    H = np.zeros((n, n))
    for j in range(n):
        h = 1e-5 * max(1.0, abs(x[j]))
        xp, xm = np.array(x, float), np.array(x, float)
        xp[j] += h
        xm[j] -= h
        H[:, j] = (np.array(grad(*xp), float) - np.array(grad(*xm), float)) / (2 * h)
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return fx, rel, float(eig[0]) / max(float(np.max(np.abs(eig))), 1e-300)


def score_one(args):
    name, method, extra = args
    import symgd

    ref = yaml.safe_load((MGH / "reference.yaml").read_text())[name]
    p = symgd.load(MGH / f"{name}.yaml")
    t0 = time.perf_counter()
    try:
        r = symgd.solve(p, method=method, **extra)
    except symgd.InputError as err:
        return dict(name=name, status="input_error", msg=str(err)[:90], solved=False,
                    local=False, claimed=False, false=False, nf=None,
                    t=time.perf_counter() - t0)
    t = time.perf_counter() - t0
    fx, rel, curv = recheck(p, r.x)
    fs = float(ref["f_star"])
    # The paper prints f* truncated to six significant digits (124.362 for 124.36218...):
    # anything below the next sixth digit is at the published value.
    sixth = 10.0 ** (math.floor(math.log10(abs(fs))) - 5) if fs else 0.0
    solved = fx <= fs + max(1e-6 * max(1.0, abs(fs)), sixth)
    local = any(abs(fx - float(v)) <= 1e-5 * max(1.0, abs(float(v)))
                for v in ref.get("f_local", []))
    false = r.success and (rel > 1e-6 or curv < -1e-6)
    return dict(name=name, status=r.status, solved=solved, local=local, claimed=r.success,
                false=false, nf=r.evaluations.get("f"), f=fx, fs=fs, rel=rel, t=t,
                method=r.method, msg=r.message[:90])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="auto")
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="option=value")
    a = ap.parse_args()
    names = sorted(p.stem for p in MGH.glob("mgh*.yaml"))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    extra = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)}
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(score_one, [(n, a.method, extra) for n in names]))
    for r in rows:
        mark = "FALSE" if r["false"] else "ok" if r["solved"] else "local" if r["local"] \
            else "--"
        print(f"{r['name']:28s} {mark:5s} {r['status']:11s} nf={r['nf']!s:6s} "
              f"f={r.get('f', math.nan):<13.7g} f*={r.get('fs', math.nan):<11.6g} "
              f"{r['t']:.2f}s {r.get('method', '')} {'' if r['solved'] else r['msg']}")
    solved = sum(r["solved"] for r in rows)
    nfs = [r["nf"] for r in rows if r["nf"] and r.get("method") != "analytic"]
    print(f"\n{a.method} {extra or ''}: global value {solved}/{len(rows)}, local values "
          f"{sum(r['local'] and not r['solved'] for r in rows)}, claimed success "
          f"{sum(r['claimed'] for r in rows)}, false successes {sum(r['false'] for r in rows)}"
          f", median f evaluations {statistics.median(nfs) if nfs else None} "
          f"(over {len(nfs)} iterative answers)")


if __name__ == "__main__":
    main()
