"""Full-batch Newton on a fit of y = a exp(-b x) + c (1e6 samples), side by side.

Competitors, from the start (1.5, 0.5, 0.1) with mse loss:
  symgd newton   symgd.solve(problem, method="newton") on an already compiled problem:
                 the compiled Newton loop of symgd.methods.loops run over the fit's
                 bundle (symgd.fit.bundle: parallel reductions), result statistics
                 included
  hand loop      a hand-written numba Newton loop with the model inlined: per iteration
                 one parallel pass for f, g and H, a 3x3 solve, and backtracking passes
                 for f; run for the same number of iterations as symgd took (the floor)

Target (issue 11): symgd within 1.3x of the hand loop. Then a profile of gd and
linesearch on the same fit: the Python function calls of a run do not grow with its
iterations (no Python between iterations).

Run: python bench/fit_newton.py [n]
"""
from __future__ import annotations

import cProfile
import pstats
import sys

import numpy as np
import sympy as sp
from numba import njit, prange

import symgd
import symgd.fit.parallel  # noqa: F401  (sets OMP_WAIT_POLICY before numba starts threads)
from interleave import interleaved_ms  # bench/interleave.py

N = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
P0 = np.array([1.5, 0.5, 0.1])


def make_data(n):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 5.0, n)
    y = 2.0 * np.exp(-0.7 * x) + 0.5 + 0.05 * rng.standard_normal(n)
    return x, y


@njit(parallel=True, cache=True)
def _fgh(t, x, y, g, H):
    a, b, c = t[0], t[1], t[2]
    n = x.size
    f = 0.0
    g0 = g1 = g2 = 0.0
    h00 = h01 = h02 = h11 = h12 = h22 = 0.0
    for i in prange(n):
        e = np.exp(-b * x[i])
        r = a * e + c - y[i]
        ja, jb = e, -a * x[i] * e
        f += r * r
        g0 += r * ja
        g1 += r * jb
        g2 += r
        h00 += ja * ja
        h01 += ja * jb + r * (-x[i] * e)
        h02 += ja
        h11 += jb * jb + r * (a * x[i] * x[i] * e)
        h12 += jb
        h22 += 1.0
    s = 1.0 / n
    g[0], g[1], g[2] = 2 * s * g0, 2 * s * g1, 2 * s * g2
    H[0, 0], H[0, 1], H[0, 2] = 2 * s * h00, 2 * s * h01, 2 * s * h02
    H[1, 1], H[1, 2], H[2, 2] = 2 * s * h11, 2 * s * h12, 2 * s * h22
    H[1, 0], H[2, 0], H[2, 1] = H[0, 1], H[0, 2], H[1, 2]
    return s * f


@njit(parallel=True, cache=True)
def _f(t, x, y):
    f = 0.0
    for i in prange(x.size):
        r = t[0] * np.exp(-t[1] * x[i]) + t[2] - y[i]
        f += r * r
    return f / x.size


@njit(cache=True)
def hand_newton(t, x, y, iterations):
    g = np.empty(3)
    H = np.empty((3, 3))
    f = _fgh(t, x, y, g, H)
    for _ in range(iterations):
        d = np.linalg.solve(H, -g)
        a = 1.0
        slope = g @ d
        for _ in range(60):
            ft = _f(t + a * d, x, y)
            if ft <= f + 1e-4 * a * slope:
                break
            a *= 0.5
        t = t + a * d
        f = _fgh(t, x, y, g, H)
    return t


def problem(x, y):
    a, b, c, X, Y = sp.symbols("a b c x y")
    return symgd.Problem(model=a * sp.exp(-b * X) + c, target=Y, loss="mse",
                         data={"x": x, "y": y}, variables={a: P0[0], b: P0[1], c: P0[2]})


def python_calls(prob, method, max_iter):
    """Python function calls made by one solve of ``max_iter`` iterations."""
    prof = cProfile.Profile()
    prof.enable()
    r = symgd.solve(prob, method=method, max_iter=max_iter, tol=1e-300)
    prof.disable()
    return pstats.Stats(prof).total_calls, r.iterations


def main():
    x, y = make_data(N)
    prob = problem(x, y)
    r = symgd.solve(prob, method="newton", tol=1e-10)          # compile, warm caches
    its = r.iterations
    t_hand = hand_newton(P0.copy(), x, y, its)
    print(f"n = {N}: symgd newton {r.status} in {its} iterations, x = {r.x}")
    print(f"hand loop after {its} iterations: x = {t_hand}")
    med, best = interleaved_ms({
        "symgd newton (solve API)": lambda: symgd.solve(prob, method="newton", tol=1e-10),
        "hand-written numba Newton": lambda: hand_newton(P0.copy(), x, y, its),
    }, rounds=7, pause_s=0.2)
    for k in med:
        print(f"  {k:28s} {med[k]:8.1f} ms (min {best[k]:.1f})")
    ratio = med["symgd newton (solve API)"] / med["hand-written numba Newton"]
    print(f"symgd / hand: {ratio:.2f}x (target <= 1.3)")
    for method in ("gd", "linesearch"):
        symgd.solve(prob, method=method, max_iter=5)
        c10, i10 = python_calls(prob, method, 10)
        c1k, i1k = python_calls(prob, method, 200)
        print(f"{method}: {c10} Python calls for {i10} iterations, {c1k} for {i1k} "
              "(the same count: no Python between iterations)")


if __name__ == "__main__":
    main()
