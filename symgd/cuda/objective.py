"""A fit's loss, gradient and Hessian on a CUDA device, for the compiled method loops.

``DeviceLoss(K)`` generates the loss kernels of a CPU fit bundle K
(symgd.fit.kernels.FitKernels) for the device (symgd.cuda.lossgen), loads them through
the kernel cache, and reads K's data on the device (symgd.cuda.kernels.device_data:
copied once per fit). Each pass moves theta (p values) in and 1, 1 + p or
1 + p + p(p+1)/2 sums out; the objective is the CPU one exactly,

    F(theta) = scale * sum_i l_i,   grad F = scale * sum_i l1_i dv_i,
    hess F = scale * sum_i (l2_i dv_i dv_iᵀ + l1_i d2v_i)      (scale = K.scale: 1/n
                                                                  for a mean, 1 a sum)

as symgd.fit.kernels.FitKernels.value / value_grad / value_grad_hess.

:func:`device_bundle` wraps these in a symgd.kernelgen.pybundle.PythonBundle, so gd,
linesearch, newton, bfgs and lbfgs run their usual compiled loops (DESIGN.md: the GPU
is a third source of kernels for the same method loops), one launch per evaluation.
Newton's ``fg`` makes the Hessian in the same pass and keeps it for the ``hess`` call
that follows at the same point, as the CPU fit bundle does (symgd.fit.bundle).
"""
from __future__ import annotations

import weakref

import numpy as np

from symgd.cuda import availability, lossgen
from symgd.cuda.kernels import device_data, launch_sizes, n_blocks, sum_launch
from symgd.kernelgen import cache


class DeviceLoss:
    """F, grad F and hess F of a fit (module docstring), with its data on the device;
    also the sums over a minibatch (:meth:`sums`) for sgd (symgd.cuda.minibatch)."""

    def __init__(self, K, *, hessian: bool = False, tpb: int | None = None,
                 max_blocks: int | None = None):
        cuda = availability.check_cuda()
        from symgd.fit.derive import derive

        self.tpb, self.max_blocks = launch_sizes(tpb, max_blocks)
        self.p, self.n, self.scale = K.p, K.n, float(K.scale)
        kinds = ("f", "fg", "fgh") if hessian else ("f", "fg")
        der = derive(K.spec, hessian=hessian)
        self.source = lossgen.loss_source(K.module_name, K.spec, der, kinds, tpb=self.tpb)
        mod = cache.load_module(self.source)
        self._k = {kind: getattr(mod, f"k_{kind}") for kind in kinds}
        self._sum = mod.k_sum
        self.data = device_data(K)
        self._cuda = cuda
        m_most = lossgen.n_out(self.p, 2 if hessian else 1)
        self._theta = cuda.device_array(self.p, dtype=np.float64)
        self._part = cuda.device_array((self.max_blocks, m_most), dtype=np.float64)
        self._out = cuda.device_array(m_most, dtype=np.float64)
        self._idx = cuda.device_array(1, dtype=np.int64)  # grown for minibatches
        self._iu = np.triu_indices(self.p)
        self.passes = 0

    @property
    def has_hessian(self) -> bool:
        return "fgh" in self._k

    def sums(self, kind: str, theta, *, idx=None, start: int = 0, count: int | None = None):
        """The sums of ``kind`` (f, fg, fgh: lossgen's [L, G, H packed]) over samples
        idx (int64, a minibatch: its m indices cross the bus) or start..start+count-1
        (default all n); one pass."""
        order = lossgen.ORDERS[kind]
        mq = lossgen.n_out(self.p, order)
        self._theta.copy_to_device(np.ascontiguousarray(theta, dtype=np.float64))
        if idx is not None:
            idx = np.ascontiguousarray(idx, dtype=np.int64)
            m = idx.size
            if self._idx.size < m:
                self._idx = self._cuda.device_array(max(m, 2 * self._idx.size),
                                                    dtype=np.int64)
            self._idx[:m].copy_to_device(idx)
            use, start = 1, 0
        else:
            m = self.n - start if count is None else count
            use = 0
        if m <= 0:
            return np.zeros(mq)
        blocks = n_blocks(m, self.tpb, self.max_blocks)
        self._k[kind][blocks, self.tpb](self._theta, self.data, self._idx, use, start, m,
                                        self._part)
        self._sum[sum_launch(mq)](self._part, blocks, mq, self._out)
        self.passes += 1
        return self._out[:mq].copy_to_host()

    def value(self, theta) -> float:
        """F = scale * sum_i l_i."""
        return self.scale * float(self.sums("f", theta)[0])

    def value_grad(self, theta, g) -> float:
        """F, and its gradient written into g."""
        s = self.sums("fg", theta)
        g[:] = s[1:] * self.scale
        return self.scale * float(s[0])

    def value_grad_hess(self, theta, g, H) -> float:
        """F, its gradient (into g) and its Hessian (into H, p x p)."""
        p = self.p
        s = self.sums("fgh", theta)
        g[:] = s[1:p + 1] * self.scale
        packed = s[p + 1:] * self.scale
        H[self._iu] = packed
        H[(self._iu[1], self._iu[0])] = packed
        return self.scale * float(s[0])


class _NewtonPoint:
    """fg with the Hessian made in the same pass and kept for the hess call at the same
    point (Newton asks for H wherever it asked for g)."""

    def __init__(self, loss: DeviceLoss):
        self.loss = loss
        self.x = None
        self.H = np.empty((loss.p, loss.p))

    def fg(self, x, g) -> float:
        f = self.loss.value_grad_hess(x, g, self.H)
        self.x = np.array(x, dtype=float)
        return f

    def hess(self, x, H) -> None:
        if self.x is None or not np.array_equal(self.x, x):
            self.fg(x, np.empty(self.loss.p))
        H[:] = self.H


_LAST: list = []  # [(weakref to the FitKernels, with Hessian?, its DeviceLoss)]


def device_loss(K, *, hessian: bool = False) -> DeviceLoss:
    """The DeviceLoss of K, made once and reused while K is the last fit asked for (a
    loss with the Hessian serves the methods without it too)."""
    if _LAST:
        ref, with_h, loss = _LAST[0]
        if ref() is K and (with_h or not hessian):
            return loss
    loss = DeviceLoss(K, hessian=hessian)
    _LAST[:] = [(weakref.ref(K), hessian, loss)]
    return loss


def device_bundle(K, *, hessian: bool = False):
    """A PythonBundle (symgd.kernelgen.pybundle) evaluating K's objective on the device:
    what gd, linesearch, newton, bfgs and lbfgs run with ``device: cuda``."""
    from symgd.kernelgen.pybundle import PythonBundle

    loss = device_loss(K, hessian=hessian)
    if hessian:
        point = _NewtonPoint(loss)
        return PythonBundle(K.p, loss.value, point.fg, point.hess)
    return PythonBundle(K.p, loss.value, loss.value_grad)
