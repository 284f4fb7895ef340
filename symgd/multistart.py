"""Multistart (SPEC §2 ``starts``): run the method from the start and ``starts - 1``
seeded points, and report the best converged run, with every run in ``Result.runs``.

Starts. Start 0 is the problem's (or ``x0``). Start k >= 1 draws variable i uniformly
from [lower_i, upper_i] where both bounds are finite, else from x0_i +- BOX max(1,
|x0_i|) cut by the bound there is (so every start is inside the bounds), with numpy's
PCG64 generator seeded by ``seed`` (none: 0): the same seed gives the same starts and
the same runs. A box of a decade either side of the start's magnitude is wide enough
to reach the basins of a well-scaled problem (Himmelblau's four minima, |x| < 4, from
a start at 0), and a uniform draw over it is the plain multistart of the literature
(Rinnooy Kan and Timmer, "Stochastic global optimization methods, part I",
Math. Programming 39, 1987: uniform sampling plus a local search from every point).

Runs. Where the method is one of the compiled loops on compiled symbolic kernels (gd,
linesearch, newton, bfgs, lbfgs, random_search, local_search), with no time_limit
and no progress callback, all starts run in one compiled call
(methods/multistart_loop.run_starts), which also settles each run's claim (the best
point's gradient test, the saddle check). Otherwise the runs go one after another
through the method's runner and symgd.finish, and no new run starts once time_limit
has passed. With ``device: cuda`` on a symbolic objective (newton, bounds only, at
most symgd.cuda.availability.MULTISTART_MAX_VARS variables) all starts run on the GPU,
one thread each and one kernel launch per iteration (symgd.cuda.multistart), settled
there as run_starts settles them; time_limit stops the launches (runs still going are
``timeout``). Seeded methods (random_search, local_search, sgd) run start k with seed +
k, so their runs differ.

The result. The best run is the one with the lowest objective (in the minimised sense)
among the runs that succeeded; if none did, the lowest objective with its own honest
status. It is finished by symgd.finish like any single run (if that check takes its
success away, the next best is taken). ``iterations`` are the best run's;
``evaluations`` count all runs; ``path`` says "multistart: k of N converged; best from
start j" (starts numbered from 0, the given start).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from symgd import clock
from symgd.errors import InputError
from symgd.finish import finish
from symgd.methods import status as S
from symgd.outcome import Outcome
from symgd.result import SUCCESS, Result
from symgd.solve_common import start_error

BOX = 10.0  # half-width of the box around the start, in units of max(1, |x0_i|)
BATCHED = ("gd", "linesearch", "newton", "bfgs", "lbfgs", "random_search", "local_search")
_SEEDED = ("random_search", "local_search", "sgd")


def start_points(x0, lower, upper, count: int, seed) -> np.ndarray:
    """The (count, n) starts: row 0 is x0, rows 1.. seeded uniform draws (module
    docstring)."""
    x0 = np.asarray(x0, dtype=float)
    both = np.isfinite(lower) & np.isfinite(upper)
    h = BOX * np.maximum(1.0, np.abs(x0))
    lo = np.where(both, lower, np.maximum(lower, x0 - h))
    hi = np.where(both, upper, np.minimum(upper, x0 + h))
    rng = np.random.default_rng(0 if seed is None else int(seed) % (1 << 64))
    X = np.empty((count, x0.size))
    X[0] = x0
    if count > 1:
        X[1:] = np.clip(lo + rng.random((count - 1, x0.size)) * (hi - lo), lower, upper)
    return X


class _Run:
    """One start's run: what ``Result.runs`` shows, and how to finish it."""

    __slots__ = ("start", "status", "f", "x", "iterations", "evaluations", "outcome",
                 "result", "make")

    def __init__(self, start, status, f, x, iterations, evaluations, outcome=None,
                 result=None, make=None):
        self.start, self.status, self.f, self.x = start, status, f, x
        self.iterations, self.evaluations = iterations, evaluations or {}
        self.outcome, self.result, self.make = outcome, result, make

    def get_outcome(self):
        """The run's Outcome (built on first use in a batch)."""
        if self.outcome is None and self.make is not None:
            self.outcome = self.make()
        return self.outcome

    def rank(self):
        f = self.f if math.isfinite(self.f) else math.inf
        return (self.status not in SUCCESS, f)


def solve_starts(problem, spec, bundle, x0, ctx, run) -> Result:
    """Run ``spec`` from ``run.opts['starts']`` starts and return the best run's Result
    with ``runs`` (see the module docstring). ``run``: the symgd.finish.Run of the
    single run this replaces (method, checked options, bounds, path, timings)."""
    opts = run.opts
    count = int(opts["starts"])
    X = start_points(x0, run.lower, run.upper, count, opts["seed"])
    deadline = ctx.deadline(opts)
    t0 = time.perf_counter()
    code = _batch_code(spec.name, bundle, opts, deadline)
    if opts.get("device") == "cuda" and not problem.is_fit:  # one thread per start
        runs, note = _on_device(problem, spec, X, run, deadline)
        run = replace(run, path=tuple(run.path) + (note,))
    elif code is not None:
        runs = _batched(spec, bundle, X, run, code)
    else:
        runs = _sequential(problem, spec, bundle, X, ctx, run, deadline)
    first = runs[0]
    if first.iterations == 0 and first.get_outcome() is not None and \
            first.outcome.reason == S.R_NONFINITE and not problem.is_fit:
        g = np.zeros(x0.size)
        err = start_error(problem.names, x0, bundle.fg(x0, g), g)
        if err is not None:
            raise err
    timings = {**run.timings, "iterate": time.perf_counter() - t0}
    best = _choose(problem, bundle, runs, ctx, replace(run, timings=timings))
    return _result(problem, runs, best, run, len(X))


def _batch_code(method, bundle, opts, deadline):
    """The multistart_loop code of ``method`` when its starts can run in one compiled
    call, else None."""
    if method not in BATCHED or getattr(bundle, "backend", None) != "numba" or \
            bundle.loop_module != "loops" or deadline is not None or \
            opts.get("_progress") is not None or opts.get("_callback") is not None:
        return None
    from symgd.methods import multistart_loop as M
    if method == "linesearch":
        return M.EXACT if opts["line_search"] == "exact" else M.LINESEARCH
    return {"gd": M.GD, "newton": M.NEWTON, "bfgs": M.BFGS, "lbfgs": M.LBFGS,
            "random_search": M.RANDOM, "local_search": M.LOCAL}[method]


def _parameters(method, opts):
    """(fpar, ipar) of the method's loop: what its runner in symgd.methods.runners
    passes (tests/test_multistart.py checks that batched runs equal single runs)."""
    tol = opts["tol"]
    if method == "newton":
        return [tol, opts["c1"]], [opts["max_iter"], 0]
    if method == "linesearch":
        if opts["line_search"] == "exact":
            return [tol], [opts["max_iter"], 0]
        return [tol, opts["c1"], opts["c2"]], \
            [opts["max_iter"], 0, {"armijo": 0, "wolfe": 1}[opts["line_search"]]]
    if method in ("bfgs", "lbfgs"):
        return [tol, opts["c1"], opts["c2"]], \
            [opts["max_iter"], 0] + ([opts["memory"]] if method == "lbfgs" else [])
    if method in ("random_search", "local_search"):
        budget = opts["samples"] if opts["samples"] is not None else opts["max_iter"]
        second = opts["radius"] if method == "random_search" else opts["step"]
        seed = 0 if opts["seed"] is None else int(opts["seed"])
        return [tol, second], [budget, 0, seed]
    from symgd.methods import optimizers as O
    from symgd.methods.schedules import pack_schedule
    code, p0, p1, p2 = pack_schedule(opts["schedule"], default_t_max=float(opts["max_iter"]))
    name = opts["optimizer"]
    hyper = O.hyper_array(name, momentum=opts["momentum"], beta1=opts["beta1"],
                          beta2=opts["beta2"], eps=opts["eps"],
                          weight_decay=opts["weight_decay"], decay=opts["decay"])
    return [tol, opts["learning_rate"], p0, p1, p2, *hyper], \
        [opts["max_iter"], 0, code, 5 if name == "sgd" else 50, O.CODES[name]]


def _batched(spec, bundle, X, run, code) -> list:
    """Every start in one call of multistart_loop.run_starts."""
    from symgd.kernelgen.fastcall import entry_point
    from symgd.methods import loading

    M = loading.load("multistart_loop")
    opts = run.opts
    count, n = X.shape
    fpar, ipar = _parameters(spec.name, opts)
    W3 = np.zeros((count, S.N_W, n))
    W3[:, S.W_X] = X
    W3[:, S.W_LO] = run.lower
    W3[:, S.W_HI] = run.upper
    W3[:, S.W_XBEST] = X
    FS = np.zeros((count, S.N_PAR + S.N_FSTATE))
    JS = np.zeros((count, S.N_PAR + S.N_ISTATE), dtype=np.int64)
    FS[:, :len(fpar)] = fpar
    FS[:, S.P_TYP_X], FS[:, S.P_TYP_F] = float(opts["typical_x"]), float(opts["typical_f"])
    JS[:, :len(ipar)] = ipar
    JS[:, 1] = 1_000_000  # the chunk: run_starts calls a loop again until it stops
    seeded = spec.name in _SEEDED
    if seeded:
        JS[:, 2] += np.arange(count)
    codes = np.zeros(count, dtype=np.int64)
    notes = np.zeros(count, dtype=np.int64)
    report_best = spec.name == "gd"
    entry_point(M.run_starts)(bundle.loop_arg(with_hessian=spec.needs_hessian), code,
                              report_best, spec.gradient_test, W3, FS, JS, M.empty_trace(),
                              codes, notes)
    return _runs(spec, opts, X, W3[:, S.W_X], None if seeded else W3[:, S.W_G],
                 FS[:, S.N_PAR:], JS[:, S.N_PAR:], codes, notes, ipar)


def _on_device(problem, spec, X, run, deadline) -> tuple:
    """Every start at once on the CUDA device (symgd.cuda.multistart: one thread per
    start), settled there as multistart_loop.run_starts settles them. Returns (runs,
    the note for the result's path)."""
    from symgd.cuda.availability import check_multistart
    from symgd.cuda.multistart import run_newton_starts

    check_multistart(spec.name, X.shape[1], len(problem.constraints), problem.is_fit)
    got = run_newton_starts(problem, X, run.lower, run.upper, run.opts,
                            gradient_test=spec.gradient_test, report_best=False,
                            deadline=deadline)
    note = f"multistart on device cuda: {len(X)} starts, one thread each, " \
        f"{got.launches} launches"
    if got.timed_out:
        note += f" (time_limit: {int(np.sum(got.codes == S.RUNNING))} runs stopped)"
    return _runs(spec, run.opts, X, got.x, got.g, got.fstate, got.istate, got.codes,
                 got.notes, _parameters(spec.name, run.opts)[1]), note


def _runs(spec, opts, X, xs, gs, fst, ist, codes, notes, ipar) -> list:
    """The _Run of each start from the settled arrays of a batch: points xs and
    gradients gs (None: not evaluated) by start, its fstate and istate rows, status
    codes (status.RUNNING: stopped by time_limit) and notes (nonzero: the settled
    status differs from the loop's)."""
    seeded = spec.name in _SEEDED

    def outcome(k):  # built for the runs symgd.finish looks at, not for all
        ev = {"f": int(ist[k, S.I_NFEV]), "grad": int(ist[k, S.I_NGEV]),
              "hess": int(ist[k, S.I_NHEV])}
        # finish() makes its own checks: it gets the loop's status, not the settled one
        raw = S.CONVERGED if notes[k] != 0 else int(codes[k])  # 0: NOTE_NONE
        o = Outcome(status=_name(raw), reason=int(ist[k, S.I_REASON]),
                    x=xs[k].copy(), f=float(fst[k, S.F_F]),
                    grad_norm=float(fst[k, S.F_GNORM]),
                    g=None if gs is None else gs[k].copy(),
                    iterations=int(ist[k, S.I_ITER]), evaluations=ev,
                    last_step=float(fst[k, S.F_STEP]), f0=float(fst[k, S.F_F0]),
                    rel_grad=float(fst[k, S.F_RELG]))
        if seeded:
            from symgd.methods.search_words import search_message
            o.message = search_message(spec.name, o, ipar[0], opts)
        return o

    names = [_name(c) for c in codes.tolist()]
    f, its = fst[:, S.F_F].tolist(), ist[:, S.I_ITER].tolist()
    xl, starts = xs.tolist(), X.tolist()
    evals = {"f": int(ist[:, S.I_NFEV].sum()), "grad": int(ist[:, S.I_NGEV].sum()),
             "hess": int(ist[:, S.I_NHEV].sum())}
    runs = [_Run(starts[k], names[k], f[k], xl[k], its[k], None,
                 make=lambda k=k: outcome(k)) for k in range(len(X))]
    runs[0].evaluations = evals  # the total, counted once
    return runs


def _name(code: int) -> str:
    """A settled status code's name; RUNNING: the deadline stopped the run."""
    return "timeout" if code == S.RUNNING else S.NAMES[code]


def _sequential(problem, spec, bundle, X, ctx, run, deadline) -> list:
    """One start after another through the runner and symgd.finish; no new run once
    the deadline has passed or a run was interrupted."""
    opts = dict(run.opts)
    base = 0 if opts["seed"] is None else int(opts["seed"])
    runs = []
    for k, xk in enumerate(X):
        if k > 0 and ((deadline is not None and clock.now() >= deadline) or
                      runs[-1].status == "interrupted"):
            break
        if spec.name in _SEEDED:
            opts["seed"] = base + k
        try:
            o = spec.run(bundle, xk.copy(), run.lower, run.upper, opts, deadline)
        except InputError as err:  # a seeded start outside the loss's domain (fits)
            if k == 0:
                raise
            runs.append(_Run(xk, "diverged", math.nan, xk.copy(), 0, {}, result=None))
            runs[-1].outcome = Outcome("diverged", xk.copy(), message=err.message)
            continue
        if o.iterations == 0 and o.reason == S.R_NONFINITE:
            runs.append(_Run(xk, "diverged", math.nan, o.x, 0, o.evaluations, outcome=o))
            continue
        res = finish(problem, bundle, o, ctx, replace(run, opts=dict(opts)))
        sign = -1.0 if problem.sense == "maximize" else 1.0
        runs.append(_Run(xk, res.status, sign * res.fun, res.x, res.iterations,
                         dict(res.evaluations), outcome=o, result=res))
    return runs


def _choose(problem, bundle, runs, ctx, run):
    """The best run, finished: the lowest f among successes, else the lowest f; a run
    whose success symgd.finish does not confirm loses it and the next is taken."""
    while True:
        best = min(range(len(runs)), key=lambda k: (runs[k].rank(), k))
        r = runs[best]
        if r.result is None:
            if r.get_outcome() is None or (r.iterations == 0 and r.status == "diverged"
                                           and not math.isfinite(r.f)):
                return best  # nothing finite anywhere: _result says so
            r.result = finish(problem, bundle, r.outcome, ctx, run)
        claimed = r.status in SUCCESS
        r.status = r.result.status
        if claimed and not r.result.success:
            continue
        return best


def _result(problem, runs, best, run, count) -> Result:
    """The best run's Result with ``runs``, the multistart note and all evaluations."""
    sign = -1.0 if problem.sense == "maximize" else 1.0
    names = problem.names
    table = tuple({"start": {n: float(v) for n, v in zip(names, r.start)},
                   "status": r.status, "fun": sign * r.f,
                   "x": {n: float(v) for n, v in zip(names, r.x)},
                   "iterations": int(r.iterations)} for r in runs)
    ok = sum(r.status in SUCCESS for r in runs)
    ran = "" if len(runs) == count else f" (time_limit: {len(runs)} of {count} started)"
    note = f"multistart: {ok} of {len(runs)} converged; best from start {best}{ran}"
    total: dict = {}
    for r in runs:
        for k, v in r.evaluations.items():
            total[k] = total.get(k, 0) + int(v)
    res = runs[best].result
    if res is None:  # no run had a finite f: the first start's outcome, worded
        o = runs[best].get_outcome()
        raise InputError(f"no start gave a finite objective ({o.message or o.status})",
                         field="variables", kind="domain")
    head = len(run.path)
    return replace(res, path=tuple(run.path) + (note,) + tuple(res.path[head:]),
                   evaluations=total, runs=table)
