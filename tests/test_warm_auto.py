"""A warm command-line fit gives the cold run's result, field by field, without sympy
or scipy.linalg (issue 15: a warm 1e6-row CSV fit under 1 s; symgd.warm_fit records auto's choice).

Each case runs ``python -m symgd solve`` twice as a subprocess on a small CSV with its
own kernel cache (SYMGD_CACHE_DIR under tmp_path): the first run is cold (it parses,
derives, compiles and records the file in the warm index), the second warm. The JSON
results (``--out``) must agree in every field but the times, the printed reports in
every line but ``time:``, and the warm run must import neither sympy nor scipy.linalg
(``-X importtime``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symgd import warm

N = 200
LINEAR = "model: p + q*exp(-x/3) + 2*x\ntarget: z\nloss: sse\nvariables: {p: 0, q: 0}\n"
EXPDECAY = "model: a*exp(-b*x) + c\ntarget: y\nloss: sse\nvariables: {a: 1, b: 1, c: 0}\n"
CASES = {
    "auto-linear": (LINEAR, None, "analytic", "auto chose linear least squares"),
    "auto-nonlinear": (EXPDECAY, None, "lm", "auto chose lm (sse loss, 3 variables"),
    "explicit-lm": (EXPDECAY, "lm", "lm", "lm: converged"),
}


def _data(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 10.0, N)
    y = 2.5 * np.exp(-0.4 * x) + 0.7 + 0.05 * rng.standard_normal(N)
    z = 1.5 + 0.8 * x + 0.05 * rng.standard_normal(N)
    (folder / "d.csv").write_text("x,y,z\n" + "".join(
        f"{a!r},{b!r},{c!r}\n" for a, b, c in zip(x.tolist(), y.tolist(), z.tolist())))


def _problem(folder: Path, body: str) -> Path:
    _data(folder)
    path = folder / "fit.yaml"
    path.write_text("name: fit\ndata: {file: d.csv}\n" + body)
    return path


def _cli(path: Path, method, out: Path, cache: Path) -> tuple:
    """(text report, JSON result, whether sympy was imported) of one CLI run."""
    cmd = [sys.executable, "-X", "importtime", "-m", "symgd", "solve", str(path),
           "--out", str(out)]
    if method:
        cmd += ["--method", method]
    env = dict(os.environ, SYMGD_CACHE_DIR=str(cache))
    r = subprocess.run(cmd, env=env, cwd=path.parent, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    return r.stdout, json.loads(out.read_text()), imported


def _without_times(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("time_s", "timings")}


@pytest.mark.parametrize("case", list(CASES))
def test_a_warm_cli_fit_matches_the_cold_one_without_sympy(tmp_path, case):
    body, method, ran, path_start = CASES[case]
    path = _problem(tmp_path, body)
    cache = tmp_path / "cache"
    cold_text, cold, cold_imports = _cli(path, method, tmp_path / "cold.json", cache)
    assert "sympy" in cold_imports  # the cold run parses and derives
    assert list((cache / "index").glob("*.json")), "the cold run recorded nothing"
    warm_text, hot, warm_imports = _cli(path, method, tmp_path / "warm.json", cache)
    assert "sympy" not in warm_imports, f"{case}: the warm run imported sympy"
    assert "scipy.linalg" not in warm_imports  # symgd.startup: numba's BLAS check deferred
    assert cold["method"] == ran and cold["requested_method"] == (method or "auto")
    assert cold["path"][0].startswith(path_start), cold["path"]
    a, b = _without_times(cold), _without_times(hot)
    assert a.keys() == b.keys()
    for field in a:
        assert a[field] == b[field], f"{case}: field {field!r}: {a[field]!r} != {b[field]!r}"
    assert set(cold["timings"]) == set(hot["timings"])

    def lines(text):
        return [line for line in text.splitlines() if not line.startswith("time:")]
    assert lines(cold_text) == lines(warm_text)


# --------------------------------------------------------------------------- in process
@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(folder))
    return folder


def test_an_auto_fit_records_its_choice_and_the_linear_forms_numpy_code(tmp_path, cache):
    path = _problem(tmp_path, LINEAR)
    _, first = warm.solve_file(path)
    light = warm.lookup(path)
    assert isinstance(light, warm.LightFitProblem) and light.recorded_method == "auto"
    spec = light.fit_spec(1.0)
    assert spec.auto_choice == ("linear", None) and spec.linear is not None
    assert len(spec.linear.basis) == 2
    from symgd.choose import fit_choice
    from symgd.fit.linear import linear_form
    assert fit_choice(spec) == ("linear", None) and linear_form(spec) is spec.linear
    problem, again = warm.solve_file(path)
    assert problem is not light and isinstance(problem, warm.LightFitProblem)
    assert again.x_dict == first.x_dict and again.path == first.path


def test_an_auto_fit_that_fell_back_is_not_recorded(tmp_path, cache):
    # the least-squares line lies outside q's bounds: auto's closed form gives way to lm
    path = _problem(tmp_path, LINEAR.replace("q: 0}", "q: {start: 10, lower: 0, upper: 5}}"))
    _, first = warm.solve_file(path)
    assert first.method == "lm" and first.requested_method == "auto"
    assert any("lm instead" in p for p in first.path), first.path
    assert warm.lookup(path) is None
    _, again = warm.solve_file(path)
    assert again.x_dict == first.x_dict and again.path == first.path


def test_a_damaged_auto_record_is_a_miss(tmp_path, cache):
    path = _problem(tmp_path, EXPDECAY)
    warm.solve_file(path)
    (entry,) = (cache / "index").glob("*.json")
    data = json.loads(entry.read_text())
    assert data["fit"]["auto"]["choice"] == "lm"
    data["fit"]["auto"]["choice"] = "no such method"
    entry.write_text(json.dumps(data))
    assert warm.lookup(path) is None
    for sources in (["x"], ["1", "2"], ["def f(x):\n    return x\n", "not python ("]):
        data["fit"]["auto"] = {"choice": "linear", "why": None,
                               "linear": {"sources": sources}}
        entry.write_text(json.dumps(data))
        assert warm.lookup(path) is None, sources


# --------------------------------------------------------------------------- start-up
def test_the_deferred_blas_check_keeps_numbas_blas_working(tmp_path):
    """symgd.startup (python -m symgd): numba's first compiled function no longer
    imports scipy.linalg, and np.dot still compiles with numba's own BLAS check."""
    script = (
        "import sys\n"
        "from symgd.startup import defer_blas_check\n"
        "defer_blas_check()\n"
        "import numba, numpy as np\n"
        "numba.njit(lambda a: a[0] + 1.0)(np.ones(2))\n"
        "early = 'scipy.linalg' in sys.modules\n"
        "from numba.np import linalg\n"
        "assert linalg.ensure_blas.__module__ == 'numba.np.linalg'\n"
        "print(early, numba.njit(lambda a: np.dot(a, a))(np.ones(3)))\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["False", "3.0"]


def test_recorded_code_sees_numpy_as_the_star_import_binds_it():
    """numpy_names binds only the names a recorded column reads, each to what
    ``import numpy; from numpy import *; from numpy.linalg import *`` binds (lambdify's
    namespace), and leaves every other name to Python's builtins."""
    import numpy
    import numpy.linalg

    from symgd.warm_fit import numpy_names

    star = {}
    exec("import numpy; from numpy import *; from numpy.linalg import *", star)
    names = sorted(set(numpy.__all__) | set(numpy.linalg.__all__) | {"numpy"})
    src = "def f(x):\n    return [" + ", ".join(names) + ", len, Heaviside]\n"
    ns = numpy_names(compile(src, "<t>", "exec"))
    assert all(ns[n] is star[n] for n in names)
    assert "len" not in ns and ns["Heaviside"] is numpy.heaviside
    assert set(numpy_names(compile("def g(x):\n    return exp(x) + abs(x)\n", "<t>",
                                   "exec"))) == {"numpy", "exp", "abs"}
