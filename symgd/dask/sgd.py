"""Minibatch SGD on a Dask cluster: the minibatches stream from the data's blocks.

The optimiser and its rules are the in-memory ones (symgd.methods.sgd_loop, whose
docstring states them); only the order of the samples and where the steps run differ.
Epoch e (0-based) of a run with seed s (None: 0) over blocks 0..B-1 (symgd.dask.blocks,
sizes m_0..m_{B-1}, n samples in all):

* the blocks are visited in the order Generator(PCG64(SeedSequence([s, ORDER_STREAM,
  e]))).permutation(B) (:func:`block_order`);
* within block b, the samples are shuffled by the loop's own forward Fisher-Yates
  shuffle (sgd_loop.shuffle_upto) of 0..m_b-1, with the uniforms
  Generator(PCG64(SeedSequence([s, BLOCK_STREAM, e, b]))).random(m_b)
  (:func:`block_uniforms`), and cut into minibatches of batch_size in that order; the
  last minibatch of a block is smaller when batch_size does not divide m_b (a minibatch
  never spans two blocks);
* each minibatch step is the in-memory one (schedule at the run's step counter t,
  optimizer, projection onto the bounds), and the epoch loss is (1/n) sum_B |B| L_B over
  all its minibatches;
* at the epoch's end the client makes one full-data pass on the cluster (mean loss and
  gradient: DaskFit.value_grad / (scale n)) and runs the loop's epoch-end rules on it
  (sgd_loop.bookkeeping): the gradient test, best parameters, rising loss, patience,
  plateau, SWA.

A block's steps run on the worker that holds the block, as one task (:func:`segment`)
that takes the optimizer's small state (the work rows W, fs, js: O(p) numbers) and
returns the new one; the next block's task takes that. Nothing of size n crosses the
network: the shuffle's uniforms are drawn on the worker. A task's result is a pure
function of (seed, epoch, block index, state, block), so a task recomputed after a
worker is lost gives the same bits, and so does the whole run for a seed, whichever
worker ran what. The streams are apart from the in-memory run's (PCG64(seed), and
[seed, 1] for its validation split): this order is not the in-memory order, and the
two runs are not the same run.

The deadline (time_limit) and Ctrl-C are checked between blocks. A validation split is
not offered on a cluster (it would need a held-out part of every block).
"""
from __future__ import annotations

import time

import numpy as np

from symgd import clock
from symgd.errors import InputError
from symgd.methods import status as S

# numba and the loop are imported inside the functions: on a worker, after
# symgd.dask.worker.module has prepared the process for compiled kernels.

BLOCK_STREAM = 2   # SeedSequence([seed, BLOCK_STREAM, epoch, block]): a block's shuffle
ORDER_STREAM = 3   # SeedSequence([seed, ORDER_STREAM, epoch]): the epoch's block order


def _rng(words) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(words))))


def block_order(seed: int, epoch: int, n_blocks: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits the blocks (module docstring)."""
    return _rng([seed, ORDER_STREAM, epoch]).permutation(n_blocks)


def block_uniforms(seed: int, epoch: int, index: int, m: int) -> np.ndarray:
    """(1, m) uniforms on [0, 1) for the shuffle of block ``index`` in epoch ``epoch``
    (module docstring): one row, as sgd_loop takes one row per epoch."""
    return _rng([seed, BLOCK_STREAM, epoch, index]).random((1, m))


def segment(source: str, state, block, seed: int, epoch: int, index: int, fpar, ipar,
            hyper) -> tuple:
    """On a worker: the minibatch steps of one epoch over one block.

    ``state`` is (W, fs, js) of sgd_loop; ``block`` the (columns, m) block
    (symgd.dask.worker), transposed here to the loop's layout by sample. Runs sgd_loop
    in segment mode with the fit's batch kernel, compiled from ``source`` in this
    process (symgd.dask.worker.module), over the block's samples shuffled by
    :func:`block_uniforms`. Returns (W, fs, js, code): new arrays (the inputs are left
    as they were, so a task run again sees what it saw), code SEGMENT_END when the block
    is used up, else the status the loop stopped on (S.DIVERGED: a non-finite value)."""
    from symgd.dask import worker

    batch_kernel = worker.module(source).k_batch  # first: it readies the process
    from symgd.kernelgen.fastcall import entry_point
    from symgd.methods import sgd_loop as L

    W, fs, js = (np.array(a) for a in state)
    rows = np.ascontiguousarray(np.asarray(block, dtype=np.float64).T)
    rows.setflags(write=False)
    m = rows.shape[0]
    if m == 0:  # an empty partition: nothing to step over
        return W, fs, js, L.SEGMENT_END
    ip = np.array(ipar, dtype=np.int64)
    ip[L.I_SEGMENT] = 1
    ip[L.I_STEPS] = -(-m // int(ip[L.I_BATCH])) + 1  # the block's minibatches, one call
    for j in (L.J_POS, L.J_SHUF, L.J_PF, L.J_ROW):  # the block's own order, from its start
        js[j] = 0
    code = entry_point(L.sgd_loop)(int(batch_kernel.address), rows, rows[:0],
                                   block_uniforms(seed, epoch, index, m),
                                   np.arange(m, dtype=np.int64), np.zeros(1, dtype=np.int64),
                                   W, np.array(fpar, dtype=np.float64),
                                   np.array(hyper, dtype=np.float64), fs, ip, js,
                                   np.full((L.N_H, 1), np.nan))
    return W, fs, js, int(code)


def run(K, x0, lower, upper, options: dict, deadline):
    """Minibatch SGD from x0 over the blocks of ``K`` (symgd.dask.fit.DaskFit); the
    returned symgd.methods.sgd.SGDOutcome is that of the in-memory run_sgd.

    The objective is F = K.scale * sum_i l_i = (K.scale n) * mean loss, as in
    symgd.methods.runners.sgd. Failures are statuses; an option the cluster cannot
    honour (``validation``) is an InputError."""
    import dask

    from symgd.kernelgen.fastcall import entry_point
    from symgd.methods import sgd_loop as L
    from symgd.methods.sgd import check_sgd_options, finish, initial_state, pack

    t0 = time.perf_counter()
    o = check_sgd_options(dict(options))
    if o["validation"] is not None:
        raise InputError("a validation split is not available for sgd on a Dask cluster; "
                         "leave out options.validation (patience then watches the epoch "
                         "loss) or use cluster: off", field="options.validation",
                         kind="option")
    sizes = [int(m) for m in K.sizes]
    n, scale = int(K.n), float(K.scale * K.n)
    theta0 = np.array(x0, dtype=np.float64).ravel()
    fpar, ipar, hyper = pack(o, n, scale, blocks=sizes)
    epochs = int(ipar[L.I_EPOCHS])
    W, fs, js, hist = initial_state(theta0, lower, upper, epochs)
    f0, g0 = K.start_values(theta0)  # the start's pass, often made by the start check
    fs[L.X_FULL] = float(f0) / scale
    W[L.W_G] = np.asarray(g0, dtype=np.float64).ravel() / scale
    ipar[L.I_START] = 1
    seed = 0 if o["seed"] is None else int(o["seed"])
    if deadline is None and o["time_limit"] is not None:
        deadline = t0 + o["time_limit"]
    task = dask.delayed(segment, pure=True)
    src = dask.delayed(K.local.source_text, pure=True, traverse=False)
    book = entry_point(L.bookkeeping)
    progress, callback = o.get("_progress"), o.get("_callback")

    def stage(which):
        return int(book(W, fpar, ipar, fs, js, hist, n, which))

    def full_pass(th):
        g = np.empty(th.size)
        f = K.value_grad(np.ascontiguousarray(th, dtype=np.float64), g)
        return f / scale, g / scale

    def report():
        if progress is not None:
            progress(int(js[L.J_EPOCH]), scale * float(fs[L.X_FULL]), float(fs[L.X_GNORM]))

    code, status = stage(L.BK_BEGIN), None
    try:
        while code == S.RUNNING and status is None:
            e = int(js[L.J_EPOCH])
            if e >= epochs:
                js[L.J_REASON] = S.R_MAXITER
                code = S.MAX_ITER
                break
            for b in block_order(seed, e, len(sizes)):
                if deadline is not None and clock.now() >= deadline:
                    status = "timeout"
                    break
                got = K.client.compute(task(src, (W, fs, js), K.blocks.items[b], seed, e,
                                            int(b), fpar, ipar, hyper), sync=True)
                W, fs, js = (np.array(a) for a in got[:3])  # writable copies
                code = int(got[3])
                if code != L.SEGMENT_END:
                    break
                report()
            if status is not None or code != L.SEGMENT_END:
                break
            code = stage(L.BK_CLOSE)
            if code == S.RUNNING:
                fs[L.X_FULL], W[L.W_G] = full_pass(W[L.W_X])
                code = stage(L.BK_JUDGE)
            report()
            if callback is not None and code == S.RUNNING:
                callback(int(js[L.J_EPOCH]), W[L.W_X], scale * float(fs[L.X_FULL]),
                         float(fs[L.X_GNORM]))
    except KeyboardInterrupt:
        status = "interrupted"
    if status is None:
        status = S.NAMES[code]

    def pass_at(th, held_out=False):
        return full_pass(th)

    return finish(status, o, (W, fs, js, hist), theta0, scale, pass_at, None, t0)
