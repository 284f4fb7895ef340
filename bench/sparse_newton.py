"""Newton per iteration on a general sparse Hessian against the dense factorisation.

Two patterns no band fits: ARWHEAD (an arrowhead: x_{n-1} meets every term) and a
k x k grid (edges (x_a - x_b)^2 plus x^4/4 - c x at each node; RCM's best band is k).
For each size the same compiled kernels run newton twice from the same start: on the
minimum-degree sparse pattern (or the band, where it is cheaper), and with the dense
n x n Hessian (up to 2,000 variables). Printed: the structure used (the sparse
factor's entry count, or the band's half-width), iterations, the median time per
iteration of each, their ratio, and the growth of the time per iteration against the
smallest size.

    python bench/sparse_newton.py [--sizes 100,400,1600,6400] [--repeat 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symgd  # noqa: E402
from symgd import solver  # noqa: E402
from symgd.methods import runners  # noqa: E402
from symgd.methods.options import resolve_options  # noqa: E402

DENSE_MAX = 2000


def arwhead(n):
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[(-4 * x[i] + 3) + (x[i] ** 2 + x[n - 1] ** 2) ** 2 for i in range(n - 1)])
    return symgd.Problem(minimize=f, variables={s: 2.0 for s in x}, name=f"bench_arw{n}")


def grid(n):
    k = int(round(n ** 0.5))
    x = sp.symbols(f"x0:{k * k}", real=True)
    at = lambda i, j: x[i * k + j]  # noqa: E731
    terms = [(at(i, j) - at(i, j + 1)) ** 2 for i in range(k) for j in range(k - 1)]
    terms += [(at(i, j) - at(i + 1, j)) ** 2 for i in range(k - 1) for j in range(k)]
    terms += [x[m] ** 4 / 4 - (1 + sp.Rational(m % 7, 7)) * x[m] for m in range(k * k)]
    return symgd.Problem(minimize=sp.Add(*terms), variables={s: 0.0 for s in x},
                         name=f"bench_grid{k}")


def per_iteration(K, x0, repeat):
    n = x0.size
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    opts = resolve_options("newton", {"max_iter": 200})
    times, out = [], None
    runners.newton(K, x0, lo, hi, opts, None)   # loads the compiled loop
    for _ in range(repeat):
        t = time.perf_counter()
        out = runners.newton(K, x0, lo, hi, opts, None)
        times.append(time.perf_counter() - t)
    return out, statistics.median(times) / max(out.iterations, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,400,1600,6400")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'problem':<10} {'n':>6} {'structure':>14} {'it':>3} {'sparse ms/it':>13} "
          f"{'dense ms/it':>12} {'dense/sparse':>12} {'growth':>7}")
    for name, make in (("arwhead", arwhead), ("grid", grid)):
        first = None
        for n in sizes:
            p = make(n)
            K = solver.compiled(p, need_hessian=True).kernels
            x0 = np.asarray(p.start, dtype=float)
            out, t_sparse = per_iteration(K, x0, args.repeat)
            first = first or t_sparse
            dense = "-"
            ratio = "-"
            if K.has_hessian and x0.size <= DENSE_MAX:
                Kd = dataclasses.replace(K, hess_sparse=0, sparse_nnz=-1, hess_band=0, band=-1)
                outd, t_dense = per_iteration(Kd, x0, args.repeat)
                assert outd.iterations == out.iterations, "dense and sparse iterates differ"
                dense, ratio = f"{1e3 * t_dense:.3f}", f"{t_dense / t_sparse:.1f}x"
            kind = (f"sparse {K.sparse_nnz}" if K.sparse_nnz > 0 else
                    f"band {K.band}" if K.band >= 0 else "dense")
            print(f"{name:<10} {x0.size:>6} {kind:>14} {out.iterations:>3} "
                  f"{1e3 * t_sparse:>13.3f} {dense:>12} {ratio:>12} "
                  f"{t_sparse / first:>6.1f}x  [{out.status}]")


if __name__ == "__main__":
    main()
