"""Multistart Newton on the GPU against the CPU multistart (issue 16, item 2).

For N = 64, 256, ..., 65536 seeded starts (symgd.multistart.start_points, seed 0) of
a small objective, times side by side in one run:

  cuda   symgd.solve(problem, method="newton", starts=N, device="cuda"): one thread
         per start, one kernel launch per Newton iteration (symgd.cuda.multistart)
  cpu    symgd.solve(problem, method="newton", starts=N): all starts in one compiled
         call on the CPU (methods/multistart_loop.run_starts)

both including what solve() does around the runs (choosing and finishing the best),
and prints the median of ROUNDS interleaved rounds, the ratio cpu / cuda, and how well
the two agree (largest |x_cuda - x_cpu| over the runs, statuses that differ). The
first call of each (compiling, loading the kernels) is made before timing.

Problems: himmelblau (2 variables, four minima) and three six-hump camels in 6 bounded
variables, weakly coupled (six local minima per pair: about 200 basins, so that many
starts matter).

Usage: python bench/gpu_multistart.py [--sizes 64,256,...] [--rounds 3] [--problem himmelblau]
Needs a real GPU; with --sim it runs under numba's simulator (set NUMBA_ENABLE_CUDASIM=1
before starting Python) only to show that it executes: those timings mean nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

import symgd

ROOT = Path(__file__).resolve().parents[1]
SIZES = [64, 256, 1024, 4096, 16384, 65536]


def problems():
    him = symgd.load(ROOT / "problems" / "himmelblau.yaml")
    z = sp.symbols("z0:6", real=True)
    camel = sum((4 - sp.Rational(21, 10) * a**2 + a**4 / 3) * a**2 + a * b
                + (-4 + 4 * b**2) * b**2 for a, b in zip(z[0::2], z[1::2]))
    camels = symgd.Problem(minimize=camel + sp.Rational(1, 10) * sum(
        z[i] * z[i + 1] for i in range(5)),
        variables={zi: {"start": 0.1, "lower": -3.0, "upper": 3.0} for zi in z},
        name="camels6")
    return {"himmelblau": him, "camels6": camels}


def _exit(message: str):
    print(f"bench/gpu_multistart.py: {message}", file=sys.stderr)
    sys.exit(2)


def _device_or_exit(sim: bool):
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    if simulated and not sim:
        _exit("NUMBA_ENABLE_CUDASIM is set; pass --sim to run anyway (timings meaningless)")
    if sim and not simulated:
        _exit("--sim needs NUMBA_ENABLE_CUDASIM=1 set before Python starts")
    try:
        from numba import cuda
    except Exception as exc:
        _exit(f"numba's CUDA target is not importable ({exc}); pip install symgd[cuda]")
    if not cuda.is_available():
        _exit("no CUDA GPU found; nothing to measure")
    if not simulated:
        print(f"device: {cuda.get_current_device().name.decode()}")


def _points(r):
    return np.array([list(run["x"].values()) for run in r.runs])


def measure(P, n_starts: int, rounds: int) -> dict:
    times = {"cuda": [], "cpu": []}
    res = {}
    for _ in range(rounds):  # interleaved: each after the other has run
        for where in ("cuda", "cpu"):
            t0 = time.perf_counter()
            res[where] = symgd.solve(P, method="newton", starts=n_starts, seed=0,
                                     device=where)
            times[where].append(time.perf_counter() - t0)
    a, b = res["cuda"], res["cpu"]
    dx = float(np.max(np.abs(_points(a) - _points(b))))
    differ = sum(x["status"] != y["status"] for x, y in zip(a.runs, b.runs))
    return {"cuda": statistics.median(times["cuda"]), "cpu": statistics.median(times["cpu"]),
            "dx": dx, "differ": differ, "fun": (a.fun, b.fun),
            "ok": sum(run["status"] == "converged" for run in a.runs)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--problem", default="all", help="himmelblau, camels6 or all")
    ap.add_argument("--sim", action="store_true", help="under the simulator (no timings)")
    args = ap.parse_args(argv)
    _device_or_exit(args.sim)
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = problems()
    if args.problem != "all":
        chosen = {args.problem: chosen[args.problem]}
    for name, P in chosen.items():
        for where in ("cuda", "cpu"):  # compile and load before timing
            symgd.solve(P, method="newton", starts=2, seed=0, device=where)
        print(f"\n{name} ({len(P.variables)} variables), newton, median of "
              f"{args.rounds} rounds")
        print(f"{'starts':>8} {'cuda s':>10} {'cpu s':>10} {'cpu/cuda':>9} "
              f"{'converged':>10} {'max|dx|':>9} {'status≠':>8} {'best f cuda / cpu':>28}")
        for n in sizes:
            m = measure(P, n, args.rounds)
            print(f"{n:>8} {m['cuda']:>10.4f} {m['cpu']:>10.4f} {m['cpu'] / m['cuda']:>9.2f} "
                  f"{m['ok']:>10} {m['dx']:>9.1e} {m['differ']:>8} "
                  f"{m['fun'][0]:>13.6g} / {m['fun'][1]:<13.6g}")


if __name__ == "__main__":
    main()
