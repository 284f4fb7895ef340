"""symgd.compile(problem): compiled f, grad and hess, as scipy's fun=, jac=, hess=."""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"


def test_scipy_trust_exact_solves_rosenbrock_with_the_compiled_functions():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    fns = symgd.compile(symgd.load(PROBLEMS / "rosenbrock.yaml"))
    assert fns.names == ("x", "y")
    assert list(fns.x0) == [-1.2, 1.0]
    r = scipy_optimize.minimize(fns.f, fns.x0, jac=fns.grad, hess=fns.hess,
                                method="trust-exact")
    assert r.success
    assert r.x == pytest.approx([1.0, 1.0], abs=1e-8)
    # f and its gradient from one call: scipy's jac=True
    r = scipy_optimize.minimize(fns.f_and_grad, fns.x0, jac=True, method="BFGS",
                                options={"gtol": 1e-10})
    assert r.x == pytest.approx([1.0, 1.0], abs=1e-6)


def test_values_match_sympy_lambdify_at_random_points():
    x, y, z = sp.symbols("x y z", real=True)
    f = sp.exp(x / 3) * sp.sin(y) + (x - z) ** 4 + x * y * z + sp.log(1 + z ** 2)
    problem = symgd.Problem(minimize=f, variables={x: 0.5, y: -1.0, z: 2.0})
    fns = symgd.compile(problem)
    syms = (x, y, z)
    F = sp.lambdify(syms, f, "numpy")
    G = sp.lambdify(syms, [sp.diff(f, s) for s in syms], "numpy")
    H = sp.lambdify(syms, sp.hessian(f, syms), "numpy")
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(-2, 2, 3)
        assert fns.f(p) == pytest.approx(F(*p), rel=1e-12)
        assert np.allclose(fns.grad(p), G(*p), rtol=1e-12, atol=1e-13)
        assert np.allclose(fns.hess(p), np.array(H(*p), dtype=float), rtol=1e-12, atol=1e-12)


def test_maximize_gives_the_objective_as_written():
    x, y = sp.symbols("x y", real=True)
    f = -(x - 1) ** 2 - 2 * (y + 0.5) ** 2 + 3
    fns = symgd.compile(symgd.Problem(maximize=f, variables={x: 0.0, y: 0.0}))
    assert fns.sense == "maximize"
    assert fns.f([1.0, -0.5]) == pytest.approx(3.0)
    assert fns.f([0.0, 0.0]) == pytest.approx(1.5)
    assert fns.grad([0.0, 0.0]) == pytest.approx([2.0, -2.0])
    assert np.allclose(fns.hess([0.0, 0.0]), [[-2.0, 0.0], [0.0, -4.0]])


def test_any_array_like_in_new_float64_arrays_out():
    fns = symgd.compile(symgd.load(PROBLEMS / "rosenbrock.yaml"))
    ref = fns.grad(np.array([0.5, 0.25]))
    strided = np.array([0.5, 9.0, 0.25])[::2]              # a view with stride 2
    column = np.array([[0.5, 7.0], [0.25, 7.0]])[:, 0]      # a column of a C array
    assert not strided.flags.c_contiguous and not column.flags.c_contiguous
    for x in ([0.5, 0.25], (0.5, 0.25), np.array([0.5, 0.25], dtype=np.float32),
              strided, column):
        g = fns.grad(x)
        assert g.dtype == np.float64 and g.shape == (2,)
        assert g == pytest.approx(ref)
        assert isinstance(fns.f(x), float)
        assert fns.hess(x).shape == (2, 2)
    # results are the caller's: a later call does not overwrite them
    g1, H1 = fns.grad([0.0, 0.0]), fns.hess([0.0, 0.0])
    g1_copy, H1_copy = g1.copy(), H1.copy()
    g2, H2 = fns.grad([2.0, 3.0]), fns.hess([2.0, 3.0])
    assert g2 is not g1 and H2 is not H1
    assert np.array_equal(g1, g1_copy) and np.array_equal(H1, H1_copy)


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]], 1.0])
def test_wrong_length_is_a_value_error_naming_the_length(bad):
    fns = symgd.compile(symgd.load(PROBLEMS / "rosenbrock.yaml"))
    for call in (fns.f, fns.grad, fns.hess):
        with pytest.raises(ValueError, match="length 2"):
            call(bad)


def test_data_fit_loss_is_what_solve_reports_and_its_gradient_matches_differences():
    problem = symgd.load(PROBLEMS / "exp_decay_lm.yaml")
    fns = symgd.compile(problem)
    assert fns.names == ("A", "k", "B")
    result = symgd.solve(problem)
    assert result.success
    assert fns.f(result.x) == pytest.approx(result.fun, rel=1e-12)
    rng = np.random.default_rng(1)
    for x in [fns.x0, result.x, result.x + 0.1 * rng.standard_normal(3)]:
        g = fns.grad(x)
        H = fns.hess(x)
        for i in range(3):
            h = 1e-6 * max(1.0, abs(x[i]))
            e = np.zeros(3)
            e[i] = h
            fd = (fns.f(x + e) - fns.f(x - e)) / (2 * h)
            assert fd == pytest.approx(g[i], rel=1e-6, abs=1e-6 * max(1.0, fns.f(x)))
            col = (fns.grad(x + e) - fns.grad(x - e)) / (2 * h)
            assert np.allclose(col, H[:, i], rtol=1e-5, atol=1e-5 * np.max(np.abs(H)))
    f, g = fns.f_and_grad(result.x)
    assert f == pytest.approx(result.fun, rel=1e-12) and np.array_equal(g, fns.grad(result.x))


def test_a_file_path_is_accepted():
    by_path = symgd.compile(PROBLEMS / "booth.yaml")
    by_problem = symgd.compile(symgd.load(PROBLEMS / "booth.yaml"))
    for x in ([0.0, 0.0], [1.0, 3.0], [-2.0, 5.0]):
        assert by_path.f(x) == by_problem.f(x)
    assert by_path.f([1.0, 3.0]) == 0.0   # booth's minimum
