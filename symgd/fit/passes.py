"""What a fit's bundle derives from one data pass, whatever makes the pass.

A pass ``_reduce(kind, theta, n_out) -> (f, out)`` runs the fit's ``k_<kind>`` kernel
over all samples and returns the loss sum f and the kernel's n_out further sums. In
memory it is symgd.fit.kernels.FitKernels (chunked parallel reductions); on a Dask
cluster symgd.dask.fit.DaskFit (per-block partial sums, a fixed tree). From it:

    F = scale * sum_i l_i,   scale = 1/n for mean losses, 1 for sums,

its gradient and Hessian (packed upper triangles, j <= k), and the least-squares
pieces S = sum r_i**2, Jᵀr and JᵀJ that lm takes.
"""
from __future__ import annotations

import numpy as np


class PassSums:
    """The values, gradients, Hessians and lsq pieces of a fit from ``_reduce``;
    subclasses give ``spec`` (p, mean), ``data`` (n_samples), ``_reduce`` and a
    ``_start`` attribute (None at first: :meth:`start_values`' memory)."""

    @property
    def p(self) -> int:
        return self.spec.p

    @property
    def n(self) -> int:
        return self.data.n_samples

    @property
    def scale(self) -> float:
        return 1.0 / self.n if self.spec.mean else 1.0

    def _unpack(self, packed, H):
        """The packed upper triangle (row-major, j <= k) into a full symmetric H."""
        iu = np.triu_indices(self.p)
        H[iu] = packed
        H[(iu[1], iu[0])] = packed

    def loss_sum(self, theta) -> float:
        """sum_i l_i (one pass)."""
        return float(self._reduce("f", theta, 0)[0])

    def value(self, theta) -> float:
        """F = scale * sum_i l_i."""
        return self.scale * self.loss_sum(theta)

    def value_grad(self, theta, g) -> float:
        """F and its gradient (written into g), one pass."""
        f, out = self._reduce("fg", theta, self.p)
        g[:] = out * self.scale
        return self.scale * float(f)

    def value_grad_hess(self, theta, g, H) -> float:
        """F, its gradient and its Hessian (p x p, written into H), one pass."""
        p = self.p
        f, out = self._reduce("fgh", theta, p + p * (p + 1) // 2)
        g[:] = out[:p] * self.scale
        self._unpack(out[p:] * self.scale, H)
        return self.scale * float(f)

    def lsq(self, theta, g, A) -> float:
        """S = sum r_i**2, Jᵀr (into g) and JᵀJ (into A, p x p), one pass."""
        p = self.p
        f, out = self._reduce("lsq", theta, p + p * (p + 1) // 2)
        g[:] = out[:p]
        self._unpack(out[p:], A)
        return float(f)

    def avv(self, theta, w, out) -> None:
        """Jᵀ r_ww (into out): r_ww,i = w' (d2r_i/dtheta2) w, the residuals' second
        derivative along w (one pass; geodesic acceleration)."""
        out[:] = self._reduce("avv", np.concatenate([theta, w]), self.p)[1]

    # -- the objective as the method runners call it --------------------------------------
    def fun(self, theta) -> float:
        return self.value(theta)

    def fg(self, theta, g) -> float:
        return self.value_grad(theta, g)

    def hess(self, theta, H) -> None:
        self.value_grad_hess(theta, np.empty(self.p), H)

    def start_values(self, x):
        """(F, grad F) at x, remembered from the start check (one pass saved)."""
        got = self._start
        if got is not None and np.array_equal(got[0], x):
            return got[1], got[2]
        g = np.empty(self.p)
        f = self.value_grad(x, g)
        self._start = (np.array(x, dtype=float), f, g)
        return f, g

