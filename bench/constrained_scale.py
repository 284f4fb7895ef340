"""auglag and sqp on a large sparse constrained problem: sparse Newton systems against
dense ones (issue 14, item 3), side by side.

    min  sum_{i<n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2
    s.t. x_i^2 + x_{i+1}^2 <= 1.5   for even i      (m = n / 2 disc constraints)

from x_i = -0.6 (even i), 0.5 (odd i). Each (n, mode) runs in a fresh process with an
empty problem cache (the method loops compiled by a small warm-up), so "solve" includes
deriving and compiling the objective's and the constraints' kernels. Modes:

  sparse  as shipped: from symgd.constrained.sparse_newton.MIN_VARS variables, the
          Newton systems are factored in the sparse pattern of the terms and constraints
  dense   MIN_VARS raised past n: the eigendecomposition of the dense Hessian (the
          KKT polish's sparse LU is used in both)

          (and for sqp the interior-point method's primal-dual system,
          symgd.constrained.primal_dual: eigendecomposed instead of a sparse Cholesky
          inertia proof and SuperLU)

Printed: build (sympy), solve, its iterations alone, steps, f, the largest violation,
peak memory, and dense/sparse ratios of the iteration time. The two modes must end at
the same f (to 1e-9 relative). The method is auglag, or sqp with --methods.

Run: python bench/constrained_scale.py [--sizes 1000,2000] [--modes sparse,dense]
                                       [--methods auglag,sqp]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r'''
import json, resource, sys, time
import sympy as sp
import symgd
from symgd.constrained import sparse_newton
n, mode, method = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "dense":
    sparse_newton.MIN_VARS = 10 ** 9

def make(n, name):
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)])
    cons = [sp.Le(x[i] ** 2 + x[i + 1] ** 2, 1.5) for i in range(0, n - 1, 2)]
    start = {x[i]: (-0.6 if i % 2 == 0 else 0.5) for i in range(n)}
    return symgd.Problem(minimize=f, variables=start, constraints=cons, name=name)

symgd.solve(make(8, "warm"), method=method)       # the method loops, compiled once
t0 = time.perf_counter()
p = make(n, f"scale_{n}")
t1 = time.perf_counter()
r = symgd.solve(p, method=method)
t2 = time.perf_counter()
print(json.dumps(dict(build_s=t1 - t0, solve_s=t2 - t1, iter_s=r.timings["iterate"],
                      steps=r.iterations, f=r.fun, status=r.status,
                      viol=r.extra.get("max_violation", float("nan")),
                      rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,2000")
    ap.add_argument("--modes", default="sparse,dense")
    ap.add_argument("--methods", default="auglag")
    a = ap.parse_args()
    print(f"{'n':>6s} {'m':>5s} {'method':6s} {'mode':6s} {'build':>6s} {'solve':>6s} "
          f"{'iters':>7s} {'steps':>5s} {'f':>14s} {'viol':>8s} {'RSS MB':>7s} status")
    for method in a.methods.split(","):
        for n in (int(s) for s in a.sizes.split(",")):
            _one_size(n, method, a.modes.split(","))


def _one_size(n, method, modes):
    """Each mode in a fresh process with an empty cache, then their ratio."""
    got = {}
    for mode in modes:
        with tempfile.TemporaryDirectory() as cache:
            env = {**__import__("os").environ, "SYMGD_CACHE_DIR": cache}
            out = subprocess.run([sys.executable, "-c", CHILD, str(n), mode, method],
                                 capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{n:6d} {method:6s} {mode:6s} failed: "
                  f"{out.stderr.strip().splitlines()[-1]}")
            continue
        r = got[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{n:6d} {n // 2:5d} {method:6s} {mode:6s} {r['build_s']:6.2f} "
              f"{r['solve_s']:6.2f} {r['iter_s']:7.2f} {r['steps']:5d} {r['f']:14.8f} "
              f"{r['viol']:8.1e} {r['rss_mb']:7.0f} {r['status']}")
    if "sparse" in got and "dense" in got:
        s, d = got["sparse"], got["dense"]
        same = abs(s["f"] - d["f"]) <= 1e-9 * max(1.0, abs(d["f"]))
        print(f"{'':6s} dense / sparse: iterations {d['iter_s'] / s['iter_s']:.1f}x, "
              f"solve {d['solve_s'] / s['solve_s']:.1f}x; same f: {same}")


if __name__ == "__main__":
    main()
