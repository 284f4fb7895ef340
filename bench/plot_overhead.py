"""What ``solve --plot`` costs over ``solve``: both as fresh processes, side by side.

Runs ``python -m symgd solve PROBLEM`` and ``... solve PROBLEM --plot fig.png``
alternately (after one warm-up run of each, so both read a warm kernel cache and the
warm index), and prints the median wall time of each and their difference: the price
of importing sympy and matplotlib, evaluating f on a 200 x 200 grid and writing one
PNG. The target is under 1.5 s on a 2-core machine.

    python bench/plot_overhead.py [PROBLEM.yaml] [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "symgd", *args], cwd=ROOT,
                       capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode not in (0, 1):
        sys.exit(f"symgd {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problem", nargs="?", default=str(ROOT / "problems" / "rosenbrock.yaml"))
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fig = str(Path(tmp) / "fig.png")
        plain = ["solve", a.problem]
        plotted = plain + ["--plot", fig]
        timed(plain), timed(plotted)  # warm-up: kernel cache, warm index, numba cache
        t_plain, t_plot = [], []
        for _ in range(a.runs):
            t_plain.append(timed(plain))
            t_plot.append(timed(plotted))
    m_plain, m_plot = statistics.median(t_plain), statistics.median(t_plot)
    print(f"problem: {Path(a.problem).name}, {a.runs} runs each, alternating")
    print(f"{'solve':<16} median {m_plain:6.3f} s   (min {min(t_plain):.3f})")
    print(f"{'solve --plot':<16} median {m_plot:6.3f} s   (min {min(t_plot):.3f})")
    print(f"{'difference':<16} median {m_plot - m_plain:6.3f} s   (target < 1.5 s)")


if __name__ == "__main__":
    main()
