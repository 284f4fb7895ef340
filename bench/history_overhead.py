"""What keeping the per-iteration history costs: Newton on 2-D Rosenbrock from
(-1.2, 1) to tol 1e-8, with the history on and off, side by side in one run.

Two levels, interleaved over several rounds (median microseconds per solve):
  the compiled Newton loop called directly, with a trace array as the driver
  allocates it (32 rows: f, gradient norm, step, learning rate, x) against an empty
  one (the loop then records nothing);
  symgd.solve(problem, method="newton") with history=True (the default) and
  history=False, on an already compiled problem.
Issue 13's target: history on is no more than 10% slower.
Run: python bench/history_overhead.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import sympy as sp

import symgd
from symgd.kernelgen.fastcall import entry_point
from symgd.methods import loops
from symgd.methods import status as S
from symgd.methods.driver import HISTORY_FIRST_ROWS
from symgd.solver import compiled

X0 = np.array([-1.2, 1.0])
TOL = 1e-8


def timed(fn, reps):
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps * 1e6


def main(rounds=9):
    x, y = sp.symbols("x y")
    problem = symgd.Problem(minimize=(1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
                            variables={x: -1.2, y: 1.0})
    comp = compiled(problem, need_hessian=True)
    arg = comp.kernels.loop_arg(with_hessian=True)
    loop = entry_point(loops.newton_loop)
    W0 = np.zeros((S.N_W, 2))
    W0[S.W_X] = W0[S.W_XBEST] = X0
    W0[S.W_LO], W0[S.W_HI] = comp.lower, comp.upper
    fs0 = np.zeros(S.N_PAR + S.N_FSTATE)
    js0 = np.zeros(S.N_PAR + S.N_ISTATE, dtype=np.int64)
    fs0[0], fs0[1] = TOL, 1e-4
    fs0[S.P_TYP_X] = fs0[S.P_TYP_F] = 1.0
    js0[0], js0[1] = 500, 1_000_000
    off = np.empty((0, S.N_TRACE))

    def direct(with_history):
        W, fs, js = W0.copy(), fs0.copy(), js0.copy()
        # as the driver hands it over: uninitialised (the loop fills it with NaN)
        T = np.empty((HISTORY_FIRST_ROWS, S.N_TRACE + 2)) if with_history else off
        code = loop(arg, W, fs, js, T)
        assert code == S.CONVERGED
        return T

    T = direct(True)
    assert np.isfinite(T[1, S.T_F]) and np.isfinite(T[1, S.N_TRACE])  # it records
    rows = {"loop, history on": lambda: direct(True),
            "loop, history off": lambda: direct(False),
            "solve, history on": lambda: symgd.solve(problem, method="newton"),
            "solve, history off": lambda: symgd.solve(problem, method="newton",
                                                      history=False)}
    for fn in rows.values():
        fn()  # warm
    samples = {k: [] for k in rows}
    for _ in range(rounds):
        for k, fn in rows.items():
            samples[k].append(timed(fn, 2000 if k.startswith("loop") else 200))
    med = {k: statistics.median(v) for k, v in samples.items()}
    for k, v in med.items():
        print(f"{k:22s} {v:9.2f} us")
    for level in ("loop", "solve"):
        ratio = med[f"{level}, history on"] / med[f"{level}, history off"]
        print(f"{level}: history on / off = {ratio:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
