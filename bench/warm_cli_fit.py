"""A warm 1e6-row CSV fit from the command line (issue 15's target: under 1 s).

Writes two CSV files of 1e6 rows x 2 columns (x, y = 2.5 exp(-0.4 x) + 0.7 +
N(0, 0.05^2); x, z = 1.5 + 0.8 x + N(0, 0.05^2)) into a temporary folder with two
problem files:

  exp     model a*exp(-b*x) + c, target y, loss sse   (auto chooses lm)
  linear  model p + q*x, target z, loss sse          (auto chooses the linear closed form)

and times ``python -m symgd solve PROBLEM --json`` as a subprocess (wall clock, the
interpreter's start included): one cold run per problem and method (an empty kernel
cache: parse, derive, generate and compile) and then REPEATS warm runs, whose median is
reported beside the target (and the median CPU time, user + system, of the warm
runs: on a busy machine the wall time says more about the neighbours). Methods: ``--method lm`` (exp only) and auto (both). For
reference, ``np.loadtxt`` of the same file inside one process (no interpreter start).
Every warm run's JSON must equal the cold run's apart from timings.

The method loops' numba cache (beside symgd's sources) is shared by all runs; the
kernel cache (SYMGD_CACHE_DIR) is a fresh folder per problem and method.

Run: python bench/warm_cli_fit.py [rows] [repeats]     (default 1e6 rows, 7 repeats)
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
TARGET_S = 1.0
VOLATILE = ("time", "timings", "cache", "cached", "wall")


def write_data(folder: Path, n: int) -> list:
    """Two CSV files of n rows x 2 columns (the issue's shape): exp.csv (x, y) and
    linear.csv (x, z)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 10.0, n)
    y = 2.5 * np.exp(-0.4 * x) + 0.7 + 0.05 * rng.standard_normal(n)
    z = 1.5 + 0.8 * x + 0.05 * rng.standard_normal(n)
    paths = []
    for name, col, v in (("exp", "y", y), ("linear", "z", z)):
        p = folder / f"{name}.csv"
        with open(p, "w") as fh:
            fh.write(f"x,{col}\n")
            fh.write("".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), v.tolist())))
        paths.append(p)
    return paths


PROBLEMS = {
    "exp": ("variables: {a: 1, b: 1, c: 0}\ndata: {file: exp.csv}\n"
            "model: a*exp(-b*x) + c\ntarget: y\nloss: sse\n"),
    "linear": ("variables: {p: 0, q: 0}\ndata: {file: linear.csv}\n"
               "model: p + q*x\ntarget: z\nloss: sse\n"),
}


def strip(obj):
    """The JSON result without what differs between runs (times, cache flags)."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items()
                if not any(w in k.lower() for w in VOLATILE)}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def run(problem: Path, method, cache: Path) -> tuple:
    cmd = [sys.executable, "-m", "symgd", "solve", str(problem), "--json", "--quiet"]
    if method:
        cmd += ["--method", method]
    env = dict(os.environ, SYMGD_CACHE_DIR=str(cache))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return wall, cpu, json.loads(r.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        data, _ = write_data(folder, ROWS)
        print(f"{ROWS} rows x 2 columns, {data.stat().st_size / 1e6:.1f} MB a file, written in "
              f"{time.perf_counter() - t0:.1f} s; {REPEATS} warm runs each, median wall "
              f"time of `python -m symgd solve ... --json` (interpreter start included)")
        for name, text in PROBLEMS.items():
            (folder / f"{name}.yaml").write_text(text)
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            np.loadtxt(data, delimiter=",", skiprows=1)
            t.append(time.perf_counter() - t0)
        loadtxt = min(t)
        print(f"\n{'problem':8} {'method':7} {'cold s':>7} {'warm s':>7} {'min':>6} "
              f"{'max':>6} {'cpu s':>6}  target {TARGET_S:.1f} s  method run")
        for name, method in (("exp", "lm"), ("exp", None), ("linear", None)):
            cache = folder / f"cache-{name}-{method or 'auto'}"
            problem = folder / f"{name}.yaml"
            cold, _, first = run(problem, method, cache)
            warm, cpu = [], []
            for _ in range(REPEATS):
                w, c, out = run(problem, method, cache)
                if strip(out) != strip(first):
                    raise SystemExit(f"{name} {method}: a warm result differs from the cold")
                warm.append(w)
                cpu.append(c)
            med = statistics.median(warm)
            verdict = "met" if med < TARGET_S else "MISSED"
            print(f"{name:8} {method or 'auto':7} {cold:7.2f} {med:7.3f} {min(warm):6.3f} "
                  f"{max(warm):6.3f} {statistics.median(cpu):6.3f}  {verdict:14}  "
                  f"{first.get('method')}")
        print(f"\nnp.loadtxt of the same file (in process, best of 3): {loadtxt:.2f} s")


if __name__ == "__main__":
    main()
