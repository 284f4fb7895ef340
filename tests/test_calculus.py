"""Symbolic derivatives and their time budget."""
import pytest
import sympy as sp

import symgd
from symgd.calculus import derive

x, y = sp.symbols("x y", real=True)


def test_gradient_and_hessian_of_maximize_are_of_the_negative():
    p = symgd.Problem(maximize=100 * x - x ** 2 + x * y - y ** 2, variables=[x, y])
    d = derive(p)
    assert d.f == -(100 * x - x ** 2 + x * y - y ** 2)
    assert [sp.expand(g) for g in d.grad] == [2 * x - 100 - y, 2 * y - x]
    assert d.hess == ((2, -1), (-1, 2))


def test_abs_derivative_is_sign_and_distributions_vanish():
    p = symgd.Problem(minimize=sp.Abs(x) + sp.sign(y) * y, variables=[x, y])
    d = derive(p)
    assert d.grad[0] == sp.sign(x)
    assert not any(h.has(sp.DiracDelta) for row in d.hess for h in row)


def _big_problem(n=40):
    xs = sp.symbols(f"x0:{n}")
    f = sum(sp.exp(sp.sin(xs[i] * xs[(i * 7 + 3) % n])) * xs[(i + 1) % n] ** 3 for i in range(n))
    return symgd.Problem(minimize=f, variables=list(xs))


def _gradient_seconds(p):
    import time

    from sympy.core.cache import clear_cache
    clear_cache()  # sympy caches derivatives: time them cold, and leave the cache cold
    t = time.perf_counter()
    derive(p, hessian=False)
    elapsed = time.perf_counter() - t
    clear_cache()
    return elapsed


def test_hessian_over_budget_is_left_out_with_a_reason():
    # the Hessian has 820 entries to the gradient's 40: two gradient times cannot hold it
    p = _big_problem()
    d = derive(p, budget_s=2 * _gradient_seconds(p))
    assert len(d.grad) == 40 and d.hess == ()
    assert "derivation budget" in d.hess_skipped and "linesearch" in d.hess_skipped


def test_newton_over_derivation_budget_is_an_input_error_that_says_what_to_do(monkeypatch):
    p = _big_problem()
    monkeypatch.setenv("SYMGD_DERIVE_BUDGET", str(2 * _gradient_seconds(p)))
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(p, method="newton", max_iter=1)
    assert err.value.kind == "limit" and "method=linesearch" in err.value.message
