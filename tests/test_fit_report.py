"""The fit report (issue 13, item 5): lmfit's statistics, weights, held and tied variables,
predict and residuals, sgd's validation split, and the printed report, each against an
independent answer: closed forms with numpy, lmfit's formulas written out again here,
scipy's t quantiles, NIST's certified values, the reduced or substituted model fitted
on its own."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy import stats as sps

import symgd
import symgd.fit
from symgd.errors import InputError
from symgd.fit.tdist import t_quantile
from symgd.problem import load_text

a, b, c, x, y, w, s = sp.symbols("a b c x y w s")
NIST = Path(__file__).resolve().parent / "data" / "nist_strd"


def line_data(n=40, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 3.0, n)
    return X, 1.5 * X - 0.7 + 0.2 * rng.standard_normal(n)


def exp_data(n=80, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 4.0, n)
    return X, 2.0 * np.exp(-0.7 * X) + 0.5 + 0.03 * rng.standard_normal(n)


def lmfit_statistics(chisqr, n, p):
    """lmfit's definitions (docs: 'Goodness-of-Fit Statistics'), written out here."""
    return {"chisqr": chisqr, "redchi": chisqr / (n - p),
            "aic": n * math.log(chisqr / n) + 2 * p,
            "bic": n * math.log(chisqr / n) + math.log(n) * p}


def close(got, want, rel):
    assert got == pytest.approx(want, rel=rel), (got, want)


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("method", ["auto", "lm"])
def test_straight_line_statistics_against_the_textbook_closed_form(method):
    X, Y = line_data()
    n = X.size
    p = symgd.Problem(model=a * x + b, target=y, loss="sse", data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    r = symgd.solve(p, method=method, tol=1e-12)
    assert r.success, r.message
    M = np.column_stack([X, np.ones(n)])
    beta = np.linalg.lstsq(M, Y, rcond=None)[0]
    res = Y - M @ beta
    rss = float(res @ res)
    cov = rss / (n - 2) * np.linalg.inv(M.T @ M)          # s² (XᵀX)⁻¹
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(r.x, beta, rtol=1e-10)
    np.testing.assert_allclose(r.covariance, cov, rtol=1e-8)
    d = r.to_dict()
    np.testing.assert_allclose(np.array(d["covariance"]), cov, rtol=1e-8)
    for k, nm in enumerate("ab"):
        close(d["stderr"][nm], se[k], 1e-8)
        close(d["relative_error"][nm], 100 * se[k] / abs(beta[k]), 1e-8)
        t = sps.t.ppf(0.975, n - 2)
        np.testing.assert_allclose(d["confidence_interval"][nm],
                                   [beta[k] - t * se[k], beta[k] + t * se[k]], rtol=1e-9)
    assert d["confidence_level"] == 0.95
    for key, want in lmfit_statistics(rss, n, 2).items():
        close(d[key], want, 1e-9)
    close(d["rss"], rss, 1e-9)
    close(d["r_squared"], 1 - rss / np.sum((Y - Y.mean()) ** 2), 1e-10)
    assert d["fixed"] == [] and d["tied"] == {} and d["weighted"] is None
    close(d["correlation"]["a"]["b"], cov[0, 1] / (se[0] * se[1]), 1e-8)


def test_student_t_quantiles_match_scipy():
    for nu in (1, 2, 3, 7, 12, 30, 98, 500, 999, 1000, 5000, 10**6):
        for q in (0.975, 0.995, 0.9, 0.8413):
            close(t_quantile(q, nu), sps.t.ppf(q, nu), 1e-11)
    with pytest.raises(ValueError):
        t_quantile(0.975, 0)


def test_nist_misra1a_certified_standard_deviations_and_residual_sums():
    text = (NIST / "Misra1a.dat").read_text()
    cert = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(
        r"^\s*(b\d)\s*=\s*\S+\s+\S+\s+(\S+)\s+(\S+)\s*$", text, flags=re.M)}
    rss = float(re.search(r"Residual Sum of Squares:\s+(\S+)", text)[1])
    rsd = float(re.search(r"Residual Standard Deviation:\s+(\S+)", text)[1])
    rows = np.array([[float(v) for v in ln.split()]
                     for ln in text.split("Data:   y")[1].splitlines()[1:] if ln.strip()])
    b1, b2 = sp.symbols("b1 b2")
    p = symgd.Problem(model=b1 * (1 - sp.exp(-b2 * x)), target=y, loss="sse",
                      data={"y": rows[:, 0], "x": rows[:, 1]},
                      variables={b1: 500.0, b2: 1e-4})
    d = symgd.solve(p).to_dict()
    n = len(rows)
    for nm, (value, sd) in cert.items():
        close(d["x"][nm], value, 1e-7)
        close(d["stderr"][nm], sd, 1e-6)   # NIST's standard deviations
        t = sps.t.ppf(0.975, n - 2)
        np.testing.assert_allclose(d["confidence_interval"][nm],
                                   [d["x"][nm] - t * sd, d["x"][nm] + t * sd], rtol=1e-6)
    close(d["chisqr"], rss, 1e-7)
    close(d["redchi"], rsd ** 2, 1e-7)     # NIST's residual standard deviation, squared
    close(d["aic"], n * math.log(rss / n) + 4, 1e-7)
    close(d["bic"], n * math.log(rss / n) + 2 * math.log(n), 1e-7)


# ----------------------------------------------------------------------------- weights
def weighted_data(n=60, seed=11):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 4.0, n)
    W = rng.uniform(0.3, 5.0, n)
    Y = 0.8 * X - 0.3 * X ** 2 + 2.0 + rng.standard_normal(n) / np.sqrt(W)
    return X, Y, W


@pytest.mark.parametrize("method", ["auto", "lm"])
@pytest.mark.parametrize("how", ["weights", "sigma"])
def test_weighted_least_squares_against_numpy_on_scaled_rows(method, how):
    X, Y, W = weighted_data()
    n = X.size
    given = {"weights": w} if how == "weights" else {"sigma": s}
    p = symgd.Problem(model=a * x + b * x ** 2 + c, target=y, loss="sse",
                      data={"x": X, "y": Y, "w": W, "s": 1 / np.sqrt(W)},
                      variables={a: 0.0, b: 0.0, c: 0.0}, **given)
    r = symgd.solve(p, method=method, tol=1e-10)
    assert r.success, r.message
    A = np.column_stack([X, X ** 2, np.ones(n)])
    sw = np.sqrt(W)
    beta = np.linalg.lstsq(A * sw[:, None], Y * sw, rcond=None)[0]
    res = Y - A @ beta
    chisqr = float(W @ res ** 2)
    cov = chisqr / (n - 3) * np.linalg.inv(A.T @ (W[:, None] * A))
    np.testing.assert_allclose(r.x, beta, rtol=1e-9)
    np.testing.assert_allclose(r.covariance, cov, rtol=1e-7)
    d = r.to_dict()
    for key, want in lmfit_statistics(chisqr, n, 3).items():
        close(d[key], want, 1e-9)
    close(d["rss"], float(res @ res), 1e-9)            # unweighted
    yw = float(W @ Y) / W.sum()
    close(d["r_squared"], 1 - chisqr / float(W @ (Y - yw) ** 2), 1e-9)
    close(r.fun, chisqr, 1e-9)                          # sse: the weighted sum
    assert d["weighted"] == how
    np.testing.assert_allclose(r.residuals, res, rtol=1e-8, atol=1e-12)


def test_a_uniform_sigma_changes_neither_the_fit_nor_its_errors_nor_fakes_an_exact_fit():
    X, Y = exp_data()
    runs = {}
    for sig in (1.0, 1e13):   # lm's exact-fit test compares sqrt(w) r with sqrt(w) y
        p = symgd.Problem(model=a * sp.exp(-b * x) + c, target=y, sigma=s,
                          data={"x": X, "y": Y, "s": np.full(X.size, sig)},
                          variables={a: 1.5, b: 0.5, c: 0.1})
        runs[sig] = symgd.solve(p, method="lm")
        assert runs[sig].success and "exact fit" not in runs[sig].message, runs[sig].message
    one, big = runs[1.0].to_dict(), runs[1e13].to_dict()
    np.testing.assert_allclose(runs[1e13].x, runs[1.0].x, rtol=1e-10)
    for nm in "abc":
        close(big["stderr"][nm], one["stderr"][nm], 1e-8)
    close(big["chisqr"], one["chisqr"] * 1e-26, 1e-8)


def test_weights_that_are_negative_non_finite_or_from_a_zero_sigma_are_refused(tmp_path):
    rows = ["x,y,w,s", "0,1,1,0.5", "1,2,2,0.5", "2,3,-1,0", "3,5,1,1"]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    base = "variables: {a: 1, b: 0}\ndata: {file: d.csv}\nmodel: a*x + b\ntarget: y\n"
    for key, val, words in (("weights", "w", "the weight is -1"),
                            ("sigma", "s", "sigma is 0"),
                            ("weights", "log(w)", "the weight is nan")):
        p = load_text(base + f"{key}: {val}\n", file=str(tmp_path / "p.yaml"),
                      base_dir=tmp_path)
        with pytest.raises(InputError) as err:
            symgd.solve(p, method="lm")
        e = err.value
        assert e.field == key and e.line == 4 and e.kind == "data", e
        assert words in e.message and "line 4" in e.message, e.message
    # inline data: the line is the problem file's
    text = ("variables: {a: 1, b: 0}\ndata: {x: [0, 1, 2], y: [1, 2, 4], s: [1, 0, 1]}\n"
            "model: a*x + b\ntarget: y\nsigma: s\n")
    with pytest.raises(InputError) as err:
        symgd.solve(load_text(text, file="p.yaml"), method="lm")
    assert err.value.field == "sigma" and err.value.line == 5 and "row 2" in err.value.message


def test_weights_need_a_least_squares_model_fit_and_columns_only():
    X, Y, W = weighted_data(10)
    data = {"x": X, "y": Y, "w": W}
    for kw, field in ((dict(model=a * x, target=y, loss="mae", weights=w), "weights"),
                      (dict(minimize=(a * x - y) ** 2, weights=w), "weights"),
                      (dict(model=a * x, target=y, weights=w, sigma=w), "sigma"),
                      (dict(model=a * x, target=y, weights=a * w), "weights")):
        with pytest.raises(InputError) as err:
            symgd.Problem(data=data, variables={a: 1.0}, **kw)
        assert err.value.field == field, err.value
    with pytest.raises(InputError, match="data fits only"):
        symgd.Problem(minimize=a ** 2, variables={a: 1.0}, weights=w)


# ----------------------------------------------------------------------------- held and tied
def test_a_held_variable_is_the_reduced_model_fitted():
    X, Y = exp_data()
    data = {"x": X, "y": Y}
    held = symgd.Problem(model=a * sp.exp(-b * x) + c, target=y, data=data,
                         variables={a: 1.5, b: 0.5, c: {"start": 0.45, "vary": False}})
    reduced = symgd.Problem(model=a * sp.exp(-b * x) + sp.Rational(45, 100), target=y,
                            data=data, variables={a: 1.5, b: 0.5})
    assert held.names == ("a", "b") and [v.name for v in held.declared] == ["a", "b", "c"]
    rh = symgd.solve(held, method="lm", tol=1e-10)
    rr = symgd.solve(reduced, method="lm", tol=1e-10)
    assert rh.success and rr.success
    assert rh.names == ("a", "b", "c") and rh.x_dict["c"] == 0.45
    np.testing.assert_allclose(rh.x[:2], rr.x, rtol=1e-10)
    dh, dr = rh.to_dict(), rr.to_dict()
    assert dh["x"]["c"] == 0.45 and dh["fixed"] == ["c"] and dh["stderr"]["c"] is None
    assert dh["dof"] == X.size - 2                    # c is not counted in N_varys
    for nm in "ab":
        close(dh["stderr"][nm], dr["stderr"][nm], 1e-8)
    for key in ("chisqr", "redchi", "aic", "bic"):
        close(dh[key], dr[key], 1e-9)
    close(dh["aic"], X.size * math.log(dh["chisqr"] / X.size) + 2 * 2, 1e-12)
    cov = rh.covariance
    assert cov.shape == (3, 3) and np.all(cov[2] == 0) and np.all(cov[:, 2] == 0)
    np.testing.assert_allclose(cov[:2, :2], rr.covariance, rtol=1e-8)
    assert set(dh["correlation"]) == {"a", "b"}
    assert np.isnan(rh.jac[2]) and np.all(np.isfinite(rh.jac[:2]))


def test_a_tied_variable_is_the_substituted_model_with_propagated_errors():
    X, Y = line_data(50, seed=8)
    Y = Y + 0.4 * X ** 2
    n = X.size
    data = {"x": X, "y": Y}
    tied = symgd.Problem(model=a * x + b * x ** 2 + c, target=y, data=data, loss="sse",
                         variables={a: 0.1, b: {"expr": "2*a"}, c: 0.0})
    subst = symgd.Problem(model=a * x + 2 * a * x ** 2 + c, target=y, data=data, loss="sse",
                          variables={a: 0.1, c: 0.0})
    rt, rs = symgd.solve(tied), symgd.solve(subst)
    assert rt.names == ("a", "b", "c")
    np.testing.assert_allclose([rt.x_dict["a"], rt.x_dict["c"]], rs.x, rtol=1e-10)
    close(rt.x_dict["b"], 2 * rt.x_dict["a"], 1e-15)
    # independently: the substituted design's OLS covariance, propagated through b = 2 a
    M = np.column_stack([X + 2 * X ** 2, np.ones(n)])
    beta = np.linalg.lstsq(M, Y, rcond=None)[0]
    res = Y - M @ beta
    C = float(res @ res) / (n - 2) * np.linalg.inv(M.T @ M)
    T = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])    # d(a, b, c)/d(a, c)
    np.testing.assert_allclose(rt.covariance, T @ C @ T.T, rtol=1e-8)
    d = rt.to_dict()
    close(d["stderr"]["b"], 2 * math.sqrt(C[0, 0]), 1e-8)
    assert d["tied"] == {"b": "2*a"} and d["dof"] == n - 2
    assert set(d["correlation"]) == {"a", "c"}          # between fitted variables
    text = symgd.fit.fit_report(rt)
    assert re.search(r"^    b: .* \+/- .* == '2\*a'$", text, flags=re.M), text


def test_ties_chain_through_held_variables():
    X, Y = line_data(30, seed=4)
    p = symgd.Problem(model=a * x + b + c, target=y, data={"x": X, "y": Y},
                      variables={a: 0.0, b: {"start": 0.25, "vary": False},
                                 c: {"expr": "b - 1 + 0*a"}})
    assert {k.name: v for k, v in p.ties.items()} == {"b": sp.Rational(1, 4),
                                                       "c": sp.Rational(-3, 4)}
    r = symgd.solve(p, method="lm")
    assert r.x_dict["b"] == 0.25 and r.x_dict["c"] == -0.75
    d = r.to_dict()
    assert d["stderr"]["b"] is None and d["stderr"]["c"] == 0.0   # a constant tie


def test_bad_ties_are_input_errors_naming_the_field_and_line():
    head = "data: {x: [0, 1, 2, 3], y: [1, 2, 3, 5]}\nmodel: a*x + b*x**2 + c\ntarget: y\n"
    cases = [
        ("variables: {a: 1, b: {expr: '2*c'}, c: {expr: 'b + a'}}", "variables.b.expr",
         "cycle: b -> c -> b"),
        ("variables: {a: {expr: a}, b: 1, c: 1}", "variables.a.expr", "cycle: a -> a"),
        ("variables: {a: 1, b: {expr: '2*q'}, c: 1}", "variables.b.expr", "'q'"),
        ("variables: {a: 1, b: {expr: '2*x'}, c: 1}", "variables.b.expr",
         "unknown name 'x'"),                      # a data column is no variable
        ("variables: {a: 1, b: {expr: '2*a', lower: 0}, c: 1}", "variables.b.lower",
         "tied"),
        ("variables: {a: 1, b: {expr: '2*a', vary: false}, c: 1}", "variables.b.expr",
         "not both"),
        ("variables: {a: {vary: false}, b: {vary: false}, c: {expr: '2*a'}}", "variables",
         "nothing is left to fit"),
        ("variables: {a: 1, b: {vary: 0}, c: 1}", "variables.b.vary", "true or false"),
    ]
    for body, field, words in cases:
        with pytest.raises(InputError) as err:
            load_text(body + "\n" + head, file="p.yaml")
        e = err.value
        assert e.field == field and words in e.message and e.line == 1, (body, e)
    with pytest.raises(InputError) as err:
        load_text("variables: {a: {start: 1, vary: false}, b: 2}\nminimize: (a - b)**2\n",
                  file="p.yaml")
    assert err.value.field == "variables.a.vary" and "data fit" in err.value.message
    with pytest.raises(InputError, match="'x', which is not a variable"):  # Python API
        symgd.Problem(model=a * x + b, target=y, data={"x": [0, 1, 2], "y": [1, 2, 4]},
                      variables={a: 1.0, b: {"expr": "2*x"}})


# ----------------------------------------------------------------------------- predict
class Frame:
    """A DataFrame as symgd reads one (duck-typed: ``columns`` and ``[name]``)."""

    def __init__(self, **cols):
        self._cols = cols
        self.columns = list(cols)

    def __getitem__(self, name):
        return self._cols[name]


def test_predict_and_residuals_against_direct_evaluation(tmp_path):
    X, Y = exp_data(50, seed=5)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, Y]), delimiter=",",
               header="length,area", comments="")
    p = load_text("variables: {a: 1.5, b: 0.5, c: {start: 0.5, vary: false}}\n"
                  "data: {file: d.csv, columns: {x: length}}\n"
                  "model: a*exp(-b*x) + c\ntarget: area\n", base_dir=tmp_path)
    r = symgd.solve(p, method="lm", tol=1e-12)
    A, B, C = r.x
    model = lambda t: A * np.exp(-B * t) + C  # noqa: E731
    new = np.linspace(-1.0, 6.0, 13)
    for data in ({"length": new}, {"x": new}, Frame(length=new, other=new * 0)):
        np.testing.assert_allclose(r.predict(data), model(new), rtol=1e-13)
    np.testing.assert_allclose(r.residuals, Y - model(X), rtol=1e-10, atol=1e-14)
    assert r.residuals.shape == (50,) and not r.residuals.flags.writeable
    with pytest.raises(InputError, match=r"column 'length' \(or 'x'\); the data has z"):
        r.predict({"z": new})
    # a per-sample objective has no model; a problem without data no fit at all
    q = symgd.Problem(minimize=(a * x - y) ** 2, data={"x": X, "y": Y}, variables={a: 1.0})
    rq = symgd.solve(q, method="lm")
    assert rq.residuals is None
    with pytest.raises(ValueError, match="no model"):
        rq.predict({"x": new})
    ro = symgd.solve(symgd.Problem(minimize=(a - 1) ** 2, variables={a: 0.0}),
                     method="newton")
    assert ro.residuals is None and ro.covariance is None
    with pytest.raises(ValueError, match="data fit"):
        ro.predict({"x": new})


# ----------------------------------------------------------------------------- validation
def learnable(n=600, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, n)
    return X, 3.0 * X - 1.0 + 0.1 * rng.standard_normal(n)


def test_the_validation_split_is_seeded_disjoint_and_complete():
    from symgd.methods.sgd import validation_split

    tr, va = validation_split(101, 0.2, 7)
    assert va.size == 20 and tr.size == 81
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(101))
    tr2, va2 = validation_split(101, 0.2, 7)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(validation_split(101, 0.2, 8)[1], va)
    assert validation_split(3, 0.01, 0)[1].size == 1    # at least one held out,
    assert validation_split(3, 0.99, 0)[0].size == 1    # and one left to train on
    with pytest.raises(InputError):
        validation_split(1, 0.5, 0)


def test_sgd_validation_loss_is_reproducible_falls_and_stops_early():
    from symgd.methods.sgd import run_sgd, validation_split

    X, Y = learnable()
    p = symgd.Problem(model=a * x + b, target=y, data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    K = symgd.fit.fit_kernels(p, ("fg", "batch"))
    opts = dict(epochs=200, batch_size=16, learning_rate=0.02, optimizer="adam",
                validation=0.25, seed=3, patience=5)
    lo, hi = np.full(2, -np.inf), np.full(2, np.inf)
    runs = [run_sgd(K.addresses["batch"], K.rows(), np.zeros(2), lo, hi, opts, None)
            for _ in range(2)]
    o = runs[0]
    assert o.val_history == runs[1].val_history and np.array_equal(o.x, runs[1].x)
    vh = o.val_history
    assert len(vh) == o.iterations and vh[-1] < 0.05 * vh[0]
    # the held-out samples' mean squared error, in numpy, at the returned x
    _, va = validation_split(X.size, 0.25, 3)
    val = float(np.mean((o.x[0] * X[va] + o.x[1] - Y[va]) ** 2))
    assert o.extra["validation_samples"] == 150
    close(o.extra["validation_loss"], val, 1e-12)
    # early stopping watched the validation loss and restored its best epoch
    assert o.status == "converged" and "validation loss did not improve" in o.message
    close(o.extra["validation_loss"], min(vh), 1e-12)
    assert o.best_epoch == int(np.argmin(vh)) + 1 < o.iterations
    # f and g stay over all the data
    close(o.f, float(np.mean((o.x[0] * X + o.x[1] - Y) ** 2)), 1e-12)
    other = run_sgd(K.addresses["batch"], K.rows(), np.zeros(2), lo, hi,
                    {**opts, "seed": 4}, None)
    assert other.val_history != vh


def test_sgd_validation_through_solve_reports_the_validation_loss():
    from symgd.methods.sgd import validation_split

    X, Y = learnable(400, seed=6)
    p = symgd.Problem(model=a * x + b, target=y, data={"x": X, "y": Y},
                      variables={a: 0.0, b: 0.0})
    r = symgd.solve(p, method="sgd", epochs=60, learning_rate=0.05, validation=0.2,
                    seed=1)
    _, va = validation_split(X.size, 0.2, 1)
    d = r.to_dict()
    close(d["validation_loss"], float(np.mean((r.x[0] * X[va] + r.x[1] - Y[va]) ** 2)),
          1e-12)
    assert d["validation_samples"] == 80
    assert "validation loss" in symgd.fit.fit_report(r)
    with pytest.raises(InputError) as err:
        symgd.solve(p, method="sgd", validation=1.0)
    assert err.value.field == "options.validation"


# ----------------------------------------------------------------------------- the report
def test_the_report_reads_like_lmfits_and_matches_the_numbers():
    X, Y = exp_data(120, seed=9)
    p = symgd.Problem(model=a * sp.exp(-b * x) + c, target=y,
                      data={"x": X, "y": Y, "w": np.full(X.size, 4.0)},
                      variables={a: 1.5, b: 0.5, c: {"start": 0.5, "vary": False},
                                 s: {"expr": "a/b"}}, weights=w)
    r = symgd.solve(p, method="lm", tol=1e-12)
    d = r.to_dict()
    text = symgd.fit.fit_report(r)
    heads = [ln for ln in text.splitlines() if ln.startswith("[[")]
    assert heads == ["[[Fit Statistics]]", "[[Variables]]",
                     "[[Confidence Intervals]] (95%: value +/- t(0.975, 118) stderr)",
                     "[[Correlations]] (unreported correlations are < 0.100)"], text
    field = dict(re.findall(r"^    (.+?)\s+= (.*)$", text.split("[[Variables]]")[0],
                            flags=re.M))
    assert field["# fitting method"] == "lm" and field["# data points"] == "120"
    assert field["# variables"] == "2" and int(field["# function evals"]) == r.nfev
    for label, key in (("chi-square", "chisqr"), ("reduced chi-square", "redchi"),
                       ("Akaike info crit", "aic"), ("Bayesian info crit", "bic"),
                       ("R-squared", "r_squared")):
        close(float(field[label]), d[key], 1e-9)
    assert field["loss"] == "mse, weighted by weights"
    var = {m[0]: m[1] for m in re.findall(r"^    (\w+):\s+(.*)$",
                                          text.split("[[Variables]]")[1].split("[[")[0],
                                          flags=re.M)}
    assert list(var) == ["a", "b", "c", "s"]
    assert var["c"] == "0.5 (fixed)" and var["s"].endswith("== 'a/b'")
    m = re.match(r"(\S+) \+/- (\S+) \((\S+)%\) \(init = 1.5\)$", var["a"])
    assert m, var["a"]
    close(float(m[1]), d["x"]["a"], 1e-9)
    close(float(m[2]), d["stderr"]["a"], 1e-5)
    assert m[3] == f"{d['relative_error']['a']:.2f}"
    corr = re.findall(r"C\((\w+), (\w+)\) = (\S+)", text)
    assert [(u, v) for u, v, _ in corr] == [("a", "b")]
    close(float(corr[0][2]), d["correlation"]["a"]["b"], 1e-4)


def test_correlations_are_listed_by_magnitude_above_the_threshold():
    rng = np.random.default_rng(12)
    X = rng.uniform(0.0, 2.0, 200)
    Y = 1.0 + 0.5 * X - 0.2 * X ** 2 + 0.1 * X ** 3 + 0.05 * rng.standard_normal(200)
    e = sp.Symbol("e")
    p = symgd.Problem(model=a + b * x + c * x ** 2 + e * x ** 3, target=y,
                      data={"x": X, "y": Y}, variables={a: 0, b: 0, c: 0, e: 0})
    r = symgd.solve(p)
    corr = r.to_dict()["correlation"]
    text = symgd.fit.fit_report(r, min_correlation=0.3)
    listed = [(u, v, float(val)) for u, v, val in re.findall(r"C\((\w+), (\w+)\) = (\S+)",
                                                            text)]
    want = sorted(((u, v, corr[u][v]) for i, u in enumerate("abce") for v in "abce"[i + 1:]
                   if abs(corr[u][v]) >= 0.3), key=lambda t: -abs(t[2]))
    assert [(u, v) for u, v, _ in listed] == [(u, v) for u, v, _ in want] and len(want) >= 3
    np.testing.assert_allclose([t[2] for t in listed], [t[2] for t in want], atol=1e-4)
    assert "< 0.300" in text


def test_a_warm_solve_of_the_same_file_reports_the_same_fit(tmp_path, monkeypatch):
    from symgd import warm
    from symgd.problem_interface import INDEXED

    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path / "cache"))
    X, Y = exp_data(40, seed=13)
    S = np.full(X.size, 0.03)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, Y, S]), delimiter=",",
               header="x,y,s", comments="")
    path = tmp_path / "fit.yaml"
    path.write_text(f"name: warm-{np.random.default_rng().integers(1 << 30)}\n"
                    "variables: {a: 1.5, b: 0.5, c: {start: 0.5, vary: false},\n"
                    "            h: {expr: '2*b'}}\n"
                    "data: {file: d.csv}\nmodel: a*exp(-h*x/2) + c\ntarget: y\n"
                    "sigma: s\nloss: sse\nmethod: lm\n")
    cold_problem, cold = warm.solve_file(path)
    warm_problem, again = warm.solve_file(path)
    assert cold_problem.kernel_source != INDEXED and warm_problem.kernel_source == INDEXED
    assert again.names == cold.names == ("a", "b", "c", "h")
    assert again.x.tolist() == cold.x.tolist()
    dc, dw = cold.to_dict(), again.to_dict()
    for key in ("stderr", "chisqr", "aic", "covariance", "fixed", "tied", "weighted",
                "confidence_interval"):
        assert dw[key] == dc[key], key
    assert dc["weighted"] == "sigma" and dc["tied"] == {"h": "2*b"}
    np.testing.assert_array_equal(again.predict({"x": X}), cold.predict({"x": X}))
    strip = lambda t: t.split("[[Variables]]")[1]  # noqa: E731
    assert strip(symgd.fit.fit_report(again)) == strip(symgd.fit.fit_report(cold))
