"""Code generation, the on-disk kernel cache, and calling kernels by address."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.kernelgen import cache, codegen
from symgd.kernelgen.printer import to_code
from symgd.solver import compiled

x, y = sp.symbols("x y", real=True)


def test_printer_keeps_every_digit_of_a_double():
    assert to_code(sp.Float(0.1234567890123456789)) == repr(0.1234567890123456789)
    assert eval(to_code(sp.Rational(1, 3))) == 1 / 3
    assert "math.sqrt" in to_code(sp.sqrt(x))
    # sign(0) is 0 (sympy's convention), not Heaviside's 1/2
    src = to_code(sp.sign(x))
    assert eval(src, {"x": 0.0}) == 0.0 and eval(src, {"x": -2.0}) == -1.0


def test_kernels_match_sympy_values():
    f = sp.exp(x) * sp.sin(y) + sp.log(1 + x ** 2) * sp.Abs(y) + sp.Max(x, y) ** 2
    p = symgd.Problem(minimize=f, variables={x: 0.3, y: -0.7})
    k = compiled(p).kernels
    pt = np.array([0.3, -0.7])
    subs = {p.symbols[0]: 0.3, p.symbols[1]: -0.7}
    fs = p.objective
    g = np.zeros(2)
    assert k.fg(pt, g) == pytest.approx(float(fs.subs(subs)), rel=1e-14)
    for i, s in enumerate(p.symbols):
        assert g[i] == pytest.approx(float(sp.diff(fs, s).subs(subs)), rel=1e-13)
    H = np.zeros((2, 2))
    k.hess(pt, H)
    for i, si in enumerate(p.symbols):
        for j, sj in enumerate(p.symbols):
            assert H[i, j] == pytest.approx(float(sp.diff(fs, si, sj).subs(subs)), rel=1e-12,
                                            abs=1e-14)
    assert k.fun(pt) == pytest.approx(float(fs.subs(subs)), rel=1e-14)


def test_division_by_zero_is_inf_not_an_exception():
    p = symgd.Problem(minimize=1 / x + y ** 2, variables={x: 1.0, y: 0.0})
    k = compiled(p).kernels
    assert k.fun(np.array([0.0, 0.0])) == np.inf
    k_log = compiled(symgd.Problem(minimize=sp.log(x) + y, variables=[x, y])).kernels
    assert np.isnan(k_log.fun(np.array([-1.0, 0.0])))


def test_generated_module_uses_no_user_names():
    from symgd.calculus import derive
    p = symgd.Problem(minimize=(sp.Symbol("os_system") - 1) ** 2,
                      variables=[sp.Symbol("os_system")])
    d = derive(p)
    src, _ = codegen.kernel_source(p.name, d.f, d.grad, d.hess, d.symbols)
    assert "os_system" not in src.split("\n", 1)[1]  # only the header comment names it


def test_cache_is_named_by_hash_and_published_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    src = "# test module\nVALUE = 42\n"
    mod = cache.load_module(src)
    assert mod.VALUE == 42
    files = sorted(p.name for p in (tmp_path / "kernels").iterdir() if p.is_file())
    assert files == [f"{cache.MODULE_PREFIX}{cache.source_hash(src)}.py"]
    assert not any(n.startswith(".tmp_") for n in os.listdir(tmp_path / "kernels"))


def test_truncated_cache_file_is_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    src = "# another test module\nVALUE = 7\n"
    path = tmp_path / "kernels" / f"{cache.MODULE_PREFIX}{cache.source_hash(src)}.py"
    path.parent.mkdir(parents=True)
    path.write_text("# another te")  # half a file, as a crash might leave it
    assert cache.load_module(src).VALUE == 7
    assert path.read_text() == src


SCRIPT = textwrap.dedent("""
    import sys, sympy as sp, symgd
    from symgd.solver import compiled
    a, b = sp.symbols("a b")
    p = symgd.Problem(minimize=(a - 2)**4 + (a*b - 3)**2 + {salt}, variables={{a: 1.0, b: 1.0}})
    c = compiled(p)
    r = symgd.solve(p, method="newton", tol=1e-12)
    print(r.status, round(r.x[0], 6), round(r.x[1], 6), c.kernels.cfuncs[1].cache_hits)
""")


def test_second_process_loads_compiled_kernels(tmp_path):
    env = dict(os.environ, SYMGD_CACHE_DIR=str(tmp_path))
    script = SCRIPT.format(salt="0.125")
    outs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for o in outs:
        assert o.returncode == 0, o.stderr
    first, second = (o.stdout.split() for o in outs)
    # (a - 2)^4 + (a b - 3)^2 is minimised at a = 2, b = 3/2.
    assert first[:3] == ["converged", "2.0", "1.5"] or float(first[1]) == pytest.approx(2, abs=1e-3)
    assert first[3] == "0" and second[3] == "1"  # compiled once, then loaded from disk


def test_cache_info_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    cache.load_module("# info test\nX = 1\n")
    info = cache.info()
    assert info["modules"] == 1 and info["bytes"] > 0
    cache.clear()
    assert cache.info()["modules"] == 0


FALLBACK = textwrap.dedent("""
    import json, sympy as sp, symgd
    from symgd.solver import compiled
    x, y = sp.symbols("x y")
    rosen = symgd.Problem(minimize=(1 - x)**2 + 100*(y - x**2)**2, variables={x: -1.2, y: 1.0})
    r = symgd.solve(rosen, method="newton", tol=1e-12)
    dom = symgd.Problem(maximize=sp.log(x) - x, variables={x: 0.1})
    d = symgd.solve(dom, method="newton")
    print(json.dumps({"backend": compiled(rosen).kernels.backend, "x": r.x.tolist(),
                      "nit": r.nit, "path": list(r.path), "dom": d.x.tolist(),
                      "dom_status": d.status}))
""")


def test_python_fallback_gives_the_same_answers(tmp_path):
    outs = {}
    for budget in ("1", "100000"):
        env = dict(os.environ, SYMGD_CACHE_DIR=str(tmp_path / budget),
                   SYMGD_MAX_COMPILE_LINES=budget)
        r = subprocess.run([sys.executable, "-c", FALLBACK], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs[budget] = __import__("json").loads(r.stdout)
    slow, fast = outs["1"], outs["100000"]
    assert slow["backend"] == "python" and fast["backend"] == "numba"
    assert any("Python fallback" in p for p in slow["path"])
    # the same iterates: the generated arithmetic is the same code
    assert slow["nit"] == fast["nit"]
    np.testing.assert_allclose(slow["x"], [1.0, 1.0], atol=1e-10)
    np.testing.assert_allclose(slow["x"], fast["x"], rtol=1e-12)
    # log(x) - x from 0.1: trial steps into x < 0 raise in Python (ValueError), which
    # must read as nan and make the line search backtrack, as in the numba kernels
    assert slow["dom_status"] == "converged" and slow["dom"][0] == pytest.approx(1.0, abs=1e-7)


def _chained_rosenbrock(n):
    xs = sp.symbols(f"x0:{n}")
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    return f, xs


def test_sparse_hessian_kernel_writes_zeros_and_matches_sympy():
    from symgd.kernelgen import codegen
    f, xs = _chained_rosenbrock(6)
    p = symgd.Problem(minimize=f, variables={s: 0.1 * (i + 1) for i, s in enumerate(xs)})
    from symgd import calculus
    d = calculus.derive(p)
    src, _ = codegen.kernel_source("t", d.f, d.grad, d.hess, d.symbols)
    hess_src = src[src.index("def hess"):]
    assert "H[k_] = 0.0" in hess_src  # zeros by one loop, not one line each
    assert "H[5] = " not in hess_src  # H[0, 5] is structurally zero: no line of its own
    H = np.full((6, 6), np.nan)  # every entry must be written, zeros included
    pt = np.linspace(-0.9, 1.3, 6)
    compiled(p).kernels.hess(pt, H)
    want = sp.hessian(f, xs).subs(dict(zip(xs, pt)))
    np.testing.assert_allclose(H, np.array(want, dtype=float), rtol=1e-13, atol=0)


def test_large_problem_without_newton_builds_no_hessian():
    from symgd.solver import SADDLE_CHECK_MAX_VARS
    n = SADDLE_CHECK_MAX_VARS + 5
    f, xs = _chained_rosenbrock(n)
    p = symgd.Problem(minimize=f, variables={s: 0.0 for s in xs})
    r = symgd.solve(p, method="linesearch", max_iter=20000, tol=1e-9)
    assert not compiled(p, need_hessian=False).kernels.has_hessian
    # the chained Rosenbrock's minimum is x = (1, ..., 1), f = 0 (every term vanishes)
    assert r.status == "converged" and "not checked for a saddle point" in r.message
    np.testing.assert_allclose(r.x, np.ones(n), atol=1e-6)
