"""IndexedBase elements as variables and Sum/Product with numeric limits in the Python API
(SPEC §5). Answers are worked by hand or taken from scipy (scipy.optimize.rosen is the
chained Rosenbrock function), never from symgd itself."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import rosen, rosen_der

import symgd
from symgd.kernelgen.codegen import kernel_source
from symgd.calculus import derive
from symgd.report import format_derivatives, format_result

w = sp.IndexedBase("w")
c = sp.IndexedBase("c")
i = sp.Idx("i")
j, k = sp.symbols("j k", integer=True)
x, n = sp.symbols("x n")

NAMES5 = [f"w[{q}]" for q in range(5)]


def example(index=i, variables=None):
    """The issue's example: minimize sum_k (w[k] - k)^2, k = 0..4; by hand w[k] = k, f = 0."""
    if variables is None:
        variables = {w[q]: 0.0 for q in range(5)}
    return symgd.Problem(minimize=sp.Sum((w[index] - index)**2, (index, 0, 4)),
                         variables=variables)


def by_hand(expr_of_names) -> sp.Expr:
    """An expression written directly in the real symbols w[0], w[1], ..."""
    return expr_of_names({q: sp.Symbol(f"w[{q}]", real=True) for q in range(12)})


# -- building the problem --------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: example(i),                                               # Idx index
    lambda: example(j),                                               # integer Symbol
    lambda: example(sp.Symbol("m")),                                  # plain Symbol
    lambda: symgd.Problem(minimize=sp.Sum((w[j] - j)**2, (j, 0, 4)).doit(),
                          variables=[w[q] for q in range(5)]),        # already expanded
    lambda: symgd.Problem(minimize=sp.Sum((w[j] - j)**2, (j, 0, 4)).doit()),  # default
    lambda: symgd.Problem(minimize=sp.Sum((w[j] - j)**2, (j, 0, n - 1)),
                          parameters={n: 5}),                         # limit from a parameter
], ids=["Idx", "integer-symbol", "plain-symbol", "doit-list", "doit-default", "param-limit"])
def test_constructions_expand_to_the_same_objective(build):
    p = build()
    assert list(p.names) == NAMES5                     # the base w is not a variable
    expected = by_hand(lambda W: sum((W[q] - q)**2 for q in range(5)))
    assert sp.expand(p.objective - expected) == 0
    assert all("[" in s.name for s in p.objective.free_symbols)


def test_default_variables_in_index_order_and_mixed_with_symbols():
    p = symgd.Problem(minimize=sp.Sum(w[j]**2, (j, 0, 11)))
    assert list(p.names) == [f"w[{q}]" for q in range(12)]  # w[2] before w[10]
    q = symgd.Problem(minimize=x**2 + w[0]**2 + (w[1] - x)**2,
                      variables=[x, w[0], w[1]])
    assert list(q.names) == ["x", "w[0]", "w[1]"]
    r = symgd.Problem(minimize=x**2 + w[0]**2, variables={x: 1.0, w[0]: {"start": 2.0}})
    assert list(r.start) == [1.0, 2.0]


def test_indexed_base_with_shape_declares_every_element():
    ws = sp.IndexedBase("w", shape=(3,))
    p = symgd.Problem(minimize=sp.Sum((ws[j] - 1)**2, (j, 0, 2)), variables={ws: 0.5})
    assert list(p.names) == ["w[0]", "w[1]", "w[2]"]
    assert list(p.start) == [0.5, 0.5, 0.5]


def test_product_nested_and_two_index_sums():
    p = symgd.Problem(minimize=sp.Product(1 + w[j]**2, (j, 0, 2)))
    assert sp.expand(p.objective - by_hand(
        lambda W: (1 + W[0]**2) * (1 + W[1]**2) * (1 + W[2]**2))) == 0
    # an inner limit that depends on the outer index: sum over j <= k of w[j] w[k]
    t = symgd.Problem(minimize=sp.Sum(w[j] * w[k], (j, 0, k), (k, 0, 2)))
    assert sp.expand(t.objective - by_hand(
        lambda W: sum(W[a] * W[b] for b in range(3) for a in range(b + 1)))) == 0
    A = sp.IndexedBase("A")
    two = symgd.Problem(minimize=sp.Sum((A[j, k] - j - 2 * k)**2, (j, 0, 1), (k, 0, 1)))
    assert list(two.names) == ["A[0, 0]", "A[0, 1]", "A[1, 0]", "A[1, 1]"]
    res = symgd.solve(two, method="newton")
    assert res.status == "converged"
    for (a, b), v in {(0, 0): 0, (0, 1): 2, (1, 0): 1, (1, 1): 3}.items():
        assert abs(res.x_dict[f"A[{a}, {b}]"] - v) < 1e-10
    # an empty range is an empty sum
    e = symgd.Problem(minimize=x**2 + sp.Sum(w[j], (j, 0, -1)), variables=[x])
    assert e.objective == sp.Symbol("x", real=True)**2


def test_parameters_keyed_by_elements_and_by_base():
    cv = [1, 2.5, -3]
    p = symgd.Problem(minimize=sp.Sum((w[j] - c[j])**2, (j, 0, 2)), parameters={c: cv})
    assert list(p.names) == ["w[0]", "w[1]", "w[2]"]
    res = symgd.solve(p, method="newton")
    assert res.status == "converged"
    assert np.allclose(res.x, cv, atol=1e-10, rtol=0)
    q = symgd.Problem(minimize=(w[0] - c[0])**2 + (w[1] - c[1])**2,
                      parameters={c[0]: 4, c[1]: np.float64(-1.5)})
    assert sp.expand(q.objective - by_hand(lambda W: (W[0] - 4)**2 + (W[1] + 1.5)**2)) == 0


# -- solving ---------------------------------------------------------------------------

def test_example_auto_closed_form():
    res = symgd.solve(example())
    assert res.success and res.method == "analytic"
    assert list(res.x_dict) == NAMES5
    assert all(abs(res.x_dict[f"w[{q}]"] - q) < 1e-12 for q in range(5))
    assert abs(res.fun) < 1e-15
    out = res.to_dict()
    assert list(json.loads(json.dumps(out))["x"]) == NAMES5
    assert "infinitely many" not in (res.message or "")


@pytest.mark.parametrize("method", ["newton", "linesearch"])
def test_example_iterative(method):
    res = symgd.solve(example(), method=method)
    assert res.status == "converged"
    assert np.max(np.abs(res.x - np.arange(5.0))) < 1e-8


def test_example_critical_points():
    report = symgd.critical_points(example())
    assert report.status == "solved" and not report.families
    assert len(report.critical_points) == 1
    point = report.critical_points[0]
    assert point.classification == "local_min" and report.global_ is True
    assert list(point.x) == NAMES5
    assert all(abs(point.x[f"w[{q}]"] - q) < 1e-12 for q in range(5))


def rosenbrock(n_vars, start):
    return symgd.Problem(
        minimize=sp.Sum(100 * (w[j + 1] - w[j]**2)**2 + (1 - w[j])**2, (j, 0, n_vars - 2)),
        variables={w[q]: s for q, s in enumerate(start)})


def test_chained_rosenbrock_matches_scipy_and_newton_finds_ones():
    p = rosenbrock(5, [0.0] * 5)
    f = sp.lambdify(p.symbols, p.objective)
    rng = np.random.default_rng(7)
    for _ in range(5):
        pt = rng.uniform(-2, 2, 5)
        assert abs(f(*pt) - rosen(pt)) <= 1e-12 * max(1.0, abs(rosen(pt)))
    res = symgd.solve(p, method="newton")
    assert res.status == "converged"
    assert np.max(np.abs(res.x - 1.0)) < 1e-8


def test_chained_rosenbrock_other_start_is_an_honest_stationary_point():
    # From (-1.2, 1, -1.2, 1, -1.2) Newton may end at the second local minimum that the
    # chained Rosenbrock has for 4 <= n <= 7; whatever it reports as converged must be
    # stationary by scipy's own gradient.
    res = symgd.solve(rosenbrock(5, [-1.2, 1.0, -1.2, 1.0, -1.2]), method="newton")
    if res.status == "converged":
        assert np.max(np.abs(rosen_der(res.x))) < 1e-6
        assert abs(res.fun - rosen(res.x)) < 1e-12


def test_constraint_with_indexed_variables():
    # min sum w^2 s.t. sum w = b: by symmetry w = b/3 each, f*(b) = b^2/3, so the
    # multiplier df*/db = 2b/3 = 2/3 at b = 1 (Lagrange: 2 w_k = lambda).
    p = symgd.Problem(minimize=sp.Sum(w[j]**2, (j, 0, 2)),
                      constraints=[sp.Eq(sp.Sum(w[j], (j, 0, 2)), 1)],
                      variables={w[q]: 0.0 for q in range(3)})
    assert p.constraints[0].expr.free_symbols == set(p.symbols)
    report = symgd.critical_points(p)
    assert len(report.critical_points) == 1
    point = report.critical_points[0]
    assert point.classification == "local_min"
    assert all(abs(point.x[f"w[{q}]"] - 1 / 3) < 1e-12 for q in range(3))
    assert abs(point.fun - 1 / 3) < 1e-12
    (mult,) = point.multipliers.values()
    assert abs(mult - 2 / 3) < 1e-9
    res = symgd.solve(p)
    assert res.success
    assert np.allclose(res.x, 1 / 3, atol=1e-10, rtol=0)
    (mult,) = res.to_dict()["multipliers"].values()
    assert abs(mult - 2 / 3) < 1e-9


def test_fit_model_with_indexed_coefficients():
    xs = np.linspace(-2, 3, 11)
    ys = 1.0 + 2.0 * xs - 0.5 * xs**2 + 0.1 * np.sin(3 * xs)   # not exactly a quadratic
    a = sp.IndexedBase("a")
    p = symgd.Problem(model=sp.Sum(a[k] * x**k, (k, 0, 2)), target=sp.Symbol("y"),
                      data={"x": xs, "y": ys}, variables={a[q]: 0.0 for q in range(3)})
    res = symgd.solve(p)
    ref = np.polyfit(xs, ys, 2)[::-1]                       # numpy's least squares
    assert list(res.x_dict) == ["a[0]", "a[1]", "a[2]"]
    assert np.allclose(res.x, ref, atol=1e-8, rtol=0)


# -- names in everything a user sees -----------------------------------------------------

def test_names_in_reports_and_no_brackets_in_kernels():
    p = example()
    text = format_derivatives(p)
    assert "df/dw[0] = 2*w[0]" in text and "df/dw[4] = 2*w[4] - 8" in text
    res = symgd.solve(p, method="newton")
    assert "w[3]" in format_result(p, res)
    d = derive(p)
    src, _ = kernel_source("indexed", d.f, d.grad, d.hess, d.symbols)
    assert "w[" not in src   # variables reach the kernels as array slots x[0], x[1], ...


# -- what is not supported is an InputError naming the culprit ---------------------------

V5 = {w[q]: 0.0 for q in range(5)}
WS = sp.IndexedBase("w", shape=(3,))
BAD = {
    "symbolic-limit": (lambda: symgd.Problem(minimize=sp.Sum(w[i]**2, (i, 0, n)),
                                             variables=V5), "n"),
    "out-of-range": (lambda: symgd.Problem(minimize=sp.Sum(w[i]**2, (i, 0, 5)),
                                           variables=V5), "w[5]"),
    "undeclared-base": (lambda: symgd.Problem(minimize=sp.IndexedBase("u")[0] + w[0]**2,
                                              variables=V5), "u[0]"),
    "rational-index": (lambda: symgd.Problem(minimize=w[sp.Rational(1, 2)]**2,
                                             variables=V5), "1/2"),
    "float-index": (lambda: symgd.Problem(minimize=w[0.5]**2, variables=V5), "w[0.5"),
    "variable-index": (lambda: symgd.Problem(minimize=w[x]**2 + x**2,
                                             variables=[x] + list(V5)), "w[x]"),
    "free-Idx": (lambda: symgd.Problem(minimize=w[i]**2, variables=V5), "i"),
    "negative-index": (lambda: symgd.Problem(minimize=w[-1]**2, variables=V5), "w[-1]"),
    "rational-range": (lambda: symgd.Problem(minimize=sp.Sum(w[j]**2, (j, 0, sp.Rational(9, 2))),
                                             variables=V5), "9/2"),
    "float-range": (lambda: symgd.Problem(minimize=sp.Sum(w[j]**2, (j, 0.5, 3.5)),
                                          variables=V5), "0.5"),
    "reversed-range": (lambda: symgd.Problem(minimize=sp.Sum(w[j]**2, (j, 4, 0)),
                                             variables=V5), "j"),
    "too-many-terms": (lambda: symgd.Problem(minimize=sp.Sum(w[0] * j, (j, 0, 10**12)),
                                             variables=V5), "j"),
    "shape-in-objective": (lambda: symgd.Problem(minimize=sp.Sum(WS[j]**2, (j, 0, 3)),
                                                 variables={WS: 1.0}), "w[3]"),
    "shape-in-key": (lambda: symgd.Problem(minimize=WS[0]**2, variables={WS[4]: 1.0}), "w[4]"),
    "symbolic-shape": (lambda: symgd.Problem(minimize=sp.IndexedBase("v", shape=(n,))[0]**2,
                                             variables={sp.IndexedBase("v", shape=(n,)): 0}),
                       "v"),
    "base-key-without-shape": (lambda: symgd.Problem(minimize=w[0]**2, variables={w: 1.0}), "w"),
    "bare-base": (lambda: symgd.Problem(minimize=w**2 + w[0], variables=V5), "w"),
    "base-and-symbol": (lambda: symgd.Problem(minimize=w[0]**2 + sp.Symbol("w")**2), "w"),
    "parameter-shape": (lambda: symgd.Problem(
        minimize=sp.Sum((w[j] - c[j])**2, (j, 0, 2)),
        parameters={sp.IndexedBase("c", shape=(3,)): [1, 2, 3, 4]}), "c"),
    "parameter-element-missing": (lambda: symgd.Problem(
        minimize=sp.Sum((w[j] - c[j])**2, (j, 0, 2)), parameters={c: [1, 2]}), "c[2]"),
    "integral": (lambda: symgd.Problem(minimize=sp.Integral(w[0] * x, (x, 0, 1)),
                                       variables=V5), "Integral"),
    "undeclared-in-constraint": (lambda: symgd.Problem(
        minimize=w[0]**2, constraints=[sp.Sum(w[j], (j, 0, 2)) >= 1],
        variables={w[0]: 0.0, w[1]: 0.0}), "w[2]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unsupported_is_an_input_error_naming_the_culprit(case):
    build, culprit = BAD[case]
    with pytest.raises(symgd.InputError) as err:
        build()
    assert culprit in err.value.message
    assert err.value.field   # the objective, a constraint, variables or parameters
