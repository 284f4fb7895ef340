"""The Python API is bounded like the file loader: parameter values cannot make sympy
compute a gigantic exact number, and whole-number options beyond what the compiled
loops count (int64) are input errors, not crashes."""
from __future__ import annotations

import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.methods.sgd import SGD_OPTIONS, check_sgd_options


@contextmanager
def deadline(seconds: int):
    """Fail (rather than hang the suite) if the block runs past ``seconds``."""
    def expire(*_):
        raise TimeoutError(f"took over {seconds} s: the guard did not stop it")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


X, P = sp.symbols("x P")


@pytest.mark.parametrize("objective", ["x**2 + P**P**P", X**2 + P**P**P])
def test_parameter_power_tower_is_refused_quickly(objective):
    # 9**(9**9) has 369,693,100 digits: sympy would take hours to build it.
    with deadline(20), pytest.raises(InputError) as err:
        symgd.Problem(minimize=objective, variables=["x"], parameters={"P": 9})
    assert err.value.field == "minimize" and "digits" in str(err.value)


def test_parameter_power_tower_in_a_constraint_is_refused():
    with deadline(20), pytest.raises(InputError) as err:
        symgd.Problem(minimize=X**2, constraints=[sp.Le(X, P**P**P)], parameters={"P": 9})
    assert err.value.field == "constraints[0]"


@pytest.mark.parametrize("objective", ["(x - P)**2 + P**3", (X - P)**2 + P**3])
def test_parameters_still_substitute_exactly(objective):
    p = symgd.Problem(minimize=objective, variables=["x"], parameters={"P": 9})
    x = p.symbols[0]
    assert sp.expand(p.objective - ((x - 9)**2 + 729)) == 0
    r = symgd.solve(p, method="newton")
    assert r.x[0] == pytest.approx(9.0, abs=1e-9) and r.fun == pytest.approx(729.0)


def test_huge_max_iter_is_an_input_error():
    p = symgd.Problem(minimize="(x - 1)**2", variables=["x"])
    with pytest.raises(InputError) as err:
        symgd.solve(p, method="gd", max_iter=1e300)
    assert err.value.field == "options.max_iter" and "2^62" in str(err.value)
    # the largest count allowed still runs (and converges long before it)
    r = symgd.solve(p, method="gd", max_iter=2**62)
    assert r.status == "converged"


def test_huge_epochs_is_an_input_error():
    with pytest.raises(InputError) as err:
        check_sgd_options({**SGD_OPTIONS, "epochs": 1e300})
    assert err.value.field == "options.epochs"


def test_cli_huge_max_iter_exits_2_with_the_line(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("variables: [x]\nminimize: (x - 1)**2\nmethod: gd\n"
                 "options: {max_iter: 1.0e300}\n")
    out = subprocess.run([sys.executable, "-m", "symgd", "solve", str(f)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{f}:4:" in out.stderr and "options.max_iter" in out.stderr


@pytest.mark.parametrize("objective", [X**2 + sp.Integer(10)**400 * X, "x**2 + 10**400*x"])
def test_number_beyond_double_range_is_refused(objective):
    # the loader refuses these too; the API used to crash in the code printer
    with pytest.raises(InputError) as err:
        symgd.Problem(minimize=objective, variables=["x"])
    assert err.value.field == "minimize" and "double precision" in str(err.value)


def test_exact_number_that_cancels_is_kept_exactly():
    # 10**400 - 10**400 is 0 before any double sees it: no refusal, exact result
    p = symgd.Problem(minimize=X**2 - sp.Integer(10)**400 + 10**400 + 2 * X, variables=["x"])
    r = symgd.solve(p, method="newton")
    assert r.x[0] == pytest.approx(-1.0, abs=1e-12) and r.fun == pytest.approx(-1.0)


@pytest.mark.parametrize("make, refused", [
    (lambda P: sp.factorial(P), True),        # 1e9! has ~8.5e9 digits
    (lambda P: sp.gamma(P), True),
    (lambda P: sp.binomial(P, P / 2), True),
    (lambda P: sp.binomial(P, 3), False),     # about 1.67e26: fine
])
def test_combinatorial_functions_of_parameters_are_sized(make, refused):
    with deadline(20):
        if refused:
            with pytest.raises(InputError, match="digits"):
                symgd.Problem(minimize=X**2 + make(P), variables=["x"], parameters={"P": 10**9})
        else:
            p = symgd.Problem(minimize=X**2 + make(P), variables=["x"], parameters={"P": 10**9})
            n = 10**9
            assert p.objective.subs(p.symbols[0], 0) == n * (n - 1) * (n - 2) // 6
