"""symgd.result.Result on its own (SPEC §4): which statuses are a success, the JSON object
``to_dict`` builds (fields, non-finite numbers as null, values that survive a JSON round trip
bit for bit), scipy's names, and what it prints. Every expected value is written out by hand
from SPEC §3/§4, never taken from another Result.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from symgd.analytic.report import AnalyticReport, CriticalPoint
from symgd.result import STATUSES, Result

# SPEC §4, "status": one of these; "success is true for converged and solved only".
SPEC_STATUSES = ["converged", "max_iter", "diverged", "stalled", "unbounded", "infeasible",
                 "timeout", "interrupted", "solved", "no_closed_form"]


def make(**kw) -> Result:
    base = dict(problem="rosenbrock", method="newton", requested_method="newton",
                status="converged", message="relative gradient 3.1e-13 <= tol 1e-10",
                names=("x", "y"), x=np.array([1.0, 1.0]), fun=0.0, grad_norm=3.1e-13,
                iterations=21, evaluations={"f": 27, "grad": 22, "hess": 21}, time_s=0.0004)
    base.update(kw)
    return Result(**base)


def json_round_trip(d: dict) -> dict:
    return json.loads(json.dumps(d, allow_nan=False))  # JSON has no NaN or Infinity


# ---------------------------------------------------------------------------- success
def test_the_statuses_are_those_of_the_spec():
    assert sorted(STATUSES) == sorted(SPEC_STATUSES)


@pytest.mark.parametrize("status", SPEC_STATUSES)
def test_success_only_for_converged_and_solved(status):
    r = make(status=status)
    expected = status in ("converged", "solved")
    assert r.success is expected
    assert r.to_dict()["success"] is expected and r.to_dict()["status"] == status


# ---------------------------------------------------------------------------- to_dict
def test_to_dict_of_the_spec_example():
    # SPEC §4's example object, verbatim; to_dict adds requested_method, path, timings
    spec = json.loads("""{
      "problem": "rosenbrock", "method": "newton", "success": true, "status": "converged",
      "message": "relative gradient 3.1e-13 <= tol 1e-10", "x": {"x": 1.0, "y": 1.0},
      "fun": 0.0, "grad_norm": 3.1e-13, "iterations": 21,
      "evaluations": {"f": 27, "grad": 22, "hess": 21}, "time_s": 0.0004, "analytic": null}""")
    d = make().to_dict()
    assert d == {**spec, "requested_method": "newton", "path": [], "timings": {}}
    assert list(d["x"]) == ["x", "y"]  # in the order of the variables
    assert json_round_trip(d) == d


def test_path_timings_and_extra_fields():
    r = make(method="analytic", requested_method="auto", status="solved",
             path=("analytic: solved", "newton: converged"),
             timings={"derive": 0.25, "compile": 1.5, "analytic": 0.125, "iterate": 0.0625},
             extra={"multipliers": {"x + y <= 1": -0.5}, "max_violation": 0.0,
                    "n_samples": 100, "rss": 2.5, "r_squared": 0.75,
                    "stderr": {"a": 0.5, "b": None}, "correlation": [[1.0, -0.25],
                                                                     [-0.25, 1.0]]})
    d = r.to_dict()
    assert d["method"] == "analytic" and d["requested_method"] == "auto"
    assert d["path"] == ["analytic: solved", "newton: converged"]
    assert d["timings"] == {"derive": 0.25, "compile": 1.5, "analytic": 0.125,
                            "iterate": 0.0625}
    # constraints and data fits put their fields at the top level (SPEC §4)
    assert d["multipliers"] == {"x + y <= 1": -0.5} and d["max_violation"] == 0.0
    assert d["n_samples"] == 100 and d["rss"] == 2.5 and d["r_squared"] == 0.75
    assert d["stderr"] == {"a": 0.5, "b": None}
    assert d["correlation"] == [[1.0, -0.25], [-0.25, 1.0]]
    assert json_round_trip(d) == d


EXACT_FLOATS = [0.1, 1 / 3, 0.1 + 0.2, -2.5e-17, 5e-324, 2.2250738585072014e-308,
                1.7976931348623157e308, 2.0**53 + 2.0, 123456789.12345679]


def test_floats_survive_a_json_round_trip_bit_for_bit():
    names = tuple(f"v{i}" for i in range(len(EXACT_FLOATS)))
    r = make(names=names, x=np.array(EXACT_FLOATS), fun=0.1 + 0.2, grad_norm=5e-324,
             time_s=1 / 3)
    back = json_round_trip(r.to_dict())
    assert [float.hex(v) for v in back["x"].values()] == [float.hex(v) for v in EXACT_FLOATS]
    assert float.hex(back["fun"]) == "0x1.3333333333334p-2"        # 0.30000000000000004
    assert float.hex(back["grad_norm"]) == "0x0.0000000000001p-1022"  # the least subnormal
    assert float.hex(back["time_s"]) == "0x1.5555555555555p-2"     # 1/3
    assert math.copysign(1.0, json_round_trip(make(fun=-0.0).to_dict())["fun"]) == -1.0


def test_non_finite_numbers_become_null():
    nan, inf = float("nan"), float("inf")
    r = make(x=np.array([nan, -inf]), fun=inf, grad_norm=nan, time_s=0.5,
             timings={"derive": nan, "iterate": 0.25},
             extra={"rss": inf, "stderr": {"a": nan, "b": 0.5}, "runs": [[1.0, nan], (inf,)],
                    "max_violation": np.float64(-inf)})
    d = r.to_dict()
    assert d["x"] == {"x": None, "y": None}
    assert d["fun"] is None and d["grad_norm"] is None and d["time_s"] == 0.5
    assert d["timings"] == {"derive": None, "iterate": 0.25}
    assert d["rss"] is None and d["stderr"] == {"a": None, "b": 0.5}
    assert d["runs"] == [[1.0, None], [None]] and d["max_violation"] is None
    assert json.dumps(d, allow_nan=False)  # strict JSON: no NaN or Infinity tokens
    assert json_round_trip(d) == d
    # a grad_norm that is not known (closed-form answers) is null too
    assert make(grad_norm=None).to_dict()["grad_norm"] is None


def test_numpy_scalars_become_plain_json_values():
    r = make(x=np.array([np.float32(0.1), 2.0]), fun=np.float64(0.25),
             iterations=np.int64(7), evaluations={"f": np.int64(9)},
             extra={"n_samples": np.int64(1000), "flag": np.bool_(True),
                    "arr": np.array([0.5, 1.5]), "r_squared": np.float32(0.5)})
    d = r.to_dict()
    # float32(0.1) is 13421773 * 2**-27 exactly; it stays that value, as a float
    assert d["x"]["x"] == 13421773 * 2.0**-27 and type(d["x"]["x"]) is float
    assert d["fun"] == 0.25 and type(d["fun"]) is float
    assert d["iterations"] == 7 and type(d["iterations"]) is int
    assert d["evaluations"] == {"f": 9} and type(d["evaluations"]["f"]) is int
    assert d["n_samples"] == 1000 and type(d["n_samples"]) is int
    assert d["flag"] is True
    assert d["arr"] == [0.5, 1.5] and d["r_squared"] == 0.5
    assert json_round_trip(d) == d


def test_analytic_block():
    point = CriticalPoint(x={"x": 1.0, "y": 0.0}, exact={"x": "1", "y": "0"},
                          exact_kind="exact", fun=-2.0, fun_exact="-2",
                          classification="local_min", multipliers={}, how="hessian")
    report = AnalyticReport(status="solved", critical_points=(point,), best=0, global_=True,
                            message="1 critical point", time_s=0.5, complete=True)
    d = make(method="analytic", status="solved", names=("x", "y"), x=np.array([1.0, 0.0]),
             fun=-2.0, grad_norm=None, iterations=0, evaluations={},
             analytic=report).to_dict()
    # SPEC §4's analytic example, verbatim
    spec = json.loads("""{"status": "solved", "critical_points": [
        {"x": {"x": 1.0, "y": 0.0}, "exact": {"x": "1", "y": "0"}, "fun": -2.0,
         "classification": "local_min", "multipliers": {}}], "best": 0, "global": true}""")
    a = d["analytic"]
    assert {k: a[k] for k in spec} == {**spec, "critical_points": a["critical_points"]}
    assert [{k: p[k] for k in spec["critical_points"][0]} for p in a["critical_points"]] \
        == spec["critical_points"]
    assert json_round_trip(d) == d


# ---------------------------------------------------------------------------- the rest
def test_x_dict_and_scipy_names():
    r = make(names=("b", "a"), x=np.array([2.5, -0.5]), iterations=4,
             evaluations={"f": 6, "grad": 5})
    assert r.x_dict == {"b": 2.5, "a": -0.5} and list(r.x_dict) == ["b", "a"]
    assert all(type(v) is float for v in r.x_dict.values())
    assert (r.nit, r.nfev, r.njev, r.nhev) == (4, 6, 5, 0)  # no Hessian evaluations: 0
    assert make(evaluations={}).nfev == 0


def test_what_it_prints():
    r = make(status="timeout", method="gd", fun=24.2, names=("x", "y"),
             x=np.array([-1.2, 1 / 3]), iterations=36)
    text = ("Result(status='timeout', method='gd', fun=24.2, x=(x=-1.2, y=0.3333333333), "
            "iterations=36)")
    assert repr(r) == text and str(r) == text
    assert repr(make()) == ("Result(status='converged', method='newton', fun=0, x=(x=1, y=1), "
                            "iterations=21)")


def test_a_result_cannot_be_changed():
    r = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "solved"
    assert r.status == "converged"
