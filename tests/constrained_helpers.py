"""What the tests of the large sparse constrained runs (auglag, sqp) share: a chained
Rosenbrock problem with disc constraints and its KKT measures from hand-derived
gradients (not symgd's kernels)."""
from __future__ import annotations

import numpy as np
import sympy as sp

import symgd


def rosenbrock_discs(n):
    """The chained Rosenbrock function with disc constraints x_i^2 + x_{i+1}^2 <= 1.5
    (i even), from x_i = -0.6 (even i), 0.5 (odd i)."""
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)])
    cons = [sp.Le(x[i] ** 2 + x[i + 1] ** 2, 1.5) for i in range(0, n - 1, 2)]
    start = {x[i]: (-0.6 if i % 2 == 0 else 0.5) for i in range(n)}
    return symgd.Problem(minimize=f, variables=start, constraints=cons)


def kkt_measures(x, p, multipliers):
    """(violation, stationarity, sign, complementarity) of the chained Rosenbrock with
    disc constraints x_i^2 + x_{i+1}^2 <= 1.5 (i even), from hand-derived gradients, in
    SPEC section 4's convention (grad f = sum lambda grad c, lambda <= 0 for <=)."""
    n = x.size
    g = np.zeros(n)
    u = x[1:] - x[:-1] ** 2
    g[:-1] += -400.0 * x[:-1] * u - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * u
    viol = comp = sign = 0.0
    r = g.copy()
    for k, c in enumerate(p.constraints):
        i = 2 * k
        val = x[i] ** 2 + x[i + 1] ** 2 - 1.5
        lam = float(multipliers.get(c.text, 0.0))
        r[i] -= lam * 2.0 * x[i]
        r[i + 1] -= lam * 2.0 * x[i + 1]
        viol = max(viol, val)
        comp = max(comp, abs(lam * val))
        sign = max(sign, lam)
    f = float(np.sum(100.0 * u ** 2 + (1.0 - x[:-1]) ** 2))
    stat = float(np.max(np.abs(r) * np.maximum(np.abs(x), 1.0))) / max(abs(f), 1.0)
    return viol, stat, sign, comp


def rosenbrock_hessian(x):
    """The chained Rosenbrock function's Hessian at x, worked by hand."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
        H[i + 1, i + 1] += 200
    return H


def convex_chain(n, seed=5):
    """(Problem, its solution): min sum (x_i - a_i)^2 + sum (x_{i+1} - x_i)^2 s.t.
    x_{2k} + x_{2k+1} = b_k; the solution from the KKT system [[2I + 2D^T D, A^T],
    [A, 0]] (x, -lambda) = (2a, b), D the difference matrix, solved densely by numpy."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n // 2)
    x = sp.symbols(f"x0:{n}", real=True)
    f = sp.Add(*[(x[i] - a[i]) ** 2 for i in range(n)],
               *[(x[i + 1] - x[i]) ** 2 for i in range(n - 1)])
    cons = [sp.Eq(x[2 * k] + x[2 * k + 1], b[k]) for k in range(n // 2)]
    D = np.diff(np.eye(n), axis=0)
    A = np.zeros((n // 2, n))
    A[np.arange(n // 2), 2 * np.arange(n // 2)] = 1.0
    A[np.arange(n // 2), 2 * np.arange(n // 2) + 1] = 1.0
    K = np.block([[2 * np.eye(n) + 2 * D.T @ D, A.T], [A, np.zeros((n // 2, n // 2))]])
    want = np.linalg.solve(K, np.concatenate([2 * a, b]))[:n]
    return symgd.Problem(minimize=f, variables=list(x), constraints=cons), want


def count_calls(monkeypatch, cls, name) -> list:
    """A list that grows by one at every call of cls.name (still run as before)."""
    calls = []
    real = getattr(cls, name)

    def counted(self, *a, **kw):
        calls.append(1)
        return real(self, *a, **kw)

    monkeypatch.setattr(cls, name, counted)
    return calls
