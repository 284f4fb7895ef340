"""Chained Rosenbrock at n = 200, 2,000, 10,000: derive + compile + solve with an empty
problem cache (the method loops already compiled), and the cost per Newton iteration.

    f = sum_{i<n-1} 100 (w_{i+1} - w_i^2)^2 + (1 - w_i)^2,  start (-1.2, 1, -1.2, ...)

Each (n, method) runs in a fresh process whose problem is given a new name, so its
kernels are generated and compiled from nothing; the method loops come from the cache
(one warm-up solve of a small problem first). Prints seconds for: building the Problem
(sympy expands the Sum), the solve (templates, code generation, numba compile,
iterations), the iterations alone (Result.time_s), and the peak resident memory.
Run: python bench/symbolic_scale.py [--sizes 200,2000,10000] [--methods lbfgs,newton]
[--max-iter 100000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid

CHILD = r'''
import json, resource, sys, time
import numpy as np, sympy as sp
import symgd
n, method, tag, max_iter = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
w = sp.IndexedBase("w"); j = sp.Symbol("j", integer=True)
def make(n, name):
    start = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j] ** 2) ** 2 + (1 - w[j]) ** 2, (j, 0, n - 2)),
        variables={w[q]: s for q, s in enumerate(start)}, name=name)
symgd.solve(make(40, "warm"), method=method)          # the method loops, compiled once
t0 = time.perf_counter()
p = make(n, "scale_" + tag)
t1 = time.perf_counter()
r = symgd.solve(p, method=method, max_iter=max_iter)
t2 = time.perf_counter()
r2 = symgd.solve(p, method=method, max_iter=max_iter)                   # warm: kernels in memory
print(json.dumps(dict(n=n, method=method, build_s=t1 - t0, solve_s=t2 - t1,
                      iter_s=r2.time_s, iterations=r2.iterations, status=r.status,
                      err=float(np.max(np.abs(np.asarray(r.x) - 1.0))),
                      rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200,2000,10000")
    ap.add_argument("--methods", default="lbfgs,newton")
    ap.add_argument("--max-iter", type=int, default=100_000,
                    help="lbfgs needs about 5 n iterations from this start")
    a = ap.parse_args()
    print(f"{'n':>6s} {'method':7s} {'build':>7s} {'solve':>7s} {'total':>7s} "
          f"{'iters':>7s} {'its':>5s} {'per it':>9s} {'max|x-1|':>9s} {'RSS MB':>7s} status")
    for n in (int(s) for s in a.sizes.split(",")):
        for method in a.methods.split(","):
            out = subprocess.run([sys.executable, "-c", CHILD, str(n), method,
                                  uuid.uuid4().hex[:8], str(a.max_iter)], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{n:6d} {method:7s} failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per = r["iter_s"] / max(r["iterations"], 1)
            print(f"{n:6d} {method:7s} {r['build_s']:7.2f} {r['solve_s']:7.2f} "
                  f"{r['build_s'] + r['solve_s']:7.2f} {r['iter_s']:7.3f} "
                  f"{r['iterations']:5d} {per * 1e3:7.3f}ms {r['err']:9.1e} "
                  f"{r['rss_mb']:7.0f} {r['status']}")


if __name__ == "__main__":
    main()
