"""verify on data fits (SPEC §3): derivative checks on the loss, and the closed form of a
model linear in its parameters against lm."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgd
from symgd.fit.kernels import FitKernels

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
KEYS = {"analytic", "iterative", "match", "gradient_check", "hessian_check", "ok"}


def _quadratic_fit(tmp_path, model="a*x**2 + b*x + c", loss="mse") -> Path:
    rng = np.random.default_rng(5)
    x = np.linspace(-3, 3, 80)
    y = 0.7 * x ** 2 - 2.0 * x + 1.5 + 0.1 * rng.standard_normal(x.size)
    (tmp_path / "quad.csv").write_text("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n"
                                                         for a, b in zip(x, y)))
    path = tmp_path / "quad.yaml"
    path.write_text(f"variables: {{a: 0, b: 0, c: 0}}\ndata: {{file: quad.csv}}\n"
                    f"model: {model}\ntarget: y\nloss: {loss}\n")
    return path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "symgd", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_linear_fit_closed_form_matches_lm(tmp_path):
    path = _quadratic_fit(tmp_path)
    report = symgd.verify(symgd.load(path))
    d = report.to_dict()
    assert KEYS <= set(d)
    assert report.ok, d
    assert d["analytic"]["status"] == "solved" and d["analytic"]["rank"] == 3
    assert d["iterative"]["method"] == "lm" and d["iterative"]["status"] == "converged"
    assert d["match"]["agrees"] and d["match"]["unique"]
    assert d["match"]["distance_x"] < 1e-6
    # the closed form is numpy's least squares
    data = np.loadtxt(tmp_path / "quad.csv", delimiter=",", skiprows=1)
    X = np.stack([data[:, 0] ** 2, data[:, 0], np.ones(len(data))], axis=1)
    theta = np.linalg.lstsq(X, data[:, 1], rcond=None)[0]
    assert list(d["analytic"]["x"].values()) == pytest.approx(theta, rel=1e-10)
    assert d["gradient_check"]["ok"] and d["hessian_check"]["ok"]
    assert d["gradient_check"]["points"] >= 5   # start, 3 seeded points, the answers
    r = _cli("verify", path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    r = _cli("verify", path)
    assert r.returncode == 0 and "OK" in r.stdout and "linear least squares" in r.stdout


def test_rank_deficient_linear_fit_compares_losses_only(tmp_path):
    # b and c multiply the same column: the minimiser is a line, lm may stop anywhere on it
    path = _quadratic_fit(tmp_path, model="a*x**2 + b*x + c*x")
    report = symgd.verify(symgd.load(path))
    d = report.to_dict()
    assert d["analytic"]["rank"] == 2 and d["match"]["unique"] is False
    assert report.ok, d
    assert any("not unique" in n for n in d["notes"])


def test_nonlinear_fit_runs_the_derivative_checks_only_and_exits_0():
    report = symgd.verify(symgd.load(PROBLEMS / "exp_decay_lm.yaml"))
    d = report.to_dict()
    assert report.ok
    assert d["analytic"]["status"] == "no_closed_form" and d["match"] is None
    assert d["gradient_check"]["ok"] and d["hessian_check"]["ok"]
    assert any("only the derivative checks ran" in n for n in d["notes"])
    # the answer is one of the points checked
    assert d["iterative"]["status"] == "converged"
    assert d["gradient_check"]["points"] == 5
    r = _cli("verify", PROBLEMS / "exp_decay_lm.yaml", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert KEYS <= set(d) and d["ok"] is True


def test_badly_scaled_fit_passes_the_checks():
    # NIST Misra1a: b2 ~ 5e-4 multiplies x up to ~800; a step of eps^(1/3) would move
    # every residual by ~1 and the central difference by thousands
    report = symgd.verify(symgd.load(PROBLEMS / "nist_misra1a.yaml"))
    assert report.ok, report.to_dict()


def test_a_wrong_loss_gradient_is_caught(monkeypatch):
    problem = symgd.load(PROBLEMS / "exp_decay_lm.yaml")
    good = FitKernels.fg

    def wrong(self, theta, g):
        f = good(self, theta, g)
        g[1] += 1e-4 * max(1.0, abs(g[1]))   # a small relative error in dL/dk
        return f

    monkeypatch.setattr(FitKernels, "fg", wrong)
    report = symgd.verify(problem)
    d = report.to_dict()
    assert not report.ok
    assert d["gradient_check"]["ok"] is False
    assert d["gradient_check"]["max_rel_error"] > 1e-5


def test_kinked_loss_checks_away_from_the_kinks():
    report = symgd.verify(symgd.load(PROBLEMS / "fence_fit.yaml"))   # mae
    d = report.to_dict()
    assert report.ok, d
    assert d["analytic"]["status"] == "no_closed_form"
    assert any("kinks" in n for n in d["notes"])
