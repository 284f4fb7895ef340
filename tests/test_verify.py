"""verify: closed form against the iterative answer, and derivatives against finite
differences."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.verifier import derivative_checks

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"


# problems/ files with no finite closed form (verify runs only the derivative checks)
NO_CLOSED_FORM = {"chained_rosenbrock_200.yaml"}   # 200 coupled quartic equations


def finite_closed_form_files():
    # every file of problems/ without a data block (data fits have no closed form)
    return sorted(p.name for p in PROBLEMS.glob("*.yaml")
                  if "data:" not in p.read_text() and p.name not in NO_CLOSED_FORM)


@pytest.mark.parametrize("name", sorted(NO_CLOSED_FORM))
def test_verify_without_a_closed_form_says_so_and_checks_the_gradient(name):
    d = symgd.verify(symgd.load(PROBLEMS / name)).to_dict()
    assert not d["ok"] and d["gradient_check"]["ok"]
    assert any("no finite closed form" in note for note in d["notes"])


@pytest.mark.parametrize("name", finite_closed_form_files())
def test_verify_agrees_on_every_problem_file(name):
    report = symgd.verify(symgd.load(PROBLEMS / name))
    assert report.ok, (name, report.to_dict())


def test_verify_matches_the_nearest_point_and_its_class():
    x, y = sp.symbols("x y")
    f = (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2
    # from (-3, -3) Newton reaches the minimum near (-3.779, -3.283)
    report = symgd.verify(symgd.Problem(minimize=f, variables={x: -3.0, y: -3.0}))
    d = report.to_dict()
    assert report.ok and d["match"]["classes_agree"]
    p = report.analytic.critical_points[d["match"]["point"]]
    assert p.x["x"] == pytest.approx(-3.779310253, abs=1e-8)
    assert p.classification == "local_min"


class _WrongGradient:
    """Kernels whose gradient is off by 1e-3 in one component: verify must notice."""

    has_hessian = False

    def __init__(self, kernels):
        self.k = kernels

    def fun(self, x):
        return self.k.fun(x)

    def fg(self, x, g):
        f = self.k.fg(x, g)
        g[0] += 1e-3
        return f


def test_gradient_check_catches_a_wrong_gradient():
    from symgd.solver import compiled
    x, y = sp.symbols("x y")
    p = symgd.Problem(minimize=sp.exp(x) * y ** 2 + x ** 3, variables={x: 0.5, y: 1.0})
    k = compiled(p).kernels
    pts = [np.array([0.5, 1.0]), np.array([-1.0, 2.0])]
    good, hess = derivative_checks(p, k, pts)
    assert good["ok"] and good["max_rel_error"] < 1e-7 and hess["ok"]
    bad, _ = derivative_checks(p, _WrongGradient(k), pts)
    assert not bad["ok"] and bad["max_rel_error"] > 1e-4


def test_verify_cli_json_and_exit_status(tmp_path):
    r = subprocess.run([sys.executable, "-m", "symgd", "verify", str(PROBLEMS / "fencing.yaml"),
                        "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"analytic", "iterative", "match", "gradient_check", "hessian_check", "ok"} <= set(d)
    assert d["ok"] is True
    # Constrained: each analytic point's KKT conditions checked numerically
    pt = d["match"]["points"][0]
    assert pt["classification_numeric"] == "local_max" and pt["stationarity_residual"] < 1e-9
    # ... and the iterative side is auglag, which lands on the closed form's maximum
    assert d["iterative"]["method"] == "auglag" and d["iterative"]["status"] == "converged"
    assert d["match"]["classification_iterative"] == "local_max"
    assert d["match"]["distance_x"] < 1e-8 and d["match"]["best_agrees"]
    periodic = tmp_path / "periodic.yaml"
    periodic.write_text("variables: {x: 0.1, y: 0.2}\nminimize: sin(x) + cos(y)\n")
    r = subprocess.run([sys.executable, "-m", "symgd", "verify", str(periodic), "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1  # no finite closed form: only the derivative checks ran
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["gradient_check"]["ok"] is True
