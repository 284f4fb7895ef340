"""The command line in subprocesses: output, JSON, exit statuses, --out (Ctrl-C of the
command line: tests/test_failure_modes.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"


def run(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "symgd", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, **kw)


def test_help():
    r = run("--help")
    assert r.returncode == 0 and "solve" in r.stdout and "derive" in r.stdout


def test_solve_human_output():
    r = run("solve", PROBLEMS / "rosenbrock.yaml")
    assert r.returncode == 0, r.stderr
    assert "converged" in r.stdout and "x" in r.stdout
    assert "Traceback" not in r.stderr


def test_solve_json_is_exactly_one_object(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("previous result\n")
    r = run("solve", PROBLEMS / "rosenbrock.yaml", "--json", "--out", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)  # the whole stdout parses: nothing else was printed
    for key in ("problem", "method", "success", "status", "message", "x", "fun", "grad_norm",
                "iterations", "evaluations", "time_s", "analytic", "requested_method", "path",
                "timings"):
        assert key in d
    assert d["status"] == "converged" and d["success"] is True
    assert d["x"]["x"] == pytest.approx(1.0, abs=1e-9) and d["x"]["y"] == pytest.approx(1.0, abs=1e-9)
    assert json.loads(out.read_text()) == d
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".symgd_")]


def test_shim_and_console_script_do_the_same():
    shim = subprocess.run([sys.executable, "cli.py", "solve", "problems/booth.yaml", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert shim.returncode == 0, shim.stderr
    assert json.loads(shim.stdout)["x"] == pytest.approx({"x": 1.0, "y": 3.0})
    exe = Path(sys.executable).parent / "symgd"
    if exe.exists():
        script = subprocess.run([str(exe), "solve", "problems/booth.yaml", "--json"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        assert json.loads(script.stdout)["x"] == json.loads(shim.stdout)["x"]


def test_not_converged_exits_1_and_says_so():
    r = run("solve", PROBLEMS / "rosenbrock.yaml", "--method", "linesearch",
            "--set", "options.max_iter=5", "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert d["status"] == "max_iter" and d["success"] is False and d["iterations"] == 5


def test_method_flag_beats_set(tmp_path):
    r = run("solve", PROBLEMS / "booth.yaml", "--set", "method=gd", "--method", "newton", "--json")
    assert json.loads(r.stdout)["method"] == "newton"


def test_bad_input_exit_2_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("variables: {x: 1}\nminimize: x**2 + foo\n")
    r = run("solve", bad)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "bad.yaml" in r.stderr and "foo" in r.stderr and ":2" in r.stderr
    r = run("solve", bad, "--json")
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["file"].endswith("bad.yaml") and err["line"] == 2 and "foo" in err["message"]
    assert set(err) == {"kind", "file", "field", "line", "column", "message"}


def test_unknown_option_names_the_line(tmp_path):
    bad = tmp_path / "opt.yaml"
    bad.write_text("variables: {x: 1}\nminimize: x**2\nmethod: newton\noptions:\n  tl: 1.0e-3\n")
    r = run("solve", bad, "--json")
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["field"] == "options.tl" and err["line"] == 5 and "tol" in err["message"]


def test_missing_file_is_input_error(tmp_path):
    r = run("solve", tmp_path / "nope.yaml")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_derive_prints_gradient_and_hessian():
    r = run("derive", PROBLEMS / "booth.yaml")
    assert r.returncode == 0, r.stderr
    # d/dx (x + 2y - 7)^2 + (2x + y - 5)^2 = 10x + 8y - 34; Hessian [[10, 8], [8, 10]]
    assert "10*x + 8*y - 34" in r.stdout
    assert "[10, 8]" in r.stdout and "[8, 10]" in r.stdout
    r = run("derive", PROBLEMS / "booth.yaml", "--latex")
    assert r.returncode == 0 and "\\left[" in r.stdout or "matrix" in r.stdout


def test_cache_commands(tmp_path):
    env = dict(os.environ, SYMGD_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "symgd", "cache", "info"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and str(tmp_path) in r.stdout
    r = subprocess.run([sys.executable, "-m", "symgd", "cache", "clear"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "removed" in r.stdout


WARM = """
import sys, json, io, contextlib
from symgd.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = main(["solve", sys.argv[1], "--json"])
print(json.dumps({"code": code, "sympy": "sympy" in sys.modules,
                  "result": json.loads(buf.getvalue())}))
"""


def test_warm_run_skips_sympy_and_gives_the_same_answer(tmp_path):
    env = dict(os.environ, SYMGD_CACHE_DIR=str(tmp_path / "cache"))
    prob = tmp_path / "p.yaml"
    prob.write_text("variables: {x: 3.0, y: -1.0}\nminimize: (x - 1)**4 + (x - y)**2\n"
                    "method: newton\n")

    def once():
        r = subprocess.run([sys.executable, "-c", WARM, str(prob)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout.splitlines()[-1])

    cold, warm = once(), once()
    assert cold["sympy"] is True and warm["sympy"] is False
    for d in (cold, warm):
        assert d["code"] == 0 and d["result"]["status"] == "converged"
    assert warm["result"]["x"] == cold["result"]["x"]
    # (x - 1)^4 + (x - y)^2 has its minimum at x = y = 1 (a quartic-flat minimum)
    assert warm["result"]["x"]["x"] == pytest.approx(1.0, abs=1e-2)
    # an edited file is a different problem: the index entry is not reused
    prob.write_text("variables: {x: 3.0, y: -1.0}\nminimize: (x - 2)**2 + (x - y)**2\n"
                    "method: newton\n")
    edited = once()
    assert edited["sympy"] is True
    assert edited["result"]["x"] == pytest.approx({"x": 2.0, "y": 2.0}, abs=1e-8)


def test_derive_and_verify_on_a_data_fit():
    r = run("derive", PROBLEMS / "exp_decay_lm.yaml")
    assert r.returncode == 0, r.stderr
    # d/dk of the residual A exp(-k t) + B - y
    assert "-A*t*exp(-k*t)" in r.stdout
    # verify checks the loss's derivatives; the model is nonlinear: no closed form, and
    # a data fit then exits 0 when the checks pass (SPEC §3)
    r = run("verify", PROBLEMS / "exp_decay_lm.yaml", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["gradient_check"]["ok"] is True
    assert d["analytic"]["status"] == "no_closed_form"


# ------------------------------------------------------------------ --version, cache, derive
def _pyproject_version() -> str:
    import re
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'(?m)^version\s*=\s*"([^"]+)"', text).group(1)


def test_version():
    from importlib import metadata

    import symgd
    r = run("--version")
    assert r.returncode == 0, r.stderr
    try:
        expected = metadata.version("symgd")
    except metadata.PackageNotFoundError:  # a clone run without installing
        expected = symgd.__version__
    assert r.stdout.strip() == f"symgd {expected}"
    assert symgd.__version__ == _pyproject_version()


def test_version_falls_back_to_the_package(monkeypatch):
    from importlib import metadata

    import symgd
    from symgd import cli

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert cli.version() == symgd.__version__ == _pyproject_version()


def _fake_loops(folder: Path, n: int) -> list:
    folder.mkdir(parents=True)
    files = []
    for k in range(n):
        for ext in ("nbi", "1.nbc"):
            f = folder / f"loops.step-{k}.py311.{ext}"
            f.write_bytes(b"x" * 1000)
            files.append(f)
    return files


def test_cache_clear_all_removes_and_names_the_method_loops(tmp_path, monkeypatch, capsys):
    from symgd import cli
    from symgd.kernelgen import cache

    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path / "kernels"))
    in_tree = _fake_loops(tmp_path / "methods" / "__pycache__", 3)
    user_wide = _fake_loops(tmp_path / "numba" / "methods_abc", 1)
    other = tmp_path / "methods" / "__pycache__" / "loops.cpython-311.pyc"
    other.write_bytes(b"pyc")
    monkeypatch.setattr(cache, "method_loop_folders", lambda: [
        tmp_path / "methods" / "__pycache__", tmp_path / "numba" / "methods_abc",
        tmp_path / "absent"])

    assert cli.main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert all(f.exists() for f in in_tree + user_wide)
    assert "kept symgd's compiled method loops (8 numba cache files" in out
    assert "--all" in out

    assert cli.main(["cache", "clear", "--all"]) == 0
    out = capsys.readouterr().out
    assert not any(f.exists() for f in in_tree + user_wide) and other.exists()
    assert "removed symgd's compiled method loops: 8 of 8 numba cache files" in out
    assert str(tmp_path / "methods" / "__pycache__") in out
    assert str(tmp_path / "numba" / "methods_abc") in out
    assert "compiles its loops again" in out and f"{cache.LOOP_COMPILE_S} s" in out

    assert cli.main(["cache", "clear", "--all"]) == 0
    assert "were not cached" in capsys.readouterr().out


def test_method_loop_folders_are_where_numba_writes(tmp_path, monkeypatch):
    """The folders match numba's own cache locators for a cached loop of symgd's."""
    import numba
    from numba.core import caching

    from symgd.kernelgen import cache
    from symgd.methods import schedules

    py_func = schedules.learning_rate.py_func  # an @njit(cache=True) loop of symgd's
    source = py_func.__code__.co_filename
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba-cache"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # numba's user-wide
    folders = cache.method_loop_folders()
    found = 0
    for locator in impl._locator_classes:
        loc = locator.from_function(py_func, source)
        if loc is not None and "ipython" not in locator.__name__.lower():
            assert Path(loc.get_cache_path()) in folders, locator.__name__
            found += 1
    assert found >= 2  # NUMBA_CACHE_DIR's folder, and __pycache__ or the user-wide one
    assert tmp_path / "user-cache" / "numba" in [f.parent for f in folders]
    assert Path(source).parent / "__pycache__" in folders


def test_derive_on_a_fit_labels_residual_and_loss_gradient():
    r = run("derive", PROBLEMS / "fence_fit.yaml")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # r = a x^2 + b x - y: dr/da = x^2, dr/db = x (by hand); the loss is the mean of |r_i|
    assert "residual r = model - target = a*x**2 + b*x - y" in out
    assert "derivatives of r (per sample" in out
    assert "  dr/da = x**2" in out and "  dr/db = x" in out
    assert "L = (1/n) sum_i |r_i|" in out
    assert "dL/da = (1/n) sum_i sign(r_i) dr_i/da" in out
    assert "  d/da = " not in out  # the old, unlabelled line
    r = run("derive", PROBLEMS / "fence_fit.yaml", "--set", "loss=sse")
    assert "dL/db = sum_i 2 r_i dr_i/db" in r.stdout and "(1/n)" not in r.stdout
    r = run("derive", PROBLEMS / "logistic.yaml")
    assert "logit z = model = w0 + w1*x1 + w2*x2" in r.stdout
    assert "dL/dw1 = (1/n) sum_i (sigmoid(z_i) - y_i) dz_i/dw1" in r.stdout
    assert "  dz/dw1 = x1" in r.stdout


def test_derive_on_a_maximized_per_sample_objective_keeps_its_sense(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("variables: {a: 1}\ndata: {x: [1, 2, 3]}\nmaximize: a*x - (a - x)**4\n")
    r = run("derive", f)
    assert r.returncode == 0, r.stderr
    # d/da (a x - (a - x)^4) = x - 4 (a - x)^3; second derivative -12 (a - x)^2
    assert "per-sample objective phi = a*x - (a - x)**4" in r.stdout
    assert "  dphi/da = x - 4*(a - x)**3" in r.stdout
    assert "  d2phi/dada = -12*(a - x)**2" in r.stdout
