"""Rosenbrock 2-D from (-1.2, 1) to gradient norm 1e-8, side by side in one run.

Competitors (each given the same analytic derivatives):
  symgd newton / linesearch through the public API, on an already compiled problem;
  symgd's compiled Newton loop called directly (no solve() overhead);
  a hand-written numba Newton loop with the derivatives inlined (the floor);
  scipy.optimize.minimize BFGS (jac) and trust-exact (jac, hess).

Prints the median microseconds per solve over several interleaved rounds, iterations,
and the ratios the foundation issue sets as targets. Run: python bench/small_solve.py
"""
from __future__ import annotations

import math
import statistics
import time

import numpy as np
import sympy as sp
from numba import njit
from scipy.optimize import minimize

import symgd
from symgd.kernelgen.fastcall import entry_point
from symgd.methods import loops
from symgd.methods import status as S
from symgd.solver import compiled

X0 = np.array([-1.2, 1.0])
TOL = 1e-8


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosen_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                     200 * (x[1] - x[0] ** 2)])


def rosen_hess(x):
    return np.array([[2 - 400 * (x[1] - 3 * x[0] ** 2), -400 * x[0]],
                     [-400 * x[0], 200.0]])


@njit(cache=True)
def _f(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@njit(cache=True)
def _fg(x, g):
    b = x[1] - x[0] * x[0]
    g[0] = -2 * (1 - x[0]) - 400 * x[0] * b
    g[1] = 200 * b
    return (1 - x[0]) ** 2 + 100 * b * b


@njit(cache=True)
def _h(x, H):
    H[0, 0] = 2 - 400 * (x[1] - 3 * x[0] * x[0])
    H[0, 1] = H[1, 0] = -400 * x[0]
    H[1, 1] = 200.0


@njit(cache=True)
def hand_newton(x, tol, max_iter):
    """What a user would write: generic n-variable damped Newton with arrays, a
    shifted Cholesky and Armijo backtracking, calling the derivative functions
    directly (numba inlines them). The floor the issue's 2x target refers to."""
    n = x.size
    g = np.empty(n)
    H = np.empty((n, n))
    L = np.zeros((n, n))
    d = np.empty(n)
    xt = np.empty(n)
    f = _fg(x, g)
    it = 0
    while it < max_iter:
        if np.max(np.abs(g)) <= tol * max(1.0, abs(f)):
            return it
        _h(x, H)
        tau = 0.0
        mind = min(H[0, 0], H[1, 1])
        if mind <= 0:
            tau = 1e-3 * max(1.0, np.max(np.abs(np.diag(H)))) - mind
        while True:
            ok = True
            for j in range(n):
                s = H[j, j] + tau
                for k in range(j):
                    s -= L[j, k] * L[j, k]
                if s <= 0:
                    ok = False
                    break
                L[j, j] = math.sqrt(s)
                for i in range(j + 1, n):
                    s = H[i, j]
                    for k in range(j):
                        s -= L[i, k] * L[j, k]
                    L[i, j] = s / L[j, j]
            if ok:
                break
            tau = max(2 * tau, 1e-3)
        for i in range(n):
            s = -g[i]
            for k in range(i):
                s -= L[i, k] * d[k]
            d[i] = s / L[i, i]
        for i in range(n - 1, -1, -1):
            s = d[i]
            for k in range(i + 1, n):
                s -= L[k, i] * d[k]
            d[i] = s / L[i, i]
        slope = g @ d
        t = 1.0
        while True:
            xt[:] = x + t * d
            if _f(xt) <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        x[:] = xt
        f = _fg(x, g)
        it += 1
    return it


@njit(cache=True)
def scalar_newton(x, tol, max_iter):
    """Damped Newton with a shifted 2x2 Cholesky and Armijo backtracking, fully inlined
    into scalars: no arrays, no calls. A lower bound no general solver reaches."""
    it = 0
    while it < max_iter:
        a = 1 - x[0]
        b = x[1] - x[0] * x[0]
        f = a * a + 100 * b * b
        g0 = -2 * a - 400 * x[0] * b
        g1 = 200 * b
        if max(abs(g0), abs(g1)) <= tol * max(1.0, abs(f)):
            return it
        h00 = 2 - 400 * (x[1] - 3 * x[0] * x[0])
        h01 = -400 * x[0]
        h11 = 200.0
        tau = 0.0 if min(h00, h11) > 0 else 1e-3 * max(1.0, abs(h00), h11) - min(h00, h11)
        while True:
            l00 = h00 + tau
            if l00 > 0:
                l00 = math.sqrt(l00)
                l10 = h01 / l00
                s = h11 + tau - l10 * l10
                if s > 0:
                    l11 = math.sqrt(s)
                    break
            tau = max(2 * tau, 1e-3 * max(1.0, abs(h00), h11))
        y0 = -g0 / l00
        y1 = (-g1 - l10 * y0) / l11
        d1 = y1 / l11
        d0 = (y0 - l10 * d1) / l00
        slope = g0 * d0 + g1 * d1
        t = 1.0
        while True:
            u0 = x[0] + t * d0
            u1 = x[1] + t * d1
            fa = 1 - u0
            fb = u1 - u0 * u0
            if fa * fa + 100 * fb * fb <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        x[0] = u0
        x[1] = u1
        it += 1
    return it


def timed(fn, reps):
    t = time.perf_counter()
    for _ in range(reps):
        out = fn()
    return (time.perf_counter() - t) / reps * 1e6, out


def main(rounds=7):
    x, y = sp.symbols("x y")
    problem = symgd.Problem(minimize=(1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
                            variables={x: -1.2, y: 1.0})
    comp = compiled(problem)
    k = comp.kernels
    loop = entry_point(loops.newton_loop)

    # Fresh loop state per solve, copied from templates (as hand_newton copies X0).
    W0 = np.empty((S.N_W, 2))
    W0[S.W_X] = W0[S.W_XBEST] = X0
    W0[S.W_LO], W0[S.W_HI] = comp.lower, comp.upper
    fs0 = np.zeros(S.N_PAR + S.N_FSTATE)
    js0 = np.zeros(S.N_PAR + S.N_ISTATE, dtype=np.int64)
    fs0[0], fs0[1] = TOL, 1e-4
    js0[0], js0[1] = 500, 1_000_000

    fs0[S.P_TYP_X] = fs0[S.P_TYP_F] = 1.0
    bundle = k.loop_arg()
    T0 = np.empty((0, S.N_TRACE))

    def direct_loop():
        js = js0.copy()
        loop(bundle, W0.copy(), fs0.copy(), js, T0)
        return int(js[S.N_PAR + S.I_ITER])

    cases = {
        "symgd newton (solve API)": (lambda: symgd.solve(problem, method="newton", tol=TOL).nit, 2000),
        "symgd newton loop (direct)": (direct_loop, 5000),
        "hand-written numba Newton": (lambda: hand_newton(X0.copy(), TOL, 500), 5000),
        "scalar-inlined numba Newton": (lambda: scalar_newton(X0.copy(), TOL, 500), 5000),
        "symgd linesearch (wolfe)": (lambda: symgd.solve(problem, method="linesearch", tol=TOL,
                                                         line_search="wolfe",
                                                         max_iter=100000).nit, 3),
        "scipy BFGS (jac)": (lambda: minimize(rosen, X0, jac=rosen_grad, method="BFGS",
                                              options={"gtol": TOL}).nit, 50),
        "scipy trust-exact (jac, hess)": (lambda: minimize(rosen, X0, jac=rosen_grad,
                                                           hess=rosen_hess, method="trust-exact",
                                                           options={"gtol": TOL}).nit, 50),
    }
    for fn, _ in cases.values():  # warm up (compile, caches)
        fn()
    samples = {name: [] for name in cases}
    iters = {}
    for _ in range(rounds):  # interleave the competitors
        for name, (fn, reps) in cases.items():
            us, it = timed(fn, reps)
            samples[name].append(us)
            iters[name] = it
    med = {name: statistics.median(v) for name, v in samples.items()}
    print(f"Rosenbrock 2-D from (-1.2, 1), gradient norm <= {TOL:g}; median of {rounds} rounds")
    print(f"{'solver':34s} {'us/solve':>12s} {'iterations':>10s}")
    for name in cases:
        print(f"{name:34s} {med[name]:12.1f} {iters[name]:10d}")
    bfgs = med["scipy BFGS (jac)"]
    print()
    print(f"scipy BFGS / symgd newton (API):        {bfgs / med['symgd newton (solve API)']:7.1f}x"
          "   (target >= 50x)")
    print(f"symgd newton loop / hand-written loop:  "
          f"{med['symgd newton loop (direct)'] / med['hand-written numba Newton']:7.2f}x"
          "   (target <= 2x)")
    print(f"scipy trust-exact / symgd newton (API): "
          f"{med['scipy trust-exact (jac, hess)'] / med['symgd newton (solve API)']:7.1f}x")


if __name__ == "__main__":
    main()
