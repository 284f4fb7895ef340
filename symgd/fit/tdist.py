"""Quantiles of Student's t distribution, for the confidence intervals of a fit.

Written out here so that a fit's statistics need no scipy (importing scipy.special costs
0.3-0.5 s, more than a warm solve). For nu < CF_MIN degrees of freedom the quantile
solves, by bisection to the last bits, the upper tail

    P(T > t) = 1/2 I_x(nu/2, 1/2),   x = nu / (nu + t²)   (t >= 0)

(Abramowitz & Stegun 26.7.1 with 26.5.27), the regularised incomplete beta function
I_x(a, b) from its continued fraction by the modified Lentz method (Press et al.,
Numerical Recipes, 3rd ed., 2007, §6.4). For nu >= CF_MIN the Cornish-Fisher expansion
in 1/nu (A&S 26.7.5, four terms) of the normal quantile (Python's
statistics.NormalDist, Wichura's AS 241) is exact to rounding: its error is
O(nu^-5), below 1e-15 relative there.
"""
from __future__ import annotations

import math
from statistics import NormalDist

CF_MIN = 1000
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' betacf)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def t_tail(t: float, nu: float) -> float:
    """P(T > t) for t >= 0, T Student's t with nu degrees of freedom."""
    return 0.5 * betainc(nu / 2.0, 0.5, nu / (nu + t * t))


def t_quantile(q: float, nu: float) -> float:
    """The q-quantile (0.5 <= q < 1) of Student's t with nu > 0 degrees of freedom."""
    if not (0.5 <= q < 1.0 and nu > 0):
        raise ValueError(f"t_quantile needs 0.5 <= q < 1 and nu > 0, got {q}, {nu}")
    if nu >= CF_MIN:
        z = NormalDist().inv_cdf(q)
        z2 = z * z
        g = (z * (z2 + 1.0) / 4.0,
             z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0,
             z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0,
             z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0)
             / 92160.0)
        return z + sum(gk / nu ** (k + 1) for k, gk in enumerate(g))
    tail = 1.0 - q
    lo, hi = 0.0, 1.0
    while t_tail(hi, nu) > tail:
        lo, hi = hi, 2.0 * hi
    while True:
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            return mid
        if t_tail(mid, nu) > tail:
            lo = mid
        else:
            hi = mid
