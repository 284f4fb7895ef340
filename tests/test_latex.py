"""symgd.derive and the critical-point report: LaTeX for Jupyter (_repr_latex_), and the
(reduced) Hessian's eigenvalues at each critical point (SPEC §4)."""
from pathlib import Path

import pytest
import sympy as sp

import symgd
from symgd.analytic import critical_points_inprocess
from symgd.report import format_analytic, format_result

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"


def _aligned(tex: str) -> str:
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$")
    assert tex.count("{") == tex.count("}")   # balanced braces
    return tex


def test_derive_returns_exact_matrices_and_renders_latex():
    x, y = sp.symbols("x y", real=True)
    f = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    d = symgd.derive(symgd.Problem(minimize=f, variables={x: -1.2, y: 1.0}))
    assert d.gradient == sp.Matrix([sp.diff(f, x), sp.diff(f, y)])
    assert (d.hessian - sp.hessian(f, (x, y))).applyfunc(sp.expand) == sp.zeros(2, 2)
    assert d.jacobian is None
    tex = _aligned(d._repr_latex_())
    assert sp.latex(d.hessian) in tex
    assert r"\frac{\partial f}{\partial x} = " + sp.latex(d.gradient[0]) in tex


def test_derive_of_a_maximize_problem_is_of_the_objective_as_written_with_its_jacobian():
    d = symgd.derive(symgd.load(PROBLEMS / "fencing.yaml"))
    l, w = d.symbols
    assert d.sense == "maximize" and d.objective == l * w
    assert d.gradient == sp.Matrix([w, l])
    assert d.jacobian == sp.Matrix([[2, 2]])
    tex = _aligned(d._repr_latex_())
    assert "maximize" in tex and r"2 l + 2 w = 200" in tex


def test_derive_of_a_data_fit_is_per_sample_with_its_loss():
    d = symgd.derive(symgd.load(PROBLEMS / "exp_decay_lm.yaml"))
    A, k, B = d.symbols
    t = sp.Symbol("t", real=True)
    assert d.per_sample == "r"
    assert sp.simplify(d.gradient[1] - (-A * t * sp.exp(-k * t))) == 0
    tex = _aligned(d._repr_latex_())
    assert r"L = \sum_i r_i^2" in tex   # sse


def test_critical_points_carry_the_hessian_eigenvalues():
    report = symgd.critical_points(symgd.load(PROBLEMS / "cubic_saddle.yaml"))
    by_class = {p.classification: p for p in report.critical_points}
    # x**3 - 3 x y + y**3: Hessian [[6x, -3], [-3, 6y]]
    assert by_class["local_min"].eigenvalues == pytest.approx((3.0, 9.0))
    assert by_class["saddle"].eigenvalues == pytest.approx((-3.0, 3.0))
    d = report.to_dict()
    assert all(isinstance(p["eigenvalues"], list) for p in d["critical_points"])
    tex = _aligned(report._repr_latex_())
    assert r"\lambda(\nabla^2 f) = \left(-3, 3\right)" in tex
    assert r"\text{saddle}" in tex and r"\text{local min}" in tex


def test_degenerate_points_show_exact_zero_eigenvalues():
    x, y = sp.symbols("x y", real=True)
    report = critical_points_inprocess(symgd.Problem(minimize=x ** 4 + y ** 4,
                                                     variables={x: 1.0, y: 1.0}))
    (p,) = report.critical_points
    assert p.eigenvalues == (0.0, 0.0)
    assert p.classification == "local_min"   # the global optimum, by the finer argument


def test_constrained_points_show_the_reduced_hessian_eigenvalues():
    # fencing: max l w on 2l + 2w = 200; the Lagrangian's Hessian [[0,1],[1,0]] on the
    # tangent direction (1, -1)/sqrt(2) is -1: a maximum
    report = symgd.critical_points(symgd.load(PROBLEMS / "fencing.yaml"))
    (p,) = report.critical_points
    assert p.eigenvalues == pytest.approx((-1.0,))
    # lagrange: min x + y on the unit circle; W = -2 nu I with nu = 1/(2x): +-sqrt(2)
    report = symgd.critical_points(symgd.load(PROBLEMS / "lagrange.yaml"))
    eig = {p.classification: p.eigenvalues for p in report.critical_points}
    assert eig["local_min"] == pytest.approx((2 ** 0.5,))
    assert eig["local_max"] == pytest.approx((-(2 ** 0.5),))
    tex = _aligned(report._repr_latex_())
    assert r"\lambda(\nabla^2 L|_T)" in tex and r"x^{2} + y^{2} = 1" in tex
    assert r"- \frac{\sqrt{2}}{2}" in tex   # exact coordinates, by sympy.latex


def test_a_point_fixed_by_its_active_constraints_has_no_free_direction():
    x, y = sp.symbols("x y", real=True)
    problem = symgd.Problem(minimize=(x - 3) ** 2 + (y - 3) ** 2, variables={x: 0.0, y: 0.0},
                            constraints=[x <= 1, y <= 1])
    report = critical_points_inprocess(problem)
    best = report.critical_points[report.best]
    assert best.x == pytest.approx({"x": 1.0, "y": 1.0})
    assert best.eigenvalues == ()
    assert best.to_dict()["eigenvalues"] == []
    assert "none (no free direction" in format_analytic(report)


def test_people_see_the_eigenvalues_in_solve_output():
    problem = symgd.load(PROBLEMS / "cubic_saddle.yaml")
    result = symgd.solve(problem, method="analytic")
    text = format_result(problem, result)
    assert "eigenvalues of the Hessian: -3, 3" in text
    assert "eigenvalues of the Hessian: 3, 9" in text
    fencing = symgd.load(PROBLEMS / "fencing.yaml")
    text = format_result(fencing, symgd.solve(fencing))
    assert "eigenvalues of the reduced Hessian (Lagrangian, tangent space): -1" in text


def test_latex_text_is_safe_for_latex_and_mathjax():
    from symgd.calculus import tex_text
    assert tex_text("local_min {a} & 50% $x$ #1 ^ ~ \\") == \
        "local min (a) and 50 percent SxS no.1 ** - /"
