"""The warm path (symgd.warm: the file index; symgd.kernelgen.expr_index: the expression
index): a second solve of the same problem skips sympy, derivation and code generation
and gives the same answer to the bit; anything changed, or damaged, is a miss.

Every test uses its own kernel cache (SYMGD_CACHE_DIR) and its own objective (a random
constant term), so no test meets another's modules.
"""
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

import symgd
from symgd import warm
from symgd.kernelgen import expr_index
from symgd.problem_interface import DATA, INDEXED, ProblemInterface

ROOT = Path(__file__).resolve().parents[1]
RNG = random.Random()


def _salt() -> str:
    return f"{RNG.randint(1, 10**9)}/1000"


def _problem_file(folder: Path, *, method="newton", body=None) -> Path:
    path = folder / "p.yaml"
    path.write_text(body or ("variables: {x: 3.0, y: -1.0}\n"
                             f"minimize: (x - 1)**4 + (x - y)**2 + {_salt()}\n"
                             f"method: {method}\n"))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(folder))
    return folder


def _entries(cache: Path, kind: str = "") -> list:
    """The file index's entries (kind ""), or the expression index's ("expr")."""
    return sorted((cache / "index" / kind).glob("*.json"))


# --------------------------------------------------------------------------- subprocesses
CHILD = textwrap.dedent("""
    import contextlib, io, json, sys
    from symgd.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["solve", sys.argv[1], "--json", *sys.argv[2:]])
    out = json.loads(buf.getvalue())
    print(json.dumps({"code": code, "sympy": "sympy" in sys.modules, "x": out["x"],
                      "fun": out["fun"], "status": out["status"], "path": out["path"]}))
""")


def _child(script, *args, cache):
    env = dict(os.environ, SYMGD_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1])


def test_a_file_solved_twice_gives_the_same_x_and_the_second_skips_sympy(tmp_path):
    cache = tmp_path / "cache"
    path = _problem_file(tmp_path)
    cold = _child(CHILD, path, cache=cache)
    warm_run = _child(CHILD, path, cache=cache)
    assert cold["sympy"] is True and warm_run["sympy"] is False
    assert cold["code"] == warm_run["code"] == 0 and warm_run["status"] == "converged"
    # to the last bit: JSON floats print the shortest repr that reads back exactly
    assert warm_run["x"] == cold["x"] and warm_run["fun"] == cold["fun"]
    assert warm_run["path"] == cold["path"]
    # another --set is another key: the full path again (with sympy), its own entry
    other = _child(CHILD, path, "--set", "options.tol=1e-12", cache=cache)
    assert other["sympy"] is True
    assert len(_entries(cache)) == 2


API_CHILD = textwrap.dedent("""
    import json, sys
    import symgd
    r = symgd.solve(sys.argv[1])
    print(json.dumps({"sympy": "sympy" in sys.modules, "x": r.x.tolist()}))
""")


def test_the_python_api_on_a_file_takes_the_warm_path_too(tmp_path):
    cache = tmp_path / "cache"
    path = _problem_file(tmp_path, method="linesearch")
    cold = _child(API_CHILD, path, cache=cache)
    again = _child(API_CHILD, path, cache=cache)
    assert cold["sympy"] is True and again["sympy"] is False
    assert again["x"] == cold["x"]


SYMPY_CHILD = textwrap.dedent("""
    import json, sys
    import sympy as sp
    import symgd
    x, y = sp.symbols("x y")
    p = symgd.Problem(minimize=(x - 1)**4 + (x - y)**2 + sp.Rational(sys.argv[1]),
                      variables={x: 3.0, y: -1.0}, method="newton")
    r = symgd.solve(p)
    print(json.dumps({"x": r.x.tolist(), "derive": r.timings["derive"],
                      "status": r.status}))
""")


def test_a_sympy_problem_solved_twice_skips_the_derivation(tmp_path):
    cache = tmp_path / "cache"
    salt = _salt()
    cold = _child(SYMPY_CHILD, salt, cache=cache)
    again = _child(SYMPY_CHILD, salt, cache=cache)
    assert cold["derive"] > 0.0 and again["derive"] == 0.0
    assert again["x"] == cold["x"] and again["status"] == "converged"


# --------------------------------------------------------------------------- the file index
def test_an_edited_file_does_not_use_the_old_entry(tmp_path, cache):
    path = _problem_file(tmp_path)
    problem, _ = warm.solve_file(path)
    assert problem.kernel_source != INDEXED and len(_entries(cache)) == 1
    light = warm.lookup(path)
    assert light is not None and light.kernel_source == INDEXED
    assert warm.lookup(path, ["options.tol=1e-12"]) is None  # other overrides
    assert warm.lookup(path, limits=["max_variables=5"]) is None  # other limits
    text = path.read_text()
    path.write_text(text.replace("(x - 1)**4", "(x - 2)**2"))
    assert warm.lookup(path) is None
    problem, result = warm.solve_file(path)
    assert problem.kernel_source != INDEXED
    assert result.x == pytest.approx([2.0, 2.0], abs=1e-6)
    path.write_text(text)  # back as it was: the first entry serves again
    assert warm.lookup(path) is not None


def test_the_entry_serves_only_the_method_and_line_search_it_was_recorded_with(tmp_path,
                                                                               cache):
    path = _problem_file(tmp_path, method="linesearch")
    warm.solve_file(path)
    light = warm.lookup(path)
    assert light.runs() and light.runs("linesearch", {"tol": 1e-12})
    assert not light.runs("newton")  # needs a Hessian the entry may not have
    assert not light.runs("auto") and not light.runs(None, {"line_search": "exact"})
    problem, result = warm.solve_file(path, method="newton")
    assert problem.kernel_source != INDEXED and result.method == "newton"


def test_a_corrupt_or_stale_entry_is_ignored(tmp_path, cache):
    path = _problem_file(tmp_path)
    _, first = warm.solve_file(path)
    (entry,) = _entries(cache)
    good = entry.read_text()
    for damage in (os.urandom(300), b"{}", b"[1, 2]", good.replace('"newton"', '"auto"').encode(),
                   good.replace('"sense": "minimize"', '"sense": 3').encode(),
                   good.replace('"format": 2', '"format": 1').encode()):
        entry.write_bytes(damage)
        assert warm.lookup(path) is None, damage[:80]
    # a module name that is no module of the cache, or a path: a miss, never an import
    for module in ("symgd_k_nonexistent", "../../etc/passwd", "os"):
        entry.write_text(json.dumps({**json.loads(good), "module": module}))
        light = warm.lookup(path)
        assert light is not None and light.kernels() is None
        problem, result = warm.solve_file(path)  # the full path, recorded again
        assert problem.kernel_source != INDEXED
        assert result.x.tolist() == first.x.tolist()
    assert json.loads(entry.read_text())["module"] == json.loads(good)["module"]


def test_a_cleared_kernel_cache_falls_back_to_the_full_path(tmp_path, cache):
    path = _problem_file(tmp_path)
    _, first = warm.solve_file(path)
    module = json.loads(_entries(cache)[0].read_text())["module"]
    (cache / "kernels" / f"{module}.py").write_text("# damaged\n")
    sys.modules.pop(module, None)
    problem, result = warm.solve_file(path)
    assert problem.kernel_source != INDEXED and result.x.tolist() == first.x.tolist()


def test_the_light_problem_implements_the_problem_interface(tmp_path, cache):
    path = _problem_file(tmp_path)
    problem, _ = warm.solve_file(path)
    light = warm.lookup(path)
    assert isinstance(light, ProblemInterface)
    assert light.kernel_source == INDEXED and not light.is_fit
    assert not hasattr(light, "light")
    assert light.is_polynomial is True
    assert light.names == problem.names and light.sense == problem.sense
    assert light.start.tolist() == problem.start.tolist()
    assert light.location("method") == problem.location("method")
    err = light.input_error("boom", field="method")
    assert err.file == str(path) and err.line == problem.location("method")[0]
    assert light.kernels().module_name == light.module
    assert warm.kernels_for(light).module_name == light.module


def test_which_methods_may_use_the_index_comes_from_the_registry():
    from symgd.methods import REGISTRY

    for name, spec in REGISTRY.items():
        plain = warm.indexable_method(name)
        assert plain == (spec.run is not None and not spec.planned and not spec.internal
                         and not spec.needs_data), name
    assert warm.indexable_method("newton") and not warm.indexable_method("auto")
    assert not warm.indexable_method("lm") and warm.indexable_method("lm", data=True)
    assert not warm.indexable_method("no such method")


def test_constrained_problems_and_auto_are_not_recorded(tmp_path, cache):
    path = _problem_file(tmp_path, body=(
        "variables: {x: 0.5, y: 0.5}\n"
        f"minimize: (x - 2)**2 + (y - 2)**2 + {_salt()}\n"
        "constraints: ['x + y <= 1']\nmethod: auto\n"))
    warm.solve_file(path)
    assert _entries(cache) == []


# --------------------------------------------------------------------------- data fits
def test_a_fit_entry_round_trips_and_a_changed_data_file_is_a_miss(tmp_path, cache):
    (tmp_path / "d.csv").write_text("t,y\n" + "".join(f"{t},{2.5 * t + 1}\n"
                                                      for t in range(6)))
    path = tmp_path / "fit.yaml"
    path.write_text(f"name: line-{RNG.randint(1, 10**9)}\nvariables: {{a: 0.1, b: 0.0}}\n"
                    "data: {file: d.csv}\nmodel: a*t + b\ntarget: y\nloss: sse\n"
                    "method: lm\n")
    problem, result = warm.solve_file(path)
    assert result.status == "converged"
    from symgd import solver
    assert solver.kernels_of(problem) is not None
    assert warm.lookup(path) is not None  # fits solve from the index
    light = warm.lookup(path, fits=True)
    assert isinstance(light, warm.LightFitProblem) and isinstance(light, ProblemInterface)
    assert light.is_fit and light.kernel_source == INDEXED and light.kernel_source != DATA
    assert light.loss == "sse" and light.model == "a*t + b" and light.names == ("a", "b")
    spec = light.fit_spec(1.0)
    assert spec.least_squares and [s.name for s in spec.data_symbols] == ["t", "y"]
    assert light.fit_spec(2.0) is None  # recorded for huber's default delta only
    os.utime(tmp_path / "d.csv", ns=(1, 1))
    assert warm.lookup(path, fits=True) is None


# --------------------------------------------------------------------------- expression index
def _sympy_problem(salt, **kw):
    x, y = sp.symbols("x y")
    return symgd.Problem(minimize=(x - 1) ** 4 + (x - y) ** 2 + sp.Rational(salt),
                         variables={x: 3.0, y: -1.0}, **kw)


def test_the_expression_index_finds_an_equal_problem_and_nothing_else(cache):
    from symgd.solver import compiled

    salt = _salt()
    p = _sympy_problem(salt)
    k = compiled(p, need_hessian=True).kernels
    expr_index.record(p, k, True, False)
    again = expr_index.lookup(_sympy_problem(salt), True, False)  # a new, equal object
    assert again is not None and again.module_name == k.module_name
    assert again.has_hessian and again.n == 2
    assert expr_index.lookup(p, False, False) is None      # another kernel set
    assert expr_index.lookup(p, True, True) is None
    assert expr_index.lookup(_sympy_problem(_salt()), True, False) is None  # other f
    assert expr_index.lookup(_sympy_problem(salt, name="other"), True, False) is None
    # bounds and starts do not enter the kernels: the same entry
    x, y = sp.symbols("x y")
    r = symgd.Problem(minimize=(x - 1) ** 4 + (x - y) ** 2 + sp.Rational(salt),
                      variables={x: {"start": 0.5, "lower": 0.0}, y: 2.0})
    assert expr_index.lookup(r, True, False).module_name == k.module_name


def test_a_damaged_expression_entry_or_module_is_a_miss(cache, monkeypatch):
    from symgd.solver import compiled

    p = _sympy_problem(_salt())
    k = compiled(p, need_hessian=True).kernels
    expr_index.record(p, k, True, False)
    (entry,) = _entries(cache, "expr")
    good = json.loads(entry.read_text())
    for damage in ("", "{", json.dumps({**good, "n": 3}), json.dumps({**good, "format": 0}),
                   json.dumps({**good, "module": "../kernels/x"}),
                   json.dumps({**good, "has_hessian": False})):
        entry.write_text(damage)
        assert expr_index.lookup(p, True, False) is None, damage
    entry.write_text(json.dumps(good))
    monkeypatch.setenv("SYMGD_MAX_COMPILE_LINES", "7")  # another generated module
    assert expr_index.lookup(p, True, False) is None
    monkeypatch.delenv("SYMGD_MAX_COMPILE_LINES")
    assert expr_index.lookup(p, True, False) is not None
    (cache / "kernels" / f"{good['module']}.py").write_text("x = 1\n")
    sys.modules.pop(good["module"], None)
    assert expr_index.lookup(p, True, False) is None


def test_record_never_fails_a_solve(cache):
    p = _sympy_problem(_salt())
    expr_index.record(p, object(), True, False)  # not kernels: nothing written, no error
    assert _entries(cache, "expr") == []
    assert warm.record("/nonexistent.yaml", (), p, object()) is False
