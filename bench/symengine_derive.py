"""sympy against symengine (symgd.symengine_backend), side by side.

1. Derivation: symgd.calculus.derive (gradient and Hessian) and the code generator's
   common-subexpression elimination and printing (codegen.kernel_source, not compiled),
   on objectives given term by term: chained Rosenbrock n = 200 and 2,000, Osborne 2,
   Watson, Chebyquad.
2. End to end: the first solve of chained Rosenbrock n = 200 and 2,000 (a Sum, so the
   loop templates apply; linesearch wants the exact line search's polynomial kernel,
   which is built from the whole derivation) with an empty problem cache: a fresh
   SYMGD_CACHE_DIR whose method loops are compiled first by a small warm-up solve
   (not timed), the issue's definition.

Every measurement runs in its own process (sympy's cache would otherwise carry over),
SYMGD_SYMBOLIC=sympy for sympy's side. Needs the [fast] extra:

    python -m pip install -e ".[fast]" && python bench/symengine_derive.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

DERIVE = r'''
import json, sys, time
import sympy as sp
import symgd
from symgd import calculus
from symgd.kernelgen import codegen
name = sys.argv[1]
if name.startswith("chained"):
    n = int(name.split("_")[1])
    xs = sp.symbols(f"x0:{n}", real=True)
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    p = symgd.Problem(minimize=f, variables=list(xs), name=name)
else:
    p = symgd.load(f"tests/data/mgh/{name}.yaml")
t0 = time.perf_counter()
d = calculus.derive(p, hessian=True, budget_s=1e9)
t1 = time.perf_counter()
try:
    src, backend = codegen.kernel_source(p.name, d.f, d.grad, d.hess, d.symbols)
    lines = src.count("\n")
except symgd.InputError:   # past MAX_KERNEL_LINES: refused after the CSE
    lines = -1
t2 = time.perf_counter()
print(json.dumps(dict(derive=t1 - t0, cse=t2 - t1, lines=lines)))
'''

SOLVE = r'''
import json, sys, time
import numpy as np, sympy as sp
import symgd
n, method = int(sys.argv[1]), sys.argv[2]
w = sp.IndexedBase("w"); j = sp.Symbol("j", integer=True)
def make(n, name):
    start = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j] ** 2) ** 2 + (1 - w[j]) ** 2, (j, 0, n - 2)),
        variables={w[q]: s for q, s in enumerate(start)}, name=name)
symgd.solve(make(12, "warm"), method=method)          # the method loops, compiled once
t0 = time.perf_counter()
r = symgd.solve(make(n, f"cr{n}"), method=method, max_iter=100000)
t1 = time.perf_counter()
print(json.dumps(dict(solve=t1 - t0, status=r.status,
                      err=float(np.max(np.abs(np.asarray(r.x) - 1.0))))))
'''


def _child(code, args, library, timeout, cache=None):
    env = dict(os.environ, SYMGD_SYMBOLIC=library, SYMGD_DERIVE_BUDGET="1e9")
    if cache:
        env["SYMGD_CACHE_DIR"] = cache
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                             text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _s(v, key):
    return "   >limit" if v is None else f"{v[key]:8.2f}s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="leave out the n = 2,000 cases")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    a = ap.parse_args()
    import symengine
    import sympy
    print(f"sympy {sympy.__version__}, symengine {symengine.__version__}, "
          f"{os.cpu_count()} cores")
    names = ["chained_200"] + ([] if a.quick else ["chained_2000"]) + [
        "mgh19_osborne2", "mgh20_watson", "mgh35_chebyquad"]
    print("\n1. derive (gradient + Hessian) and CSE + printing of the kernels, seconds")
    print(f"{'problem':16s} {'sympy derive':>13s} {'cse':>9s} | {'symengine derive':>16s} "
          f"{'cse':>9s} | {'ratio':>6s}  lines (sympy, symengine; -1: over the limit)")
    for name in names:
        ref = _child(DERIVE, [name], "sympy", a.timeout)
        new = _child(DERIVE, [name], "symengine", a.timeout)
        ratio = "" if ref is None or new is None else \
            f"{(ref['derive'] + ref['cse']) / (new['derive'] + new['cse']):5.1f}x"
        print(f"{name:16s} {_s(ref, 'derive'):>13s} {_s(ref, 'cse'):>9s} | "
              f"{_s(new, 'derive'):>16s} {_s(new, 'cse'):>9s} | {ratio:>6s}  "
              f"{(ref or {}).get('lines', '-')}, {(new or {}).get('lines', '-')}", flush=True)
    print("\n2. first solve of chained Rosenbrock (empty problem cache), seconds")
    print(f"{'n':>6s} {'method':10s} {'sympy':>9s} {'symengine':>10s} {'ratio':>6s}  status")
    for n in [200] + ([] if a.quick else [2000]):
        for method in ("lbfgs", "newton", "linesearch"):
            res = {}
            for library in ("sympy", "symengine"):
                with tempfile.TemporaryDirectory() as cache:
                    res[library] = _child(SOLVE, [str(n), method], library, a.timeout, cache)
            r, s = res["sympy"], res["symengine"]
            ratio = "" if r is None or s is None else f"{r['solve'] / s['solve']:5.1f}x"
            status = (s or r or {}).get("status", "")
            print(f"{n:6d} {method:10s} {_s(r, 'solve'):>9s} {_s(s, 'solve'):>10s} "
                  f"{ratio:>6s}  {status}", flush=True)


if __name__ == "__main__":
    main()
