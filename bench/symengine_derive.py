"""sympy against symengine: gradient and Hessian, then common-subexpression elimination,
on objectives the loop templates do not apply to (or before they did).

symengine is not a dependency of symgd; run from a separate environment:

    python3 -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install symengine -e .
    /tmp/benchenv/bin/python bench/symengine_derive.py

sympy's side is symgd.calculus.derive (grouped differentiation) and sympy.cse;
symengine's is its own diff over every entry and symengine.cse. Prints seconds and the
ratio. (The results are not converted back to sympy; that conversion is part of any
integration and is not timed here.)
"""
import time

import symengine as se
import sympy as sp

import symgd
from symgd import calculus

MGH = ["mgh19_osborne2", "mgh35_chebyquad", "mgh20_watson"]


def chained(n):
    xs = sp.symbols(f"x0:{n}", real=True)
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    return symgd.Problem(minimize=f, variables=list(xs), name="cr")


def main():
    probs = [("chained n=200", chained(200))] + [
        (nm, symgd.load(f"tests/data/mgh/{nm}.yaml")) for nm in MGH]
    for name, p in probs:
        f, syms = p.minimized_objective(), p.symbols
        t = time.perf_counter()
        d = calculus.derive(p, hessian=True, budget_s=600)
        t_sp = time.perf_counter() - t
        t = time.perf_counter()
        sp.cse([d.f, *d.grad] + [h for row in d.hess for h in row], optimizations=None)
        t_spcse = time.perf_counter() - t
        t = time.perf_counter()
        F = se.sympify(f)
        S = [se.sympify(s) for s in syms]
        G = [F.diff(s) for s in S]
        H = [[G[i].diff(S[j]) for j in range(len(S))] for i in range(len(S))]
        t_se = time.perf_counter() - t
        t = time.perf_counter()
        se.cse([F, *G] + [h for row in H for h in row])
        t_secse = time.perf_counter() - t
        print(f"{name:16s} sympy derive {t_sp:6.2f}s cse {t_spcse:6.2f}s | symengine diff "
              f"{t_se:6.3f}s cse {t_secse:6.3f}s | ratio "
              f"{(t_sp + t_spcse) / (t_se + t_secse):5.0f}x")


if __name__ == "__main__":
    main()
