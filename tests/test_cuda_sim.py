"""symgd.cuda (issue 16): the CUDA least-squares kernel against the CPU kernels.

The simulated runs happen in subprocesses with NUMBA_ENABLE_CUDASIM=1 set before numba
starts, whatever this test process (or its pytest-xdist worker) imported before; each
prints one JSON object that the tests read. Numba's simulator runs every CUDA thread as
a Python thread, so the data are small (60 to 300 samples, 4 blocks of 8 threads).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cuda_subprocess import env, run_script

ROOT = Path(__file__).resolve().parents[1]

# Run inside the subprocess: passes on the device against K.lsq, repeat runs, and lm.
SIM_SCRIPT = r'''
import json, sys
sys.setswitchinterval(1e-4)  # the simulator polls its threads: switch often (5x faster)
import numpy as np
import sympy as sp
import symgd
from symgd.fit.derive import derive
from symgd.fit.source import fit_kernels
from symgd.cuda.kernels import DeviceFit

def weighted():
    rng = np.random.default_rng(7)
    x = np.linspace(-3.0, 3.0, 300)
    s = 0.05 + 0.1 * rng.random(300)
    y = 2.0 * np.exp(-0.5 * (x - 0.4) ** 2 / 0.8 ** 2) + 0.1 + s * rng.standard_normal(300)
    return symgd.Problem(variables={"a": 1.5, "m": 0.0, "w": 1.0, "b": 0.0},
                         data={"x": x, "y": y, "s": s}, model="a*exp(-(x-m)**2/(2*w**2)) + b",
                         target="y", sigma="s", loss="mse", name="weighted-gauss")

out = {}
problems = {"exp_decay_lm": symgd.load("problems/exp_decay_lm.yaml"),
            "linreg": symgd.load("problems/linreg_sgd.yaml"),
            "weighted": weighted()}
starts = {"exp_decay_lm": [[4.0, 0.3, 1.2], [6.0, 0.5, 0.5]], "linreg": [[1.0, -1.0]],
          "weighted": [[1.5, 0.2, 1.1, 0.05]]}
for name, P in problems.items():
    K = fit_kernels(P, kinds=("lsq",))
    D = DeviceFit(K)
    der = derive(K.spec, hessian=False)
    f_np = sp.lambdify(list(K.spec.symbols) + list(K.spec.data_symbols),
                       [der.value, *der.grad], "numpy")
    rows = []
    for x in starts[name]:
        x = np.array(x)
        p = x.size
        g, A, gc, Ac = np.empty(p), np.empty((p, p)), np.empty(p), np.empty((p, p))
        s = D.lsq(x, g, A)
        sc = K.lsq(x, gc, Ac)
        # the scale of each sum: the sum of its absolute terms (numpy, per sample)
        vals = f_np(*x, *K.data.array)
        r = np.broadcast_to(vals[0], (K.n,))
        J = np.stack([np.broadcast_to(v, (K.n,)) for v in vals[1:]], axis=1)
        scale = {"S": float(np.sum(r * r)), "g": np.abs(r) @ np.abs(J),
                 "A": np.abs(J).T @ np.abs(J)}
        again = D.sums(x)
        fresh = DeviceFit(K).sums(x)
        rows.append({"S": [s, sc], "g": [g.tolist(), gc.tolist()],
                     "A": [A.tolist(), Ac.tolist()],
                     "scale": [scale["S"], scale["g"].tolist(), scale["A"].tolist()],
                     "repeat_same": bool(again.tobytes() == D.sums(x).tobytes()),
                     "fresh_same": bool(fresh.tobytes() == again.tobytes())})
    out[name] = {"rows": rows, "n": K.n, "blocks": D.blocks, "tpb": D.tpb}
for name in ("exp_decay_lm", "weighted"):
    P = problems[name]
    r_cpu = symgd.solve(P, method="lm")
    r_gpu = symgd.solve(P, method="lm", device="cuda")
    out[name]["lm"] = {"cpu": r_cpu.x.tolist(), "cuda": r_gpu.x.tolist(),
                       "status": [str(r_cpu.status), str(r_gpu.status)]}
# auto on a least-squares fit picks lm, which then runs on the device; on a model linear
# in its parameters it picks the closed form, which does not run there
r_auto = symgd.solve(problems["exp_decay_lm"], method="auto", device="cuda")
out["auto"] = {"path": list(r_auto.path), "method": r_auto.method, "x": r_auto.x.tolist(),
               "cpu": symgd.solve(problems["exp_decay_lm"], method="auto").x.tolist()}
try:
    symgd.solve(problems["linreg"], method="auto", device="cuda")
    out["auto_linear"] = None
except symgd.InputError as e:
    out["auto_linear"] = [e.kind, e.message]
print("RESULT " + json.dumps(out))
'''

NO_GPU_SCRIPT = r'''
import json
import symgd
from numba import cuda
out = {"gpu": bool(cuda.is_available())}
try:
    symgd.solve(symgd.load("problems/exp_decay_lm.yaml"), method="lm", device="cuda")
    out["error"] = None
except symgd.InputError as e:
    out["error"], out["kind"], out["field"] = e.message, e.kind, e.field
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def sim():
    return run_script(SIM_SCRIPT)


@pytest.mark.parametrize("name", ["exp_decay_lm", "linreg", "weighted"])
def test_device_pass_matches_cpu(sim, name):
    import numpy as np
    got = sim[name]
    for row in got["rows"]:
        (s, sc), (g, gc), (A, Ac) = row["S"], row["g"], row["A"]
        S0, g0, A0 = row["scale"][0], np.array(row["scale"][1]), np.array(row["scale"][2])
        assert abs(s - sc) <= 1e-12 * S0
        assert np.all(np.abs(np.subtract(g, gc)) <= 1e-12 * g0)
        assert np.all(np.abs(np.subtract(A, Ac)) <= 1e-12 * A0)
        assert np.array_equal(np.asarray(A), np.asarray(A).T)


def test_sample_loop_strides_over_several_blocks(sim):
    # 300 samples on 4 blocks of 8 threads: each thread takes several samples
    w = sim["weighted"]
    assert w["n"] == 300 and w["blocks"] * w["tpb"] < 300 and w["blocks"] > 1


@pytest.mark.parametrize("name", ["exp_decay_lm", "linreg", "weighted"])
def test_repeat_passes_are_bitwise_identical(sim, name):
    for row in sim[name]["rows"]:
        assert row["repeat_same"] and row["fresh_same"]


@pytest.mark.parametrize("name", ["exp_decay_lm", "weighted"])
def test_lm_on_cuda_matches_cpu(sim, name):
    import numpy as np
    lm = sim[name]["lm"]
    assert lm["status"][0] == lm["status"][1] == "converged"
    cpu, gpu = np.array(lm["cpu"]), np.array(lm["cuda"])
    assert np.all(np.abs(gpu - cpu) <= 1e-10 * np.abs(cpu))


def test_auto_runs_lm_on_cuda_and_names_what_cannot(sim):
    import numpy as np
    got = sim["auto"]
    assert got["method"] == "lm" and any("auto chose lm" in step for step in got["path"])
    cpu, gpu = np.array(got["cpu"]), np.array(got["x"])
    assert np.all(np.abs(gpu - cpu) <= 1e-10 * np.abs(cpu))
    kind, message = sim["auto_linear"]
    assert kind == "unavailable" and "cuda': lm" in message


def test_no_gpu_no_simulator_is_an_input_error():
    got = run_script(NO_GPU_SCRIPT, sim=False)
    if got["gpu"]:
        pytest.skip("a GPU is present")
    assert got["kind"] == "unavailable" and got["field"] == "options.device"
    assert "no GPU was found" in got["error"] and "NUMBA_ENABLE_CUDASIM=1" in got["error"]


def test_cli_without_gpu_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "symgd", "solve", "problems/exp_decay_lm.yaml",
                           "--set", "options.device=cuda"], cwd=ROOT, env=env(False),
                          capture_output=True, text=True, timeout=120)
    if "no GPU was found" not in done.stderr and done.returncode == 0:
        pytest.skip("a GPU is present")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "no GPU was found" in done.stderr


def test_methods_not_on_cuda_are_named():
    import symgd
    P = symgd.load(str(ROOT / "problems" / "exp_decay_lm.yaml"))
    with pytest.raises(symgd.InputError) as e:
        symgd.solve(P, method="random_search", device="cuda")
    assert e.value.kind == "unavailable" and "'random_search'" in e.value.message
    assert "cuda': lm, newton" in e.value.message
    with pytest.raises(symgd.InputError) as e:
        symgd.solve(str(ROOT / "problems" / "rosenbrock.yaml"), device="cuda")
    assert "data fits only" in e.value.message


def _real_gpu() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return False
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:
        return False


@pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU")
def test_lm_on_a_real_gpu_matches_cpu():
    import numpy as np
    import symgd
    P = symgd.load(str(ROOT / "problems" / "nist_misra1a.yaml"))
    cpu = symgd.solve(P, method="lm").x
    gpu = symgd.solve(P, method="lm", device="cuda").x
    assert np.all(np.abs(gpu - cpu) <= 1e-10 * np.abs(cpu))
