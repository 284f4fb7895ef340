"""Benchmark of symgd's CUDA data-fit passes (issue 16); needs a real GPU.

For a linear model  y ~ a x + b  and an exponential one  y ~ A exp(-k x) + B  over N
samples (default 1e8, float64; x and y, 16 bytes a sample), it measures

  loss+grad    the mse loss and its gradient (symgd.cuda.objective, what newton, lbfgs,
               gd and linesearch call per evaluation; mse: F = (1/n) sum r²)
  lsq          one least-squares pass (S = sum r², Jᵀr, JᵀJ; what lm calls)

and reports the effective bandwidth, bytes of data read / seconds, next to:

  device copy  a device-to-device copy of the same bytes in the same run (the
               memory-bound ceiling; reads and writes, so its time is halved)
  cupy         the same loss+grad written as a CuPy user would: an ElementwiseKernel
               for the per-sample loss and gradient terms, then cupy.sum of each
               (if CuPy is installed)
  symgd cpu    symgd's CPU kernels (FitKernels.value_grad / lsq) on the same data
  lm           a whole ``symgd.solve(..., method="lm", device="cuda")`` of the N samples

Usage: python bench/gpu_fit.py [--samples 100000000] [--repeat 5] [--skip-cpu]
Exits with status 2 and a message when there is no GPU. ``--sim`` runs it under numba's
CUDA simulator (NUMBA_ENABLE_CUDASIM=1, with a tiny --samples) to check that it runs:
its timings mean nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _exit(message: str):
    print(f"bench/gpu_fit.py: {message}", file=sys.stderr)
    sys.exit(2)


def _gpu_or_exit(sim: bool):
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    if simulated and not sim:
        _exit("NUMBA_ENABLE_CUDASIM is set; this benchmark needs a real GPU (unset it, "
              "or pass --sim to check that it runs)")
    if sim and not simulated:
        _exit("--sim needs NUMBA_ENABLE_CUDASIM=1 set before Python starts")
    try:
        from numba import cuda
    except Exception as exc:
        _exit(f"numba's CUDA target is not importable ({exc}); pip install symgd[cuda]")
    if not cuda.is_available():
        _exit("no CUDA GPU found; nothing to measure")
    return cuda


def _best(fn, repeat: int, sync) -> float:
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


MODELS = {
    "linear": dict(variables={"a": 1.0, "b": 0.0}, model="a*x + b", truth=(3.0, 2.0),
                   start=(1.0, 0.0)),
    "exp": dict(variables={"A": 1.0, "k": 1.0, "B": 0.0}, model="A*exp(-k*x) + B",
                truth=(5.0, 0.4, 1.0), start=(4.0, 0.3, 1.2)),
}


def _data(name: str, n: int):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 10.0, n)
    if name == "linear":
        a, b = MODELS[name]["truth"]
        y = a * x + b
    else:
        A, k, B = MODELS[name]["truth"]
        y = A * np.exp(-k * x) + B
    y += 0.05 * rng.standard_normal(n)
    return x, y


# What a CuPy user writes for mse loss + gradient: the per-sample terms in one
# elementwise kernel, then one cupy.sum per output.
CUPY_TERMS = {
    "linear": ("float64 x, float64 y, float64 a, float64 b",
               "float64 l, float64 ga, float64 gb",
               "double r = a * x + b - y; l = r * r; ga = 2.0 * r * x; gb = 2.0 * r;"),
    "exp": ("float64 x, float64 y, float64 A, float64 k, float64 B",
            "float64 l, float64 gA, float64 gk, float64 gB",
            "double e = exp(-k * x); double r = A * e + B - y; l = r * r; "
            "gA = 2.0 * r * e; gk = -2.0 * r * A * x * e; gB = 2.0 * r;"),
}


def _cupy_loss_grad(name, cp):
    """A function (x, y, theta) -> [F, grad F] on the device, CuPy as a user writes it."""
    kern = cp.ElementwiseKernel(*CUPY_TERMS[name], f"symgd_bench_{name}")

    def run(x, y, th):
        terms = kern(x, y, *[float(t) for t in th])
        n = x.size
        return cp.stack([cp.sum(t) / n for t in terms]).get()
    return run


def _cupy_pass(name, cp, x, y, th):
    """The same sums written by hand with CuPy (r, J columns, then reductions)."""
    if name == "linear":
        r = th[0] * x + th[1] - y
        J = (x, cp.ones_like(x))
    else:
        e = cp.exp(-th[1] * x)
        r = th[0] * e + th[2] - y
        J = (e, -th[0] * x * e, cp.ones_like(x))
    out = [cp.sum(r * r)] + [cp.sum(r * j) for j in J]
    out += [cp.sum(J[a] * J[b]) for a in range(len(J)) for b in range(a, len(J))]
    return cp.stack(out)


def _print(rows, nbytes):
    for label, t in rows:
        if t is None:
            print(f"  {label:22s}  (not installed)")
            continue
        print(f"  {label:22s}  {t * 1e3:9.2f} ms  {nbytes / t / 1e9:8.1f} GB/s")


def bench_loss_grad(name, n, repeat, skip_cpu, cuda, x, y) -> None:
    """mse loss + gradient: symgd on the device, CuPy, a device copy, symgd on the CPU."""
    import symgd
    from symgd.cuda.objective import DeviceLoss
    from symgd.fit.source import fit_kernels

    m = MODELS[name]
    P = symgd.Problem(variables=m["variables"], data={"x": x, "y": y}, model=m["model"],
                      target="y", loss="mse", name=f"bench-{name}-mse")
    K = fit_kernels(P, kinds=("fg",))
    nbytes = K.data.array.nbytes
    th = np.array(m["start"], dtype=float)
    g = np.empty(th.size)
    t0 = time.perf_counter()
    D = DeviceLoss(K)
    setup = time.perf_counter() - t0
    sync = cuda.synchronize
    rows = [("symgd cuda loss+grad", _best(lambda: D.value_grad(th, g), repeat, sync))]
    dst = cuda.device_array_like(D.data)
    rows.append(("device copy",
                 _best(lambda: dst.copy_to_device(D.data), repeat, sync) / 2))
    ref = D.value_grad(th, g), g.copy()
    try:
        import cupy as cp
        xd, yd = cp.asarray(x), cp.asarray(y)
        run = _cupy_loss_grad(name, cp)
        got = run(xd, yd, th)
        rows.append(("cupy elementwise+sum", _best(lambda: run(xd, yd, th), repeat,
                                                   cp.cuda.Device().synchronize)))
        print(f"  (cupy agrees to {np.max(np.abs(got - np.r_[ref[0], ref[1]])):.2g})")
        del xd, yd
    except ImportError:
        rows.append(("cupy elementwise+sum", None))
    if not skip_cpu:
        rows.append(("symgd cpu loss+grad", _best(lambda: K.value_grad(th, g),
                                                  max(1, repeat // 2), lambda: None)))
    print(f"\n{name} loss+grad (mse): N = {n:.3g}, {nbytes / 1e9:.2f} GB of data, "
          f"p = {th.size}; kernel build {setup:.2f} s")
    _print(rows, nbytes)
    lin = dict(rows)
    if lin.get("device copy") and lin.get("symgd cuda loss+grad"):
        print(f"  symgd cuda at {lin['device copy'] / lin['symgd cuda loss+grad']:.0%} of "
              "the copy's bandwidth" + (f", {lin['cupy elementwise+sum'] / lin['symgd cuda loss+grad']:.1f}x CuPy's speed"
                                        if lin.get("cupy elementwise+sum") else ""))


def bench_model(name: str, n: int, repeat: int, skip_cpu: bool, cuda) -> None:
    import symgd
    from symgd.cuda.kernels import DeviceFit
    from symgd.fit.source import fit_kernels

    m = MODELS[name]
    x, y = _data(name, n)
    bench_loss_grad(name, n, repeat, skip_cpu, cuda, x, y)
    P = symgd.Problem(variables=m["variables"], data={"x": x, "y": y}, model=m["model"],
                      target="y", loss="sse", name=f"bench-{name}")
    K = fit_kernels(P, kinds=("lsq",))
    nbytes = K.data.array.nbytes
    th = np.array(m["start"], dtype=float)
    p = th.size
    g, A = np.empty(p), np.empty((p, p))
    t0 = time.perf_counter()
    D = DeviceFit(K)
    setup = time.perf_counter() - t0
    sync = cuda.synchronize
    rows = []
    t = _best(lambda: D.lsq(th, g, A), repeat, sync)
    rows.append(("symgd cuda", t))
    dst = cuda.device_array_like(D.data)
    rows.append(("device copy", _best(lambda: dst.copy_to_device(D.data), repeat, sync) / 2))
    try:
        import cupy as cp
        xd, yd = cp.asarray(x), cp.asarray(y)
        thd = cp.asarray(th)
        rows.append(("cupy", _best(lambda: _cupy_pass(name, cp, xd, yd, thd).get(), repeat,
                                   cp.cuda.Device().synchronize)))
        del xd, yd
    except ImportError:
        rows.append(("cupy", None))
    if not skip_cpu:
        rows.append(("symgd cpu", _best(lambda: K.lsq(th, g, A), max(1, repeat // 2),
                                        lambda: None)))
    print(f"\n{name} least-squares pass (sse): N = {n:.3g}, {nbytes / 1e9:.2f} GB of "
          f"data, p = {p}; kernel build + data to device {setup:.2f} s")
    _print(rows, nbytes)
    t0 = time.perf_counter()
    r = symgd.solve(P, method="lm", device="cuda")
    print(f"  lm fit on cuda: {time.perf_counter() - t0:.2f} s, status {r.status}, "
          f"x = {np.array2string(np.asarray(r.x), precision=6)}, {r.nit} iterations")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", "--n", type=float, default=1e8, dest="n")
    ap.add_argument("--sim", action="store_true",
                    help="run under numba's CUDA simulator (timings mean nothing)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--models", default="linear,exp")
    a = ap.parse_args(argv)
    cuda = _gpu_or_exit(a.sim)
    print("GPU: numba's CUDA simulator (timings mean nothing)" if a.sim else
          f"GPU: {cuda.get_current_device().name}")
    for name in a.models.split(","):
        bench_model(name, int(a.n), a.repeat, a.skip_cpu, cuda)
    return 0


if __name__ == "__main__":
    sys.exit(main())
