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
    r = run("verify", PROBLEMS / "exp_decay_lm.yaml", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "closed form" in json.loads(r.stdout)["error"]["message"]
