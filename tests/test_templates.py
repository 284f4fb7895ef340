"""Repeated terms compiled as loops (symgd.kernelgen.templates, loop_codegen; issue 14).

The templated kernels must compute what the straight-line kernels compute (f, gradient
and Hessian at random points, to rounding), their size must not grow with the number of
terms, and the problems whose Hessians were refused (Gulf, Osborne 2, Watson: MGH 11,
19, 20) are now solved by newton with the exact Hessian, to the published minima
(Moré, Garbow & Hillstrom 1981, tests/data/mgh/reference.yaml), rechecked with sympy's
lambdify rather than symgd's kernels.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import yaml

import symgd
from symgd.kernelgen import kernels, loop_codegen, templates

MGH = Path(__file__).parent / "data" / "mgh"
REFERENCE = yaml.safe_load((MGH / "reference.yaml").read_text(encoding="utf-8"))


def chained_rosenbrock(n, name="chained"):
    w = sp.IndexedBase("w")
    j = sp.Symbol("j", integer=True)
    start = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j] ** 2) ** 2 + (1 - w[j]) ** 2, (j, 0, n - 2)),
        variables={w[q]: s for q, s in enumerate(start)}, name=name)


def test_chained_rosenbrock_is_two_shapes_with_computed_indices():
    p = chained_rosenbrock(30)
    parts = templates.split(p.minimized_objective(), p.symbols)
    assert sorted(g.size for g in parts.groups) == [29, 29] and parts.rest == 0
    for g in parts.groups:
        for col in g.index.T:   # w[k] and w[k + 1]: no table needed
            assert templates.evenly_stepped(col) in ((0, 1), (1, 1))
        assert g.consts.shape[1] == 0   # 100 and 1 are the same in every term


def test_small_or_unrepeated_sums_are_left_alone():
    x = sp.symbols("x0:40", real=True)
    assert templates.split(sum(xi ** 2 for xi in x[:10]), x) is None   # too few terms
    # x_k^k: the exponent is part of the shape, so no two terms share one
    assert templates.split(sum(xi ** (k + 2) for k, xi in enumerate(x)), x) is None


def test_kernel_text_does_not_grow_with_the_number_of_terms():
    def lines(n):
        p = chained_rosenbrock(n)
        parts = templates.split(p.minimized_objective(), p.symbols)
        return len(loop_codegen.loop_source("t", parts, p.symbols, hessian=True).splitlines())

    assert lines(50) == lines(500)


def _random_points(p, count, seed):
    rng = np.random.default_rng(seed)
    start = np.array([float(v.start) for v in p.variables])
    return [start * (1 + 0.2 * rng.standard_normal(start.size)) + 0.1 * rng.standard_normal(
        start.size) for _ in range(count)]


@pytest.mark.parametrize("name", ["chained", "mgh11_gulf", "mgh19_osborne2", "mgh20_watson"])
def test_templated_kernels_match_the_straight_line_kernels(name):
    p = chained_rosenbrock(12 * 3) if name == "chained" else symgd.load(MGH / f"{name}.yaml")
    parts = templates.split(p.minimized_objective(), p.symbols)
    assert parts is not None
    loop = kernels.compile_templated(p, parts, with_hessian=True)
    flat = kernels.compile_problem(p, with_hessian=True)
    n = len(p.symbols)
    terms = sp.lambdify(p.symbols, list(p.minimized_objective().args), "math")
    for x in _random_points(p, 3, seed=len(name)):
        g1, g2, H1, H2 = np.zeros(n), np.zeros(n), np.zeros((n, n)), np.zeros((n, n))
        f1, f2 = loop.fg(x, g1), flat.fg(x, g2)
        loop.hess(x, H1)
        flat.hess(x, H2)
        # the sums run in another order: agree to rounding of the sum of |terms|
        scale = sum(abs(t) for t in terms(*x))
        assert abs(f1 - f2) <= 1e-13 * scale and abs(loop.fun(x) - f2) <= 1e-13 * scale
        np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12 * np.max(np.abs(g2)))
        np.testing.assert_allclose(H1, H2, rtol=1e-12, atol=1e-12 * np.max(np.abs(H2)))


def test_watson_terms_share_one_shape_despite_sympys_argument_order():
    """sympy orders 0.52*x2 and x1 within a sum by their coefficients too; the shapes
    are compared in a canonical order, so 28 of Watson's 31 terms form one group (the
    other three are x1^2, (x2 - x1^2 - 1)^2 and the t = 0 residual)."""
    p = symgd.load(MGH / "mgh20_watson.yaml")
    parts = templates.split(p.minimized_objective(), p.symbols)
    assert [g.size for g in parts.groups] == [28]


@pytest.mark.parametrize("name", ["mgh11_gulf", "mgh19_osborne2", "mgh20_watson"])
def test_newton_solves_the_problems_whose_hessians_were_refused(name):
    p = symgd.load(MGH / f"{name}.yaml")
    r = symgd.solve(p, method="newton")
    assert r.success, r.message
    f = sp.lambdify(p.symbols, p.objective, "math")
    fx = float(f(*r.x))
    assert math.isclose(fx, r.fun, rel_tol=1e-9, abs_tol=1e-15)
    f_star = float(REFERENCE[name]["f_star"])   # six significant digits
    assert abs(fx - f_star) <= max(1e-12, 1e-5 * f_star), (fx, f_star)


def test_each_template_instance_is_the_term_it_replaces():
    """T(x[I_k]; C_k) is the k-th term, symbolically: summing the instances of every
    shape and the rest gives back f exactly (Gulf: 99 terms, two varying constants)."""
    p = symgd.load(MGH / "mgh11_gulf.yaml")
    f = p.minimized_objective()
    parts = templates.split(f, p.symbols)
    total = parts.rest
    for g in parts.groups:
        for k in range(g.size):
            sub = {v: p.symbols[i] for v, i in zip(g.local, g.index[k])}
            sub.update({c: sp.Float(val) for c, val in zip(g.slots, g.consts[k])})
            total += g.expr.xreplace(sub)
    assert sp.expand(total - f) == 0


def test_derive_shows_each_shape_once(tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "symgd", "derive", str(MGH / "mgh11_gulf.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "shape 1: 99 terms T = " in out.stdout and "dT/dv0 = " in out.stdout
    assert len(out.stdout.splitlines()) < 20   # not 99 terms written out per derivative
