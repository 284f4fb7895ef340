"""The Moré-Garbow-Hillstrom problem files (tests/data/mgh) against an independent numpy
transcription of the same 35 problems (MGH 1981, ACM TOMS 7(1) 17-41).

For every file: it loads, its variables and starts are the standard ones, f at the
standard start equals the numpy sum of squares (and the paper's f(x0) where the
paper gives it), and where a minimiser is known exactly, f there equals f* from
reference.yaml. Every file's objective is compiled once with sympy.lambdify.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import yaml

import symgd

DATA = Path(__file__).parent / "data" / "mgh"
REFERENCE = yaml.safe_load((DATA / "reference.yaml").read_text(encoding="utf-8"))


# -- the residual vectors, in numpy ---------------------------------------------------------
def rosenbrock(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def freudenstein_roth(x):
    a, b = x
    return np.array([a - 13 + b * (b * (5 - b) - 2), a - 29 + b * (b * (1 + b) - 14)])


def powell_badly_scaled(x):
    return np.array([1e4 * x[0] * x[1] - 1, np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])


def brown_badly_scaled(x):
    return np.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


def beale(x):
    i = np.arange(1, 4)
    return np.array([1.5, 2.25, 2.625]) - x[0] * (1 - x[1] ** i)


def jennrich_sampson(x):
    i = np.arange(1, 11)
    return 2 + 2 * i - np.exp(i * x[0]) - np.exp(i * x[1])


def helical_valley(x):
    theta = np.arctan(x[1] / x[0]) / (2 * np.pi) + (0.5 if x[0] < 0 else 0.0)
    return np.array([10 * (x[2] - 10 * theta), 10 * (np.hypot(x[0], x[1]) - 1), x[2]])


def bard(x):
    y = np.array([.14, .18, .22, .25, .29, .32, .35, .39, .37, .58, .73, .96, 1.34, 2.10,
                  4.39])
    u = np.arange(1.0, 16.0)
    v = 16 - u
    return y - (x[0] + u / (v * x[1] + np.minimum(u, v) * x[2]))


def gaussian(x):
    y = np.array([9, 44, 175, 540, 1295, 2420, 3521, 3989, 3521, 2420, 1295, 540, 175, 44,
                  9]) / 1e4
    t = (8 - np.arange(1, 16)) / 2
    return x[0] * np.exp(-x[1] * (t - x[2]) ** 2 / 2) - y


def meyer(x):
    y = np.array([34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005,
                  5147, 4427, 3820, 3307, 2872], dtype=float)
    t = 45 + 5 * np.arange(1, 17)
    return x[0] * np.exp(x[1] / (t + x[2])) - y


def gulf(x, m=99):
    t = np.arange(1, m + 1) / 100
    y = 25 + np.cbrt((-50 * np.log(t)) ** 2)
    return np.exp(-np.abs(y - x[1]) ** x[2] / x[0]) - t


def box3d(x, m=10):
    t = np.arange(1, m + 1) / 10
    return (np.exp(-t * x[0]) - np.exp(-t * x[1])
            - x[2] * (np.exp(-t) - np.exp(-10 * t)))


def powell_singular(x):
    return np.array([x[0] + 10 * x[1], math.sqrt(5) * (x[2] - x[3]),
                     (x[1] - 2 * x[2]) ** 2, math.sqrt(10) * (x[0] - x[3]) ** 2])


def wood(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0], math.sqrt(90) * (x[3] - x[2] ** 2),
                     1 - x[2], math.sqrt(10) * (x[1] + x[3] - 2),
                     (x[1] - x[3]) / math.sqrt(10)])


def kowalik_osborne(x):
    y = np.array([1957, 1947, 1735, 1600, 844, 627, 456, 342, 323, 235, 246]) / 1e4
    u = np.array([4, 2, 1, .5, .25, .167, .125, .1, .0833, .0714, .0625])
    return y - x[0] * u * (u + x[1]) / (u * (u + x[2]) + x[3])


def brown_dennis(x, m=20):
    t = np.arange(1, m + 1) / 5
    return ((x[0] + t * x[1] - np.exp(t)) ** 2
            + (x[2] + x[3] * np.sin(t) - np.cos(t)) ** 2)


def osborne1(x):
    y = np.array([844, 908, 932, 936, 925, 908, 881, 850, 818, 784, 751, 718, 685, 658,
                  628, 603, 580, 558, 538, 522, 506, 490, 478, 467, 457, 448, 438, 431,
                  424, 420, 414, 411, 406]) / 1e3
    t = 10.0 * np.arange(33)
    return y - (x[0] + x[1] * np.exp(-t * x[3]) + x[2] * np.exp(-t * x[4]))


def biggs_exp6(x, m=13):
    t = np.arange(1, m + 1) / 10
    y = np.exp(-t) - 5 * np.exp(-10 * t) + 3 * np.exp(-4 * t)
    return (x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1])
            + x[5] * np.exp(-t * x[4]) - y)


def osborne2(x):
    y = np.array([1366, 1191, 1112, 1013, 991, 885, 831, 847, 786, 725, 746, 679, 608,
                  655, 616, 606, 602, 626, 651, 724, 649, 649, 694, 644, 624, 661, 612,
                  558, 533, 495, 500, 423, 395, 375, 372, 391, 396, 405, 428, 429, 523,
                  562, 607, 653, 672, 708, 633, 668, 645, 632, 591, 559, 597, 625, 739,
                  710, 729, 720, 636, 581, 428, 292, 162, 98, 54]) / 1e3
    t = np.arange(65) / 10
    model = x[0] * np.exp(-t * x[4])
    for k in range(3):  # three Gaussian bumps: heights x2..x4, widths x6..x8, centres x9..x11
        model = model + x[1 + k] * np.exp(-(t - x[8 + k]) ** 2 * x[5 + k])
    return y - model


def watson(x):
    n = len(x)
    t = np.arange(1, 30) / 29
    powers = t[:, None] ** np.arange(n)  # t**(j-1), j = 1..n
    deriv = (powers[:, :-1] * np.arange(1, n)) @ x[1:]
    value = powers @ x
    return np.concatenate([deriv - value ** 2 - 1, [x[0], x[1] - x[0] ** 2 - 1]])


def extended_rosenbrock(x):
    odd, even = x[0::2], x[1::2]
    return np.column_stack([10 * (even - odd ** 2), 1 - odd]).ravel()


def extended_powell_singular(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return np.column_stack([a + 10 * b, math.sqrt(5) * (c - d), (b - 2 * c) ** 2,
                            math.sqrt(10) * (a - d) ** 2]).ravel()


def penalty1(x):
    return np.append(math.sqrt(1e-5) * (x - 1), x @ x - 0.25)


def penalty2(x):
    n = len(x)
    a = math.sqrt(1e-5)
    i = np.arange(2, n + 1)
    y = np.exp(i / 10) + np.exp((i - 1) / 10)
    mid = a * (np.exp(x[1:] / 10) + np.exp(x[:-1] / 10) - y)
    tail = a * (np.exp(x[1:] / 10) - np.exp(-0.1))
    last = np.arange(n, 0, -1) @ x ** 2 - 1
    return np.concatenate([[x[0] - 0.2], mid, tail, [last]])


def variably_dimensioned(x):
    s = np.arange(1, len(x) + 1) @ (x - 1)
    return np.concatenate([x - 1, [s, s * s]])


def trigonometric(x):
    n = len(x)
    return n - np.cos(x).sum() + np.arange(1, n + 1) * (1 - np.cos(x)) - np.sin(x)


def brown_almost_linear(x):
    n = len(x)
    return np.append(x[:-1] + x.sum() - (n + 1), np.prod(x) - 1)


def _grid(n):
    h = 1 / (n + 1)
    return h, h * np.arange(1, n + 1)


def discrete_boundary_value(x):
    h, t = _grid(len(x))
    padded = np.concatenate([[0.0], x, [0.0]])
    return 2 * x - padded[:-2] - padded[2:] + h * h * (x + t + 1) ** 3 / 2


def discrete_integral_equation(x):
    n = len(x)
    h, t = _grid(n)
    cube = (x + t + 1) ** 3
    kernel = np.where(np.arange(n)[None, :] <= np.arange(n)[:, None],
                      (1 - t)[:, None] * t[None, :], t[:, None] * (1 - t)[None, :])
    return x + h / 2 * kernel @ cube


def broyden_tridiagonal(x):
    padded = np.concatenate([[0.0], x, [0.0]])
    return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1


def broyden_banded(x, ml=5, mu=1):
    n = len(x)
    out = np.empty(n)
    for i in range(n):
        band = [j for j in range(max(0, i - ml), min(n - 1, i + mu) + 1) if j != i]
        out[i] = x[i] * (2 + 5 * x[i] ** 2) + 1 - sum(x[j] * (1 + x[j]) for j in band)
    return out


def linear_full_rank(x, m=10):
    n = len(x)
    a = np.eye(m, n) - 2.0 / m
    return a @ x - 1


def linear_rank1(x, m=10):
    return np.arange(1, m + 1) * (np.arange(1, len(x) + 1) @ x) - 1


def linear_rank1_zero(x, m=10):
    n = len(x)
    s = np.arange(2, n) @ x[1:-1]
    rows = np.concatenate([[0], np.arange(1, m - 1), [0]])
    return rows * s - 1


def chebyquad(x):
    n = len(x)
    y = 2 * x - 1
    t_prev, t_cur = np.ones(n), y.copy()
    out = []
    for i in range(1, n + 1):
        integral = 0.0 if i % 2 else -1.0 / (i * i - 1)
        out.append(t_cur.mean() - integral)
        t_prev, t_cur = t_cur, 2 * y * t_cur - t_prev
    return np.array(out)


# number: (residuals, standard start, f(x0) as the paper prints it or None)
NUMPY = {
    1: (rosenbrock, [-1.2, 1], 24.2),
    2: (freudenstein_roth, [0.5, -2], 400.5),
    3: (powell_badly_scaled, [0, 1], None),
    4: (brown_badly_scaled, [1, 1], None),
    5: (beale, [1, 1], None),
    6: (jennrich_sampson, [0.3, 0.4], None),
    7: (helical_valley, [-1, 0, 0], 2500.0),
    8: (bard, [1, 1, 1], None),
    9: (gaussian, [0.4, 1, 0], None),
    10: (meyer, [0.02, 4000, 250], None),
    11: (gulf, [5, 2.5, 0.15], None),
    12: (box3d, [0, 10, 20], None),
    13: (powell_singular, [3, -1, 0, 1], 215.0),
    14: (wood, [-3, -1, -3, -1], 19192.0),
    15: (kowalik_osborne, [0.25, 0.39, 0.415, 0.39], None),
    16: (brown_dennis, [25, 5, -5, -1], None),
    17: (osborne1, [0.5, 1.5, -1, 0.01, 0.02], None),
    18: (biggs_exp6, [1, 2, 1, 1, 1, 1], None),
    19: (osborne2, [1.3, 0.65, 0.65, 0.7, 0.6, 3, 5, 7, 2, 4.5, 5.5], None),
    20: (watson, [0] * 6, 30.0),
    21: (extended_rosenbrock, [-1.2, 1] * 5, 121.0),
    22: (extended_powell_singular, [3, -1, 0, 1] * 3, 645.0),
    23: (penalty1, list(range(1, 11)), None),
    24: (penalty2, [0.5] * 10, None),
    25: (variably_dimensioned, [1 - j / 10 for j in range(1, 11)], None),
    26: (trigonometric, [0.1] * 10, None),
    27: (brown_almost_linear, [0.5] * 10, None),
    28: (discrete_boundary_value, [t * (t - 1) for t in _grid(10)[1]], None),
    29: (discrete_integral_equation, [t * (t - 1) for t in _grid(10)[1]], None),
    30: (broyden_tridiagonal, [-1] * 10, None),
    31: (broyden_banded, [-1] * 10, None),
    32: (linear_full_rank, [1] * 5, None),
    33: (linear_rank1, [1] * 5, None),
    34: (linear_rank1_zero, [1] * 5, None),
    35: (chebyquad, [j / 9 for j in range(1, 9)], None),
}


def numpy_f(number, x):
    r = NUMPY[number][0](np.asarray(x, dtype=float))
    return float(r @ r)


# -- the files ------------------------------------------------------------------------------
FILES = sorted(DATA.glob("mgh*.yaml"))
NUMBER = {int(p.name[3:5]): p for p in FILES}


def test_all_35_problems_have_a_file_and_a_reference():
    assert sorted(NUMBER) == list(range(1, 36))
    assert len(FILES) == 35
    assert sorted(REFERENCE) == sorted(p.stem for p in FILES)


_COMPILED: dict = {}


def compiled(number):
    """(problem, f as a numpy function of a vector), once per file."""
    if number not in _COMPILED:
        problem = symgd.load(NUMBER[number])
        fn = sp.lambdify(problem.symbols, problem.objective, "numpy")
        _COMPILED[number] = problem, (lambda x, fn=fn: float(fn(*x)))
    return _COMPILED[number]


@pytest.mark.parametrize("number", range(1, 36))
def test_file_matches_numpy_at_the_standard_start(number):
    problem, f = compiled(number)
    residuals, x0, paper_f0 = NUMPY[number]
    ref = REFERENCE[NUMBER[number].stem]
    assert problem.name == NUMBER[number].stem
    assert problem.method is None and not problem.options
    assert [s.name for s in problem.symbols] == [f"x{j}" for j in range(1, ref["n"] + 1)]
    np.testing.assert_array_equal(problem.start, np.asarray(x0, dtype=float))
    assert len(residuals(np.asarray(x0, dtype=float))) == ref["m"]
    assert f(x0) == pytest.approx(numpy_f(number, x0), rel=1e-12)
    if paper_f0 is not None:
        assert f(x0) == pytest.approx(paper_f0, rel=1e-12)


@pytest.mark.parametrize("number", range(1, 36))
def test_file_matches_numpy_away_from_the_start(number):
    """A second point, so that residuals that vanish at x0 are compared too."""
    problem, f = compiled(number)
    x0 = np.asarray(NUMPY[number][1], dtype=float)
    rng = np.random.default_rng(number)
    x = x0 + 0.1 * (1 + np.abs(x0)) * rng.uniform(-1, 1, size=x0.size)
    assert f(x) == pytest.approx(numpy_f(number, x), rel=1e-11)


WITH_X_STAR = sorted(n for n in NUMPY if REFERENCE[NUMBER[n].stem].get("x_star"))


@pytest.mark.parametrize("number", WITH_X_STAR)
def test_f_at_the_known_minimiser_is_f_star(number):
    problem, f = compiled(number)
    ref = REFERENCE[NUMBER[number].stem]
    x_star = [float(v) for v in ref["x_star"]]
    f_star = float(ref["f_star"])
    # Exact minimisers give f* to rounding; the file and numpy agree there too.
    assert f(x_star) == pytest.approx(f_star, rel=1e-9, abs=1e-12)
    assert numpy_f(number, x_star) == pytest.approx(f_star, rel=1e-9, abs=1e-12)


def truncated_to_printed_digits(value: float, printed: float) -> bool:
    """Whether ``value`` truncated to six significant digits is ``printed`` (the paper
    prints f truncated, not rounded: Meyer's 87.945855... appears as 87.9458)."""
    unit = 10.0 ** (math.floor(math.log10(abs(printed))) - 5)
    return printed - 1e-9 * unit <= value < printed + unit


COMPUTED = sorted(n for n in NUMPY if REFERENCE[NUMBER[n].stem].get("x_computed"))


@pytest.mark.parametrize("number", COMPUTED)
def test_f_at_the_computed_minimiser_gives_the_published_digits(number):
    """Where f* is published to six digits, f at a computed minimiser (reference.yaml)
    reproduces those digits: this checks the data constants (Bard, Meyer, Osborne, ...)."""
    problem, f = compiled(number)
    ref = REFERENCE[NUMBER[number].stem]
    x = [float(v) for v in ref["x_computed"]]
    assert truncated_to_printed_digits(f(x), float(ref["f_star"])), f(x)
    assert truncated_to_printed_digits(numpy_f(number, x), float(ref["f_star"]))


LOCAL = [(n, k) for n in sorted(NUMPY)
         for k in range(len(REFERENCE[NUMBER[n].stem].get("local_points", [])))]


@pytest.mark.parametrize("number, k", LOCAL)
def test_f_at_a_published_local_point_gives_f_local(number, k):
    problem, f = compiled(number)
    ref = REFERENCE[NUMBER[number].stem]
    point = ref["local_points"][k]
    assert float(point["f"]) in [float(v) for v in ref["f_local"]]
    assert truncated_to_printed_digits(f([float(v) for v in point["x"]]), float(point["f"]))
