"""Figures (symgd.plot): every kind drawn for a problem of problems/, and what is drawn
checked in the written PNG's pixels (the iterate path where the iterates are, each
critical point's class colour where the point is, the infeasible side shaded), plus
the numbers behind them (the numpy objective and schedules against the solver's)."""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgd
from symgd.errors import InputError
from symgd.plot import KINDS, check_kind, choose_kind, numeric, render, schedule

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
MAGENTA = (1.0, 0.0, 1.0)


def load(name):
    return symgd.load(PROBLEMS / f"{name}.yaml")


@pytest.fixture(scope="module")
def solved():
    """name -> (problem, result), each solved once for the module."""
    cache = {}

    def get(name, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            p = load(name)
            cache[key] = (p, symgd.solve(p, **options))
        return cache[key]
    return get


def draw(problem, result, tmp_path, kind=None, **kw):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{problem.name}-{kind}.png"
    drawn = symgd.plot.plot(problem, result, kind=kind, out=out, return_figure=True, **kw)
    assert drawn.path == str(out) and out.exists()
    return drawn, read(out)


def read(path):
    from matplotlib.image import imread

    return imread(str(path))[..., :3]


def legend(ax) -> list:
    """The texts of an Axes' legend (proxy entries for constraints included)."""
    return [t.get_text() for t in ax.get_legend().get_texts()]


def colour_near(img, row, col, rgb, *, radius=2, tol=0.15) -> bool:
    """Whether a pixel within ``radius`` of (row, col) has colour ``rgb``."""
    win = img[max(row - radius, 0):row + radius + 1, max(col - radius, 0):col + radius + 1]
    return bool((np.abs(win - np.asarray(rgb)).max(axis=-1) <= tol).any())


def known_history(n_rows, xs, ys, f):
    return {"iteration": list(range(n_rows)), "fun": [f(x, y) for x, y in zip(xs, ys)],
            "grad_norm": [1.0 / (k + 1) for k in range(n_rows)],
            "step": [math.nan] + [0.1] * (n_rows - 1), "x": [[x, y] for x, y in zip(xs, ys)]}


# ----------------------------------------------------------------------------- kinds
def test_choose_and_check_kind(solved):
    assert choose_kind(load("rosenbrock")) == "contour"
    assert choose_kind(load("fence_area")) == "contour"      # one variable: the curve
    assert choose_kind(load("quadratic3")) == "landscape"
    assert choose_kind(load("exp_decay_lm")) == "fit"
    assert set(KINDS) == {"contour", "landscape", "convergence", "fit", "schedule"}
    with pytest.raises(InputError, match="did you mean 'contour'") as err:
        check_kind("contuor")
    assert err.value.kind == "option"
    with pytest.raises(InputError, match="no data"):
        check_kind("fit", load("quadratic3"))


def test_importing_the_package_loads_no_matplotlib():
    code = ("import sys, symgd.plot, symgd.cli; "
            "assert 'matplotlib' not in sys.modules and 'tqdm' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    p = load("booth")
    result = symgd.solve(p)
    with pytest.raises(InputError, match=r"pip install symgd\[plot\]") as err:
        symgd.plot.plot(p, result, out=tmp_path / "f.png")
    assert err.value.kind == "unavailable"
    assert not (tmp_path / "f.png").exists()


def test_unknown_image_format_is_refused_before_work(tmp_path):
    with pytest.raises(InputError, match="cannot write a figure"):
        symgd.plot.plot(load("booth"), None, out=tmp_path / "f.xyz")


# ----------------------------------------------------------------------------- contour
def test_contour_path_pixels_lie_on_the_iterates(solved, tmp_path):
    p, r = solved("rosenbrock")
    xs = np.linspace(-1.2, 1.0, 12)
    ys = 1.0 - 0.8 * np.sin(np.linspace(0, np.pi, 12))
    hist = known_history(12, xs, ys, lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2)
    drawn, img = draw(p, dataclasses.replace(r, history=hist), tmp_path, "contour")
    assert img.shape == (560, 700, 3)                     # 7 x 5.6 in at 100 dpi
    assert drawn.kind == "contour"
    for x, y in zip(xs[2:-2], ys[2:-2]):                  # not under the start/answer marks
        row, col = drawn.pixel(x, y)
        assert colour_near(img, row, col, MAGENTA), (x, y)
    # a point of the view far from the path is not magenta
    row, col = drawn.pixel(0.0, 1.6)
    assert not colour_near(img, row, col, MAGENTA, radius=4)
    labels = legend(drawn.axes["main"])
    assert {"iterates", "start", "answer"} <= set(labels)


def test_contour_path_from_a_real_solve(solved, tmp_path):
    p, r = solved("rosenbrock")
    assert r.history is not None
    drawn, img = draw(p, r, tmp_path, "contour")
    path = np.asarray(r.history["x"], dtype=float)
    assert len(path) == r.iterations + 1
    for x, y in path[3:-3:3]:
        row, col = drawn.pixel(x, y)
        assert colour_near(img, row, col, MAGENTA), (x, y)
    # the view holds the start, the answer and the whole path
    (x0, x1), (y0, y1) = drawn.axes["main"].get_xlim(), drawn.axes["main"].get_ylim()
    assert x0 < path[:, 0].min() and path[:, 0].max() < x1
    assert y0 < path[:, 1].min() and path[:, 1].max() < y1


def test_every_critical_point_class_has_its_marker(solved, tmp_path):
    p, r = solved("himmelblau")      # method analytic: 4 minima, 4 saddles, 1 maximum
    assert r.analytic is not None and len(r.analytic.critical_points) == 9
    drawn, img = draw(p, r, tmp_path, "contour")
    for cp in r.analytic.critical_points:
        _, colour, words = render.CLASS_STYLE[cp.classification]
        row, col = drawn.pixel(cp.x["x"], cp.x["y"])
        assert colour_near(img, row, col, _rgb(colour), radius=1), cp
    labels = legend(drawn.axes["main"])
    assert {"local minimum", "local maximum", "saddle point"} <= set(labels)
    assert "no iterate path" in " ".join(drawn.notes)      # closed form: no history


def test_degenerate_points_get_a_marker_of_their_own(solved, tmp_path):
    from symgd.analytic.report import AnalyticReport, CriticalPoint

    p, r = solved("booth")
    pts = [("local_min", (1.0, 3.0)), ("local_max", (2.0, 3.0)), ("saddle", (2.0, 1.0)),
           ("degenerate", (0.5, 2.0))]
    report = AnalyticReport("solved", tuple(
        CriticalPoint({"x": a, "y": b}, {}, "exact", 0.0, "0", cls, {}) for cls, (a, b) in pts))
    drawn, img = draw(p, dataclasses.replace(r, analytic=report), tmp_path, "contour")
    markers = set()
    for cls, (a, b) in pts:
        marker, colour, words = render.CLASS_STYLE[cls]
        markers.add(marker)
        row, col = drawn.pixel(a, b)
        assert colour_near(img, row, col, _rgb(colour), radius=1), cls
    assert len(markers) == 4
    labels = legend(drawn.axes["main"])
    assert {w for _, _, w in render.CLASS_STYLE.values()} <= set(labels)


def _rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))


def _mean(img, drawn, x, y, radius=6):
    row, col = drawn.pixel(x, y)
    return img[row - radius:row + radius + 1, col - radius:col + radius + 1].reshape(-1, 3).mean(0)


def test_constraints_shade_the_infeasible_side(solved, tmp_path):
    p, r = solved("kkt")             # x + y <= 2 binds at (3/2, 1/2)
    drawn, img = draw(p, r, tmp_path, "contour")
    (x0, x1), (y0, y1) = drawn.axes["main"].get_xlim(), drawn.axes["main"].get_ylim()
    assert x0 < 0 < 1.5 < x1 and y0 < 0 < 0.5 < y1       # start and answer in view
    inside = _mean(img, drawn, 0.5, 0.2)
    outside = _mean(img, drawn, 1.5 + 0.35 * (x1 - 1.5), 0.5 + 0.35 * (y1 - 0.5))
    assert abs(inside[0] - inside[1]) < 0.03               # grey: feasible
    assert outside[0] - outside[1] > 0.05                  # red tint: infeasible
    labels = legend(drawn.axes["main"])
    assert "x + y <= 2" in labels and "infeasible" in labels


def test_bounds_are_shaded_too(solved, tmp_path):
    p, r = solved("bounded_quadratic")                      # y >= 0, 0 <= x <= 2
    drawn, img = draw(p, r, tmp_path, "contour")
    y0 = drawn.axes["main"].get_ylim()[0]
    assert y0 < 0
    below = _mean(img, drawn, 1.0, y0 / 2, radius=3)
    above = _mean(img, drawn, 1.0, 0.5, radius=3)
    assert below[0] - below[1] > 0.05 and abs(above[0] - above[1]) < 0.03


def test_nan_regions_are_masked_not_fatal(tmp_path):
    # the start (in view) lies where log is undefined; the run starts inside
    p = symgd.Problem(minimize="x - log(x) + (y - 1)**2", variables={"x": -0.5, "y": 1.0})
    r = symgd.solve(p, method="newton", x0=[0.5, 1.0])
    assert r.x == pytest.approx([1.0, 1.0])
    drawn, img = draw(p, r, tmp_path, "contour")
    row, col = drawn.pixel(-0.25, 1.3)                     # log of a negative number
    assert img[row, col].min() > 0.97                       # left blank (white)


# ------------------------------------------------------------------------ other kinds
def test_one_variable_curve(solved, tmp_path):
    p, r = solved("fence_area")
    drawn, img = draw(p, r, tmp_path, "contour")
    assert drawn.kind == "curve"
    lines = [ln for ln in drawn.axes["main"].get_lines() if ln.get_label() == "f"]
    xs, fs = lines[0].get_data()
    assert np.allclose(fs, 100 * xs - xs ** 2)
    if r.history is not None and len(r.history["x"]) == 2:  # newton: one step
        lx = 0.5 * (10 + 50)                                 # the path's chord is drawn
        row, col = drawn.pixel(lx, 0.5 * (900 + 2500))
        assert colour_near(img, row, col, MAGENTA)


def test_landscape_through_the_answer(solved, tmp_path):
    p, r = solved("quadratic3")
    drawn, img = draw(p, r, tmp_path)                        # three variables: landscape
    assert drawn.kind == "landscape" and img.shape == (560, 700, 3)
    assert "Hessian eigenvectors" in drawn.axes["main"].get_title()
    A = np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]])
    u, v, how = numeric.directions(numeric.Objective(p), r.x)
    w, vecs = np.linalg.eigh(A)                              # the Hessian, by hand
    assert abs(abs(u @ vecs[:, 0]) - 1) < 1e-9 and abs(abs(v @ vecs[:, 1]) - 1) < 1e-9
    row, col = drawn.pixel(0.0, 0.0)                          # the answer at the centre
    assert colour_near(img, row, col, _rgb(render.ANSWER_COLOR), radius=10)


def test_random_directions_beyond_twenty_variables():
    p = symgd.Problem(minimize=" + ".join(f"(v{i} - {i})**2" for i in range(25)),
                      variables=[f"v{i}" for i in range(25)])
    u, v, how = numeric.directions(numeric.Objective(p), np.zeros(25))
    u2, v2, _ = numeric.directions(numeric.Objective(p), np.zeros(25))
    assert "random" in how and np.allclose(u, u2) and np.allclose(v, v2)   # seeded
    assert abs(u @ v) < 1e-12 and np.isclose(u @ u, 1) and np.isclose(v @ v, 1)


def test_convergence_figure(solved, tmp_path):
    p, r = solved("max_gaussian_bump")                       # gd: a learning rate too
    drawn, img = draw(p, r, tmp_path, "convergence")
    ax = drawn.axes["main"]
    assert ax.get_yscale() == "log"
    labels = legend(ax)
    assert r.history is not None
    assert "f_best − f" in labels and "gradient norm" in labels  # maximize: f_best − f
    assert "learning_rate" in drawn.axes
    lr_line = drawn.axes["learning_rate"].get_lines()[0]
    assert np.allclose(lr_line.get_ydata(), r.history["learning_rate"], equal_nan=True)


def test_convergence_without_history_says_so(solved, tmp_path):
    p, r = solved("himmelblau")                              # the closed form answered
    drawn, _ = draw(p, dataclasses.replace(r, history=None), tmp_path, "convergence")
    assert any("no history" in n for n in drawn.notes)
    assert "no history" in drawn.axes["main"].texts[0].get_text()


@pytest.mark.parametrize("name", ["exp_decay_lm", "logistic", "linreg_sgd", "fence_fit"])
def test_fit_loss_in_numpy_matches_the_result(solved, name):
    p, r = solved(name)
    f = numeric.Objective(p)([np.array([v]) for v in r.x])[0]
    assert f == pytest.approx(r.fun, rel=1e-9, abs=1e-12)


def test_fit_with_one_input_draws_data_model_and_residuals(solved, tmp_path):
    p, r = solved("exp_decay_lm")
    drawn, img = draw(p, r, tmp_path)                         # a fit: kind fit
    assert drawn.kind == "fit" and set(drawn.axes) == {"main", "residuals"}
    A, k, B = r.x
    for t in (1.0, 4.0, 8.0):                                 # the model's curve
        row, col = drawn.pixel(t, A * math.exp(-k * t) + B)
        assert colour_near(img, row, col, MAGENTA, radius=1), t
    resid = drawn.axes["residuals"].collections[0].get_offsets()
    assert len(resid) == 60 and abs(np.asarray(resid)[:, 1]).max() < 0.3


def test_fit_with_several_inputs_draws_fitted_against_observed(solved, tmp_path):
    p, r = solved("logistic")
    drawn, _ = draw(p, r, tmp_path, "fit")
    ax = drawn.axes["main"]
    assert "observed" in ax.get_xlabel() and "probability" in ax.get_ylabel()
    fitted = np.asarray(ax.collections[0].get_offsets())[:, 1]
    assert fitted.min() >= 0 and fitted.max() <= 1 and len(fitted) == 300


def test_fit_kind_on_a_problem_without_data(solved, tmp_path):
    p, r = solved("quadratic3")
    with pytest.raises(InputError, match="no data"):
        symgd.plot.plot(p, r, kind="fit", out=tmp_path / "f.png")


# --------------------------------------------------------------------------- schedule
SCHEDULES = [("constant", {}), ("step", {"step_size": 7, "gamma": 0.5}),
             ("exponential", {"gamma": 0.97}), ("inverse_time", {"decay": 0.05}),
             ("cosine", {"t_max": 50, "lr_min": 0.01}),
             ("sgdr", {"t_0": 10, "t_mult": 2, "lr_min": 0.001}),
             ("sgdr", {"t_0": 7, "t_mult": 1}),
             ("triangular", {"lr_min": 0.01, "step_size": 9}),
             ("triangular2", {"lr_min": 0.0, "step_size": 6})]


@pytest.mark.parametrize("name,params", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_numpy_schedule_matches_the_compiled_one(name, params):
    from symgd.methods.schedules import learning_rate, pack_schedule

    code, p0, p1, p2 = pack_schedule({"name": name, **params}, default_t_max=100.0)
    t = np.arange(300, dtype=float)
    ours = schedule.rates(code, t, 0.3, p0, p1, p2)
    ref = np.array([learning_rate(code, ti, 0.3, p0, p1, p2) for ti in t])
    assert np.allclose(ours, ref, rtol=1e-12, atol=0)


def test_schedule_matches_the_recorded_learning_rate(solved):
    p, r = solved("max_gaussian_bump")                       # gd, inverse_time
    lr = r.history["learning_rate"]
    s = schedule.settings(p, r)
    t, rec = schedule.recorded(r, s)
    assert len(t) == r.iterations
    assert np.allclose(schedule.rates(s["code"], t, s["learning_rate"], *s["params"]), rec,
                       rtol=1e-12)


def test_schedule_figure_for_sgd(solved, tmp_path):
    p, r = solved("linreg_sgd")                              # cosine over 3000 steps
    drawn, img = draw(p, r, tmp_path, "schedule")
    line = drawn.axes["main"].get_lines()[0]
    t, lr = line.get_data()
    assert t[0] == 0 and t[-1] == 2999
    assert lr[0] == pytest.approx(0.05) and lr[-1] == pytest.approx(0.0001, rel=1e-3)
    row, col = drawn.pixel(1500.0, schedule.rates(4, [1500.0], 0.05, 3000, 0.0001, 0)[0])
    assert colour_near(img, row, col, MAGENTA, radius=1)
    assert "cosine" in drawn.axes["main"].get_title()


def test_schedule_needs_no_solve(tmp_path, monkeypatch):
    p = load("max_gaussian_bump")
    monkeypatch.setattr(symgd, "solve", lambda *a, **k: pytest.fail("solved"))
    drawn, _ = draw(p, None, tmp_path, "schedule")
    assert "inverse_time" in drawn.axes["main"].get_title()


def test_schedule_kind_for_a_method_without_one(solved, tmp_path):
    p, r = solved("rosenbrock")                              # newton: no learning rate
    with pytest.raises(InputError, match="learning rate of gd or sgd"):
        symgd.plot.plot(p, r, kind="schedule", out=tmp_path / "s.png")


def test_a_warm_index_problem_is_drawn_from_its_kernels(tmp_path):
    from symgd.problem_interface import INDEXED
    from symgd.warm import solve_file

    path = PROBLEMS / "max_gaussian_bump.yaml"               # maximize: the sign matters
    solve_file(path)                                         # records the file
    light, r = solve_file(path)
    if light.kernel_source != INDEXED:
        pytest.skip("the warm index did not serve this file")
    f_light, f_full = numeric.objective_for(light), numeric.objective_for(load("max_gaussian_bump"))
    assert isinstance(f_light, numeric.CompiledObjective)
    X, Y = np.meshgrid(np.linspace(-1, 2, 30), np.linspace(-2, 1, 30))
    assert np.allclose(f_light([X, Y]), f_full([X, Y]), rtol=1e-12, atol=1e-300)
    assert np.allclose(f_light.hessian([1.0, -0.5]), f_full.hessian([1.0, -0.5]))
    drawn, img = draw(light, r, tmp_path)
    assert drawn.kind == "contour" and "exp(" in drawn.axes["main"].get_title()
    for x, y in np.asarray(r.history["x"])[1:-3]:
        row, col = drawn.pixel(x, y)
        assert colour_near(img, row, col, MAGENTA), (x, y)


# ----------------------------------------------------------------------- view and file
def test_view_box_holds_the_points_and_ignores_a_runaway_path():
    core = [[0.0, 0.0], [1.0, 2.0]]
    box = numeric.view_box(core, [[0.5, 0.5], [1e6, 1e6]])
    assert box[0][0] < 0 < 1 < box[0][1] and box[1][0] < 0 < 2 < box[1][1]
    assert box[0][1] < 10                                      # the runaway iterate is not held
    box = numeric.view_box(core, [[3.0, -1.0]])
    assert box[0][1] > 3 and box[1][0] < -1
    # both bounds finite and near: the whole interval is shown, and not far beyond
    box = numeric.view_box([[0.5, 0.5]], (), [(0.0, 2.0), (None, None)])
    assert box[0][0] < 0 and box[0][1] > 2 and box[0][1] < 2.5


def test_a_path_is_plotted_from_a_file_and_no_temporary_is_left(tmp_path):
    pytest.importorskip("matplotlib")
    out = symgd.plot.plot(PROBLEMS / "booth.yaml", out=tmp_path / "b.png")
    assert Path(out).exists() and read(out).shape == (560, 700, 3)
    assert [q.name for q in tmp_path.iterdir()] == ["b.png"]
