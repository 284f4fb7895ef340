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
    # a different power in every term: no two terms share a shape, so the whole
    # objective is differentiated (repeated shapes would be compiled as a loop instead)
    xs = sp.symbols(f"x0:{n}")
    f = sum(sp.exp(sp.sin(xs[i] * xs[(i * 7 + 3) % n])) * xs[(i + 1) % n] ** (3 + i)
            for i in range(n))
    return symgd.Problem(minimize=f, variables=list(xs))


class _TickClock:
    """A clock that advances one 'second' per reading: derive() reads it once per
    partial derivative and once per Hessian row, so budgets count steps, not time."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_hessian_over_budget_is_left_out_with_a_reason(monkeypatch):
    monkeypatch.setattr("symgd.calculus.time.perf_counter", _TickClock())
    # 40 gradient readings fit in a budget of 45; the 40 Hessian rows do not
    d = derive(_big_problem(), budget_s=45)
    assert len(d.grad) == 40 and d.hess == ()
    assert "derivation budget" in d.hess_skipped and "lbfgs" in d.hess_skipped


def test_gradient_over_budget_is_an_input_error(monkeypatch):
    monkeypatch.setattr("symgd.calculus.time.perf_counter", _TickClock())
    with pytest.raises(symgd.InputError) as err:
        derive(_big_problem(), budget_s=10)
    assert err.value.kind == "limit" and "after 11 of 40" in err.value.message  # t0 = 1; the 11th reading is 12 > 1 + 10


def test_newton_over_derivation_budget_is_an_input_error_that_says_what_to_do(monkeypatch):
    p = _big_problem()
    monkeypatch.setattr("symgd.calculus.time.perf_counter", _TickClock())
    monkeypatch.setenv("SYMGD_DERIVE_BUDGET", "45")
    with pytest.raises(symgd.InputError) as err:
        symgd.solve(p, method="newton", max_iter=1)
    assert err.value.kind == "limit" and "method=lbfgs" in err.value.message


@pytest.mark.parametrize("make", [
    lambda s: sum((s[i + 1] - s[i] ** 2) ** 2 + sp.sin(s[i]) * s[(i + 2) % 5] for i in range(4)),
    lambda s: sp.exp(s[0] * s[1]) * (s[2] + s[3] ** 2),          # not a sum
    lambda s: s[0] * s[4] + sp.Abs(s[1]) + 3,                    # constant term, Abs
])
def test_grouped_differentiation_equals_sympy_diff(make):
    s = sp.symbols("a0:5", real=True)
    p = symgd.Problem(minimize=make(s), variables=list(s))
    d = derive(p)
    f = p.objective
    for i, si in enumerate(p.symbols):
        assert sp.simplify(d.grad[i] - sp.diff(f, si).replace(
            lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)) == 0
        for j, sj in enumerate(p.symbols):
            assert sp.simplify(d.hess[i][j] - sp.diff(f, si, sj).replace(
                lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)) == 0


def _chain(n):
    w = sp.symbols(f"w0:{n}", real=True)
    f = sum(100 * (w[i + 1] - w[i] ** 2) ** 2 + (1 - w[i]) ** 2 for i in range(n - 1))
    return symgd.Problem(minimize=f, variables=list(w)), f, w


def test_symgd_derive_differentiates_only_the_hessians_possible_nonzeros(monkeypatch):
    """symgd.derive's Hessian row i asks only for the variables that occur in df/dx_i:
    on a chain that is at most 2 per row (n^2/2 derivatives before), and the matrix
    equals sympy's own hessian."""
    from symgd import calculus
    asked = []
    row = calculus._hessian_row

    def counted(gi, syms, fast):
        asked.append(len(syms))
        return row(gi, syms, fast)

    monkeypatch.setattr(calculus, "_hessian_row", counted)
    p, f, w = _chain(24)
    d = symgd.derive(p)
    assert sum(asked) <= 2 * 24 and max(asked) <= 2
    assert isinstance(d.hessian, sp.MutableDenseMatrix)
    assert (d.hessian - sp.hessian(f, w)).applyfunc(sp.expand).is_zero_matrix


def test_symgd_derive_gives_a_sparse_hessian_for_many_variables(monkeypatch):
    """Beyond DENSE_DERIVATION_MAX variables the Hessian is an ImmutableSparseMatrix of
    the nonzeros (a tridiagonal chain: 3n - 2), equal to sympy's hessian, and its LaTeX
    lists the first nonzeros and says how many more there are."""
    from symgd import calculus
    monkeypatch.setattr(calculus, "DENSE_DERIVATION_MAX", 10)
    p, f, w = _chain(60)
    d = symgd.derive(p)
    assert isinstance(d.hessian, sp.ImmutableSparseMatrix)
    assert len(d.hessian.todok()) == 3 * 60 - 2
    assert (sp.Matrix(d.hessian) - sp.hessian(f, w)).applyfunc(sp.expand).is_zero_matrix
    tex = d._repr_latex_()
    nz_above = 2 * 60 - 1
    assert f"({nz_above} nonzeros on and above the diagonal)" in tex
    assert f"({nz_above - calculus.LATEX_MAX_ENTRIES} more)" in tex
    assert f"({60 - calculus.LATEX_MAX_ENTRIES} more)" in tex  # the gradient's list
