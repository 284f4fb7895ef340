"""Accuracy on the 27 NIST StRD nonlinear regression problems, from both NIST starts.

The data, starting values and certified values come from NIST's .dat files, kept in the
repository (tests/data/nist_strd/, whose README gives their source and the scoring); the
models are written out by hand from the files' formulas. Every run uses the default
method for least-squares fits (``auto`` -> lm) with default options. Accuracy is scored
as NIST's log relative error, LRE = -log10(|q - c| / |c|) clipped to [0, 11], the
minimum over the parameters.

Asserted: every run whose status is ``converged`` has LRE >= 6 (and its residual sum of
squares agrees with NIST's to 6 digits), and no run with LRE < 6 reports success. The
table of all 54 runs is printed (``pytest -s``).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd

NIST = Path(__file__).resolve().parent / "data" / "nist_strd"

b1, b2, b3, b4, b5, b6, b7, b8, b9 = sp.symbols("b1:10", real=True)
x, x1, x2, y = sp.symbols("x x1 x2 y", real=True)
exp, pi = sp.exp, sp.pi
c2pi = 2 * pi * x

# The model of each problem, as NIST's file states it (target y unless given).
MODELS = {
    "Misra1a": b1 * (1 - exp(-b2 * x)),
    "Chwirut2": exp(-b1 * x) / (b2 + b3 * x),
    "Chwirut1": exp(-b1 * x) / (b2 + b3 * x),
    "Lanczos3": b1 * exp(-b2 * x) + b3 * exp(-b4 * x) + b5 * exp(-b6 * x),
    "Gauss1": b1 * exp(-b2 * x) + b3 * exp(-(x - b4) ** 2 / b5 ** 2)
    + b6 * exp(-(x - b7) ** 2 / b8 ** 2),
    "Gauss2": b1 * exp(-b2 * x) + b3 * exp(-(x - b4) ** 2 / b5 ** 2)
    + b6 * exp(-(x - b7) ** 2 / b8 ** 2),
    "DanWood": b1 * x ** b2,
    "Misra1b": b1 * (1 - (1 + b2 * x / 2) ** (-2)),
    "Kirby2": (b1 + b2 * x + b3 * x ** 2) / (1 + b4 * x + b5 * x ** 2),
    "Hahn1": (b1 + b2 * x + b3 * x ** 2 + b4 * x ** 3) / (1 + b5 * x + b6 * x ** 2 + b7 * x ** 3),
    "Nelson": b1 - b2 * x1 * exp(-b3 * x2),
    "MGH17": b1 + b2 * exp(-x * b4) + b3 * exp(-x * b5),
    "Lanczos1": b1 * exp(-b2 * x) + b3 * exp(-b4 * x) + b5 * exp(-b6 * x),
    "Lanczos2": b1 * exp(-b2 * x) + b3 * exp(-b4 * x) + b5 * exp(-b6 * x),
    "Gauss3": b1 * exp(-b2 * x) + b3 * exp(-(x - b4) ** 2 / b5 ** 2)
    + b6 * exp(-(x - b7) ** 2 / b8 ** 2),
    "Misra1c": b1 * (1 - (1 + 2 * b2 * x) ** sp.Rational(-1, 2)),
    "Misra1d": b1 * b2 * x * (1 + b2 * x) ** (-1),
    "Roszman1": b1 - b2 * x - sp.atan(b3 / (x - b4)) / pi,
    "ENSO": b1 + b2 * sp.cos(c2pi / 12) + b3 * sp.sin(c2pi / 12) + b5 * sp.cos(c2pi / b4)
    + b6 * sp.sin(c2pi / b4) + b8 * sp.cos(c2pi / b7) + b9 * sp.sin(c2pi / b7),
    "MGH09": b1 * (x ** 2 + x * b2) / (x ** 2 + x * b3 + b4),
    "Thurber": (b1 + b2 * x + b3 * x ** 2 + b4 * x ** 3) / (1 + b5 * x + b6 * x ** 2 + b7 * x ** 3),
    "BoxBOD": b1 * (1 - exp(-b2 * x)),
    "Rat42": b1 / (1 + exp(b2 - b3 * x)),
    "MGH10": b1 * exp(b2 / (x + b3)),
    "Eckerle4": (b1 / b2) * exp(-sp.Rational(1, 2) * ((x - b3) / b2) ** 2),
    "Rat43": b1 / ((1 + exp(b2 - b3 * x)) ** (1 / b4)),
    "Bennett5": b1 * (b2 + x) ** (-1 / b3),
}
TARGETS = {"Nelson": sp.log(y)}
NAMES = sorted(MODELS)


def parse_dat(path: Path) -> dict:
    """Starts, certified values and standard deviations, certified RSS, and data."""
    lines = path.read_text().splitlines()
    params = {}
    rss = None
    header = None
    rows = []
    for i, line in enumerate(lines):
        m = re.match(r"^\s*(b\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if m and header is None:
            params[m.group(1)] = tuple(float(v) for v in m.group(2, 3, 4, 5))
            continue
        m = re.match(r"^Residual Sum of Squares:\s+(\S+)", line)
        if m:
            rss = float(m.group(1))
            continue
        m = re.match(r"^Data:\s+([A-Za-z][A-Za-z0-9 ]*)$", line)
        if m:
            header = m.group(1).split()
            rows = [[float(v) for v in ln.split()] for ln in lines[i + 1:] if ln.strip()]
            break
    data = np.array(rows)
    return {"params": params, "rss": rss,
            "data": {name: data[:, k] for k, name in enumerate(header)}}


def lre(q: float, c: float) -> float:
    """NIST's log relative error, clipped to [0, 11]."""
    if q == c:
        return 11.0
    if not math.isfinite(q):
        return 0.0
    err = abs(q - c) / abs(c) if c != 0 else abs(q - c)
    return float(min(11.0, max(0.0, -math.log10(err))))


def run_one(name: str, start: int) -> dict:
    d = parse_dat(NIST / f"{name}.dat")
    syms = [s for s in (b1, b2, b3, b4, b5, b6, b7, b8, b9) if s.name in d["params"]]
    variables = {s: d["params"][s.name][start - 1] for s in syms}
    problem = symgd.Problem(model=MODELS[name], target=TARGETS.get(name, y), loss="sse",
                            data=d["data"], variables=variables, name=name)
    r = symgd.solve(problem)
    cert = [d["params"][s.name][2] for s in syms]
    sd = [d["params"][s.name][3] for s in syms]
    lres = [lre(q, c) for q, c in zip(r.x, cert)]
    se = r.extra["stderr"]
    se_lre = [lre(se[s.name], c) if se[s.name] is not None else 0.0 for s, c in zip(syms, sd)]
    rss_cert = d["rss"]
    rss = r.extra["rss"]
    if rss_cert < 1e-20:  # Lanczos1: an exact fit, compared absolutely (README)
        rss_ok = rss <= 1e-20
    else:
        rss_ok = lre(rss, rss_cert) >= 6
    return {"name": name, "start": start, "status": r.status, "success": r.success,
            "lre": min(lres), "se_lre": min(se_lre), "rss_ok": rss_ok,
            "iterations": r.iterations, "method": r.method, "message": r.message}


@pytest.fixture(scope="module")
def runs():
    missing = [n for n in NAMES if not (NIST / f"{n}.dat").is_file()]
    assert not missing, f"NIST StRD files missing from {NIST}: {missing}"
    out = {(n, s): run_one(n, s) for n in NAMES for s in (1, 2)}
    print("\nNIST StRD, default method (auto -> lm), default options")
    print(f"{'problem':<10} {'start':>5} {'status':<10} {'LRE':>5} {'SE LRE':>6} {'iter':>5}")
    for (n, s), r in out.items():
        print(f"{n:<10} {s:>5} {r['status']:<10} {r['lre']:5.1f} {r['se_lre']:6.1f} "
              f"{r['iterations']:>5}")
    good = sum(r["lre"] >= 6 for r in out.values())
    conv = sum(r["status"] == "converged" for r in out.values())
    print(f"LRE >= 6: {good}/54; converged: {conv}/54")
    return out


@pytest.mark.parametrize("start", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_nist_run(runs, name, start):
    r = runs[(name, start)]
    assert r["method"] == "lm"
    if r["status"] == "converged":
        assert r["lre"] >= 6, r
        assert r["rss_ok"], r
    if r["lre"] < 6:
        assert not r["success"], r


def test_nist_every_run_reaches_six_digits(runs):
    # The target of the fitting issue: all 54 runs converge to LRE >= 6.
    bad = [(k, v["status"], round(v["lre"], 1)) for k, v in runs.items()
           if not (v["status"] == "converged" and v["lre"] >= 6)]
    assert not bad
