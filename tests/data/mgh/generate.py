"""Writes the Moré-Garbow-Hillstrom problem files (mghNN_<name>.yaml) in this folder.

Source: J. J. Moré, B. S. Garbow, K. E. Hillstrom, "Testing Unconstrained Optimization
Software", ACM TOMS 7(1), 1981, 17-41. Each problem is f = sum_i r_i(x)**2; the files
spell every residual out (data constants as numbers) and square it.

Run from anywhere: ``python tests/data/mgh/generate.py`` rewrites the YAML files next to
this script (the tests read the YAML files, not this script). reference.yaml is
written by hand.
"""
from __future__ import annotations

import math
from pathlib import Path

HERE = Path(__file__).resolve().parent


def num(v) -> str:
    """A number as expression text: integers plainly, floats by their shortest repr."""
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def x(j: int) -> str:
    return f"x{j}"


PROBLEMS = []


def problem(number, short, title, fstar_text):
    def deco(fn):
        PROBLEMS.append((number, short, title, fstar_text, fn))
        return fn
    return deco


@problem(1, "rosenbrock", "Rosenbrock", "0")
def p01():
    return [-1.2, 1], ["10*(x2 - x1**2)", "1 - x1"]


@problem(2, "freudenstein_roth", "Freudenstein and Roth",
         "0 at (5, 4); local minimum 48.9842 at (11.41, -0.8968)")
def p02():
    return [0.5, -2], ["-13 + x1 + ((5 - x2)*x2 - 2)*x2",
                       "-29 + x1 + ((x2 + 1)*x2 - 14)*x2"]


@problem(3, "powell_badly_scaled", "Powell badly scaled", "0 at (1.098e-5, 9.106)")
def p03():
    return [0, 1], ["10000*x1*x2 - 1", "exp(-x1) + exp(-x2) - 1.0001"]


@problem(4, "brown_badly_scaled", "Brown badly scaled", "0 at (1e6, 2e-6)")
def p04():
    return [1, 1], ["x1 - 1000000", "x2 - 2e-06", "x1*x2 - 2"]


@problem(5, "beale", "Beale", "0 at (3, 0.5)")
def p05():
    y = [1.5, 2.25, 2.625]
    return [1, 1], [f"{num(y[i - 1])} - x1*(1 - x2**{i})" for i in (1, 2, 3)]


@problem(6, "jennrich_sampson", "Jennrich and Sampson",
         "124.362 at x1 = x2 = 0.2578 (m = 10)")
def p06():
    return [0.3, 0.4], [f"{2 + 2 * i} - (exp({i}*x1) + exp({i}*x2))" for i in range(1, 11)]


@problem(7, "helical_valley", "Helical valley", "0 at (1, 0, 0)")
def p07():
    # theta = atan(x2/x1)/(2 pi) for x1 > 0 and that plus 1/2 for x1 < 0.
    theta = "(atan(x2/x1)/(2*pi) + (1 - sign(x1))/4)"
    return [-1, 0, 0], [f"10*(x3 - 10*{theta})", "10*(sqrt(x1**2 + x2**2) - 1)", "x3"]


BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34,
          2.10, 4.39]


@problem(8, "bard", "Bard", "8.21487e-3; also 17.4286 at (0.8406, -inf, -inf)")
def p08():
    res = []
    for i in range(1, 16):
        u, v = i, 16 - i
        w = min(u, v)
        res.append(f"{num(BARD_Y[i - 1])} - (x1 + {u}/({v}*x2 + {w}*x3))")
    return [1, 1, 1], res


GAUSS_Y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521, 0.2420,
           0.1295, 0.0540, 0.0175, 0.0044, 0.0009]


@problem(9, "gaussian", "Gaussian", "1.12793e-8")
def p09():
    res = []
    for i in range(1, 16):
        t = (8 - i) / 2
        res.append(f"x1*exp(-x2*({num(t)} - x3)**2/2) - {num(GAUSS_Y[i - 1])}")
    return [0.4, 1, 0], res


MEYER_Y = [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005, 5147,
           4427, 3820, 3307, 2872]


@problem(10, "meyer", "Meyer", "87.9458")
def p10():
    return [0.02, 4000, 250], [f"x1*exp(x2/({45 + 5 * i} + x3)) - {MEYER_Y[i - 1]}"
                               for i in range(1, 17)]


@problem(11, "gulf", "Gulf research and development", "0 at (50, 25, 1.5)")
def p11():
    res = []
    for i in range(1, 100):
        t = i / 100
        y = 25 + (-50 * math.log(t)) ** (2 / 3)
        res.append(f"exp(-Abs({num(y)} - x2)**x3/x1) - {num(t)}")
    return [5, 2.5, 0.15], res


@problem(12, "box3d", "Box three-dimensional",
         "0 at (1, 10, 1), (10, 1, -1) and wherever x1 = x2, x3 = 0")
def p12():
    res = []
    for i in range(1, 11):
        t = 0.1 * i
        c = math.exp(-t) - math.exp(-10 * t)
        res.append(f"exp(-{num(t)}*x1) - exp(-{num(t)}*x2) - {num(c)}*x3")
    return [0, 10, 20], res


@problem(13, "powell_singular", "Powell singular", "0 at the origin")
def p13():
    return [3, -1, 0, 1], ["x1 + 10*x2", "sqrt(5)*(x3 - x4)", "(x2 - 2*x3)**2",
                           "sqrt(10)*(x1 - x4)**2"]


@problem(14, "wood", "Wood", "0 at (1, 1, 1, 1)")
def p14():
    return [-3, -1, -3, -1], ["10*(x2 - x1**2)", "1 - x1", "sqrt(90)*(x4 - x3**2)",
                              "1 - x3", "sqrt(10)*(x2 + x4 - 2)", "(x2 - x4)/sqrt(10)"]


KO_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235,
        0.0246]
KO_U = [4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]


@problem(15, "kowalik_osborne", "Kowalik and Osborne",
         "3.07505e-4; also 1.02734e-3 at (+inf, -14.07, -inf, -inf)")
def p15():
    res = []
    for y, u in zip(KO_Y, KO_U):
        u2 = num(u * u)
        res.append(f"{num(y)} - x1*({u2} + {num(u)}*x2)/({u2} + {num(u)}*x3 + x4)")
    return [0.25, 0.39, 0.415, 0.39], res


@problem(16, "brown_dennis", "Brown and Dennis", "85822.2 (m = 20)")
def p16():
    res = []
    for i in range(1, 21):
        t = i / 5
        res.append(f"(x1 + {num(t)}*x2 - {num(math.exp(t))})**2 + "
                   f"(x3 + {num(math.sin(t))}*x4 - ({num(math.cos(t))}))**2")
    return [25, 5, -5, -1], res


OSB1_Y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
          0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
          0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]


@problem(17, "osborne1", "Osborne 1", "5.46489e-5")
def p17():
    res = []
    for i in range(1, 34):
        t = 10 * (i - 1)
        res.append(f"{num(OSB1_Y[i - 1])} - (x1 + x2*exp(-{t}*x4) + x3*exp(-{t}*x5))")
    return [0.5, 1.5, -1, 0.01, 0.02], res


@problem(18, "biggs_exp6", "Biggs EXP6",
         "5.65565e-3 (m = 13); also 0 at (1, 10, 1, 5, 4, 3)")
def p18():
    res = []
    for i in range(1, 14):
        t = 0.1 * i
        y = math.exp(-t) - 5 * math.exp(-10 * t) + 3 * math.exp(-4 * t)
        tt = num(t)
        res.append(f"x3*exp(-{tt}*x1) - x4*exp(-{tt}*x2) + x6*exp(-{tt}*x5) - {num(y)}")
    return [1, 2, 1, 1, 1, 1], res


OSB2_Y = [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746,
          0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649,
          0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395,
          0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653,
          0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739,
          0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054]


@problem(19, "osborne2", "Osborne 2", "4.01377e-2")
def p19():
    res = []
    for i in range(1, 66):
        t = num((i - 1) / 10)
        res.append(f"{num(OSB2_Y[i - 1])} - (x1*exp(-{t}*x5)"
                   f" + x2*exp(-({t} - x9)**2*x6)"
                   f" + x3*exp(-({t} - x10)**2*x7)"
                   f" + x4*exp(-({t} - x11)**2*x8))")
    return [1.3, 0.65, 0.65, 0.7, 0.6, 3, 5, 7, 2, 4.5, 5.5], res


WATSON_N = 6


@problem(20, "watson", "Watson", "2.28767e-3 (n = 6)")
def p20():
    n = WATSON_N
    res = []
    for i in range(1, 30):
        t = i / 29
        first = " + ".join(f"{num((j - 1) * t ** (j - 2))}*x{j}" for j in range(2, n + 1))
        second = " + ".join(f"{num(t ** (j - 1))}*x{j}" for j in range(1, n + 1))
        res.append(f"{first} - ({second})**2 - 1")
    res += ["x1", "x2 - x1**2 - 1"]
    return [0] * n, res


@problem(21, "extended_rosenbrock", "Extended Rosenbrock", "0 at (1, ..., 1)")
def p21():
    n = 10
    res = []
    for i in range(1, n // 2 + 1):
        a, b = x(2 * i - 1), x(2 * i)
        res += [f"10*({b} - {a}**2)", f"1 - {a}"]
    return [-1.2, 1] * (n // 2), res


@problem(22, "extended_powell_singular", "Extended Powell singular", "0 at the origin")
def p22():
    n = 12
    res = []
    for i in range(1, n // 4 + 1):
        a, b, c, d = (x(4 * i - k) for k in (3, 2, 1, 0))
        res += [f"{a} + 10*{b}", f"sqrt(5)*({c} - {d})", f"({b} - 2*{c})**2",
                f"sqrt(10)*({a} - {d})**2"]
    return [3, -1, 0, 1] * (n // 4), res


@problem(23, "penalty1", "Penalty I", "7.08765e-5 (n = 10)")
def p23():
    n = 10
    res = [f"sqrt(0.00001)*(x{j} - 1)" for j in range(1, n + 1)]
    res.append(" + ".join(f"x{j}**2" for j in range(1, n + 1)) + " - 0.25")
    return list(range(1, n + 1)), res


@problem(24, "penalty2", "Penalty II", "2.93660e-4 (n = 10)")
def p24():
    n = 10
    res = ["x1 - 0.2"]
    for i in range(2, n + 1):
        y = math.exp(i / 10) + math.exp((i - 1) / 10)
        res.append(f"sqrt(0.00001)*(exp(x{i}/10) + exp(x{i - 1}/10) - {num(y)})")
    for i in range(n + 1, 2 * n):
        res.append(f"sqrt(0.00001)*(exp(x{i - n + 1}/10) - {num(math.exp(-0.1))})")
    res.append(" + ".join(f"{n - j + 1}*x{j}**2" for j in range(1, n + 1)) + " - 1")
    return [0.5] * n, res


@problem(25, "variably_dimensioned", "Variably dimensioned", "0 at (1, ..., 1)")
def p25():
    n = 10
    s = " + ".join(f"{j}*(x{j} - 1)" for j in range(1, n + 1))
    res = [f"x{j} - 1" for j in range(1, n + 1)] + [s, f"({s})**2"]
    return [1 - j / n for j in range(1, n + 1)], res


@problem(26, "trigonometric", "Trigonometric", "0")
def p26():
    n = 10
    cs = " + ".join(f"cos(x{j})" for j in range(1, n + 1))
    res = [f"{n} - ({cs}) + {i}*(1 - cos(x{i})) - sin(x{i})" for i in range(1, n + 1)]
    return [1 / n] * n, res


@problem(27, "brown_almost_linear", "Brown almost-linear",
         "0 at (a, ..., a, a**(1-n)) with n*a**n - (n+1)*a**(n-1) + 1 = 0, e.g. (1, ..., 1);"
         " also 1 at (0, ..., 0, n+1)")
def p27():
    n = 10
    s = " + ".join(x(j) for j in range(1, n + 1))
    res = [f"x{i} + {s} - {n + 1}" for i in range(1, n)]
    res.append("*".join(x(j) for j in range(1, n + 1)) + " - 1")
    return [0.5] * n, res


def _grid(n):
    h = 1 / (n + 1)
    return h, [j * h for j in range(1, n + 1)]


@problem(28, "discrete_boundary_value", "Discrete boundary value", "0")
def p28():
    n = 10
    h, t = _grid(n)
    res = []
    for i in range(1, n + 1):
        left = f" - x{i - 1}" if i > 1 else ""
        right = f" - x{i + 1}" if i < n else ""
        res.append(f"2*x{i}{left}{right} + {num(h * h / 2)}*(x{i} + {num(t[i - 1] + 1)})**3")
    return [tj * (tj - 1) for tj in t], res


@problem(29, "discrete_integral_equation", "Discrete integral equation", "0")
def p29():
    n = 10
    h, t = _grid(n)
    res = []
    for i in range(1, n + 1):
        ti = t[i - 1]
        terms = []
        for j in range(1, n + 1):
            tj = t[j - 1]
            w = (1 - ti) * tj if j <= i else ti * (1 - tj)
            terms.append(f"{num(h / 2 * w)}*(x{j} + {num(tj + 1)})**3")
        res.append(f"x{i} + " + " + ".join(terms))
    return [tj * (tj - 1) for tj in t], res


@problem(30, "broyden_tridiagonal", "Broyden tridiagonal", "0")
def p30():
    n = 10
    res = []
    for i in range(1, n + 1):
        left = f" - x{i - 1}" if i > 1 else ""
        right = f" - 2*x{i + 1}" if i < n else ""
        res.append(f"(3 - 2*x{i})*x{i}{left}{right} + 1")
    return [-1] * n, res


@problem(31, "broyden_banded", "Broyden banded", "0")
def p31():
    n, ml, mu = 10, 5, 1
    res = []
    for i in range(1, n + 1):
        band = [j for j in range(max(1, i - ml), min(n, i + mu) + 1) if j != i]
        s = " + ".join(f"x{j}*(1 + x{j})" for j in band)
        res.append(f"x{i}*(2 + 5*x{i}**2) + 1 - ({s})")
    return [-1] * n, res


LIN_N, LIN_M = 5, 10


@problem(32, "linear_full_rank", "Linear function - full rank",
         f"m - n = {LIN_M - LIN_N} at (-1, ..., -1)")
def p32():
    n, m = LIN_N, LIN_M
    s = " + ".join(x(j) for j in range(1, n + 1))
    res = [f"x{i} - 2*({s})/{m} - 1" for i in range(1, n + 1)]
    res += [f"-2*({s})/{m} - 1" for _ in range(n + 1, m + 1)]
    return [1] * n, res


@problem(33, "linear_rank1", "Linear function - rank 1",
         "m(m-1)/(2(2m+1)) = 45/21 wherever sum_j j*x_j = 3/(2m+1)")
def p33():
    n, m = LIN_N, LIN_M
    s = " + ".join(f"{j}*x{j}" for j in range(1, n + 1))
    return [1] * n, [f"{i}*({s}) - 1" for i in range(1, m + 1)]


@problem(34, "linear_rank1_zero", "Linear function - rank 1 with zero columns and rows",
         "(m**2 + 3m - 6)/(2(2m - 3)) = 62/17")
def p34():
    n, m = LIN_N, LIN_M
    s = " + ".join(f"{j}*x{j}" for j in range(2, n))
    res = ["-1"] + [f"{i - 1}*({s}) - 1" for i in range(2, m)] + ["-1"]
    return [1] * n, res


def shifted_chebyshev(k: int) -> list[int]:
    """Integer coefficients c_0..c_k of T_k(y) (the Chebyshev polynomial, y = 2x - 1)."""
    a, b = [1], [0, 1]
    if k == 0:
        return a
    for _ in range(k - 1):
        nxt = [0] * (len(b) + 1)
        for p, c in enumerate(b):
            nxt[p + 1] += 2 * c
        for p, c in enumerate(a):
            nxt[p] -= c
        a, b = b, nxt
    return b


CHEB_N = 8


@problem(35, "chebyquad", "Chebyquad", "3.51687e-3 (n = m = 8)")
def p35():
    n = m = CHEB_N
    res = []
    for i in range(1, m + 1):
        coef = shifted_chebyshev(i)
        polys = []
        for j in range(1, n + 1):
            y = f"(2*x{j} - 1)"
            terms = [f"{c}*{y}**{p}" if p > 1 else (f"{c}*{y}" if p == 1 else str(c))
                     for p, c in enumerate(coef) if c]
            polys.append("(" + " + ".join(terms).replace("+ -", "- ") + ")")
        integral = 0.0 if i % 2 else -1 / (i * i - 1)
        # T_i integrated over [0, 1] is 0 (i odd) or -1/(i**2 - 1) (i even).
        rest = f" + 1/{i * i - 1}" if i % 2 == 0 else ""
        assert integral == 0 or rest
        res.append(f"({' + '.join(polys)})/{n}{rest}")
    return [j / (n + 1) for j in range(1, n + 1)], res


def yaml_text(number, short, title, fstar_text, fn) -> str:
    x0, res = fn()
    n, m = len(x0), len(res)
    name = f"mgh{number:02d}_{short}"
    lines = [f"name: {name}",
             f"description: Moré-Garbow-Hillstrom {number}, {title} (n={n}, m={m}). "
             f"Published f* = {fstar_text}.",
             "variables:"]
    lines += [f"  x{j}: {{start: {num(v)}}}" for j, v in enumerate(x0, start=1)]
    lines.append("minimize: >-")
    for k, r in enumerate(res):
        lines.append(f"  {'' if k == 0 else '+ '}({r})**2")
    return "\n".join(lines) + "\n"


def main() -> None:
    for number, short, title, fstar_text, fn in PROBLEMS:
        path = HERE / f"mgh{number:02d}_{short}.yaml"
        path.write_text(yaml_text(number, short, title, fstar_text, fn), encoding="utf-8")
        print(path.name)


if __name__ == "__main__":
    main()
