"""Least absolute deviations at growing sample counts: which solver auto should run.

For n = 1e3, 1e4, 1e5, 1e6 samples of a line (p = 2) and a cubic (p = 4) with Laplace
noise and 5% gross outliers, times, each from the design matrix in memory:
  lp-ds     the dual LP (max yᵀd, Xᵀd = 0, |d| <= 1) by HiGHS dual simplex
  lp-ipm    the same LP by HiGHS interior point (with crossover)
  irls      IRLS on the design alone (symgd.fit.irls.irls_linear, tol 1e-8)
  irls+lp   IRLS to 1e-3, then the LP on the samples nearest its fit, the others held
            at their residuals' signs (symgd.fit.linear.lad_large: auto above the gate)
  primal    the textbook primal LP with 2n slacks (HiGHS), up to 1e4 samples only
and the objective sum |r| each reaches, relative to the full LP's optimum. The LP
answers (irls+lp included) carry a duality certificate; IRLS alone is within n eps/2.

symgd.fit.linear.LP_MAX_SAMPLES (the gate above which auto runs IRLS) and
LP_SIMPLEX_MAX (dual simplex below, interior point above) are set from these figures.

Run: python bench/lad.py [largest n]        (default 1e6; about a minute on 2 cores)
"""
from __future__ import annotations

import sys
import time

import numpy as np
from scipy.optimize import linprog

from symgd.fit.irls import irls_linear
from symgd.fit.linear import lad_large, lad_lp, rank_analysis

N_MAX = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000


def make(n, p, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n)
    X = np.column_stack([x ** k for k in range(p)])
    y = X @ np.linspace(1.0, 2.0, p) + rng.laplace(0.0, 0.1, n)
    out = rng.random(n) < 0.05
    y[out] += rng.uniform(5.0, 50.0, out.sum())
    return X, y


def primal(X, y):
    """min 1ᵀ(u + v) subject to X theta + u - v = y, u, v >= 0 (theta free)."""
    n, p = X.shape
    from scipy.sparse import hstack, identity, csr_matrix
    A = hstack([csr_matrix(X), identity(n), -identity(n)]).tocsr()
    c = np.concatenate([np.zeros(p), np.ones(2 * n)])
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    return res.x[:p]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    print(f"{'n':>8} {'p':>2} {'solver':>7} {'seconds':>8}  sum|r| / LP optimum - 1")
    for p in (2, 4):
        n = 1000
        while n <= N_MAX:
            X, y = make(n, p)
            R = rank_analysis(X)
            names = [f"t{j}" for j in range(p)]
            rows = {}
            rows["lp-ipm"] = timed(lambda: lad_lp(X, y, names, R, solver="highs-ipm").theta)
            if n <= 200_000:
                rows["lp-ds"] = timed(lambda: lad_lp(X, y, names, R, solver="highs-ds").theta)
            rows["irls"] = timed(lambda: irls_linear(X, y, tol=1e-8, max_iter=1000).theta)
            rows["irls+lp"] = timed(lambda: lad_large(X, y, names, R, tol=1e-8,
                                                      max_iter=1000).theta)
            if n <= 10_000:
                rows["primal"] = timed(lambda: primal(X, y))
            best = np.sum(np.abs(y - X @ rows["lp-ipm"][1]))
            for name, (t, th) in rows.items():
                rel = np.sum(np.abs(y - X @ th)) / best - 1.0
                print(f"{n:>8} {p:>2} {name:>7} {t:>8.3f}  {rel:+.2e}")
            n *= 10


if __name__ == "__main__":
    main()
