"""Exact line search for polynomial objectives: the minimiser of phi(a) = f(x + a d).

The problem's ``line_poly`` kernel (symgd.kernelgen.codegen) writes the coefficients
c_0..c_D of phi. The step is the global minimiser of phi on [0, a_max] (a_max: where d
meets a bound, or infinity). It lies at a = 0, a = a_max, or a real root of phi'; the
roots are isolated exactly in the sense of floating point by the derivative cascade:
the roots of q^(k+1) split the interval into pieces where q^(k) is monotone, so each
piece holds at most one root of q^(k), found by bisection (Collins & Loos,
"Real zeros of polynomials", 1983, the "derivative sequence" method).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(cache=True, error_model="numpy", nogil=True)
MAX_DEGREE = 32


@njit(**_JIT)
def poly_eval(c, deg, a):
    """Horner's rule for c_0 + c_1 a + ... + c_deg a^deg."""
    v = c[deg]
    for k in range(deg - 1, -1, -1):
        v = v * a + c[k]
    return v


@njit(**_JIT)
def _bisect(c, deg, lo, hi, flo):
    """The root of a polynomial monotone on [lo, hi] with a sign change there."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        fm = poly_eval(c, deg, mid)
        if fm == 0.0:
            return mid
        if (fm < 0.0) == (flo < 0.0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(**_JIT)
def real_roots_in(c, deg, lo, hi, out):
    """Real roots of c (degree deg) in (lo, hi), ascending, written to ``out``; returns
    how many. Roots of even multiplicity (touching zero without a sign change) are
    found as roots of the derivative, and are reported where the value is zero."""
    if deg <= 0:
        return 0
    # coefficients of every derivative: D[k] holds the k-th derivative
    D = np.zeros((deg + 1, deg + 1))
    for j in range(deg + 1):
        D[0, j] = c[j]
    for k in range(1, deg + 1):
        for j in range(deg - k + 1):
            D[k, j] = D[k - 1, j + 1] * (j + 1)
    roots = np.empty(deg + 2)
    nroots = 0  # roots of the current derivative (start: the (deg)-th, a constant: none)
    for k in range(deg - 1, -1, -1):
        dk = deg - k
        # breakpoints: lo, roots of derivative k+1, hi
        pts = np.empty(nroots + 2)
        pts[0] = lo
        for i in range(nroots):
            pts[i + 1] = roots[i]
        pts[nroots + 1] = hi
        new = 0
        row = D[k]
        for i in range(nroots + 1):
            a, b = pts[i], pts[i + 1]
            if not (b > a):
                continue
            fa, fb = poly_eval(row, dk, a), poly_eval(row, dk, b)
            if fa == 0.0 and i > 0:
                roots[new] = a  # a breakpoint that is also a root (multiple root)
                new += 1
            elif (fa < 0.0) != (fb < 0.0) and fb != 0.0 and fa != 0.0:
                roots[new] = _bisect(row, dk, a, b, fa)
                new += 1
        nroots = new
    for i in range(nroots):
        out[i] = roots[i]
    return nroots


@njit(**_JIT)
def exact_step(c, deg_max, a_max):
    """The global minimiser of phi on [0, a_max] and whether phi is unbounded there.

    Returns (a, phi(a), unbounded): unbounded when a_max is infinite and the leading
    term makes phi fall without limit (odd degree, or a negative leading coefficient).
    """
    deg = deg_max
    while deg > 0 and c[deg] == 0.0:
        deg -= 1
    if deg == 0:
        return 0.0, c[0], False
    if not math.isfinite(a_max) and (c[deg] < 0.0 or deg % 2 == 1):
        # phi -> -inf along d unless the leading coefficient is a rounding artefact;
        # the caller confirms with a function value far along the line
        return 0.0, c[0], True
    # phi' coefficients
    q = np.empty(deg)
    for j in range(deg):
        q[j] = c[j + 1] * (j + 1)
    hi = a_max
    if not math.isfinite(hi):
        # Cauchy's bound: every root of q lies within 1 + max |q_j / q_lead|
        m = 0.0
        for j in range(deg - 1):
            m = max(m, abs(q[j] / q[deg - 1]))
        hi = 1.0 + m
    roots = np.empty(deg + 1)
    nr = real_roots_in(q, deg - 1, 0.0, hi, roots)
    # d is a descent direction (phi'(0) = c_1 < 0) in every caller, so a = 0 competes
    # only when it is not: comparing phi(0) with phi(root) would be lost in rounding
    # near a minimum, where the two differ by less than eps |phi|.
    best_a, best_f = 0.0, (c[0] if c[1] >= 0.0 else math.inf)
    for i in range(nr):
        fv = poly_eval(c, deg, roots[i])
        if fv < best_f:
            best_a, best_f = roots[i], fv
    if math.isfinite(a_max):
        fv = poly_eval(c, deg, a_max)
        if fv < best_f:
            best_a, best_f = a_max, fv
    if not math.isfinite(best_f):
        return 0.0, c[0], False
    return best_a, best_f, False
