"""Evaluation counts of a constrained run (the Result's ``evaluations``).

A constrained method and the KKT checks it runs on its answer often ask for f, c or J
at a point already evaluated (the checks look at the accepted iterate again). The
counted bundle keeps the last few points' values, so the counts are distinct evaluations:
what the method needed, not how often its code asked.
"""
from __future__ import annotations

import numpy as np


class Counter:
    """Objective (with gradient), Hessian and constraint evaluations so far."""

    def __init__(self):
        self.f = self.h = self.c = 0

    def as_dict(self) -> dict:
        return {"f": self.f, "grad": self.f, "hess": self.h, "constraints": self.c}


class _RecentPoints:
    """The values computed at the last few x (one cache per kind of call): the KKT
    checks come back to an iterate after the polish has evaluated points beside it."""

    SIZE = 4

    def __init__(self):
        self.entries = []   # (x, value), newest last

    def get(self, x):
        for key, value in reversed(self.entries):
            if key.shape == x.shape and np.array_equal(key, x):
                return value
        return None

    def put(self, x, value):
        self.entries.append((np.array(x, dtype=float, copy=True), value))
        del self.entries[:-self.SIZE]


class CountedBundle:
    """A symgd.constrained.kernels.ConstrainedBundle that counts its distinct calls."""

    def __init__(self, bundle, count: Counter):
        self.b, self.count = bundle, count
        self.constraints = CountedConstraints(bundle.constraints, count)
        self.objective_cliques = getattr(bundle, "objective_cliques", ())
        self._fg = _RecentPoints()

    def fg(self, x, g):
        found = self._fg.get(x)
        if found is None:
            self.count.f += 1
            gx = np.zeros(x.size)
            found = (float(self.b.fg(x, gx)), gx)
            self._fg.put(x, found)
        g[:] = found[1]
        return found[0]

    def hess(self, x, H):
        self.count.h += 1
        self.b.hess(x, H)

    def hessian_coo(self):
        return self.b.hessian_coo()

    def hessian_nz(self, x):
        self.count.h += 1
        return self.b.hessian_nz(x)


class CountedConstraints:
    """The constraints' kernels, counting a point's values and Jacobian as one call."""

    def __init__(self, ck, count: Counter):
        self.ck, self.count = ck, count
        self.m, self.equality = ck.m, ck.equality
        self.texts, self.relations = ck.texts, ck.relations
        # what auglag's sparse systems read (symgd.constrained.sparse_newton)
        self.n, self.variables = getattr(ck, "n", 0), getattr(ck, "variables", ())
        self.jac_coo, self.hess_coo = getattr(ck, "jac_coo", ()), getattr(ck, "hess_coo", ())
        self._c, self._J, self._Jnz = _RecentPoints(), _RecentPoints(), _RecentPoints()

    def values(self, x):
        found = self._c.get(x)
        if found is None:
            self.count.c += 1
            found = self.ck.values(x)
            self._c.put(x, found)
        return found.copy()

    def jacobian(self, x):
        """J at x, read-only and shared with the cache (no m x n copy per call: 256 MB
        at 4,000 constraints in 8,000 variables); callers copy what they change."""
        return _read_only(self._J, x, self.ck.jacobian)

    def jacobian_nz(self, x):
        """J's nonzeros at ``jac_coo``, read-only and shared with the cache."""
        return _read_only(self._Jnz, x, self.ck.jacobian_nz)

    def weighted_hessian(self, x, y):
        return self.ck.weighted_hessian(x, y)

    def weighted_hessian_nz(self, x, y):
        return self.ck.weighted_hessian_nz(x, y)


def _read_only(cache: _RecentPoints, x, compute):
    """compute(x), from the cache where x was seen, marked read-only."""
    found = cache.get(x)
    if found is None:
        found = compute(x)
        found.setflags(write=False)
        cache.put(x, found)
    return found
