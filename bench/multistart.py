"""Multistart on Himmelblau (2-D, four minima): 64 starts, side by side in one run.

Competitors, all from the same 64 starts (symgd.multistart.start_points, seed 0):
  symgd.solve(..., starts=64) with newton and bfgs: one compiled call for all starts
      (methods/multistart_loop.run_starts), plus choosing and finishing the best run;
  the compiled batch alone (run_starts, no solve() around it);
  64 calls of symgd.solve(..., x0=start) (one solve per start);
  scipy.optimize.minimize BFGS with the analytic gradient, in a Python loop over the
      64 starts (what a user would write).

Prints the median time per 64-start multistart over interleaved rounds (each call
after the others have run: colder caches), the minima each finds, the ratios, and the
median of solve(starts=64) called back to back. The target (issue 12, item 7): under 1 ms for the 64
starts after compiling. Run: python bench/multistart.py
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

import symgd
from symgd import multistart
from symgd.kernelgen.fastcall import entry_point
from symgd.methods import loading
from symgd.methods import status as S
from symgd.solver import compiled

STARTS = 64
ROUNDS = 15
PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "himmelblau.yaml"
MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131313], [-3.779310, -3.283186],
                   [3.584428, -1.848127]])


def f(v):
    x, y = v
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def grad(v):
    x, y = v
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return np.array([4.0 * a * x + 2.0 * b, 2.0 * a + 4.0 * b * y])


def minima_found(xs) -> int:
    hit = set()
    for x in xs:
        d = np.max(np.abs(MINIMA - x), axis=1)
        if d.min() < 1e-4:
            hit.add(int(np.argmin(d)))
    return len(hit)


def batch_only(p, X):
    """run_starts on fresh packed arrays (what solve(starts=64) calls for newton)."""
    M = loading.load("multistart_loop")
    comp = compiled(p)
    call = entry_point(M.run_starts)
    K = comp.kernels.loop_arg(with_hessian=True)
    T = M.empty_trace()

    def run():
        W3 = np.zeros((STARTS, S.N_W, 2))
        W3[:, S.W_X] = X
        W3[:, S.W_LO] = -np.inf
        W3[:, S.W_HI] = np.inf
        W3[:, S.W_XBEST] = X
        FS = np.zeros((STARTS, S.N_PAR + S.N_FSTATE))
        FS[:, 0], FS[:, 1] = 1e-8, 1e-4
        FS[:, S.P_TYP_X] = FS[:, S.P_TYP_F] = 1.0
        JS = np.zeros((STARTS, S.N_PAR + S.N_ISTATE), dtype=np.int64)
        JS[:, 0], JS[:, 1] = 500, 1_000_000
        codes = np.zeros(STARTS, dtype=np.int64)
        notes = np.zeros(STARTS, dtype=np.int64)
        call(K, M.NEWTON, False, True, W3, FS, JS, T, codes, notes)
        return W3[:, S.W_X], codes
    return run


def main():
    p = symgd.load(PROBLEM)
    X = multistart.start_points(np.zeros(2), np.full(2, -np.inf), np.full(2, np.inf),
                                STARTS, 0)
    batch = batch_only(p, X)
    cands = {
        "symgd solve(starts=64) newton": lambda: symgd.solve(p, method="newton", starts=64),
        "symgd solve(starts=64) bfgs": lambda: symgd.solve(p, method="bfgs", starts=64),
        "symgd run_starts newton (batch only)": batch,
        "64 x symgd.solve newton": lambda: [symgd.solve(p, method="newton", x0=x) for x in X],
        "64 x scipy BFGS (jac)": lambda: [minimize(f, x, jac=grad, method="BFGS",
                                                   options={"gtol": 1e-8}) for x in X],
    }
    found = {}
    for name, c in cands.items():  # warm up (compile, load) and record the answers
        out = c()
        if isinstance(out, symgd.Result):
            xs = [np.array(list(r["x"].values())) for r in out.runs]
        elif isinstance(out, tuple):
            xs = list(out[0])
        else:
            xs = [r.x for r in out]
        found[name] = minima_found(xs)
    times = {name: [] for name in cands}
    for _ in range(ROUNDS):
        for name, c in cands.items():
            t = time.perf_counter()
            c()
            times[name].append(time.perf_counter() - t)
            time.sleep(0.01)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["symgd solve(starts=64) newton"]
    print(f"Himmelblau, {STARTS} starts in [-10, 10]^2 (seed 0); median of {ROUNDS} rounds")
    print(f"{'':40s} {'ms / 64 starts':>15s} {'minima found':>13s} {'x solve(starts)':>16s}")
    for name in cands:
        print(f"{name:40s} {med[name] * 1e3:15.3f} {found[name]:>13d} "
              f"{med[name] / ref:16.2f}")
    warm = []
    for _ in range(200):  # back to back: the caches warm, as in a loop over problems
        t = time.perf_counter()
        cands["symgd solve(starts=64) newton"]()
        warm.append(time.perf_counter() - t)
    print(f"symgd solve(starts=64) newton, 200 calls back to back: "
          f"{statistics.median(warm) * 1e3:.3f} ms median")
    print(f"target: solve(starts=64) under 1 ms -> {'met' if ref < 1e-3 else 'NOT met'} "
          f"({ref * 1e3:.3f} ms)")


if __name__ == "__main__":
    main()
