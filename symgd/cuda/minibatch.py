"""Minibatch SGD with the minibatch gradient computed on a CUDA device.

The CPU sgd loop (symgd.methods.sgd_loop) is compiled once and calls the fit's batch
kernel by its address (symgd.methods.batchcall), with the C signature

    double k(double *theta, double *rows, int64 stride, int64 *idx, int64 m,
             double *grad)

returning the mean loss over the samples rows[idx[q]], q < m, and writing the mean
gradient. :class:`DeviceBatches` is a C callback with that signature whose sums run on
the device (symgd.cuda.objective.DeviceLoss.sums), so the loop (its shuffles, drawn
from the same seeded uniforms, optimizers, schedules, early stopping, validation
split and full-data tests) runs unchanged: the CPU and device runs visit the same
minibatches in the same order, and differ only by the order of additions inside a
minibatch sum (hence agreement to ~1e-7 rather than bitwise; DESIGN.md).

Why a callback and not a Python copy of the loop: one loop, one set of update rules,
nothing to keep in step. Why the rows it is given are an index column: the loop hands
the kernel ``rows`` (the samples by row) and positions in them; here each "row" is
one value, the sample's position in the device's copy of the data (``carrier``,
(n, 1) float64: exact up to 2^53). With a validation split the sgd driver takes rows
of it for the training and held-out parts, and their values are still the samples'
positions on the device. So the callback reads m positions on the host (they are the
loop's own shuffled order) and sends them with theta: per minibatch step, m int64
and p doubles cross the bus, and p + 1 come back; the data never do. Consecutive
positions (the blocks of a full-data pass) are sent as a range instead.

The mean is the batch kernel's: (1/m) times the sums (symgd.fit.codegen's ``inv_``).
"""
from __future__ import annotations

import ctypes
import math
import threading

import numpy as np

from symgd.kernelgen.pybundle import CallbackErrors

_PROTO = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)


class DeviceBatches(CallbackErrors):
    """The batch kernel of a fit as a C callback over a symgd.cuda.objective.DeviceLoss
    (module docstring). ``address`` and ``carrier`` take the places of the batch
    kernel's address and of the rows in symgd.methods.sgd.run_sgd."""

    def __init__(self, loss):
        self.loss = loss
        self.p = loss.p
        carrier = np.arange(loss.n, dtype=np.float64).reshape(loss.n, 1)
        carrier.setflags(write=False)
        self.carrier = carrier
        self.error = None
        self.calls = 0
        # the full-data pass of the sgd driver runs in parallel from 65536 samples on:
        # its callbacks share the device buffers, one at a time
        self._lock = threading.Lock()
        self._c = _PROTO(self._call)
        self.address = ctypes.cast(self._c, ctypes.c_void_p).value

    def positions(self, rows_ptr: int, stride: int, idx_ptr: int, m: int) -> np.ndarray:
        """The device positions of the samples rows[idx[q] * stride], q < m."""
        idx = np.ctypeslib.as_array((ctypes.c_int64 * m).from_address(idx_ptr)).copy()
        extent = (int(idx.max()) + 1) * stride
        rows = np.ctypeslib.as_array((ctypes.c_double * extent).from_address(rows_ptr))
        return rows[idx * stride].astype(np.int64)

    def mean(self, theta, pos: np.ndarray, grad) -> float:
        """Mean loss over the samples at positions ``pos``; mean gradient into grad."""
        m = pos.size
        if m > 1 and pos[-1] - pos[0] == m - 1 and np.all(np.diff(pos) == 1):
            s = self.loss.sums("fg", theta, start=int(pos[0]), count=m)  # a range
        else:
            s = self.loss.sums("fg", theta, idx=pos)
        inv = 1.0 / m
        grad[:] = s[1:] * inv
        return float(s[0]) * inv

    def _call(self, th_ptr, rows_ptr, stride, idx_ptr, m, grad_ptr):
        if self.error is not None:
            return math.nan
        if m <= 0:
            return 0.0
        try:
            with self._lock:
                self.calls += 1
                theta = np.ctypeslib.as_array(
                    (ctypes.c_double * self.p).from_address(th_ptr)).copy()
                grad = np.ctypeslib.as_array((ctypes.c_double * self.p).from_address(grad_ptr))
                return self.mean(theta, self.positions(rows_ptr, stride, idx_ptr, m), grad)
        except BaseException as err:  # noqa: BLE001  (raised again by after_run)
            return self.fail(err)


_LAST: list = []  # [(the DeviceLoss, its DeviceBatches)]


def device_batches(K) -> DeviceBatches:
    """The DeviceBatches of K's device loss (symgd.cuda.objective.device_loss)."""
    from symgd.cuda.objective import device_loss

    loss = device_loss(K)
    if _LAST and _LAST[0][0] is loss:
        return _LAST[0][1]
    got = DeviceBatches(loss)
    _LAST[:] = [(loss, got)]
    return got
