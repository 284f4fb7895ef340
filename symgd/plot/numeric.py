"""The numbers behind the figures: the objective on a grid, the view box, directions.

The objective is evaluated with ``sympy.lambdify`` (numpy), never with the compiled
kernels: a figure needs whole grids at once, and numpy's broadcasting gives them in one
call. The expressions are the Problem's own sympy objects (built by symgd's safe
parser), so nothing from a file is evaluated as code. Whatever numpy cannot evaluate
(log of a negative number, overflow, 0/0) becomes NaN and is masked in the figure.

Data fits have no single objective expression: their loss is a mean or sum over the
samples, computed here from the fit's per-sample value (symgd.fit.spec) in blocks, so
that a 200 x 200 grid over a large data set stays within a few tens of megabytes.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from symgd.errors import InputError

BLOCK_CELLS = 2_000_000   # grid points x samples evaluated at once (16 MB of float64)
HESSIAN_MAX_VARS = 20     # landscape directions from the Hessian up to this many variables


def _quiet(fn, *args):
    """``fn(*args)`` as a float array with non-finite values (and numpy's complaints)
    turned into NaN; None when numpy raises."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(*args)
            if np.iscomplexobj(out):
                out = np.where(np.abs(np.imag(out)) > 0, np.nan, np.real(out))
            out = np.asarray(out, dtype=float)
    except Exception:  # noqa: BLE001  (numpy could not evaluate it at all)
        return None
    return np.where(np.isfinite(out), out, np.nan)


def lambdified(args, expr):
    """``sympy.lambdify`` of ``expr`` over ``args`` for numpy, or None when sympy cannot
    print it for numpy."""
    import sympy as sp

    try:
        return sp.lambdify(list(args), expr, modules="numpy", dummify=True)
    except Exception:  # noqa: BLE001  (an unprintable function)
        return None


def evaluate(fn, arrays, shape) -> np.ndarray:
    """``fn(*arrays)`` broadcast to ``shape``, NaN where it is not a finite number."""
    out = _quiet(fn, *arrays) if fn is not None else None
    if out is None:
        return np.full(shape, np.nan)
    return np.broadcast_to(out, shape).astype(float)


class Objective:
    """f in the user's sense as a vectorised function of the variables.

    ``self(coords)`` takes a sequence of n arrays of one shape (one per variable) and
    returns f at each point, NaN where f is not finite. For data fits f is the loss the
    Result reports (SPEC §1: mse, sse, mae, huber, logcosh, cross_entropy, or the mean or
    sum of a per-sample objective).
    """

    def __init__(self, problem):
        self.problem = problem
        self.n = len(problem.variables)
        self.symbols = tuple(problem.symbols)
        if problem.is_fit:
            self._fit_setup(problem)
        else:
            self._fn = lambdified(self.symbols, problem.objective)
            if self._fn is None:
                raise InputError("the objective cannot be evaluated with numpy for a "
                                 "figure", field=problem.sense, kind="unavailable")

    def _fit_setup(self, problem):
        from symgd.fit.source import dataset
        from symgd.fit.spec import fit_spec

        delta = float(problem.options.get("delta", 1.0))
        self.spec = spec = fit_spec(problem, delta=delta)
        self.data = dataset(problem, spec)
        self.columns = [self.data.column(s.name) for s in spec.data_symbols]
        args = list(self.symbols) + list(spec.data_symbols)
        self._fn = lambdified(args, spec.value)
        self._labels = None
        if spec.loss == "cross_entropy":
            labels = lambdified(list(spec.data_symbols), spec.target)
            self._labels = evaluate(labels, self.columns, (self.data.n_samples,))
        if self._fn is None:
            raise InputError("the fit's model cannot be evaluated with numpy for a figure",
                             field="model", kind="unavailable")

    def __call__(self, coords) -> np.ndarray:
        coords = [np.asarray(c, dtype=float) for c in coords]
        shape = np.broadcast(*coords).shape if coords else ()
        if not self.problem.is_fit:
            return evaluate(self._fn, coords, shape)
        return self._fit_loss(coords, shape)

    def _fit_loss(self, coords, shape) -> np.ndarray:
        """The fit's loss at each point: per-sample values in blocks of samples."""
        spec, n = self.spec, self.data.n_samples
        flat = [np.broadcast_to(c, shape).reshape(-1, 1) for c in coords]
        points = flat[0].shape[0] if flat else 1
        total = np.zeros(points)
        step = max(1, BLOCK_CELLS // max(points, 1))
        for lo in range(0, n, step):
            cols = [c[lo:lo + step].reshape(1, -1) for c in self.columns]
            value = evaluate(self._fn, flat + cols, (points, cols[0].shape[1] if cols
                                                     else min(step, n - lo)))
            labels = None if self._labels is None else self._labels[lo:lo + step]
            total += per_sample_loss(spec.loss, value, labels, spec.delta).sum(axis=1)
        if spec.mean:
            total /= n
        if spec.loss == "per_sample":
            total *= spec.sign  # back in the user's sense (a maximised per-sample objective)
        return total.reshape(shape)


    def hessian(self, x):
        """The Hessian of f at ``x`` (n x n), or None where it cannot be evaluated:
        exact from sympy for an objective, central differences for a data fit."""
        if self.problem.is_fit:
            return _difference_hessian(self, x)
        return _symbolic_hessian(self.problem, x)


class CompiledObjective:
    """f in the user's sense from the compiled kernels of a problem solved from the warm
    index (symgd.warm.LightProblem): no sympy to import, no expression to parse. One
    kernel call per point (about half a microsecond), so a 200 x 200 grid costs some
    tens of milliseconds."""

    def __init__(self, problem):
        kernels = problem.kernels()
        if kernels is None:
            raise LookupError("the indexed kernels are gone")
        self.kernels = kernels
        self.n = len(problem.variables)
        # the kernels compute the minimised objective: -f for maximize
        self.sign = -1.0 if problem.sense == "maximize" else 1.0

    def __call__(self, coords) -> np.ndarray:
        coords = [np.asarray(c, dtype=float) for c in coords]
        shape = np.broadcast(*coords).shape
        pts = np.ascontiguousarray(np.stack([np.broadcast_to(c, shape).ravel()
                                             for c in coords], axis=1))
        out = np.empty(pts.shape[0])
        fun = self.kernels.fun
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for i in range(pts.shape[0]):
                try:
                    out[i] = fun(pts[i])
                except (ArithmeticError, ValueError):  # the pure-Python fallback kernels
                    out[i] = np.nan
        out *= self.sign
        return np.where(np.isfinite(out), out, np.nan).reshape(shape)

    def hessian(self, x):
        """The compiled Hessian at ``x`` (user's sense), or None without one."""
        if not self.kernels.has_hessian:
            return None
        H = np.zeros((self.n, self.n))
        try:
            self.kernels.hess(np.asarray(x, dtype=float), H)
        except (ArithmeticError, ValueError, RuntimeError):
            return None
        return self.sign * H


def objective_for(problem):
    """The vectorised f of a problem: from its compiled kernels when it came from the
    warm index (no sympy), else from its expressions (:class:`Objective`)."""
    from symgd.problem_interface import INDEXED

    if problem.kernel_source == INDEXED and not problem.is_fit:
        return CompiledObjective(problem)
    return Objective(problem)


def objective_words(problem) -> str:
    """The objective as text for titles (without sympy for a warm-index problem)."""
    text = getattr(problem, "objective_text", None)
    if text:
        return str(text)
    if getattr(problem, "objective", None) is not None:
        from symgd import large_expr
        return large_expr.text(problem.objective)
    return f"{getattr(problem, 'loss', None) or 'loss'} of the fit"


def per_sample_loss(loss: str, r, labels=None, delta: float = 1.0) -> np.ndarray:
    """The loss of each residual (or logit, cross_entropy; or value, per_sample), as
    symgd.fit.losses computes it (SPEC §1), in numpy."""
    with np.errstate(all="ignore"):
        if loss in ("mse", "sse"):
            return r * r
        if loss == "mae":
            return np.abs(r)
        if loss == "huber":
            a = np.abs(r)
            return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
        if loss == "logcosh":
            a = np.abs(r)
            return a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)
        if loss == "cross_entropy":
            return np.logaddexp(0.0, r) - labels * r
        return r  # per_sample: the (signed) value itself


def finite_rows(points) -> np.ndarray:
    """The rows of ``points`` (k x d) whose values are all finite."""
    pts = np.asarray(points, dtype=float).reshape(-1, np.shape(points)[-1] if
                                                   np.ndim(points) > 1 else 1)
    return pts[np.all(np.isfinite(pts), axis=1)]


def view_box(core, extra=(), bounds=None, *, margin=0.12, min_span=1e-3) -> list:
    """[(lo, hi)] per axis: a box holding the ``core`` points (start, answer, critical
    points) and the ``extra`` ones (the path) with a margin.

    Path points far outside the core's box (a diverging run) do not stretch the view:
    only those within ten times the core's size are held. Finite ``bounds`` (lo, hi per
    axis, None where free) clip the box to the feasible range plus a margin, and a
    variable bounded on both sides within a few times the box is shown whole.
    """
    core = finite_rows(core)
    extra = finite_rows(extra) if len(extra) else np.empty((0, core.shape[1]))
    lo, hi = core.min(axis=0), core.max(axis=0)
    size = np.maximum(hi - lo, np.maximum(np.abs(lo), np.abs(hi)) * 0.2)
    size = np.maximum(size, 1.0 if np.all(hi == lo) else min_span)
    centre = 0.5 * (lo + hi)
    if len(extra):
        near = np.all(np.abs(extra - centre) <= 10 * size, axis=1)
        if near.any():
            lo = np.minimum(lo, extra[near].min(axis=0))
            hi = np.maximum(hi, extra[near].max(axis=0))
    out = []
    for j in range(core.shape[1]):
        a, b = float(lo[j]), float(hi[j])
        if b - a < min_span:  # all points share this coordinate: a width of its own
            mid, half = 0.5 * (a + b), 0.5 * max(0.2 * abs(a + b) / 2, 1.0)
            a, b = mid - half, mid + half
        b_lo, b_hi = (bounds[j] if bounds is not None else (None, None))
        if b_lo is not None and b_hi is not None and math.isfinite(b_lo) and \
                math.isfinite(b_hi) and (b_hi - b_lo) <= 4 * (b - a):
            a, b = min(a, b_lo), max(b, b_hi)  # show the whole feasible interval
        span = b - a
        a, b = a - margin * span, b + margin * span
        if b_lo is not None and math.isfinite(b_lo):
            a = max(a, b_lo - margin * span)
        if b_hi is not None and math.isfinite(b_hi):
            b = min(b, b_hi + margin * span)
        out.append((a, b))
    return out


def contour_levels(z, count: int = 24) -> np.ndarray:
    """Levels at quantiles of the finite values: every band holds about as many grid
    points, whatever the range (Rosenbrock spans six decades above its minimum)."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, count + 1)))
    if levels.size < 2:
        levels = np.array([levels[0] - 0.5, levels[0] + 0.5])
    return levels


def directions(objective, x, *, seed: int = 0):
    """Two orthonormal directions through ``x`` for a landscape of n > 2 variables, and
    how they were chosen (words for the title).

    The Hessian's eigenvectors of smallest |eigenvalue| show where the answer is least
    determined (the flat directions of a valley); they are used up to
    HESSIAN_MAX_VARS variables, with the Hessian ``objective.hessian`` gives (sympy's
    or the compiled one for an objective, central differences for a data fit).
    Otherwise, or where the Hessian cannot be evaluated, two seeded random unit
    directions.
    """
    n = len(x)
    if n <= HESSIAN_MAX_VARS:
        h = objective.hessian(x)
        if h is not None and np.all(np.isfinite(h)):
            w, v = np.linalg.eigh(0.5 * (h + h.T))
            order = np.argsort(np.abs(w), kind="stable")
            u1, u2 = v[:, order[0]], v[:, order[1]]
            return u1, u2, (f"Hessian eigenvectors of smallest |eigenvalue| "
                            f"({w[order[0]]:.3g}, {w[order[1]]:.3g})")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, 2)))
    return q[:, 0], q[:, 1], f"two random directions (seed {seed})"


def _symbolic_hessian(problem, x):
    import sympy as sp

    try:
        h = sp.hessian(problem.objective, problem.symbols)
    except Exception:  # noqa: BLE001  (sympy could not differentiate: fall back)
        return None
    fn = lambdified(problem.symbols, h)
    if fn is None:
        return None
    out = _quiet(fn, *[float(v) for v in x])
    return None if out is None else out.reshape(len(x), len(x))


def _difference_hessian(objective, x):
    """Central second differences of ``objective`` at ``x`` (one vectorised call)."""
    n = len(x)
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    pts = []
    for i in range(n):
        for j in range(n):
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                p = np.array(x, dtype=float)
                p[i] += si * h[i]
                p[j] += sj * h[j]
                pts.append(p)
    vals = objective(list(np.array(pts).T))
    vals = vals.reshape(n, n, 4)
    return (vals[..., 0] - vals[..., 1] - vals[..., 2] + vals[..., 3]) / \
        (4.0 * np.outer(h, h))
