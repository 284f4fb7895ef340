"""Timing competitors side by side for the scripts in bench/ (not a benchmark itself)."""
from __future__ import annotations

import statistics
import time


def interleaved_ms(competitors: dict, rounds: int, pause_s: float) -> tuple[dict, dict]:
    """(median ms, minimum ms) of each ``name -> callable`` over ``rounds`` rounds, every
    round calling each competitor once in turn, after a ``pause_s`` sleep that lets
    spinning BLAS / intra-op threads of the one before settle: load that comes and goes
    then falls on all of them alike."""
    times = {name: [] for name in competitors}
    for _ in range(rounds):
        for name, fn in competitors.items():
            time.sleep(pause_s)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    best = {k: min(v) * 1e3 for k, v in times.items()}
    return med, best
