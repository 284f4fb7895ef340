"""symgd.cuda (issue 16): the loss kernels and the methods on device cuda, simulated.

As tests/test_cuda_sim.py: one subprocess with NUMBA_ENABLE_CUDASIM=1 computes
everything and prints one JSON object. Checked here:

* the loss, gradient, Hessian and minibatch sums on the device against the CPU kernels
  for every loss (mse, sse, weighted, mae, huber, logcosh, cross_entropy, a per-sample
  objective), to 1e-12 of the sum of the absolute values of the terms summed;
* newton, lbfgs, bfgs, gd, linesearch, lm and sgd with device cuda against the CPU on
  every data-fit problem in problems/: parameters to 1e-10 relative (1e-7 for sgd).
  The two NIST problems are so ill-conditioned that the CPU itself, given the same
  samples in another order, moves its answer by up to 1e-7 (summation order alone):
  there the device agrees within 10 times that spread, or the solver's tol (1e-8, to
  which its convergence tests fix x) for converged runs;
* repeated device solves are bitwise identical; auto picks a method that runs there.

Numba's simulator runs each CUDA thread as a Python thread: the data are small (at
most 300 samples), long runs are cut by max_iter / epochs (the CPU and the device then
stop after the same iterations, so their iterates are compared), and the subprocess
shortens Python's thread switch interval (the simulator's scheduler polls its threads).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cuda_subprocess import run_script

ROOT = Path(__file__).resolve().parents[1]

SIM_SCRIPT = r'''
import sys
sys.setswitchinterval(1e-4)  # the simulator polls its threads: switch often
import csv, json
import numpy as np
import sympy as sp
import symgd
from symgd.fit.derive import derive
from symgd.fit.source import fit_kernels
from symgd.cuda.objective import DeviceLoss
from symgd.cuda.minibatch import DeviceBatches

def linreg(loss, **kw):
    P = symgd.load("problems/linreg_sgd.yaml")
    rows = list(csv.reader(open("problems/linreg.csv")))
    body = np.array(rows[1:], dtype=float)
    data = {h: body[:, i].copy() for i, h in enumerate(rows[0])}
    return symgd.Problem(variables={"w": 0.5, "c": -0.5}, data=data, model="w*x + c",
                         target="y", loss=loss, name="linreg-" + loss, **kw)

def weighted():
    rng = np.random.default_rng(7)
    x = np.linspace(-3.0, 3.0, 300)
    s = 0.05 + 0.1 * rng.random(300)
    y = 2.0 * np.exp(-0.5 * (x - 0.4) ** 2 / 0.8 ** 2) + 0.1 + s * rng.standard_normal(300)
    return symgd.Problem(variables={"a": 1.5, "m": 0.0, "w": 1.0, "b": 0.0},
                         data={"x": x, "y": y, "s": s}, model="a*exp(-(x-m)**2/(2*w**2)) + b",
                         target="y", sigma="s", loss="mse", name="weighted-gauss")

def per_sample():
    m, a, x = sp.symbols("m a x")
    X = np.linspace(-1.0, 2.0, 150)
    return symgd.Problem(minimize=(m - x) ** 4 + sp.exp(a * x) - a, data={"x": X},
                         variables={m: 0.0, a: 0.1}, name="per-sample")

ALL_KINDS = ("fg", "fgh", "batch", "lsq", "avv")
_PROBLEMS = {}

def problem(name):
    """problems/<name>.yaml, loaded once, with every kernel kind any method asks for
    compiled in one module (cold caches: one compile per problem, not one per method)."""
    if name not in _PROBLEMS:
        _PROBLEMS[name] = P = symgd.load(f"problems/{name}.yaml")
        fit_kernels(P, kinds=ALL_KINDS)
    return _PROBLEMS[name]

def loss_terms(loss, v, y, delta):
    """(l, l1, l2) per sample, numpy (symgd.fit.losses)."""
    if loss in ("mse", "sse"):
        return v * v, 2 * v, np.full_like(v, 2.0)
    if loss == "mae":
        return np.abs(v), np.sign(v), 0 * v
    if loss == "huber":
        inside = np.abs(v) <= delta
        return (np.where(inside, 0.5 * v * v, delta * (np.abs(v) - 0.5 * delta)),
                np.clip(v, -delta, delta), inside * 1.0)
    if loss == "logcosh":
        t = np.tanh(v)
        return np.log(np.cosh(v)), t, 1 - t * t
    if loss == "cross_entropy":
        s = 1 / (1 + np.exp(-v))
        return np.logaddexp(0, v) - y * v, s - y, s * (1 - s)
    return v, np.ones_like(v), 0 * v   # per-sample objective

def kernel_rows(P, x, batch, delta=1.0):
    K = fit_kernels(P, kinds=("fg", "fgh", "batch"), delta=delta)
    D = DeviceLoss(K, hessian=True)
    spec, p = K.spec, K.p
    der = derive(spec, hessian=True)
    args = list(spec.symbols) + list(spec.data_symbols)
    ev = lambda e: np.broadcast_to(np.asarray(sp.lambdify(args, e, "numpy")(*x, *K.data.array), dtype=float), (K.n,))
    v = ev(der.value)
    y = ev(spec.target) if spec.loss == "cross_entropy" else None
    dv = [ev(e) for e in der.grad]
    l, l1, l2 = loss_terms(spec.loss, v, y, spec.delta)
    sc = K.scale
    absH = np.zeros((p, p))
    for j in range(p):
        for k in range(p):
            h = der.hess.get((min(j, k), max(j, k)))
            absH[j, k] = np.sum(np.abs(l2 * dv[j] * dv[k]) + (np.abs(l1 * ev(h)) if h is not None else 0))
    g, H, gc, Hc = np.empty(p), np.empty((p, p)), np.empty(p), np.empty((p, p))
    row = {"f": [D.value(x), K.value(x)], "fg_f": [D.value_grad(x, g), K.value_grad(x, gc)],
           "g": [g.tolist(), gc.tolist()], "scale_f": sc * float(np.sum(np.abs(l))),
           "scale_g": (sc * np.array([np.sum(np.abs(l1 * d)) for d in dv])).tolist()}
    f3 = D.value_grad_hess(x, g, H)
    K.value_grad_hess(x, gc, Hc)
    row.update(fgh_g=[g.tolist(), gc.tolist()], H=[H.tolist(), Hc.tolist()],
               scale_H=(sc * absH).tolist(), fgh_f=[f3, K.value(x)])
    # a minibatch (in shuffled order) and a range, against the CPU batch kernel
    B = DeviceBatches(D)
    idx = np.random.default_rng(3).permutation(K.n)[:batch]
    gb, gbc = np.empty(p), np.empty(p)
    fb = B.mean(x, idx.astype(np.int64), gb)
    fbc = K.batch(x, idx, gbc)
    rng_idx = np.arange(5, 5 + batch)
    gr, grc = np.empty(p), np.empty(p)
    fr = B.mean(x, rng_idx, gr)
    frc = K.batch(x, rng_idx, grc)
    row.update(batch=[[fb, fbc], [gb.tolist(), gbc.tolist()], [fr, frc], [gr.tolist(), grc.tolist()]],
               batch_scale=[float(np.mean(np.abs(l[idx]))), np.mean(np.abs(l1 * np.array(dv))[:, idx], axis=1).tolist(),
                            float(np.mean(np.abs(l[rng_idx]))), np.mean(np.abs(l1 * np.array(dv))[:, rng_idx], axis=1).tolist()],
               again=bool(D.sums("fgh", x).tobytes() == D.sums("fgh", x).tobytes()),
               blocks=int(-(-K.n // D.tpb)) > D.max_blocks)
    return row

out = {"kernels": {}}
kernel_cases = {
    "sse": (problem("exp_decay_lm"), [4.0, 0.3, 1.2]),
    "mse": (linreg("mse"), [0.7, -0.2]),
    "weighted": (weighted(), [1.5, 0.2, 1.1, 0.05]),
    "mae": (problem("fence_fit"), [-1.5, 25.0]),
    "huber": (linreg("huber"), [0.7, -0.2]),
    "logcosh": (linreg("logcosh"), [0.7, -0.2]),
    "cross_entropy": (problem("logistic"), [0.2, -0.5, 0.8]),
    "per_sample": (per_sample(), [0.3, 0.2]),
}
for name, (P, x) in kernel_cases.items():
    # huber with a threshold that leaves samples on both sides
    out["kernels"][name] = kernel_rows(P, np.array(x), 40, 0.5 if name == "huber" else 1.0)

def solve(P, method, **o):
    r = symgd.solve(P, method=method, **o)
    return {"x": r.x.tolist(), "status": str(r.status), "it": int(r.iterations),
            "method": r.method, "bits": r.x.tobytes().hex()}

_PERMUTED = {}

def permuted(name, seed):
    """The problem file's fit with its samples in another order (the CPU's spread)."""
    if (name, seed) not in _PERMUTED:
        P = problem(name)
        K = fit_kernels(P, kinds=("fg",))
        n = K.n
        order = np.random.default_rng(seed).permutation(n) if seed else np.arange(n)[::-1]
        data = {s.name: K.data.array[k, order].copy() for k, s in enumerate(K.spec.data_symbols)}
        _PERMUTED[name, seed] = symgd.Problem(
            variables=dict(zip(P.names, np.asarray(P.start, dtype=float))), data=data,
            model=str(P.model), target=str(P.target), loss=P.loss, options=dict(P.options))
        fit_kernels(_PERMUTED[name, seed], kinds=ALL_KINDS)
    return _PERMUTED[name, seed]

CASES = __CASES__
out["methods"] = []
for name, method, o in CASES:
    P = problem(name)
    row = {"problem": name, "method": method, "options": o, "cpu": solve(P, method, **o),
           "cuda": solve(P, method, device="cuda", **o)}
    if name in ("nist_misra1a", "nist_mgh09"):
        row["spread"] = [solve(permuted(name, s), method, **o)["x"] for s in (0, 1)]
    out["methods"].append(row)
# run again: bitwise the same
out["again"] = {}
for name, method, o in [("logistic", "newton", {}), ("exp_decay_lm", "lbfgs", {}),
                        ("linreg_sgd", "sgd", {"epochs": 3})]:
    P = problem(name)
    out["again"][f"{name}/{method}"] = [solve(P, method, device="cuda", **o)["bits"]
                                        for _ in range(2)]
# auto on a fit that is not least squares: newton, which runs on the device
P = problem("logistic")
out["auto"] = {"cuda": solve(P, "auto", device="cuda"), "cpu": solve(P, "auto")}
try:
    symgd.solve(P, method="random_search", device="cuda")
    out["not_ported"] = None
except symgd.InputError as e:
    out["not_ported"] = [e.kind, e.field, e.message]
print("RESULT " + json.dumps(out))
'''


# (problem file, method, options): every data-fit problem in problems/, each with the
# methods that suit it; max_iter / epochs keep the simulated runs short.
CASES = [
    ("exp_decay_lm", "newton", {}), ("exp_decay_lm", "lbfgs", {}), ("exp_decay_lm", "bfgs", {}),
    ("exp_decay_lm", "gd", {"max_iter": 20, "learning_rate": 1e-3}),
    ("exp_decay_lm", "linesearch", {"max_iter": 10}),
    ("exp_decay_lm", "sgd", {"epochs": 3, "learning_rate": 0.01}),
    ("logistic", "newton", {}), ("logistic", "lbfgs", {}), ("logistic", "gd", {"max_iter": 20}),
    ("logistic", "sgd", {"epochs": 2, "batch_size": 64}),
    ("linreg_sgd", "sgd", {"epochs": 3}), ("linreg_sgd", "sgd", {"epochs": 3, "validation": 0.2}),
    ("linreg_sgd", "lbfgs", {}), ("linreg_sgd", "newton", {}), ("linreg_sgd", "lm", {}),
    ("fence_fit", "sgd", {"epochs": 3}), ("fence_fit", "linesearch", {"max_iter": 10}),
    ("nist_misra1a", "lm", {}), ("nist_misra1a", "newton", {"max_iter": 8}),
    ("nist_mgh09", "lm", {}), ("nist_mgh09", "lbfgs", {"max_iter": 30}),
    ("nist_mgh09", "newton", {"max_iter": 8}),
]


# Fits whose parameters rounding moves by more than 1e-10 (the NIST problems: certified
# "higher difficulty"; condition numbers of JᵀJ past 1e10); and the solver's tol.
ILL_CONDITIONED = {"nist_misra1a", "nist_mgh09"}
TOL = 1e-8


@pytest.fixture(scope="module")
def sim():
    return run_script(SIM_SCRIPT.replace("__CASES__", json.dumps(CASES)))


def _close(a, b, scale):
    return np.all(np.abs(np.subtract(a, b)) <= 1e-12 * np.asarray(scale) + 1e-300)


LOSSES = ["sse", "mse", "weighted", "mae", "huber", "logcosh", "cross_entropy",
          "per_sample"]


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_kernels_match_cpu(sim, loss):
    row = sim["kernels"][loss]
    for key in ("f", "fg_f", "fgh_f"):
        assert _close(*row[key], row["scale_f"]), (key, row[key])
    assert _close(*row["g"], row["scale_g"])
    assert _close(*row["fgh_g"], row["scale_g"])
    H, Hc = np.array(row["H"][0]), np.array(row["H"][1])
    assert _close(H, Hc, row["scale_H"]) and np.array_equal(H, H.T)
    (fb, fbc), (gb, gbc), (fr, frc), (gr, grc) = row["batch"]
    sf, sg, rf, rg = row["batch_scale"]
    assert _close(fb, fbc, sf) and _close(gb, gbc, sg)
    assert _close(fr, frc, rf) and _close(gr, grc, rg)
    assert row["again"] and row["blocks"]  # repeatable; the samples span several strides


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def test_every_data_fit_problem_is_covered(sim):
    import glob
    fits = {Path(f).stem for f in glob.glob(str(ROOT / "problems" / "*.yaml"))
            if "\ndata:" in "\n" + Path(f).read_text()}
    assert fits == {row["problem"] for row in sim["methods"]}


@pytest.mark.parametrize("k", range(len(CASES)),
                         ids=[f"{c[0]}-{c[1]}-{k}" for k, c in enumerate(CASES)])
def test_method_on_cuda_matches_cpu(sim, k):
    row = sim["methods"][k]
    cpu, gpu = row["cpu"], row["cuda"]
    assert cpu["status"] == gpu["status"], (row["problem"], row["method"])
    tol = 1e-7 if row["method"] == "sgd" else 1e-10
    if "spread" in row:  # ill-conditioned fits: the CPU's own spread over sample orders
        tol = max(tol, 10 * max(_rel(x, cpu["x"]) for x in row["spread"]))
    if row["problem"] in ILL_CONDITIONED and cpu["status"] == "converged":
        tol = max(tol, TOL)  # the convergence tests fix x to about tol, no closer
    assert _rel(gpu["x"], cpu["x"]) <= tol, (row["problem"], row["method"],
                                             _rel(gpu["x"], cpu["x"]), tol)


def test_repeated_device_solves_are_bitwise_identical(sim):
    for key, (a, b) in sim["again"].items():
        assert a == b, key


def test_auto_picks_a_method_that_runs_on_cuda(sim):
    got = sim["auto"]
    assert got["cuda"]["method"] == got["cpu"]["method"] == "newton"
    assert _rel(got["cuda"]["x"], got["cpu"]["x"]) <= 1e-10


def test_a_method_not_ported_is_an_input_error(sim):
    kind, field, message = sim["not_ported"]
    assert kind == "unavailable" and field == "options.device"
    assert "'random_search'" in message and "newton" in message and "sgd" in message
