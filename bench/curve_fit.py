"""End-to-end fit of y = a exp(-b x) + c to n samples (default 1e6), side by side.

Competitors, from the same start (1.5, 0.5, 0.1), to the same parameters:
  symgd        symgd.solve(problem) (auto -> Levenberg-Marquardt on the generated data
               kernels), standard errors and R² included; timed on a Problem whose kernels
               are already compiled ("warm"), and as a new Problem built and solved each
               round ("new problem": derivation, code generation and a cache hit included)
  scipy        scipy.optimize.curve_fit with the analytic Jacobian (jac=...), method lm
               (MINPACK), and with its default finite differences
  lmfit        lmfit.Model(...).fit, if lmfit is installed

Target (the data-fitting issue): symgd >= 3x faster than curve_fit with the analytic
Jacobian, to the same parameters. Prints medians over interleaved rounds and ratios.

Run: python bench/curve_fit.py [n] [threads]        (default 1e6 samples, 2 threads)
"""
from __future__ import annotations

import sys

import numba
import numpy as np
import sympy as sp

import symgd
import symgd.fit.parallel  # noqa: F401  (sets OMP_WAIT_POLICY before numba starts its threads)
from interleave import interleaved_ms  # bench/interleave.py (the script's own folder)

N = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
ROUNDS = 9
P0 = (1.5, 0.5, 0.1)
TRUE = (2.0, 0.7, 0.5)


def make_data(n):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 5.0, n)
    y = TRUE[0] * np.exp(-TRUE[1] * x) + TRUE[2] + 0.05 * rng.standard_normal(n)
    return x, y


def model(x, a, b, c):
    return a * np.exp(-b * x) + c


def jac(x, a, b, c):
    e = np.exp(-b * x)
    return np.column_stack([e, -a * x * e, np.ones_like(x)])


def problem(x, y):
    a, b, c, X, Y = sp.symbols("a b c x y")
    return symgd.Problem(model=a * sp.exp(-b * X) + c, target=Y, loss="mse",
                         data={"x": x, "y": y}, variables={a: P0[0], b: P0[1], c: P0[2]})


def main():
    from scipy.optimize import curve_fit

    numba.set_num_threads(THREADS)
    x, y = make_data(N)
    warm = problem(x, y)
    r = symgd.solve(warm)  # compile (or load) the kernels once
    assert r.status == "converged", r
    popt, pcov = curve_fit(model, x, y, p0=P0, jac=jac)
    np.testing.assert_allclose(r.x, popt, rtol=1e-7)
    np.testing.assert_allclose([r.extra["stderr"][n] for n in "abc"],
                               np.sqrt(np.diag(pcov)), rtol=1e-4)
    comps = {
        "symgd solve (warm problem)": lambda: symgd.solve(warm).x,
        "symgd new problem + solve": lambda: symgd.solve(problem(x, y)).x,
        "curve_fit (analytic jac)": lambda: curve_fit(model, x, y, p0=P0, jac=jac)[0],
        "curve_fit (finite diff.)": lambda: curve_fit(model, x, y, p0=P0)[0],
    }
    try:
        import lmfit
        lm_model = lmfit.Model(model)
        params = lm_model.make_params(a=P0[0], b=P0[1], c=P0[2])
        comps["lmfit Model.fit"] = lambda: np.array(
            [lm_model.fit(y, params, x=x).params[k].value for k in "abc"])
    except ImportError:
        print("  lmfit: skipped (not installed)")
    for name, fn in comps.items():
        np.testing.assert_allclose(fn(), popt, rtol=1e-6, err_msg=name)
    med, best = interleaved_ms(comps, ROUNDS, 0.05)
    print(f"fit a*exp(-b*x) + c, n = {N:.0e}, numba threads = {numba.get_num_threads()}; "
          f"symgd: {r.iterations} iterations, {r.evaluations}; median of {ROUNDS} rounds")
    print(f"  parameters {np.round(r.x, 8).tolist()} (curve_fit {np.round(popt, 8).tolist()})")
    base = med["symgd solve (warm problem)"]
    for name, ms in med.items():
        print(f"  {name:<30} {ms:9.2f} ms   ({ms / base:.2f}x symgd warm)   "
              f"min {best[name]:8.2f} ms")
    print(f"curve_fit(jac) / symgd warm = {med['curve_fit (analytic jac)'] / base:.1f} "
          f"(target >= 3); / symgd new problem = "
          f"{med['curve_fit (analytic jac)'] / med['symgd new problem + solve']:.1f}")


if __name__ == "__main__":
    main()
