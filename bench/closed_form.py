"""The closed form's speed: the figures tests/test_analytic.py used to assert.

  himmelblau in-process   symgd.analytic.critical_points_inprocess on Himmelblau's function
                          (nine critical points, four of them algebraic of degree 9), with
                          sympy's cache cleared before each call (a fresh solve)
  himmelblau worker       the same through symgd.analytic.critical_points: the killable
                          worker process (interpreter start and sympy import included)
  worker floor            the worker on x**2 + y**2 (one critical point): the start cost
  kill at timeout=1       the worker on a 4-variable quartic whose lex Groebner basis runs
                          for over a minute, stopped at its 1 s timeout: how long the caller
                          waits in all (the test that proves the kill allows 15 s)

Prints the median and minimum milliseconds over interleaved rounds. The test used to ask
for Himmelblau in-process under 2 s.

Run: python bench/closed_form.py [rounds]        (default 5; about 10 s on 2 cores)
"""
from __future__ import annotations

import itertools
import random
import sys

import sympy as sp
from sympy.core.cache import clear_cache

import symgd
from interleave import interleaved_ms  # bench/interleave.py (the script's own folder)
from symgd.analytic import critical_points, critical_points_inprocess

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
x, y = sp.symbols("x y", real=True)
HIMMELBLAU = symgd.Problem(minimize=(x**2 + y - 11)**2 + (x + y**2 - 7)**2, variables=[x, y])
BOWL = symgd.Problem(minimize=x**2 + y**2, variables=[x, y])


def slow_quartic():
    """The problem of tests/test_analytic.py::test_timeout_kills_the_worker."""
    xs = sp.symbols("a b c d", real=True)
    rng = random.Random(1)
    f = sum(v**4 for v in xs)
    for deg in range(1, 4):
        for m in itertools.combinations_with_replacement(xs, deg):
            f += rng.randint(-5, 5) * sp.Mul(*m)
    return symgd.Problem(minimize=f, variables=list(xs))


def in_process():
    clear_cache()
    r = critical_points_inprocess(HIMMELBLAU)
    assert r.status == "solved" and len(r.critical_points) == 9


def worker():
    r = critical_points(HIMMELBLAU, timeout=60)
    assert r.status == "solved" and len(r.critical_points) == 9


def floor():
    r = critical_points(BOWL, timeout=60)
    assert r.status == "solved" and len(r.critical_points) == 1


QUARTIC = slow_quartic()


def killed():
    r = critical_points(QUARTIC, timeout=1)
    assert r.status == "timeout"


def main():
    competitors = {"himmelblau in-process": in_process, "himmelblau worker": worker,
                   "worker floor": floor, "kill at timeout=1": killed}
    med, best = interleaved_ms(competitors, ROUNDS, pause_s=0.05)
    print(f"closed form, {ROUNDS} rounds (ms)        median       min")
    for name in competitors:
        print(f"  {name:<28} {med[name]:>10.1f} {best[name]:>9.1f}")


if __name__ == "__main__":
    main()
