"""Benchmark of symgd's CUDA data-fit pass (issue 16); needs a real GPU.

For a linear model  y ~ a x + b  and an exponential one  y ~ A exp(-k x) + B  over N
samples (default 1e8, float64), it measures one least-squares pass
(S = sum r², Jᵀr, JᵀJ; a superset of loss + gradient) and reports the effective
bandwidth, bytes of data read / seconds, next to:

  copy    a device-to-device copy of the same bytes (the memory-bound ceiling)
  cupy    the hand-written CuPy equivalent (array expressions + sums), if CuPy is there
  cpu     symgd's CPU kernels (FitKernels.lsq) on the same data
  lm      a whole ``symgd.solve(..., method="lm", device="cuda")`` of the N samples

Usage: python bench/gpu_fit.py [--n 100000000] [--repeat 5] [--skip-cpu]
Exits with status 2 and a message when there is no GPU (numba's simulator does not
count here: its timings mean nothing).
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


def _gpu_or_exit():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        _exit("NUMBA_ENABLE_CUDASIM is set; this benchmark needs a real GPU (unset it)")
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


def bench_model(name: str, n: int, repeat: int, skip_cpu: bool, cuda) -> None:
    import symgd
    from symgd.cuda.kernels import DeviceFit
    from symgd.fit.source import fit_kernels

    m = MODELS[name]
    x, y = _data(name, n)
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
    print(f"\n{name}: N = {n:.3g}, {nbytes / 1e9:.2f} GB of data, p = {p}; "
          f"kernel build + data to device {setup:.2f} s")
    for label, t in rows:
        if t is None:
            print(f"  {label:12s}  (not installed)")
            continue
        # a copy reads and writes: counted once each way, halved above
        print(f"  {label:12s}  {t * 1e3:9.2f} ms  {nbytes / t / 1e9:8.1f} GB/s")
    t0 = time.perf_counter()
    r = symgd.solve(P, method="lm", device="cuda")
    print(f"  lm fit on cuda: {time.perf_counter() - t0:.2f} s, status {r.status}, "
          f"x = {np.array2string(np.asarray(r.x), precision=6)}, {r.nit} iterations")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--models", default="linear,exp")
    a = ap.parse_args(argv)
    cuda = _gpu_or_exit()
    print(f"GPU: {cuda.get_current_device().name}")
    for name in a.models.split(","):
        bench_model(name, int(a.n), a.repeat, a.skip_cpu, cuda)
    return 0


if __name__ == "__main__":
    sys.exit(main())
