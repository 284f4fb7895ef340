"""One runner per method: ``run(bundle, x0, lower, upper, opts, deadline) -> Outcome``.

``bundle`` is a kernel bundle: symgd.kernelgen.kernels.Kernels for objectives, or
symgd.fit.kernels.FitKernels for data fits. Both give ``loop_arg`` (what the compiled
loops take) and ``loop_module`` (the loops compiled for that bundle type), so gd,
linesearch and newton run the same compiled loop source on either; lm, sgd, IRLS and
the linear closed forms need a fit's bundle (its least-squares pass, minibatch kernel,
data). Heavy modules are imported on first use, so the registry stays light.
"""
from __future__ import annotations

import math

import numpy as np

from symgd.errors import InputError


class Unsuitable(Exception):
    """An ``auto`` path that does not apply to this problem: ``note`` says why (for
    Result.path) and ``instead`` names the registry method to run in its place."""

    def __init__(self, note: str, instead: str):
        super().__init__(note)
        self.note = note
        self.instead = instead


def _loops(bundle):
    from symgd.methods import loading
    return loading.load(bundle.loop_module)


def _after(bundle, outcome):
    """A bundle that evaluates in Python (symgd.kernelgen.pybundle) raises here what its
    callbacks raised during the loop; compiled bundles have nothing to add."""
    after = getattr(bundle, "after_run", None)
    return outcome if after is None else after(outcome)


def _device(bundle, opts, *, hessian=False):
    """With ``device: cuda`` (a data fit's bundle; symgd.cuda.availability checked the
    method), the same loops over the fit's passes on the GPU (symgd.cuda.objective)."""
    if opts.get("device") != "cuda":
        return bundle
    from symgd.cuda.objective import device_bundle
    return device_bundle(bundle, hessian=hessian)


def _common(opts):
    return dict(typical=(float(opts["typical_x"]), float(opts["typical_f"])),
                progress=opts.get("_progress"), history=bool(opts.get("history", True)),
                callback=opts.get("_callback"))


def gd(bundle, x0, lower, upper, opts, deadline):
    """Gradient descent with a schedule and an optimizer (loops.gd_loop)."""
    from symgd.methods import optimizers as O
    from symgd.methods.driver import run_loop
    from symgd.methods.schedules import pack_schedule

    code, p0, p1, p2 = pack_schedule(opts["schedule"], default_t_max=float(opts["max_iter"]))
    bundle = _device(bundle, opts)
    name = opts["optimizer"]
    hyper = O.hyper_array(name, momentum=opts["momentum"], beta1=opts["beta1"],
                          beta2=opts["beta2"], eps=opts["eps"],
                          weight_decay=opts["weight_decay"], decay=opts["decay"])
    fpar = [opts["tol"], opts["learning_rate"], p0, p1, p2, *hyper]
    # Momentum and adaptive steps are not monotone even when they converge: they may
    # climb for a while, so 'diverged' on rising f waits longer than for plain steps.
    rise_limit = 5 if name == "sgd" else 50
    ipar = [opts["max_iter"], 0, code, rise_limit, O.CODES[name]]
    return _after(bundle, run_loop(_loops(bundle).gd_loop, bundle.loop_arg(with_hessian=False),
                                   x0, lower, upper, fpar, ipar, deadline=deadline,
                                   report_best_always=True, **_common(opts)))


def linesearch(bundle, x0, lower, upper, opts, deadline):
    """Steepest descent with an Armijo, strong Wolfe or exact line search."""
    from symgd.methods.driver import run_loop

    bundle = _device(bundle, opts)
    loops = _loops(bundle)
    arg = bundle.loop_arg(with_hessian=False)
    if opts["line_search"] == "exact":
        return _after(bundle, run_loop(loops.exact_linesearch_loop, arg, x0, lower, upper,
                                       [opts["tol"]], [opts["max_iter"], 0],
                                       deadline=deadline, **_common(opts)))
    kind = {"armijo": 0, "wolfe": 1}[opts["line_search"]]
    return _after(bundle, run_loop(loops.linesearch_loop, arg, x0, lower, upper,
                                   [opts["tol"], opts["c1"], opts["c2"]],
                                   [opts["max_iter"], 0, kind], deadline=deadline,
                                   **_common(opts)))


def newton(bundle, x0, lower, upper, opts, deadline):
    """Newton with a modified Cholesky and an Armijo search (loops.newton_loop); on the
    banded Hessian of a templated sum, the same loop on the band (O(n b^2) a step)."""
    from symgd.methods.driver import run_loop

    bundle = _device(bundle, opts, hessian=True)
    band = getattr(bundle, "band", -1)
    banded = band >= 0 and bool(getattr(bundle, "hess_band", 0))
    nnz = getattr(bundle, "sparse_nnz", -1)
    sparse = nnz > 0 and bool(getattr(bundle, "hess_sparse", 0))
    pos = getattr(bundle, "band_pos", None) if banded else None
    work = None if pos is None else np.asarray(pos, dtype=float)[None, :]
    if sparse:   # positions, then the packed structure, in rows of n
        n = len(x0)
        flat = np.concatenate([bundle.sparse_pos.astype(float), bundle.sparse_struct])
        work = np.zeros((-(-flat.size // n), n))
        work.ravel()[:flat.size] = flat
        pos = bundle.sparse_pos
    return _after(bundle, run_loop(_loops(bundle).newton_loop,
                                   bundle.loop_arg(banded=banded, sparse=sparse)
                                   if banded or sparse else
                                   bundle.loop_arg(with_hessian=True), x0,
                                   lower, upper, [opts["tol"], opts["c1"]],
                                   [opts["max_iter"], 0, 2 if sparse else int(banded),
                                    nnz if sparse else max(band, 0),
                                    0 if pos is None else 1],
                                   deadline=deadline, work_rows=0 if work is None else
                                   work.shape[0], work=work, **_common(opts)))


def lm(K, x0, lower, upper, opts, deadline):
    """Levenberg-Marquardt over the fit's least-squares pass (symgd.fit.lm)."""
    from symgd.fit.lm import levenberg_marquardt
    from symgd.fit.lm_words import lm_message
    from symgd.history import Recorder
    from symgd.outcome import Outcome
    from symgd.solve_common import start_error

    damping = opts["damping"]
    if isinstance(damping, bool) or not isinstance(damping, (int, float)) or \
            not math.isfinite(damping) or damping <= 0:
        raise InputError(f"expected a positive finite number, got {damping!r}",
                         field="options.damping", kind="option")
    y_norm2 = None
    if K.spec.model is not None and hasattr(K, "target_norm2"):
        y_norm2 = K.target_norm2()  # data on a Dask cluster: one pass there (symgd.dask)
    elif K.spec.model is not None:
        y = K.targets()
        y_norm2 = float(K.weights() @ (y * y))
    user, callback = opts.get("_progress"), opts.get("_callback")
    rec = Recorder(x0.size) if opts.get("history", True) else None

    def prog(it, rss, g, x, step):
        # the loss is scale * S, its gradient 2 scale Jᵀr
        f, gnorm = K.scale * rss, 2.0 * K.scale * float(np.max(np.abs(g), initial=0.0))
        if rec is not None:
            rec.add(f, gnorm, float(np.max(np.abs(step), initial=0.0)), x)
        if user is not None:
            user(it, f, gnorm)
        if callback is not None:
            callback(it, x, f, gnorm)

    kw = dict(tol=opts["tol"], damping=float(damping), deadline=deadline, y_norm2=y_norm2,
              progress=prog)
    lsq = K.lsq
    if opts.get("device") == "cuda":  # the same pass with the data on the GPU
        from symgd.cuda.kernels import device_fit
        lsq = device_fit(K).lsq
    o = levenberg_marquardt(lsq, x0, lower, upper, max_iter=opts["max_iter"], **kw)
    if o.status == "diverged" and o.iterations == 0:
        raise start_error(K.spec.names, o.x, o.rss, o.g, what="loss")
    restarted = False
    if o.status == "stalled" and K.has_avv and o.iterations < opts["max_iter"]:
        # second attempt, from the same start, with geodesic acceleration
        o2 = levenberg_marquardt(lsq, x0, lower, upper,
                                 max_iter=opts["max_iter"] - o.iterations, avv=K.avv, **kw)
        restarted = True
        o2.iterations += o.iterations
        o2.nfev += o.nfev
        if o2.status == "converged" or o2.rss < o.rss:
            o = o2
        else:
            o.iterations, o.nfev, o.navv = o2.iterations, o2.nfev, o2.navv
    table = None
    if rec is not None and o.history:
        start = Recorder(x0.size)
        start.add(K.scale * o.history[0], x=np.clip(x0, lower, upper))
        start.rows += rec.rows
        table = start.columns()
    return Outcome(o.status, o.x, iterations=o.iterations,
                   evaluations={"f": o.nfev, "grad": o.nfev, "jtj": o.nfev, "avv": o.navv},
                   message=lm_message(o, K.spec.names, opts["tol"], restarted),
                   history=[K.scale * h for h in o.history], history_table=table,
                   lsq=(o.rss, o.g, o.A))


def sgd(K, x0, lower, upper, opts, deadline):
    """Minibatch SGD over the fit's batch kernel (symgd.methods.sgd)."""
    from symgd.methods.sgd import run_sgd
    from symgd.outcome import Outcome

    from symgd.methods.options import DATA_OPTIONS

    dev = None
    on_cluster = hasattr(K, "blocks")  # data on a Dask cluster (symgd.dask.fit.DaskFit)
    if opts.get("device") == "cuda" and on_cluster:
        raise InputError("sgd on a Dask cluster runs on device 'cpu' only",
                         field="options.device", kind="unavailable")
    if opts.get("device") == "cuda":  # the same loop; the batch sums on the GPU
        from symgd.cuda.minibatch import device_batches
        dev = device_batches(K)
    # the loss's own options (huber's delta) are the kernels' business, not sgd's, and
    # so is the device (the kernel behind addr)
    opts = {k: v for k, v in opts.items() if k not in DATA_OPTIONS and k != "device"}
    if on_cluster:  # the same loop, its minibatches streamed from the blocks
        from symgd.dask.sgd import run as run_on_cluster
        o = run_on_cluster(K, x0, lower, upper, opts, deadline)
    else:
        addr, rows = (K.addresses["batch"], K.rows()) if dev is None else \
            (dev.address, dev.carrier)
        # F = scale * sum = (n * scale) * mean: the batch kernel gives means
        o = run_sgd(addr, rows, x0, lower, upper, opts, deadline,
                    objective_scale=K.scale * K.n, start=K.start_values(x0))
    if dev is not None:
        o = dev.after_run(o)
    msg = getattr(o, "message", None) or f"{o.status} after {o.iterations} epochs"
    g = None if o.g is None else np.array(o.g, dtype=float)
    # per epoch: the mean minibatch loss and the learning rate of its last step (x is
    # not kept per epoch)
    table = {"iteration": np.arange(1, len(o.history) + 1),
             "fun": np.array(o.history, dtype=float),
             "grad_norm": np.full(len(o.history), np.nan),
             "step": np.full(len(o.history), np.nan),
             "learning_rate": np.array(o.lr_history, dtype=float)}
    return Outcome(o.status, np.array(o.x, dtype=float), iterations=int(o.iterations),
                   evaluations=dict(o.evaluations or {}), message=msg,
                   history=[float(h) for h in o.history], f=float(o.f), g=g,
                   grad_norm=float(o.grad_norm), history_table=table,
                   val_history=getattr(o, "val_history", None), extra=dict(o.extra))


def linear(K, x0, lower, upper, opts, deadline):
    """The closed form of a model linear in its parameters (symgd.fit.linear), or
    Unsuitable naming the method to run instead."""
    from symgd.fit.linear import linear_form, run_linear

    lin = run_linear(K.spec, K, K.data, linear_form(K.spec), x0, lower, upper, opts,
                     deadline)
    if lin.fallback is not None:
        raise Unsuitable(f"auto: {lin.note}", lin.fallback)
    o = lin.outcome
    o.method = lin.method
    o.path = (f"auto chose {lin.note}",)
    o.timings = dict(lin.timings)
    return o


def irls(K, x0, lower, upper, opts, deadline):
    """IRLS over lm for a nonlinear mae fit (symgd.fit.irls), or Unsuitable (sgd)."""
    from symgd.fit.irls import run_irls

    o, why = run_irls(K.spec, K, K.data, x0, lower, upper, opts, deadline)
    if o is None:
        raise Unsuitable(f"IRLS needs the model's residuals and Jacobian in numpy, but "
                         f"{why}: sgd with a cosine schedule and patience instead", "sgd")
    return o


# bfgs and lbfgs: the quasi-Newton loops (methods/qn_loops.py), compiled per bundle kind
_QN_MODULES = {"loops": "qn_loops", "fit_loops": "fit_qn_loops"}


def _qn_loops(bundle):
    from symgd.methods import loading
    return loading.load(_QN_MODULES[bundle.loop_module])


def bfgs(bundle, x0, lower, upper, opts, deadline):
    """BFGS with a dense inverse Hessian and a strong Wolfe search (qn_loops.bfgs_loop)."""
    from symgd.methods.driver import run_loop

    bundle = _device(bundle, opts)
    return _after(bundle, run_loop(_qn_loops(bundle).bfgs_loop,
                                   bundle.loop_arg(with_hessian=False), x0, lower, upper,
                                   [opts["tol"], opts["c1"], opts["c2"]],
                                   [opts["max_iter"], 0], deadline=deadline,
                                   work_rows=x0.size, **_common(opts)))


def lbfgs(bundle, x0, lower, upper, opts, deadline):
    """L-BFGS, the two-loop recursion over ``memory`` pairs (qn_loops.lbfgs_loop)."""
    from symgd.methods.driver import run_loop

    bundle = _device(bundle, opts)
    return _after(bundle, run_loop(_qn_loops(bundle).lbfgs_loop,
                                   bundle.loop_arg(with_hessian=False), x0, lower, upper,
                                   [opts["tol"], opts["c1"], opts["c2"]],
                                   [opts["max_iter"], 0, opts["memory"]], deadline=deadline,
                                   work_rows=2 * int(opts["memory"]), **_common(opts)))


# random_search and local_search: the derivative-free loops (methods/search_loops.py)
_SEARCH_MODULES = {"loops": "search_loops", "fit_loops": "fit_search_loops"}


def _search(bundle, loop_name, x0, lower, upper, opts, deadline, second):
    """Run a search loop with fpar = [tol, second], ipar = [budget, chunk, seed], and
    word the outcome (no gradient was evaluated: the solver computes one at x for the
    report only)."""
    from symgd.methods import loading
    from symgd.methods.driver import run_loop
    from symgd.methods.search_words import search_message

    loops = loading.load(_SEARCH_MODULES[bundle.loop_module])
    budget = opts["samples"] if opts["samples"] is not None else opts["max_iter"]
    seed = 0 if opts["seed"] is None else int(opts["seed"])
    o = run_loop(getattr(loops, loop_name), bundle.loop_arg(with_hessian=False), x0, lower,
                 upper, [opts["tol"], second], [budget, 0, seed], deadline=deadline,
                 **_common(opts))
    o.g, o.grad_norm, o.rel_grad = None, math.nan, math.nan
    o.message = search_message(loop_name, o, budget, opts)
    return _after(bundle, o)


def random_search(bundle, x0, lower, upper, opts, deadline):
    """The best of the start and ``samples`` uniform points (search_loops)."""
    return _search(bundle, "random_search_loop", x0, lower, upper, opts, deadline,
                   opts["radius"])


def local_search(bundle, x0, lower, upper, opts, deadline):
    """A (1+1) evolution strategy with the 1/5th success rule (search_loops)."""
    return _search(bundle, "local_search_loop", x0, lower, upper, opts, deadline,
                   opts["step"])


def auglag(bundle, x0, lower, upper, opts, deadline):
    """The augmented Lagrangian method (symgd.constrained.auglag) on a
    symgd.constrained.kernels.ConstrainedBundle."""
    from symgd.constrained import auglag as method
    return method.run(bundle, x0, lower, upper, opts, deadline)


def sqp(bundle, x0, lower, upper, opts, deadline):
    """The primal-dual interior-point method (symgd.constrained.interior) on a
    symgd.constrained.kernels.ConstrainedBundle."""
    from symgd.constrained import interior
    return interior.run(bundle, x0, lower, upper, opts, deadline)
