"""symgd.io as a layer (issue 11): small modules, no import of symgd.problem, one frozen
DataSpec for every form of fit data, and Problem as a ProblemInterface."""
import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.io import data as D
from symgd.io.data_spec import DataSpec, data_spec
from symgd.io.limits import MAX_HEADER_BYTES, DataLimits, LoadLimits
from symgd.problem import load_text
from symgd.problem_interface import DATA, SYMBOLIC, ProblemInterface

IO = Path(symgd.__file__).parent / "io"
# Function-level imports of symgd.problem allowed under io (none: io builds no Problem;
# symgd.problem.load / load_text do).
TRANSITIONAL: set = set()  # none left: io never imports symgd.problem


def _imports_of_problem(path: Path):
    """(function name or None for module level) of every import of symgd.problem."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef,
                                                     ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.ImportFrom) and child.module in ("symgd.problem",
                                                                      "symgd"):
                if child.module == "symgd.problem" or any(a.name == "problem"
                                                          for a in child.names):
                    found.append(where)
            elif isinstance(child, ast.Import) and any(a.name == "symgd.problem"
                                                       for a in child.names):
                found.append(where)
            visit(child, inner)

    visit(tree, None)
    return found


@pytest.mark.parametrize("path", sorted(IO.glob("*.py")), ids=lambda p: p.name)
def test_io_modules_are_small_and_do_not_import_problem(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < 500
    for where in _imports_of_problem(path):
        assert where is not None and (path.name, where) in TRANSITIONAL, (path.name, where)


def test_limits_and_data_spec_import_without_sympy_numpy_or_yaml():
    code = ("import sys; import symgd.io.limits, symgd.io.data_spec, symgd.io.keys; "
            "print(sorted(m for m in ('sympy', 'yaml', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_old_import_paths_still_work():
    from symgd.io import expr, problem_file
    assert expr.ExprLimits is LoadLimits().expr.__class__
    assert problem_file.LoadLimits is LoadLimits
    assert {"parse_expression", "to_source", "validate_symbol_name", "substitute_checked",
            "check_double_range", "double_range_defect"} <= set(expr.__all__)
    assert D.MAX_HEADER_BYTES == MAX_HEADER_BYTES == 16 * 1024 * 1024


# ------------------------------------------------------------------ DataSpec
def test_data_spec_is_frozen_and_copies_what_it_is_given():
    columns = {"x": "length"}
    spec = data_spec({"file": "d.csv", "columns": columns})
    columns["y"] = "area"
    assert dict(spec.columns) == {"x": "length"} and spec.suffix == ".csv"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.file = "other.csv"
    with pytest.raises(TypeError):
        spec.columns["z"] = "w"
    assert data_spec(spec) is spec
    with pytest.raises(ValueError):
        DataSpec()


def test_data_spec_of_every_form(tmp_path):
    x = sp.Symbol("x")
    assert list(data_spec({x: [1.0], "y": [2.0]}).arrays) == ["x", "y"]
    assert data_spec(tmp_path / "d.npz").file == str(tmp_path / "d.npz")
    inline = data_spec({"inline": {"u": (1.0, 2.0)}, "symbols": ["u"]})
    assert inline.inline and inline.symbols == ("u",)
    with pytest.raises(InputError) as info:
        data_spec({x: [1.0], "x": [2.0]})
    assert info.value.field == "data.x" and "twice" in info.value.message
    with pytest.raises(InputError):
        data_spec(3.5)


def test_one_header_reader_one_limit(tmp_path):
    """The loader reads a CSV's column names with the data reader's header reader, so a
    header the data reader accepts is never cut short by the loader."""
    p = tmp_path / "d.csv"
    p.write_text("x," + "a" * 2_000_000 + ",y\n1,2,3\n", encoding="utf-8")
    f = tmp_path / "fit.yaml"
    f.write_text("variables: {m: 1}\ndata: {file: d.csv}\nmodel: m*x\ntarget: y\n")
    from symgd.problem import load
    problem = load(f)
    assert problem.data.symbols == ("x", "y")
    small = DataLimits(max_header_bytes=1000)
    with pytest.raises(InputError) as info:
        D.load(DataSpec(file=str(p), limits=small), ["x"])
    assert info.value.kind == "limit" and info.value.line == 1


def test_errors_of_loaded_data_are_located_in_the_problem_file(tmp_path):
    f = tmp_path / "fit.yaml"
    (tmp_path / "d.csv").write_text("x,y\n1,2\n")
    f.write_text("variables: {m: 1}\ndata:\n  file: d.csv\n  columns: {x: length}\n"
                 "model: m*x\ntarget: y\n")
    from symgd.problem import load
    problem = load(f)
    assert problem.data.source == str(f)
    with pytest.raises(InputError) as info:
        D.load(problem.data, ["x", "y"])
    err = info.value
    assert err.field == "data.columns.x" and err.file == str(f) and err.line == 4


def test_problem_keeps_python_data_as_a_data_spec():
    a, x, y = sp.symbols("a x y")
    xs = np.array([1.0, 2.0, 3.0])
    p = symgd.Problem(model=a * x, target=y, loss="sse", data={"x": xs, "y": 2 * xs})
    assert isinstance(p.data, DataSpec) and p.data.arrays["x"] is xs
    ds = D.load(p.data, ["x", "y"])
    np.testing.assert_array_equal(ds.array, [xs, 2 * xs])


# ------------------------------------------------------------------ the fit rules, once
def test_fit_rules_from_a_file_are_problems_located_at_their_line():
    inline = "data: {x: [1, 2], y: [2, 4]}\n"
    cases = [
        ("variables: [m]\n" + inline + "model: m*x\ntarget: y\nreduce: sum\n", "reduce", 5),
        ("variables: [m]\n" + inline + "minimize: (m*x - y)**2\nloss: mae\n", "loss", 4),
        ("variables: [m]\n" + inline + "model: m*x\ntarget: y\nloss: l2\n", "loss", 5),
        ("variables: [m]\nminimize: m**2\nreduce: sum\n", "reduce", 3),
    ]
    for text, field, line in cases:
        with pytest.raises(InputError) as info:
            load_text(text, file="prob.yaml")
        assert (info.value.field, info.value.line, info.value.file) == \
            (field, line, "prob.yaml"), text


# ------------------------------------------------------------------ ProblemInterface
def test_problem_implements_the_interface():
    x, y = sp.symbols("x y")
    p = symgd.Problem(minimize=(x - 1) ** 2 + y ** 4, variables={x: 0.5, y: {"lower": -1}})
    assert isinstance(p, ProblemInterface)
    assert p.kernel_source == SYMBOLIC and not p.is_fit
    assert p.names == ("x", "y") and p.has_bounds and list(p.start) == [0.5, 0.0]
    assert p.is_polynomial is True and p.is_polynomial is True  # cached
    assert symgd.Problem(minimize=sp.exp(x)).is_polynomial is False
    a, t = sp.symbols("a t")
    fit = symgd.Problem(model=sp.exp(a * t), target=y, data={"t": [0.0, 1.0], "y": [1, 2]})
    assert fit.kernel_source == DATA and fit.is_fit and fit.is_polynomial is False
    with pytest.raises(AttributeError):
        p.name = "other"
