"""Full-batch loss and gradient of y = a exp(-b x) + c with mse, side by side in one run.

Competitors over the same n samples (default 1e7), each computing what its users would:
  symgd        the generated data kernel (one fused pass: loss and 3 gradient entries),
               through symgd.fit.fit_kernels(problem).value_grad
  floor        a numba prange loop computing only sum exp(-b x) (fastmath reassoc, the
               same flags), on the same threads: the cost of libm's exp alone
  vexp sum     the same loop with symgd's vectorisable exp (symgd.fit.vmath), which the
               kernels use inside their sample loops: the floor for symgd's own exp
  np.exp       numpy's exp over the array (single-threaded, SIMD), and its sum
  jax          jax.jit(jax.value_and_grad(loss)), if jax is installed
  torch        PyTorch autograd (loss.backward()), if torch is installed

Targets (the data-fitting issue): symgd within 1.5x of the floor; >= 3x faster than
jax; >= 10x faster than torch. Prints medians over interleaved rounds and the ratios.

Run: python bench/data_kernel.py [n] [threads]      (default 1e7 samples, 2 threads)
"""
from __future__ import annotations

import math
import sys

import numpy as np
import numba
from numba import njit, prange

import symgd
import symgd.fit.parallel  # noqa: F401  (sets OMP_WAIT_POLICY before numba starts its threads)
import symgd.fit
import sympy as sp
from symgd.fit.vmath import vexp
from interleave import interleaved_ms  # bench/interleave.py (the script's own folder)

N = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
ROUNDS = 15
THETA = np.array([1.5, 0.5, 0.1])


@njit(parallel=True, fastmath={"reassoc", "contract"}, error_model="numpy", cache=True)
def sum_exp(x, b):
    s = 0.0
    for i in prange(x.size):
        s += math.exp(-b * x[i])
    return s


@njit(parallel=True, fastmath={"reassoc", "contract"}, error_model="numpy", cache=True)
def sum_vexp(x, b):
    s = 0.0
    for i in prange(x.size):
        s += vexp(-b * x[i])
    return s


def make_data(n):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 5.0, n)
    y = 2.0 * np.exp(-0.7 * x) + 0.5 + 0.01 * rng.standard_normal(n)
    return x, y


def reference(x, y, t):
    """mse and its gradient in numpy (to check every competitor's answer)."""
    e = np.exp(-t[1] * x)
    r = t[0] * e + t[2] - y
    n = x.size
    return (r @ r) / n, np.array([2 * (r @ e) / n, -2 * t[0] * (r @ (x * e)) / n,
                                  2 * r.sum() / n])


def symgd_kernel(x, y):
    a, b, c, X, Y = sp.symbols("a b c x y")
    p = symgd.Problem(model=a * sp.exp(-b * X) + c, target=Y, loss="mse",
                      data={"x": x, "y": y}, variables={a: 1.5, b: 0.5, c: 0.1})
    K = symgd.fit.fit_kernels(p, ("fg",))
    g = np.empty(3)

    def run():
        f = K.value_grad(THETA, g)
        return f, g.copy()
    return run


def jax_kernel(x, y):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def loss(t):
        r = t[0] * jnp.exp(-t[1] * xj) + t[2] - yj
        return jnp.mean(r * r)
    vg = jax.jit(jax.value_and_grad(loss))
    tj = jnp.asarray(THETA)

    def run():
        f, g = vg(tj)
        g.block_until_ready()
        return float(f), np.asarray(g)
    return run


def torch_kernel(x, y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run():
        t = torch.tensor(THETA, requires_grad=True)
        r = t[0] * torch.exp(-t[1] * xt) + t[2] - yt
        f = torch.mean(r * r)
        f.backward()
        return float(f.detach()), t.grad.numpy().copy()
    return run


def main():
    numba.set_num_threads(THREADS)
    x, y = make_data(N)
    f_ref, g_ref = reference(x, y, THETA)
    competitors = {"symgd": symgd_kernel(x, y),
                   "floor (numba prange sum exp)": lambda: (sum_exp(x, THETA[1]), None),
                   "prange sum of symgd's vexp": lambda: (sum_vexp(x, THETA[1]), None),
                   "np.exp(-b*x).sum()": lambda: (np.exp(-THETA[1] * x).sum(), None),
                   "jax.jit(value_and_grad)": jax_kernel(x, y),
                   "torch autograd": torch_kernel(x, y)}
    skipped = [k for k, v in competitors.items() if v is None]
    competitors = {k: v for k, v in competitors.items() if v is not None}
    for name, fn in competitors.items():  # warm up (compile) and check the answers
        f, g = fn()
        if g is not None:
            assert abs(f - f_ref) <= 1e-9 * abs(f_ref), (name, f, f_ref)
            np.testing.assert_allclose(g, g_ref, rtol=1e-8, err_msg=name)
    med, best = interleaved_ms(competitors, ROUNDS, 0.02)
    print(f"loss + gradient of a*exp(-b*x) + c, mse, n = {N:.0e}, numba threads = "
          f"{numba.get_num_threads()} (median of {ROUNDS} interleaved rounds)")
    for name, ms in med.items():
        print(f"  {name:<32} {ms:9.2f} ms   ({ms / med['symgd']:.2f}x symgd)   "
              f"min {best[name]:8.2f} ms")
    for name in skipped:
        print(f"  {name:<32}   skipped (not installed)")
    s = med["symgd"]
    floor = med["floor (numba prange sum exp)"]
    print(f"symgd / floor = {s / floor:.2f} (target <= 1.5; minima: "
          f"{best['symgd'] / best['floor (numba prange sum exp)']:.2f})")
    if "jax.jit(value_and_grad)" in med:
        print(f"jax / symgd = {med['jax.jit(value_and_grad)'] / s:.1f} (target >= 3)")
    if "torch autograd" in med:
        print(f"torch / symgd = {med['torch autograd'] / s:.1f} (target >= 10)")


if __name__ == "__main__":
    main()
