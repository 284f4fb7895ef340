"""Chained Rosenbrock, n = 100: symgd lbfgs / bfgs / newton against scipy, side by side.

f = sum_{i<n} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 from the standard start (-1.2, 1,
-1.2, 1, ...), solved to SPEC §2's relative gradient test (tol 1e-8), after
compilation (the kernels and loops are built before timing). Competitors:
  symgd lbfgs / bfgs / newton through symgd.solve (the public API);
  symgd's lbfgs and bfgs loops called directly (what solve() adds is the difference);
  scipy.optimize L-BFGS-B and BFGS given symgd's compiled fg (value and gradient in
  one call) as fun with jac=True: the same derivatives, scipy's own iteration;
  the same two given scipy.optimize.rosen / rosen_der (its own numpy gradient).
scipy stops on its own tests (pgtol / gtol 1e-8 on the gradient's largest entry, which
at f ~ 0 and |x| ~ 1 is the relative gradient; L-BFGS-B's ftol is set to 0 so that it
does not stop on a small decrease first). Prints median milliseconds over interleaved
rounds, iterations, max |x - 1| and the ratios. Run: python bench/chained_rosenbrock.py
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import sympy as sp
from scipy.optimize import minimize, rosen, rosen_der

import symgd
from symgd.kernelgen.fastcall import entry_point
from symgd.methods import loading
from symgd.methods import status as S
from symgd.solver import compiled

TOL = 1e-8


def problem(n):
    w = sp.IndexedBase("w")
    j = sp.Symbol("j", integer=True)
    start = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j] ** 2) ** 2 + (1 - w[j]) ** 2, (j, 0, n - 2)),
        variables={w[q]: s for q, s in enumerate(start)}), np.array(start)


def direct(comp, x0, loop, fpar, ipar):
    """The compiled loop called with fresh packed state (no solve() around it)."""
    call = entry_point(loop)
    n = x0.size
    W0 = np.zeros((S.N_W, n))
    W0[S.W_X] = W0[S.W_XBEST] = x0
    W0[S.W_LO], W0[S.W_HI] = comp.lower, comp.upper
    fs0 = np.zeros(S.N_PAR + S.N_FSTATE)
    js0 = np.zeros(S.N_PAR + S.N_ISTATE, dtype=np.int64)
    fs0[:len(fpar)] = fpar
    js0[:len(ipar)] = ipar
    fs0[S.P_TYP_X] = fs0[S.P_TYP_F] = 1.0
    T0 = np.empty((0, S.N_TRACE))
    bundle = comp.kernels.loop_arg(with_hessian=False)

    def run():
        W, js = W0.copy(), js0.copy()
        code = call(bundle, W, fs0.copy(), js, T0)
        assert code == S.CONVERGED, code
        return int(js[S.N_PAR + S.I_ITER]), W[S.W_X].copy()
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    p, x0 = problem(args.n)
    comp = compiled(p, need_hessian=True)  # newton runs too: build the Hessian once
    k = comp.kernels
    qn = loading.load("qn_loops")

    def fg(x):
        g = np.empty(x.size)
        return k.fg(np.ascontiguousarray(x), g), g

    def api(method):
        def run():
            r = symgd.solve(p, method=method, tol=TOL)
            assert r.status == "converged", r.message
            return r.nit, r.x
        return run

    def scipy_run(method, own):
        opts = {"gtol": TOL, "maxiter": 100_000}
        if method == "L-BFGS-B":
            opts["ftol"] = 0.0

        def run():
            if own:
                r = minimize(rosen, x0, jac=rosen_der, method=method, options=opts)
            else:
                r = minimize(fg, x0, jac=True, method=method, options=opts)
            return r.nit, r.x
        return run

    cases = {
        "symgd lbfgs (solve API)": (api("lbfgs"), 20),
        "symgd lbfgs loop (direct)": (direct(comp, x0, qn.lbfgs_loop, [TOL, 1e-4, 0.9],
                                             [15000, 1_000_000, 10]), 20),
        "symgd bfgs (solve API)": (api("bfgs"), 10),
        "symgd bfgs loop (direct)": (direct(comp, x0, qn.bfgs_loop, [TOL, 1e-4, 0.9],
                                            [2000, 1_000_000]), 10),
        "symgd newton (solve API)": (api("newton"), 10),
        "scipy L-BFGS-B (symgd fg)": (scipy_run("L-BFGS-B", False), 2),
        "scipy BFGS (symgd fg)": (scipy_run("BFGS", False), 1),
        "scipy L-BFGS-B (rosen_der)": (scipy_run("L-BFGS-B", True), 2),
        "scipy BFGS (rosen_der)": (scipy_run("BFGS", True), 1),
    }
    result = {}
    for name, (fn, _) in cases.items():  # warm up: loops loaded, caches filled
        result[name] = fn()
    samples = {name: [] for name in cases}
    for _ in range(args.rounds):  # interleave the competitors
        for name, (fn, reps) in cases.items():
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            samples[name].append((time.perf_counter() - t) / reps * 1e3)
    med = {name: statistics.median(v) for name, v in samples.items()}
    print(f"chained Rosenbrock n = {args.n} from (-1.2, 1, ...), tol {TOL:g}; "
          f"median of {args.rounds} rounds (ms per solve, after compilation)")
    print(f"{'solver':30s} {'ms':>9s} {'iterations':>10s} {'max|x-1|':>10s} {'f':>9s}")
    for name in cases:
        it, x = result[name]
        print(f"{name:30s} {med[name]:9.3f} {it:10d} {np.max(np.abs(x - 1.0)):10.1e} "
              f"{rosen(x):9.3g}")
    print("(f = 3.99 is the other local minimum, near x_0 = -1, that newton reaches from "
          "this start)")
    lb = med["symgd lbfgs (solve API)"]
    print()
    print(f"scipy L-BFGS-B (symgd fg) / symgd lbfgs:   "
          f"{med['scipy L-BFGS-B (symgd fg)'] / lb:6.1f}x")
    print(f"scipy L-BFGS-B (rosen_der) / symgd lbfgs:  "
          f"{med['scipy L-BFGS-B (rosen_der)'] / lb:6.1f}x")
    print(f"scipy BFGS (symgd fg) / symgd bfgs:        "
          f"{med['scipy BFGS (symgd fg)'] / med['symgd bfgs (solve API)']:6.1f}x")
    print(f"scipy BFGS (rosen_der) / symgd bfgs:       "
          f"{med['scipy BFGS (rosen_der)'] / med['symgd bfgs (solve API)']:6.1f}x")
    print(f"solve() overhead, lbfgs:                   "
          f"{(lb - med['symgd lbfgs loop (direct)']) * 1e3:6.0f} us")
    print(f"symgd lbfgs (solve API): {lb:.2f} ms   (target <= 2 ms)")


if __name__ == "__main__":
    main()
