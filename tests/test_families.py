"""Closed forms with families of critical points (issue 10 item 8; SPEC §4 ``analytic``).

Every expected number is worked by hand in the comment beside it.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

import symgd
from symgd.analytic import critical_points_inprocess
from symgd.analytic.families import compare, family_values
from symgd.analytic.points import AlgebraicPoint, rational_point

x, y, z = sp.symbols("x y z", real=True)


def simplex_product(relation="=="):
    side = sp.Eq(x + y + z, 30) if relation == "==" else x + y + z <= 30
    return symgd.Problem(maximize=x * y * z, variables={x: 1.0, y: 2.0, z: 3.0},
                         constraints=[side, x >= 0, y >= 0, z >= 0])


# ---------------------------------------------------------------------------------------
# the simplex: an isolated maximum that beats every family, on a compact set
# ---------------------------------------------------------------------------------------
def _check_simplex_answer(r):
    # AM-GM: xyz <= ((x + y + z)/3)^3 = 10^3 = 1000 with equality only at x = y = z = 10
    assert r.success and r.status == "solved"
    assert np.allclose(r.x, [10.0, 10.0, 10.0], rtol=0, atol=1e-9)
    assert abs(r.fun - 1000.0) <= 1e-9
    a = r.analytic
    assert a.global_ is True
    assert a.critical_points[a.best].x == {"x": 10.0, "y": 10.0, "z": 10.0}
    # on each face one coordinate is 0, so f = 0 there: three families, listed
    assert a.status == "infinite" and len(a.families) == 3
    for name in "xyz":
        assert any(f"{name} = 0" in fam for fam in a.families)
    assert "f = 0 on every family" in a.message
    assert "timeout" not in r.message


def test_simplex_product_analytic():
    r = symgd.solve(simplex_product(), method="analytic")
    _check_simplex_answer(r)
    assert r.method == "analytic" and r.requested_method == "analytic"
    assert "3 families of critical points" in r.message and "global max" in r.message
    assert "compact" in r.message
    d = r.to_dict()
    assert d["analytic"]["global"] is True and len(d["analytic"]["families"]) == 3


def test_simplex_product_auto():
    r = symgd.solve(simplex_product(), method="auto")
    _check_simplex_answer(r)
    assert r.method == "analytic" and r.requested_method == "auto"
    # the multiplier of x + y + z == 30 is dV/d(rhs): V(s) = (s/3)^3, V'(30) = 3 * 10^2 / 3 = 100
    assert abs(r.extra["multipliers"]["x + y + z == 30"] - 100.0) < 1e-9


def test_simplex_product_with_an_inequality_side():
    # x + y + z <= 30: still a polytope, and the maximum is on the face x + y + z = 30
    # (AM-GM again: xyz <= (s/3)^3 <= 1000); the interior lines y = z = 0 lie on the
    # boundary and must not leave the list "undecided"
    r = critical_points_inprocess(simplex_product("<="))
    assert r.global_ is True and r.critical_points[r.best].x == {"x": 10.0, "y": 10.0, "z": 10.0}
    assert r.critical_points[r.best].fun == 1000.0


def test_minimum_of_the_simplex_product_ties_with_the_families():
    # min xyz on the simplex is 0 (x, y, z >= 0), attained at the corners and on every face:
    # a corner is a global minimiser, and the families reach the same value
    p = symgd.Problem(minimize=x * y * z, variables={x: 1.0, y: 2.0, z: 3.0},
                      constraints=[sp.Eq(x + y + z, 30), x >= 0, y >= 0, z >= 0])
    r = critical_points_inprocess(p)
    assert r.global_ is True
    best = r.critical_points[r.best]
    assert best.fun == 0.0 and sorted(best.x.values()) == [0.0, 0.0, 30.0]
    assert "may reach the same value" in r.message


# ---------------------------------------------------------------------------------------
# unconstrained: an isolated minimum better than a family, on a non-compact domain
# ---------------------------------------------------------------------------------------
def test_isolated_minimum_beats_a_family_global_only_when_proven():
    # f = x^4 - 2x^2 + 1 + x^2 y^2: f_x = 2x(2x^2 - 2 + y^2), f_y = 2x^2 y. x = 0 is a line of
    # critical points with f = 1; otherwise y = 0 and x = +-1, f = 0, Hessian diag(8, 2).
    # f(0, y) = 1 for every y: not coercive, and this written form carries no lower-bound
    # certificate, so the minimum is reported without a global claim.
    f = x**4 - 2 * x**2 + 1 + x**2 * y**2
    r = critical_points_inprocess(symgd.Problem(minimize=f, variables={x: 0.5, y: 2.0}))
    assert r.status == "infinite" and r.families == ("x = 0 (y free)",)
    best = r.critical_points[r.best]
    assert best.fun == 0.0 and abs(abs(best.x["x"]) - 1) < 1e-12 and best.x["y"] == 0.0
    assert best.classification == "local_min"
    assert r.global_ is None
    assert "f = 1 on every family" in r.message
    res = symgd.solve(symgd.Problem(minimize=f, variables={x: 0.5, y: 2.0}), method="analytic")
    assert res.success and res.fun == 0.0 and "global optimality not proven" in res.message

    # the same f written as a sum of squares, (x^2 - 1)^2 + (x y)^2 >= 0, attains its bound 0
    g = (x**2 - 1)**2 + x**2 * y**2
    r = critical_points_inprocess(symgd.Problem(minimize=g, variables={x: 0.5, y: 2.0}))
    assert r.global_ is True and r.critical_points[r.best].fun == 0.0


def test_no_global_claim_when_the_objective_is_unbounded():
    # f = (x^2 - 1)^2 + x^2 y^2 + x^2 (z^3 - 3z): x = 0 is a plane of critical points (f = 1);
    # x != 0 gives y = 0, z = 1, x^2 = 2, f = 1 - 4 = -3, Hessian diag(16, 4, 12): a local
    # minimum better than the family, but f(1, 0, z) = z^3 - 3z -> -inf as z -> -inf
    f = (x**2 - 1)**2 + x**2 * y**2 + x**2 * (z**3 - 3 * z)
    r = critical_points_inprocess(symgd.Problem(minimize=f, variables={x: 1.0, y: 0.0, z: 0.0}))
    assert r.global_ is not True
    assert r.unbounded and r.best is None
    mins = [p for p in r.critical_points if p.classification == "local_min"]
    assert len(mins) == 2 and all(abs(p.fun + 3) < 1e-12 for p in mins)
    assert all(abs(abs(p.x["x"]) - 2**0.5) < 1e-12 and p.x["z"] == 1.0 for p in mins)


# ---------------------------------------------------------------------------------------
# a family is the optimum: no isolated point may be claimed to beat it
# ---------------------------------------------------------------------------------------
def test_family_is_the_optimum_of_xy_minus_1_squared():
    # f = (xy - 1)^2 >= 0 and f = 0 on the hyperbola xy = 1; grad = (2y(xy-1), 2x(xy-1)) also
    # vanishes at (0, 0), a saddle with f = 1
    p = symgd.Problem(minimize=(x * y - 1)**2, variables={x: 1.0, y: 2.0})
    r = critical_points_inprocess(p)
    assert r.status == "infinite" and r.best is None and r.global_ is not True
    assert [q.x for q in r.critical_points] == [{"x": 0.0, "y": 0.0}]
    assert r.critical_points[0].fun == 1.0 and r.critical_points[0].classification == "saddle"
    assert "f = 0 on x = 1/y" in r.message and "attained on the family" in r.message

    res = symgd.solve(p, method="analytic")
    assert not res.success and res.status == "no_closed_form"
    assert list(res.x) == [1.0, 2.0] and "timeout" not in res.message
    assert "x = 1/y" in res.message

    # auto falls back to the iterative method, which ends on the family (x y = 1, f = 0)
    res = symgd.solve(p, method="auto")
    assert res.success and abs(res.x[0] * res.x[1] - 1) < 1e-6 and res.fun < 1e-12


def test_family_with_an_extra_variable():
    # (xy - 1)^2 + z^2: the family xy = 1, z = 0 has f = 0; the origin is a saddle (f = 1)
    p = symgd.Problem(minimize=(x * y - 1)**2 + z**2, variables={x: 1.0, y: 2.0, z: 0.5})
    r = critical_points_inprocess(p)
    assert r.best is None and r.global_ is not True
    assert "f = 0 on x = 1/y, z = 0" in r.message


def test_circle_of_minima_beats_the_isolated_maximum():
    # (x^2 + y^2 - 1)^2 is coercive; f = 0 on the unit circle, the origin is a local max (f = 1)
    r = critical_points_inprocess(symgd.Problem(minimize=(x**2 + y**2 - 1)**2,
                                                variables={x: 0.3, y: 0.0}))
    assert r.best is None and r.global_ is None
    assert "better than the best isolated critical point (f = 1)" in r.message
    assert "the global minimum is f = 0, attained on the family" in r.message


def test_only_families():
    # x^2 y^2: the axes are critical, f = 0 on both
    r = critical_points_inprocess(symgd.Problem(minimize=x**2 * y**2, variables={x: 1.0, y: 1.0}))
    assert r.critical_points == () and r.best is None and len(r.families) == 2
    assert "f = 0 on y = 0 (x free)" in r.message and "f = 0 on x = 0 (y free)" in r.message
    # (x^2 - 1)^2 with y unused: lines x = 0 (f = 1) and x = +-1 (f = 0)
    r = critical_points_inprocess(symgd.Problem(minimize=(x**2 - 1)**2 + 0 * y,
                                                variables={x: 0.5, y: 1.0}))
    assert r.best is None and len(r.families) == 3
    assert "f = 1 on x = 0 (y free)" in r.message and "f = 0 on x = 1 (y free)" in r.message


def test_family_values_that_cannot_be_compared_are_said_so():
    # min x subject to (x^2 + y^2 - 1)^2 == 0: the constraint's gradient vanishes on the whole
    # circle (Fritz John points, no multipliers), and x varies on it: nothing is claimed
    p = symgd.Problem(minimize=x, variables={x: 1.0, y: 0.0},
                      constraints=[sp.Eq((x**2 + y**2 - 1)**2, 0)])
    r = critical_points_inprocess(p)
    assert r.best is None and r.global_ is not True
    assert "could not be compared" in r.message
    res = symgd.solve(p, method="analytic")
    assert not res.success and "could not be compared" in res.message
    assert "timeout" not in res.message


# ---------------------------------------------------------------------------------------
# the value computation itself
# ---------------------------------------------------------------------------------------
def test_values_on_an_ideal_and_exact_comparison():
    # on V(x^2 - 2) (y free), f = x^2 + x = 2 + x takes the values 2 - sqrt(2) ~ 0.586 and
    # 2 + sqrt(2) ~ 3.414
    fam = family_values(x**2 + x, (x, y), "x**2 = 2", [x**2 - 2], None)
    assert len(fam.values) == 2
    assert abs(float(fam.values[0].text()) - (2 - 2**0.5)) < 1e-12
    assert abs(float(fam.values[1].text()) - (2 + 2**0.5)) < 1e-12
    q = rational_point({}, ())
    assert compare([fam], q.const(sp.Rational(1, 2)), +1).kind == "no_better"   # both > 1/2
    # 3/5 > 2 - sqrt(2): a better value exists but is not known to be reached -> unknown
    assert compare([fam], q.const(sp.Rational(3, 5)), +1).kind == "unknown"
    assert compare([fam], q.const(4), -1).kind == "no_better"   # maximize: both < 4
    # b = 2 - sqrt(2) exactly, in Q(sqrt(2)): a tie, decided exactly
    a = AlgebraicPoint([1, 0, -2], (1, 2), {x: [1, 0]}, (x,))  # x = sqrt(2)
    v = compare([fam], a.value(2 - x), +1)
    assert v.kind == "no_better" and v.ties == (fam,)
    # f not determined by the ideal (x on the circle): unknown, never a guess
    assert family_values(x, (x, y), "circle", [x**2 + y**2 - 1], None).values is None


def test_plural_wording():
    one = critical_points_inprocess(symgd.Problem(minimize=(x - 1)**2, variables={x: 0.0}))
    assert one.message.startswith("1 critical point (")
    res = symgd.solve(symgd.Problem(minimize=(x - 1)**2, variables={x: 0.0}),
                      method="analytic")
    assert "closed form: 1 critical point;" in res.message
    # x^4/4 - x^2/2: x^3 - x = 0 at -1, 0, 1
    f = x**4 / 4 - x**2 / 2
    res = symgd.solve(symgd.Problem(minimize=f, variables={x: 0.3}), method="analytic")
    assert "closed form: 3 critical points;" in res.message
    for text in (one.message, res.message, res.analytic.message):
        assert "point(s)" not in text and "1 critical points" not in text
