"""symgd.cuda.multistart (issue 16, item 2): multistart Newton with one CUDA thread per
start, against the CPU multistart from the same seeded starts.

The device runs happen in one subprocess with NUMBA_ENABLE_CUDASIM=1 set before numba
starts (as tests/test_cuda_sim.py); it prints one JSON object the tests read. numba's
simulator runs every thread as a Python thread, so the runs are few (at most 48
starts). The minima are hand-known or published: Rosenbrock (1, 1), f = 0; the
six-hump camel's two global minima +-(0.0898, -0.7126), f = -1.0316 (Molga and
Smutnicki, "Test functions for optimization needs", 2005); Himmelblau's four, f = 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cuda_subprocess import run_script

import symgd
from symgd.cuda import availability

ROOT = Path(__file__).resolve().parents[1]
HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131313], [-3.779310, -3.283186],
                              [3.584428, -1.848127]])
CAMEL_MINIMA = np.array([[0.0898, -0.7126], [-0.0898, 0.7126]])

SIM_SCRIPT = r'''
import json
import numpy as np
import sympy as sp
import symgd
from symgd.cuda import availability, multistart_source
from symgd.methods import multistart_loop

x, y = sp.symbols("x y", real=True)
camel = symgd.Problem(
    minimize=(4 - sp.Rational(21, 10) * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2,
    variables={x: {"start": 0.0, "lower": -3.0, "upper": 3.0},
               y: {"start": 0.0, "lower": -2.0, "upper": 2.0}}, name="camel")
saddle = symgd.Problem(minimize=x**2 - y**2 + y**4, variables={x: 1.0, y: 0.0})
rosen = symgd.load("problems/rosenbrock.yaml")
# (problem, starts, seed, options); max_iter 3: runs stop unconverged and report their
# best point, which the settling kernel tests again
cases = {"rosenbrock": (rosen, 24, 5, {}), "camel": (camel, 32, 2, {}),
         "himmelblau": (symgd.load("problems/himmelblau.yaml"), 48, 4, {}),
         "saddle": (saddle, 8, 1, {}), "max_iter": (rosen, 8, 3, {"max_iter": 3})}

def table(r):
    return [[v for v in run["x"].values()] for run in r.runs]

out = {"notes": [multistart_source.NOTE_NONE, multistart_source.NOTE_BEST,
                 multistart_source.NOTE_SADDLE] == [multistart_loop.NOTE_NONE,
                 multistart_loop.NOTE_BEST, multistart_loop.NOTE_SADDLE]}
for name, (P, N, seed, kw) in cases.items():
    cpu = symgd.solve(P, method="newton", starts=N, seed=seed, **kw)
    gpu = symgd.solve(P, method="newton", starts=N, seed=seed, device="cuda", **kw)
    again = symgd.solve(P, method="newton", starts=N, seed=seed, device="cuda", **kw)
    out[name] = {
        "cpu_x": table(cpu), "gpu_x": table(gpu),
        "cpu_status": [r["status"] for r in cpu.runs], "gpu_status": [r["status"] for r in gpu.runs],
        "cpu_it": [r["iterations"] for r in cpu.runs], "gpu_it": [r["iterations"] for r in gpu.runs],
        "starts_same": [r["start"] for r in cpu.runs] == [r["start"] for r in gpu.runs],
        "best": [cpu.x.tolist(), gpu.x.tolist()], "fun": [cpu.fun, gpu.fun],
        "status": [str(cpu.status), str(gpu.status)], "path": list(gpu.path),
        "evaluations": [cpu.evaluations, gpu.evaluations],
        # everything but the timings: the points, f and every run, bit for bit
        "repeat": gpu.x.tobytes() == again.x.tobytes() and gpu.runs == again.runs
                  and np.float64(gpu.fun).tobytes() == np.float64(again.fun).tobytes()
                  and (gpu.status, gpu.iterations, gpu.evaluations, gpu.path)
                  == (again.status, again.iterations, again.evaluations, again.path)}
errors = {}
z = sp.symbols("z0:17", real=True)
big = symgd.Problem(minimize=sum((zi - 1) ** 2 for zi in z), variables={zi: 0.0 for zi in z})
for key, call in {"too_many": lambda: symgd.solve(big, method="newton", starts=4, device="cuda"),
                  "constrained": lambda: symgd.solve(
                      symgd.Problem(minimize=x**2 + y**2, variables={x: 1.0, y: 1.0},
                                    constraints=[sp.Eq(x + y, 1)]),
                      method="auglag", starts=4, device="cuda")}.items():
    try:
        call()
        errors[key] = None
    except symgd.InputError as e:
        errors[key] = [e.kind, e.field, e.message]
out["errors"] = errors
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def sim():
    return run_script(SIM_SCRIPT)


CASES = ["rosenbrock", "camel", "himmelblau", "saddle", "max_iter"]


@pytest.mark.parametrize("name", CASES)
def test_device_runs_match_cpu_runs(sim, name):
    got = sim[name]
    assert got["starts_same"]
    assert got["gpu_status"] == got["cpu_status"]
    assert got["gpu_it"] == got["cpu_it"]
    cpu, gpu = np.array(got["cpu_x"]), np.array(got["gpu_x"])
    assert np.max(np.abs(gpu - cpu)) <= 1e-8
    assert got["status"][0] == got["status"][1]
    assert got["status"][0] == ("max_iter" if name == "max_iter" else "converged")
    assert np.max(np.abs(np.subtract(*got["best"]))) <= 1e-8
    assert any(p.startswith("multistart on device cuda: ") for p in got["path"])


@pytest.mark.parametrize("name", CASES)
def test_two_device_runs_are_bitwise_identical(sim, name):
    assert sim[name]["repeat"]


def test_known_minima(sim):
    x = np.array(sim["rosenbrock"]["best"][1])
    assert np.max(np.abs(x - 1.0)) < 1e-8 and sim["rosenbrock"]["fun"][1] < 1e-20
    x = np.array(sim["camel"]["best"][1])
    assert np.min(np.max(np.abs(CAMEL_MINIMA - x), axis=1)) < 1e-4
    assert abs(sim["camel"]["fun"][1] - (-1.0316)) < 1e-4
    found = set()
    for x, status in zip(sim["himmelblau"]["gpu_x"], sim["himmelblau"]["gpu_status"]):
        if status == "converged":
            d = np.max(np.abs(HIMMELBLAU_MINIMA - np.array(x)), axis=1)
            assert np.min(d) < 1e-5
            found.add(int(np.argmin(d)))
    assert found == {0, 1, 2, 3}
    # x^2 - y^2 + y^4: from (1, 0) Newton stops on the saddle (0, 0); the minima are
    # (0, +-1/sqrt(2))
    assert sim["saddle"]["gpu_status"][0] == "stalled"
    assert abs(abs(sim["saddle"]["best"][1][1]) - np.sqrt(0.5)) < 1e-8


def test_evaluations_are_counted_as_on_the_cpu(sim):
    for name in CASES:
        cpu, gpu = sim[name]["evaluations"]
        assert cpu == gpu, name


def test_note_codes_agree_with_the_cpu_loop(sim):
    assert sim["notes"]


def test_what_the_device_cannot_do_is_named(sim):
    kind, field, message = sim["errors"]["too_many"]
    assert kind == "unavailable" and field == "options.device"
    assert "at most 16 variables" in message and "has 17" in message
    kind, field, message = sim["errors"]["constrained"]
    assert kind == "unavailable" and "'auglag'" in message and "newton" in message


def test_refusals_before_any_device_is_looked_for():
    rosen = symgd.load(ROOT / "problems" / "rosenbrock.yaml")
    with pytest.raises(symgd.InputError) as e:  # one start: data fits only
        symgd.solve(rosen, method="newton", device="cuda")
    assert e.value.kind == "unavailable" and "options.starts > 1" in e.value.message
    with pytest.raises(symgd.InputError) as e:
        symgd.solve(rosen, method="bfgs", starts=4, device="cuda")
    assert "'bfgs'" in e.value.message and "multistart of newton" in e.value.message


def test_check_multistart_names_what_is_missing():
    with pytest.raises(symgd.InputError, match="bounds only; this problem has 2 constraint"):
        availability.check_multistart("newton", 2, 2, False)
    with pytest.raises(symgd.InputError, match="at most 16 variables"):
        availability.check_multistart("newton", 17, 0, False)
    with pytest.raises(symgd.InputError, match="symbolic objectives"):
        availability.check_multistart("newton", 2, 0, True)
    availability.check_multistart("newton", 16, 0, False)
