"""Eigenvalues of the (reduced) Hessian at each critical point, for people to read.

The classification itself is exact (:mod:`symgd.analytic.classify`,
:mod:`symgd.analytic.kkt`); these numbers show what it decided from:

* no active constraint: the eigenvalues of the Hessian of f at the point;
* active constraints e_S(x) = 0 with multipliers nu: the eigenvalues of Z^T W Z, where
  W = Hess f - sum_j nu_j Hess e_j is the Hessian of the Lagrangian and the columns of
  Z are an orthonormal basis of the tangent space T = ker grad e_S (the null space of
  the active constraints' Jacobian). Their signs are the inertia that the bordered
  Hessian test reads (Nocedal & Wright, *Numerical Optimization*, 2nd ed., §12.5,
  Thms 12.5-12.6: W positive definite on T is the second-order sufficient condition
  for a minimum). With as many independent active constraints as variables T = {0}
  and the list is empty.

f is the objective in the user's sense, so a local maximum has negative eigenvalues.
Values are floats from the Hessian evaluated at the point's float coordinates (numpy's
symmetric eigensolver, ascending order); those below ``ZERO_RTOL`` times the largest
magnitude are printed as 0 (an exact zero eigenvalue computes as ~1e-16). Points where
the active gradients are dependent have no multipliers, hence no Lagrangian: None.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

ZERO_RTOL = 1e-12
MAX_VARIABLES = 200  # beyond this the eigenvalues are left out (None)


class EigenvalueMaker:
    """Evaluates (reduced) Hessian eigenvalues at the critical points of one problem.

    Args:
        f: the objective (user's sense), a sympy expression in ``gens``.
        gens: the variables, in order.
        cons: the constraints as symgd.analytic.kkt.Con (``text``, ``e``), bounds
            included.
    """

    def __init__(self, f, gens, cons=()):
        self.gens = tuple(gens)
        self.cons = {c.text: c.e for c in cons}
        self._f = f
        self._hess_fn = None
        self._con_fns = {}

    def _lambdify(self, expr_rows):
        return sp.lambdify(self.gens, sp.Matrix(expr_rows), modules=["numpy"])

    def _hess(self, x):
        if self._hess_fn is None:
            self._hess_fn = self._lambdify(sp.hessian(self._f, self.gens))
        return np.array(self._hess_fn(*x), dtype=float)

    def _constraint(self, text, x):
        """(gradient, Hessian) of constraint ``text`` at x."""
        if text not in self._con_fns:
            e = self.cons[text]
            self._con_fns[text] = (self._lambdify([[sp.diff(e, g) for g in self.gens]]),
                                   self._lambdify(sp.hessian(e, self.gens)))
        g, h = self._con_fns[text]
        return np.array(g(*x), dtype=float).ravel(), np.array(h(*x), dtype=float)

    def at(self, x: dict, names, multipliers, active) -> tuple | None:
        """Eigenvalues at the point ``x`` (name -> float), ascending, or None when they
        cannot be computed (no multipliers, a non-finite Hessian, too many variables).

        Args:
            x: the point's coordinates by variable name.
            names: the variable names, in the order of ``gens``.
            multipliers: constraint text -> multiplier (dV/d rhs), or None.
            active: texts of the constraints active at the point.
        """
        n = len(self.gens)
        if n > MAX_VARIABLES or (active and multipliers is None):
            return None
        pt = [float(x[name]) for name in names]
        try:
            with np.errstate(all="ignore"):
                W = self._hess(pt)
                J = []
                for text in active:
                    g, h = self._constraint(text, pt)
                    nu = float((multipliers or {}).get(text, 0.0))
                    if nu != 0.0:
                        W = W - nu * h
                    J.append(g)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError):
            return None
        if not np.all(np.isfinite(W)):
            return None
        W = 0.5 * (W + W.T)
        if J:
            Jm = np.array(J)
            if not np.all(np.isfinite(Jm)):
                return None
            _, s, vt = np.linalg.svd(Jm)
            tol = (s[0] if s.size else 0.0) * max(Jm.shape) * np.finfo(float).eps
            rank = int(np.sum(s > tol))
            Z = vt[rank:].T
            if Z.shape[1] == 0:
                return ()
            W = Z.T @ W @ Z
        lam = np.linalg.eigvalsh(W)
        big = float(np.max(np.abs(lam))) if lam.size else 0.0
        return tuple(0.0 if abs(v) <= ZERO_RTOL * big or v == 0.0 else float(v) for v in lam)


def finite_or_none(values):
    """The eigenvalues for JSON: a list of floats (non-finite as None), or None."""
    if values is None:
        return None
    return [v if math.isfinite(v) else None for v in values]
