"""Synthetic fit data made block by block on the workers, for tests and benchmarks.

    x_i = 4 i / n,   y_i = 2.5 exp(-1.3 x_i) + 0.5 + 0.02 (u_i - 1/2),   i = 0 .. n-1

with u_i uniform on [0, 1) from numpy's PCG64 seeded by (seed, first index of the
block): a block's values depend on the seed and its place alone, so any process (a
worker, a restarted worker, the test itself) makes the same bits, and a data set larger
than every memory involved is never held anywhere. Here rather than in the tests so
that workers can import it (a Dask worker runs functions it can import by name).
"""
from __future__ import annotations

import numpy as np

A, B, C, NOISE = 2.5, 1.3, 0.5, 0.02


def block(seed: int, start: int, m: int, n: int) -> np.ndarray:
    """Samples start .. start+m-1 of n as a (2, m) array: rows x and y."""
    out = np.empty((2, m))
    x = out[0]
    x[:] = np.arange(start, start + m, dtype=np.float64)
    x *= 4.0 / n
    y = out[1]
    np.multiply(x, -B, out=y)
    np.exp(y, out=y)
    y *= A
    y += C - 0.5 * NOISE
    y += NOISE * np.random.default_rng([seed, start]).random(m)
    return out


def x_block(start: int, m: int, n: int) -> np.ndarray:
    """x of samples start .. start+m-1 of n."""
    x = np.arange(start, start + m, dtype=np.float64)
    x *= 4.0 / n
    return x


def y_block(x, seed: int, start: int) -> np.ndarray:
    """y of the samples whose x is ``x`` (from :func:`x_block`; the same bits as
    ``block(...)[1]``)."""
    y = np.multiply(x, -B)
    np.exp(y, out=y)
    y *= A
    y += C - 0.5 * NOISE
    y += NOISE * np.random.default_rng([seed, start]).random(x.size)
    return y


def columns(n: int, chunk: int, seed: int = 0):
    """(x, y) as 1-D dask arrays of n samples in chunks of ``chunk``: chunk k of x is
    one task, and chunk k of y one task on it (so Dask keeps the two together)."""
    import dask
    import dask.array as da

    mx, my = dask.delayed(x_block, pure=True), dask.delayed(y_block, pure=True)
    xs, ys = [], []
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        xd = mx(s, m, n)
        xs.append(da.from_delayed(xd, shape=(m,), dtype=np.float64))
        ys.append(da.from_delayed(my(xd, seed, s), shape=(m,), dtype=np.float64))
    return da.concatenate(xs), da.concatenate(ys)


def in_memory(n: int, chunk: int, seed: int = 0) -> tuple:
    """The same (x, y) as numpy arrays, made here block by block."""
    x, y = np.empty(n), np.empty(n)
    for s in range(0, n, chunk):
        b = block(seed, s, min(chunk, n - s), n)
        x[s:s + b.shape[1]], y[s:s + b.shape[1]] = b
    return x, y
