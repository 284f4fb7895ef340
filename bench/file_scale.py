"""Chained Rosenbrock from a problem file, n variables, by the command line: where the
wall time goes beyond the solve itself (reading and expanding the sum, the warm-index
record, printing the result), side by side with the solve's own timings.

    variables: {w: {shape: n, start: "-1.2*(1 - i % 2) + i % 2"}}
    minimize: sum(100*(w[i + 1] - w[i]**2)**2 + (1 - w[i])**2, (i, 0, n - 2))

Each n runs `python -m symgd solve FILE --json --limit max_variables=N` in a fresh
process with an empty problem cache (after one small solve compiled the method loops),
with method lbfgs and max_iter 100 (the point here is the fixed costs, not the
iterations: chained Rosenbrock needs ~5 n L-BFGS iterations). Printed: wall time of
the command, the Result's derive + compile and iterate seconds, the rest (load,
record, output), and the peak resident memory of the command.

Run: python bench/file_scale.py [--sizes 2000,10000] [--source DIR]
(--source: the symgd package of another checkout, e.g. a worktree of an older commit,
put first on PYTHONPATH, for a before/after comparison in one run)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILE = """name: chained_rosenbrock_{n}
variables:
  w: {{shape: {n}, start: "-1.2*(1 - i % 2) + i % 2"}}
minimize: sum(100*(w[i + 1] - w[i]**2)**2 + (1 - w[i])**2, (i, 0, {n} - 2))
method: lbfgs
options: {{max_iter: 100}}
"""


def run(path: Path, n: int, env: dict) -> tuple:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "symgd", "solve", str(path), "--json",
                          "--limit", f"max_variables={max(n, 1000)}"],
                         capture_output=True, text=True, env=env, cwd=path.parent)
    wall = time.perf_counter() - t0
    rss = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return out, wall, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--source", default=None)
    a = ap.parse_args()
    print(f"{'n':>6s} {'wall':>7s} {'derive+compile':>15s} {'iterate':>8s} {'rest':>7s} "
          f"{'RSS MB':>7s} status")
    for n in (int(s) for s in a.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "SYMGD_CACHE_DIR": str(Path(tmp) / "cache")}
            if a.source:
                env["PYTHONPATH"] = a.source
            warm = Path(tmp) / "warm.yaml"
            warm.write_text(FILE.format(n=8))
            run(warm, 8, env)      # the method loops, compiled once
            path = Path(tmp) / f"chained_{n}.yaml"
            path.write_text(FILE.format(n=n))
            out, wall, rss = run(path, n, env)
        if out.returncode not in (0, 1):
            print(f"{n:6d} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout)
        t = r.get("timings", {})
        made = t.get("derive", 0.0) + t.get("compile", 0.0)
        it = t.get("iterate", 0.0)
        print(f"{n:6d} {wall:7.2f} {made:15.2f} {it:8.2f} {wall - made - it:7.2f} "
              f"{rss:7.0f} {r.get('status')}")


if __name__ == "__main__":
    main()
