"""Every file in problems/ is solved with its own method and checked against its known
answer, worked by hand (each file's header comment shows the working)."""
from pathlib import Path

import pytest

import symgd

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"

# file -> (expected x, expected f in the user's sense, absolute tolerance on x)
# Tolerances follow each method's stopping rule: gradient <= tol * max(1, |f|).
KNOWN = {
    "rosenbrock.yaml": ({"x": 1.0, "y": 1.0}, 0.0, 1e-9),
    "beale.yaml": ({"x": 3.0, "y": 0.5}, 0.0, 1e-7),
    "booth.yaml": ({"x": 1.0, "y": 3.0}, 0.0, 1e-9),
    "quadratic3.yaml": ({"x": 2 / 9, "y": 1 / 9, "z": 13 / 9}, -43 / 18, 1e-9),
    "fence_area.yaml": ({"l": 50.0}, 2500.0, 1e-6),
    "max_gaussian_bump.yaml": ({"x": 1.0, "y": -0.5}, 1.0, 1e-7),
    "bounded_quadratic.yaml": ({"x": 2.0, "y": 0.0}, 2.0, 1e-9),
    # shape and sum (issue 14): the published minimum of the chained Rosenbrock, all ones
    "chained_rosenbrock_200.yaml": ({f"w[{k}]": 1.0 for k in range(200)}, 0.0, 1e-6),
    # closed form (method: analytic); every point and class is checked in test_analytic.py
    "degenerate.yaml": ({"x": 0.0, "y": 0.0}, 0.0, 1e-12),
    "fencing.yaml": ({"l": 50.0, "w": 50.0}, 2500.0, 1e-12),
    "himmelblau.yaml": ({"x": 3.0, "y": 2.0}, 0.0, 1e-12),
    "kkt.yaml": ({"x": 1.5, "y": 0.5}, 0.5, 1e-12),
    "lagrange.yaml": ({"x": -2 ** -0.5, "y": -2 ** -0.5}, -2 ** 0.5, 1e-12),
}

# Data fits: file -> (expected x, absolute tolerance, statuses allowed). The expected
# values come from the header of each file: NIST's certified values, or the answer of
# an independent method (normal equations, curve_fit, scipy BFGS) on the same data.
FITS = {
    "exp_decay_lm.yaml": ({"A": 4.98553076, "k": 0.39710656, "B": 0.99482497}, 1e-6,
                          ("converged",)),
    "linreg_sgd.yaml": ({"w": 3.08240007, "c": 2.01022303}, 5e-3, ("converged", "max_iter")),
    "logistic.yaml": ({"w0": 0.65701349, "w1": 1.57562172, "w2": -1.37128434}, 1e-6,
                      ("converged",)),
    "nist_misra1a.yaml": ({"b1": 2.3894212918E+02, "b2": 5.5015643181E-04}, 1e-7,
                          ("converged",)),
    "nist_mgh09.yaml": ({"b1": 1.9280693458E-01, "b2": 1.9128232873E-01,
                         "b3": 1.2305650693E-01, "b4": 1.3606233068E-01}, 1e-9, ("converged",)),
    # mae by minibatch Adam: the subgradient never vanishes, so 500 epochs end at
    # max_iter about 1e-4 from the exact answer a = -1, b = 100 (see the file).
    "fence_fit.yaml": ({"a": -1.0, "b": 100.0}, 5e-3, ("max_iter", "converged")),
}

# Files whose objective has no minimum (the closed form proves it unbounded): the run must
# say so, with status 'unbounded', and not claim success.
UNBOUNDED = {"saddle.yaml", "cubic_saddle.yaml"}
ANALYTIC = UNBOUNDED | set(FITS)


def problem_files():
    return sorted(p.name for p in PROBLEMS.glob("*.yaml"))


def test_every_problem_file_has_a_known_answer():
    missing = [f for f in problem_files() if f not in KNOWN and f not in ANALYTIC]
    assert not missing, f"add the known answer of {missing} to tests/test_problems.py"


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_problem_file_solves_to_known_answer(name):
    problem = symgd.load(PROBLEMS / name)
    result = symgd.solve(problem)
    assert result.success, f"{name}: {result.status}: {result.message}"
    x_expected, f_expected, x_tol = KNOWN[name]
    assert result.x_dict == pytest.approx(x_expected, abs=x_tol)
    assert result.fun == pytest.approx(f_expected, abs=max(1e-9, 1e-12 * abs(f_expected)))


@pytest.mark.parametrize("name", sorted(FITS))
def test_fit_problem_file_recovers_known_parameters(name):
    x_expected, tol, statuses = FITS[name]
    result = symgd.solve(symgd.load(PROBLEMS / name))
    assert result.status in statuses, f"{name}: {result.status}: {result.message}"
    got = result.x_dict
    for k, v in x_expected.items():
        assert got[k] == pytest.approx(v, abs=tol * max(1.0, abs(v))), (name, k)


@pytest.mark.parametrize("name", sorted(UNBOUNDED))
def test_unbounded_problem_file_says_so(name):
    result = symgd.solve(symgd.load(PROBLEMS / name))
    assert result.status == "unbounded" and not result.success
    assert result.analytic is not None and result.analytic.best is None


def test_every_problem_file_says_what_it_shows():
    for name in problem_files():
        first = (PROBLEMS / name).read_text().splitlines()[0]
        assert first.startswith("#"), f"{name} must begin with a comment"
        assert "answer" in (PROBLEMS / name).read_text().lower(), f"{name}: state the answer"
