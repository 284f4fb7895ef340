"""symgd's answers on the Moré-Garbow-Hillstrom problems (tests/data/mgh), against the
published minima (MGH 1981, ACM TOMS 7(1) 17-41; reference.yaml).

Every problem with a small Hessian (Gulf, Osborne 2 and Watson take tens of seconds to
derive and are scored by bench/mgh_score.py instead) is solved from its standard start
by `auto` and by `lbfgs`. Each success claim is rechecked at the returned point with
sympy's lambdify, not symgd's kernels: the relative gradient (SPEC §4) must be small and
the Hessian, by central differences of that gradient, must have no clearly negative
eigenvalue. `auto` must also reach the paper's global value, or a local value the paper
lists (f* is printed to six significant digits, so f up to one unit in the sixth digit
above it counts as at it).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import yaml

import symgd

DATA = Path(__file__).parent / "data" / "mgh"
REFERENCE = yaml.safe_load((DATA / "reference.yaml").read_text(encoding="utf-8"))
SLOW = {"mgh11_gulf", "mgh19_osborne2", "mgh20_watson"}
NAMES = sorted(n for n in REFERENCE if n not in SLOW)


@functools.lru_cache(maxsize=None)
def _lambdified(objective, syms):
    """sympy's f and gradient as Python functions, made once per problem (the auto and
    the lbfgs test recheck the same problem)."""
    syms = list(syms)
    zero_delta = (lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    f = sp.lambdify(syms, objective, "math")
    grad = sp.lambdify(syms, [sp.diff(objective, s).replace(*zero_delta)
                              for s in syms], "math")
    return f, grad


def _recheck(problem, x):
    """(f, relative gradient, smallest Hessian eigenvalue over the largest |eigenvalue|)."""
    f, grad = _lambdified(problem.objective, tuple(problem.symbols))
    x = np.asarray(x, dtype=float)
    fx = float(f(*x))
    g = np.array(grad(*x), dtype=float)
    rel = float(np.max(np.abs(g) * np.maximum(np.abs(x), 1.0))) / max(abs(fx), 1.0)
    H = np.zeros((x.size, x.size))
    for j in range(x.size):
        h = 1e-5 * max(1.0, abs(x[j]))
        xp, xm = x.copy(), x.copy()
        xp[j] += h
        xm[j] -= h
        H[:, j] = (np.array(grad(*xp), float) - np.array(grad(*xm), float)) / (2 * h)
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return fx, rel, float(eig[0]) / max(float(np.max(np.abs(eig))), 1e-300)


def _at(fx, value):
    """f at a published value printed to six significant digits (truncated)."""
    tol = 1e-6 * max(1.0, abs(value))
    sixth = 10.0 ** (math.floor(math.log10(abs(value))) - 5) if value else 0.0
    return value - tol <= fx <= value + max(tol, sixth)


def _claim_holds(problem, r):
    fx, rel, curv = _recheck(problem, r.x)
    assert math.isclose(fx, r.fun, rel_tol=1e-9, abs_tol=1e-12), (fx, r.fun)
    # SPEC §4's test is at tol 1e-8 on symgd's gradient; lambdify's may differ by rounding
    assert rel <= 1e-6, f"claimed {r.status} with relative gradient {rel:.2e}"
    assert curv >= -1e-6, f"claimed {r.status} at a saddle (curvature {curv:.2e})"
    return fx


@pytest.mark.parametrize("name", NAMES)
def test_auto_reaches_a_published_minimum_and_its_claim_holds(name):
    ref = REFERENCE[name]
    problem = symgd.load(DATA / f"{name}.yaml")
    # The closed form spends its whole budget (3 s, 10 s for polynomial systems) on
    # most of these without an answer; the iterative side is what this test checks,
    # so it gets 1 s (the closed form has its own tests), which keeps CI short.
    r = symgd.solve(problem, method="auto", timeout=1.0)
    if not r.success:
        # an honest failure is allowed only where the answer is still at the minimum
        # (Meyer: f at f* but the step stalls on its 1e5-scaled valley floor)
        fx = _recheck(problem, r.x)[0]
        assert _at(fx, float(ref["f_star"])), f"{r.status}: {r.message}"
        return
    fx = _claim_holds(problem, r)
    published = [float(ref["f_star"])] + [float(v) for v in ref.get("f_local", [])]
    assert any(_at(fx, v) for v in published), f"f = {fx!r}, published {published}"


@pytest.mark.parametrize("name", NAMES)
def test_lbfgs_claims_hold(name):
    problem = symgd.load(DATA / f"{name}.yaml")
    r = symgd.solve(problem, method="lbfgs")
    if r.success:
        _claim_holds(problem, r)
    else:
        assert r.status in ("max_iter", "stalled", "diverged", "unbounded", "timeout")
        assert r.message
