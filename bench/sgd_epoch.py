"""One epoch of minibatch SGD on a linear least-squares model, side by side in one run.

Model y ~ w.x + b with 10 features (p = 11), 1e6 samples, batch 32, plain SGD with
lr 0.01, one epoch over a fresh shuffle. Competitors:

  symgd        run_sgd (symgd.methods.sgd) with a batch kernel written exactly as
               symgd.fit.codegen generates it for this model (k_batch below); includes
               the shuffle, the full-data passes of the gradient test at the start and
               at the epoch's end, and the result's bookkeeping;
  api          symgd.solve(problem, method="sgd", epochs=1, ...) on the same data as a
               symgd.Problem built in Python (model, target, loss mse), solved once
               before timing so that its kernels are compiled and its data loaded: the
               whole public path (options, start check, the row layout, run_sgd, the
               gradient and statistics at the answer, the Result);
  hand+perm    a hand-written numba epoch loop with the model inlined, plus the same
               numpy shuffle (what a user would write by hand);
  hand         the same loop given a ready-made shuffle (the floor);
  hand-inorder the same loop visiting samples in order, no shuffle: not SGD as the issue
               asks (every epoch the same order), shown because it is the ~0.01 s
               figure; a shuffled epoch waits on memory for each sample's row;
  torch        torch.optim.SGD on nn.Linear, the usual minibatch loop;
  jax          jax.lax.scan over the epoch's minibatches, jitted (compiled beforehand).

torch and jax are not symgd dependencies: they run only where importable (DESIGN.md,
"Benchmarks"). Prints median seconds per epoch over interleaved rounds, samples/s,
and the ratios against the targets (>= 100x torch, >= 2x jax, within 1.5x of the
hand-written loop, the API within 1.2x of run_sgd). --profile adds where one API epoch's
time goes (cProfile, after the timed rounds). Run:
python bench/sgd_epoch.py [--rounds 5] [--n 1000000] [--no-api] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from numba import cfunc, njit

from symgd.fit.abi import BATCH_SIG
from symgd.methods.sgd import SGD_OPTIONS, run_sgd

P_FEATURES = 10
BATCH = 32
LR = 0.01
_OPTS = dict(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
_BATCH_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"})  # as codegen


@cfunc(BATCH_SIG, **_BATCH_OPTS)
def k_batch(th, d, n, idx, m, grad):
    # As symgd.fit.codegen prints it for model = w0*x0 + ... + w9*x9 + b, loss mse.
    v0, v1, v2, v3, v4 = th[0], th[1], th[2], th[3], th[4]
    v5, v6, v7, v8, v9, v10 = th[5], th[6], th[7], th[8], th[9], th[10]
    f = 0.0
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = g7 = g8 = g9 = g10 = 0.0
    for q_ in range(m):
        i = idx[q_] * n  # n: the row stride (symgd.fit.abi)
        c0 = d[i]
        c1 = d[i + 1]
        c2 = d[i + 2]
        c3 = d[i + 3]
        c4 = d[i + 4]
        c5 = d[i + 5]
        c6 = d[i + 6]
        c7 = d[i + 7]
        c8 = d[i + 8]
        c9 = d[i + 9]
        c10 = d[i + 10]
        r = (c0*v0 + c1*v1 - c10 + c2*v2 + c3*v3 + c4*v4 + c5*v5 + c6*v6 + c7*v7 + c8*v8
             + c9*v9 + v10)
        l = r * r  # noqa: E741
        l1 = 2.0 * r
        f += l
        g0 += l1 * c0
        g1 += l1 * c1
        g2 += l1 * c2
        g3 += l1 * c3
        g4 += l1 * c4
        g5 += l1 * c5
        g6 += l1 * c6
        g7 += l1 * c7
        g8 += l1 * c8
        g9 += l1 * c9
        g10 += l1 * 1.0
    if m <= 0:
        return 0.0
    inv_ = 1.0 / m
    grad[0] = g0 * inv_
    grad[1] = g1 * inv_
    grad[2] = g2 * inv_
    grad[3] = g3 * inv_
    grad[4] = g4 * inv_
    grad[5] = g5 * inv_
    grad[6] = g6 * inv_
    grad[7] = g7 * inv_
    grad[8] = g8 * inv_
    grad[9] = g9 * inv_
    grad[10] = g10 * inv_
    return f * inv_


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def hand_epoch(rows, perm, theta, lr, bs):
    """Plain minibatch SGD over one epoch, model and gradient inlined (the floor);
    rows: (n, features + 1) by sample, as torch and jax get it."""
    n = rows.shape[0]
    p = rows.shape[1] - 1
    g = np.empty(p + 1)
    total = 0.0
    for s in range(0, n, bs):
        m = min(bs, n - s)
        g[:] = 0.0
        f = 0.0
        for q in range(s, s + m):
            i = perm[q]
            r = theta[p] - rows[i, p]
            for j in range(p):
                r += theta[j] * rows[i, j]
            f += r * r
            for j in range(p):
                g[j] += 2.0 * r * rows[i, j]
            g[p] += 2.0 * r
        total += f
        for j in range(p + 1):
            theta[j] -= lr * g[j] / m
    return total / n


def make_data(n, seed=0):
    """(n, features + 1) by sample: the features, then y. Every competitor gets the
    samples by row (symgd as Dataset.rows() hands them to run_sgd), made before timing."""
    rng = np.random.Generator(np.random.PCG64(seed))
    data = np.empty((P_FEATURES + 1, n))
    data[:P_FEATURES] = rng.standard_normal((P_FEATURES, n))
    w = np.linspace(-1.0, 1.0, P_FEATURES)
    data[P_FEATURES] = w @ data[:P_FEATURES] + 0.5 + 0.1 * rng.standard_normal(n)
    return np.ascontiguousarray(data.T)


def bench_symgd(data):
    p = P_FEATURES + 1
    opts = {**SGD_OPTIONS, "optimizer": "sgd", "learning_rate": LR, "batch_size": BATCH,
            "epochs": 1, "seed": 1}
    lo, hi = np.full(p, -np.inf), np.full(p, np.inf)

    def run():
        t = time.perf_counter()
        r = run_sgd(k_batch.address, data, np.zeros(p), lo, hi, opts, None, None)
        return time.perf_counter() - t, r.history[0]
    return run


def api_problem(data):
    """The same fit as a symgd.Problem built in Python (SPEC §5): model w.x + b,
    target y, loss mse, every parameter starting at 0, one column per feature."""
    import sympy as sp

    import symgd

    w = sp.symbols(f"w0:{P_FEATURES}")
    b = sp.Symbol("b")
    xs = sp.symbols(f"x0:{P_FEATURES}")
    y = sp.Symbol("y")
    columns = {f"x{j}": data[:, j].copy() for j in range(P_FEATURES)}
    columns["y"] = data[:, P_FEATURES].copy()
    return symgd.Problem(model=sum(wi * xi for wi, xi in zip(w, xs)) + b, target=y,
                         loss="mse", data=columns, variables={v: 0.0 for v in (*w, b)},
                         name="linear_sgd_bench")


API_OPTIONS = dict(method="sgd", epochs=1, batch_size=BATCH, optimizer="sgd",
                   learning_rate=LR, seed=1)


def bench_api(data):
    """One epoch through symgd.solve; the first solve (compiling, loading) is done here,
    so every timed call is a second solve of an already compiled Problem."""
    import symgd

    problem = api_problem(data)
    first = symgd.solve(problem, **API_OPTIONS)
    assert first.method == "sgd" and first.iterations == 1, first.message

    def run():
        t = time.perf_counter()
        r = symgd.solve(problem, **API_OPTIONS)
        return time.perf_counter() - t, r.extra["history"][0]
    run.problem = problem
    return run


def profile_api(run, top=25):
    """cProfile of one API epoch: the calls that take the time, by cumulative time."""
    import cProfile
    import io
    import pstats

    import symgd

    prof = cProfile.Profile()
    prof.enable()
    symgd.solve(run.problem, **API_OPTIONS)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    print("one API epoch, cProfile (cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines()
                    if line.strip() and not line.startswith(("   Ordered", "   List"))))


def bench_hand(data, with_shuffle, in_order=False):
    n = data.shape[0]
    rng = np.random.Generator(np.random.PCG64(1))
    ready = np.arange(n) if in_order else rng.permutation(n)

    def run():
        t = time.perf_counter()
        perm = rng.permutation(n) if with_shuffle else ready
        loss = hand_epoch(data, perm, np.zeros(P_FEATURES + 1), LR, BATCH)
        return time.perf_counter() - t, loss
    return run


def bench_torch(data):
    import torch

    X = torch.from_numpy(np.ascontiguousarray(data[:, :P_FEATURES]))
    y = torch.from_numpy(data[:, P_FEATURES].copy())
    n = X.shape[0]
    gen = torch.Generator().manual_seed(1)

    def run():
        model = torch.nn.Linear(P_FEATURES, 1, dtype=torch.float64)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        t = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for s in range(0, n, BATCH):
            idx = perm[s:s + BATCH]
            loss = ((model(X[idx]).squeeze(1) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        return time.perf_counter() - t, total / n
    return run


def bench_jax(data):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X = jnp.asarray(data[:, :P_FEATURES])
    y = jnp.asarray(data[:, P_FEATURES])
    n = X.shape[0]
    nb = n // BATCH  # 1e6 / 32: no partial batch

    def loss_fn(params, idx):
        w, b = params
        r = X[idx] @ w + b - y[idx]
        return jnp.mean(r * r)

    @jax.jit
    def epoch(params, batches):
        def step(params, idx):
            loss, g = jax.value_and_grad(loss_fn)(params, idx)
            return jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g), loss
        params, losses = jax.lax.scan(step, params, batches)
        return params, jnp.mean(losses)

    rng = np.random.Generator(np.random.PCG64(1))
    params0 = (jnp.zeros(P_FEATURES), jnp.zeros(()))
    epoch(params0, jnp.asarray(rng.permutation(n)[:nb * BATCH].reshape(nb, BATCH)))  # compile

    def run():
        t = time.perf_counter()
        batches = jnp.asarray(rng.permutation(n)[:nb * BATCH].reshape(nb, BATCH))
        params, loss = epoch(params0, batches)
        jax.block_until_ready(params)
        return time.perf_counter() - t, float(loss)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--no-api", action="store_true", help="leave out symgd.solve")
    ap.add_argument("--profile", action="store_true",
                    help="then profile one API epoch (cProfile)")
    args = ap.parse_args()
    data = make_data(args.n)
    runners = {"symgd": bench_symgd(data)}
    if not args.no_api:
        runners["api"] = bench_api(data)
    runners.update({"hand+perm": bench_hand(data, True), "hand": bench_hand(data, False),
                    "hand-inorder": bench_hand(data, False, in_order=True)})
    for name, make in (("torch", bench_torch), ("jax", bench_jax)):
        try:
            runners[name] = make(data)
        except ImportError:
            print(f"{name}: not installed")
    times = {name: [] for name in runners}
    losses = {}
    for name, run in runners.items():  # warm up: compile / load caches
        losses[name] = run()[1]
    for _ in range(args.rounds):  # interleaved rounds
        for name, run in runners.items():
            time.sleep(0.05)  # let spinning BLAS / intra-op threads settle
            dt, losses[name] = run()
            times[name].append(dt)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    n = args.n
    print(f"linear model, {P_FEATURES} features, n = {n:.0e}, batch {BATCH}, one epoch of SGD "
          f"(lr {LR}); median of {args.rounds} rounds")
    for name, t in med.items():
        print(f"  {name:12s} {t * 1e3:9.1f} ms  {n / t:12.3e} samples/s  "
              f"epoch loss {losses[name]:.5f}")
    s = med["symgd"]
    if "api" in med:
        ratio = med["api"] / s
        print(f"api / symgd:       {ratio:.2f}x the time of run_sgd called directly "
              f"(target <= 1.2: {'met' if ratio <= 1.2 else 'NOT met'}; "
              f"{(med['api'] - s) * 1e3:.1f} ms more an epoch)")
    print(f"symgd / hand+perm: {s / med['hand+perm']:.2f}x the time (target <= 1.5)")
    print(f"symgd / hand:      {s / med['hand']:.2f}x the time")
    for name, target in (("torch", 100), ("jax", 2)):
        if name in med:
            print(f"{name} / symgd: {med[name] / s:.1f}x faster (target >= {target})")
        else:
            print(f"{name}: not installed (target >= {target}x)")
    if args.profile and "api" in runners:
        profile_api(runners["api"])


if __name__ == "__main__":
    main()
