"""symgd.large_expr: the polynomial test equal to sympy's (without calling it) and the
objective's text, short for a sum of thousands of terms."""
from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import symgd
from symgd import large_expr

x, y, k = sp.symbols("x y k")
w = sp.IndexedBase("w")
CASES = [x ** 2 + 3 * x * y - 7, x / 2 + sp.sqrt(2) * y, 1 / x, sp.sqrt(x), 2 ** x,
         sp.sin(x), sp.sin(2) * x ** 3, x ** k, x ** 2.0, sp.Abs(x), (x + y) ** 5,
         x ** -2 + y, sp.exp(y) * x, k * x ** 2, (x * y) ** sp.Rational(1, 2),
         sp.Integer(4), w[1] ** 2 - w[0] * w[1], sp.exp(w[0]) + w[1]]


@pytest.mark.parametrize("expr", CASES, ids=[str(c) for c in CASES])
def test_the_polynomial_test_is_sympys(expr):
    gens = [x, y, w[0], w[1]]
    assert large_expr.is_polynomial(expr, gens) == bool(expr.is_polynomial(*gens))


def test_the_problems_files_are_classified_as_sympy_classifies_them():
    seen = 0
    for path in sorted(Path(__file__).parents[1].glob("problems/*.yaml")):
        p = symgd.load(path)
        if p.objective is None:
            continue
        seen += 1
        assert p.is_polynomial == bool(p.objective.is_polynomial(*p.symbols)), path.name
    assert seen >= 5


def test_a_sum_of_thousands_of_terms_is_classified_without_sympys_walk(monkeypatch):
    n = 5000
    v = sp.symbols(f"v0:{n}")
    terms = [100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(n - 1)]
    poly, not_poly = sp.Add(*terms), sp.Add(*terms, sp.cos(v[17]))

    def refuse(*_a, **_k):
        raise AssertionError("sympy's is_polynomial was called")
    monkeypatch.setattr(sp.Expr, "is_polynomial", refuse)
    assert large_expr.is_polynomial(poly, v)
    assert not large_expr.is_polynomial(not_poly, v)
    text = large_expr.text(poly)
    assert text.endswith(f"(a sum of {len(poly.args):,} terms)")
    assert text.count(" + ") == large_expr.SHOWN_TERMS


def test_short_objectives_print_as_sympy_prints_them():
    e = 100 * (y - x ** 2) ** 2 + (1 - x) ** 2
    assert large_expr.text(e) == str(e)
    assert large_expr.text(None) == ""
