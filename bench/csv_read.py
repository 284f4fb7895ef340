"""Reading a CSV data file of 1e6 rows x 2 float columns (x, y printed with repr).

Competitors, each reading the same file into float64 columns:
  fast     symgd.io.csv_reader.read_csv, which takes the compiled path
           (symgd.io.csv_fast) for a plain file like this one
  safe     the same read_csv with the compiled path switched off: Python's csv module
           and float, the reader every refused file goes to
  loadtxt  np.loadtxt(path, delimiter=',', skiprows=1)

Target (issue 15, item 1): fast under 0.3 s. Prints the best of 5 runs of each, after
one warm-up call (which compiles, or loads numba's cached machine code), and the ratios.
Checks first that fast and safe give the same arrays, bit for bit.

Run: python bench/csv_read.py [rows]      (default 1e6)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from symgd.io import csv_fast
from symgd.io.csv_reader import read_csv

ROWS = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
REPEATS = 5
WANTED = {"x": "x", "y": "y"}


def write_file(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 10.0, n)
    y = 2.0 * np.exp(-0.3 * x) + 0.05 * rng.standard_normal(n)
    p = folder / "data.csv"
    with open(p, "w") as fh:
        fh.write("x,y\n")
        fh.write("".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    return p


def best(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def safe_read(p: Path):
    keep = csv_fast.read_fast
    csv_fast.read_fast = lambda *args: None  # every file refused: the csv module reads
    try:
        return read_csv(p, WANTED)
    finally:
        csv_fast.read_fast = keep


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p = write_file(Path(tmp), ROWS)
        size = p.stat().st_size / 2**20
        fast_out, safe_out = read_csv(p, WANTED), safe_read(p)
        assert fast_out[1] == safe_out[1] == ROWS
        for name in WANTED:
            assert np.array_equal(fast_out[0][name].view(np.uint64),
                                  safe_out[0][name].view(np.uint64)), name
        assert np.array_equal(fast_out[2], safe_out[2])
        t_fast = best(lambda: read_csv(p, WANTED))
        t_safe = best(lambda: safe_read(p))
        t_np = best(lambda: np.loadtxt(p, delimiter=",", skiprows=1))
    print(f"{ROWS} rows x 2 columns, {size:.1f} MiB; best of {REPEATS} after a warm-up")
    print(f"  symgd fast path   {t_fast:8.3f} s")
    print(f"  symgd safe path   {t_safe:8.3f} s   ({t_safe / t_fast:5.1f}x the fast path)")
    print(f"  np.loadtxt        {t_np:8.3f} s   ({t_np / t_fast:5.1f}x the fast path)")
    print(f"  target: fast < 0.3 s: {'met' if t_fast < 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
