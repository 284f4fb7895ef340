"""Indexed variables and sums in problem files (issue 14, item 1; SPEC §1 and §5).

A file with ``shape`` and ``sum`` must give the Problem the Python API gives with
``sympy.IndexedBase`` and ``sympy.Sum``; the chained Rosenbrock answer is the published
one (the minimum of scipy.optimize.rosen is x = 1, f = 0), never symgd's own output.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.io.limits import LoadLimits
from symgd.problem import load_text

ROOT = Path(__file__).resolve().parents[1]
ROSEN = ROOT / "problems" / "chained_rosenbrock_200.yaml"

w = sp.IndexedBase("w")
i = sp.Idx("i")
x = sp.Symbol("x")


def load(text: str, **kw):
    return load_text(text, file="p.yaml", **kw)


def refused(text: str, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        load(text, **kw)
    return info.value


def same(a: symgd.Problem, b: symgd.Problem):
    assert [v.symbol for v in a.variables] == [v.symbol for v in b.variables]
    assert list(a.start) == list(b.start)
    assert a.objective == b.objective or sp.simplify(a.objective - b.objective) == 0


# -- the same Problem as the Python API --------------------------------------------------

def test_shape_and_sum_give_the_python_api_problem():
    f = load("variables:\n  x: 2\n  w: {shape: 5, start: 0.5}\n"
             "minimize: x**2 + sum((w[i] - i)**2, (i, 0, 4))\n")
    p = symgd.Problem(minimize=x**2 + sp.Sum((w[i] - i)**2, (i, 0, 4)),
                      variables={x: 2.0, **{w[k]: 0.5 for k in range(5)}})
    assert f.names == ("x", "w[0]", "w[1]", "w[2]", "w[3]", "w[4]")
    same(f, p)


def test_nested_sums_with_an_inner_limit_of_the_outer_index():
    f = load("variables:\n  w: {shape: 4}\n"
             "minimize: sum(sum(w[i]*w[j], (j, 0, i)), (i, 0, 3)) + sum(w[i]**4, (i, 0, 3))\n")
    jj = sp.Symbol("j", integer=True)
    p = symgd.Problem(minimize=sp.Sum(w[i] * w[jj], (jj, 0, i), (i, 0, 3))
                      + sp.Sum(w[i]**4, (i, 0, 3)),
                      variables=[w[k] for k in range(4)])
    same(f, p)


def test_chained_rosenbrock_file_is_the_python_api_problem():
    f = symgd.load(ROSEN)
    p = symgd.Problem(minimize=sp.Sum(100 * (w[i + 1] - w[i]**2)**2 + (1 - w[i])**2,
                                      (i, 0, 198)),
                      variables={w[k]: (-1.2 if k % 2 == 0 else 1.0) for k in range(200)})
    same(f, p)


def test_index_arithmetic_parameters_and_constraints():
    f = load("variables:\n  w: {shape: 6, lower: -1, upper: [1, 2, 3, 4, 5, .inf]}\n"
             "parameters: {n: 6}\n"
             "minimize: sum(w[2*i + 1]*w[i // 2] + (-1)**i*w[n - 1 - i], (i, 0, n/2 - 1))\n"
             "constraints:\n  - sum(w[i], (i, 0, n - 1)) <= 3\n")
    W = [sp.Symbol(f"w[{k}]", real=True) for k in range(6)]
    expected = sum(W[2 * k + 1] * W[k // 2] + (-1)**k * W[5 - k] for k in range(3))
    assert sp.expand(f.objective - expected) == 0
    assert sp.expand(f.constraints[0].expr - (sum(W) - 3)) == 0 or \
        sp.expand(f.constraints[0].expr + (sum(W) - 3)) == 0
    assert [v.upper for v in f.variables] == [1.0, 2.0, 3.0, 4.0, 5.0, None]
    assert {v.lower for v in f.variables} == {-1.0}


@pytest.mark.parametrize("start, expected", [
    ("0.5", [0.5] * 4),
    ("[1, 2, 3, 4]", [1.0, 2.0, 3.0, 4.0]),
    ('"-1.2*(1 - i % 2) + i % 2"', [-1.2, 1.0, -1.2, 1.0]),   # exactly, not 1.0000000000000002
    ('"P*i + 0.1"', [0.1, 2.1, 4.1, 6.1]),
])
def test_start_as_number_list_or_expression_of_i(start, expected):
    f = load(f"variables:\n  w: {{shape: 4, start: {start}}}\nparameters: {{P: 2}}\n"
             "minimize: sum(w[i]**2, (i, 0, 3))\n")
    assert list(f.start) == expected


# -- solving ---------------------------------------------------------------------------

def test_chained_rosenbrock_200_solves_to_all_ones():
    result = symgd.solve(symgd.load(ROSEN), method="lbfgs")
    assert result.success, result.message
    assert len(result.x) == 200
    assert max(abs(v - 1.0) for v in result.x) < 1e-6
    assert abs(result.fun) < 1e-10


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "symgd", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_solves_the_chained_rosenbrock_file():
    run = _cli("solve", "problems/chained_rosenbrock_200.yaml", "--method", "lbfgs", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert len(out["x"]) == 200 and max(abs(v - 1) for v in out["x"].values()) < 1e-6


# -- errors: each names the field, the line and what is wrong ---------------------------

W5 = "variables:\n  x: 1\n  w: {shape: 5}\nparameters: {P: 2}\n"


@pytest.mark.parametrize("objective, words", [
    ("w[5]", ["w[5] is out of range", "w[0] to w[4]"]),
    ("w[-1]", ["w[-1]", "indices start at 0"]),
    ("sum(w[i], (i, 0, 5))", ["w[5]", "outside the shape"]),
    ("w[i] + sum(w[i], (i, 0, 4))", ["index 'i' is used outside the sum"]),
    ("sum(w[i], (i, 0, i))", ["index 'i' is used outside the sum"]),
    ("w[i]", ["unknown name 'i' in an index"]),
    ("w[0.5]", ["index of w[0.5]", "whole number"]),
    ("w[x]", ["'x' is not the index of an enclosing sum"]),
    ("sum(w[i/2], (i, 0, 4))", ["w[1/2]", "not an integer"]),
    ("sum(w[i], (i, 0.5, 4))", ["first value of the sum over i", "whole number"]),
    ("sum(w[i], (i, 0, x))", ["last value of the sum over i"]),
    ("sum(w[i], (i, 4, 1))", ["runs from 4 down to 1"]),
    ("sum(w[x], (x, 0, 4))", ["sum index 'x'", "variable"]),
    ("sum(w[P], (P, 0, 1))", ["sum index 'P'", "parameter"]),
    ("sum(sum(w[i], (i, 0, 1)), (i, 0, 1))", ["already the index of an enclosing sum"]),
    ("w + 1", ["'w' has shape 5", "w[0] to w[4]"]),
    ("x[0] + w[0]", ["'x' is not indexed"]),
    ("w[0, 1]", ["one index"]),
    ("x % 2 + w[0]", ["'%'", "whole numbers only"]),
    ("Sum(w[i], (i, 0, 4))", ["lower case"]),
    ("sum(w[i] for i in (0, 1))", ["sum takes an expression and (index, first, last)"]),
])
def test_expression_errors(objective, words):
    err = refused(W5 + f"minimize: {objective}\n")
    assert (err.file, err.field, err.line) == ("p.yaml", "minimize", 5), err
    for word in words:
        assert word in err.message, (word, err.message)


@pytest.mark.parametrize("spec, field, words", [
    ("{shape: 0}", "variables.w.shape", ["at least 1"]),
    ("{shape: -3}", "variables.w.shape", ["at least 1"]),
    ("{shape: 2.5}", "variables.w.shape", ["whole number"]),
    ("{shape: [2, 3]}", "variables.w.shape", ["one whole number"]),
    ("{shape: '5'}", "variables.w.shape", ["expected a number"]),
    ("{shape: 5, start: [1, 2]}", "variables.w.start", ["has 2 values", "shape 5"]),
    ("{shape: 5, lower: [0, 0, 0, 0, 0, 0]}", "variables.w.lower", ["has 6 values"]),
    ("{shape: 5, upper: []}", "variables.w.upper", ["has 0 values"]),
    ("{shape: 5, start: 'log(i)'}", "variables.w.start", ["w[0] (i = 0)", "not a finite"]),
    ("{shape: 5, start: 'x*i'}", "variables.w.start", ["unknown name 'x'"]),
    ("{shape: 5, expr: '2'}", "variables.w.expr", ["shape", "valid: lower"]),
])
def test_declaration_errors(spec, field, words):
    err = refused(f"variables:\n  w: {spec}\nminimize: w[0]**2\n")
    assert (err.file, err.field, err.line) == ("p.yaml", field, 2), err
    for word in words:
        assert word in err.message, (word, err.message)


def test_caps_are_limits_that_name_themselves_and_can_be_raised():
    err = refused("variables:\n  w: {shape: 1000000}\nminimize: w[0]**2\n")
    assert (err.kind, err.field, err.line) == ("limit", "variables.w.shape", 2)
    assert "max_shape" in err.message and "100,000" in err.message
    err = refused("variables:\n  w: {shape: 3}\n"
                  "minimize: sum(sum(w[i % 3]*w[j % 3], (j, 0, 999)), (i, 0, 999))\n")
    assert (err.kind, err.field, err.line) == ("limit", "minimize", 3)
    assert "max_sum_terms" in err.message
    deep = ("variables:\n  w: {shape: 2}\nminimize: sum(sum(sum(sum(w[i]*w[j], (l, 0, 1)), "
            "(k, 0, 1)), (j, 0, 1)), (i, 0, 1))\n")
    err = refused(deep)
    assert (err.kind, err.field, err.line) == ("limit", "minimize", 3)
    assert "max_sum_depth" in err.message
    assert load(deep, limits=LoadLimits.from_settings(["max_sum_depth=4"])).names == \
        ("w[0]", "w[1]")
    err = refused("variables:\n  w: {shape: 2000}\nminimize: w[0]**2\n")
    assert err.kind == "limit" and "max_variables" in err.message


def test_a_parameter_may_not_share_the_name_of_a_shaped_variable():
    err = refused("variables:\n  w: {shape: 3}\nparameters: {w: 1}\nminimize: w[0]**2\n")
    assert err.field == "parameters.w" and "both a variable and a parameter" in err.message


@pytest.mark.parametrize("objective, words", [
    ("w[200]**2", "w[200] is out of range"),
    ("w + 1", "'w' has shape 200"),
])
def test_cli_errors_exit_2_without_traceback(tmp_path, objective, words):
    path = tmp_path / "bad.yaml"
    path.write_text(f"variables:\n  w: {{shape: 200}}\nminimize: {objective}\n")
    run = _cli("solve", str(path), "--json")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    error = json.loads(run.stdout)["error"]
    assert (error["field"], error["line"]) == ("minimize", 3)
    assert words in error["message"] and error["file"].endswith("bad.yaml")
