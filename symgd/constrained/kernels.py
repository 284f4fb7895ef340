"""The compiled kernels of a problem's constraints, and the bundle a constrained
method runs on (the objective's kernels plus these).

Every constraint is carried in one internal form, c_i(x) = 0 for ``==`` and
c_i(x) <= 0 for ``<=`` and ``>=`` (``Constraint.g_le``: lhs - rhs, or rhs - lhs for
``>=``), so one sign convention serves the method; symgd.constrained.kkt turns the
multipliers back into SPEC §4's.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

_BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ConstraintKernels:
    """m constraints' values, Jacobian and weighted Hessian sum, compiled.

    Attributes:
        texts: the user's text of each constraint (multipliers are keyed by it).
        relations: "==", "<=" or ">=" per constraint.
        equality: bool array, True for ``==``.
        cfuncs: the compiled kernels (kept alive while their addresses are used).
        variables: each constraint's variable indices (its Jacobian row's nonzeros):
            the cliques of symgd.constrained.sparse_newton.
        jac_coo, hess_coo: (rows, cols) of the nonzeros that cfuncs[3] (cjac_nz)
            and cfuncs[4] (chess_nz) write, where the problem is large enough for
            sparse Newton systems (symgd.kernelgen.constraint_codegen.sparse_layout);
            () below.
    """

    n: int
    texts: tuple
    relations: tuple
    equality: np.ndarray
    cfuncs: tuple
    time_s: float = 0.0
    variables: tuple = ()
    jac_coo: tuple = ()
    hess_coo: tuple = ()

    @property
    def m(self) -> int:
        return len(self.texts)

    def values(self, x) -> np.ndarray:
        """c(x) in the internal form (== 0, <= 0)."""
        from symgd.kernelgen.fastcall import call_vec
        c = np.zeros(self.m)
        if self.m:
            call_vec(self.cfuncs[0].address, np.ascontiguousarray(x, dtype=np.float64), c)
        return c

    def jacobian(self, x) -> np.ndarray:
        """J[i, j] = d c_i / d x_j."""
        from symgd.kernelgen.fastcall import call_mat
        J = np.zeros((self.m, self.n))
        if self.m:
            call_mat(self.cfuncs[1].address, np.ascontiguousarray(x, dtype=np.float64), J)
        return J

    def weighted_hessian(self, x, y) -> np.ndarray:
        """sum_i y_i hess c_i(x)."""
        from symgd.kernelgen.fastcall import call_mat
        H = np.zeros((self.n, self.n))
        if self.m:
            xy = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
            call_mat(self.cfuncs[2].address, xy, H)
        return H

    def jacobian_nz(self, x) -> np.ndarray:
        """J's nonzeros at ``jac_coo`` (only where jac_coo is not empty)."""
        from symgd.kernelgen.fastcall import call_vec
        v = np.zeros(self.jac_coo[0].size)
        call_vec(self.cfuncs[3].address, np.ascontiguousarray(x, dtype=np.float64), v)
        return v

    def weighted_hessian_nz(self, x, y) -> np.ndarray:
        """sum_i y_i hess c_i(x) at ``hess_coo``, one triangle, pairs to be added."""
        from symgd.kernelgen.fastcall import call_vec
        v = np.zeros(self.hess_coo[0].size)
        xy = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        call_vec(self.cfuncs[4].address, xy, v)
        return v


@dataclass(frozen=True)
class ConstrainedBundle:
    """What a constrained method runs on: the objective's kernel bundle (fun, fg, hess)
    and the constraints' kernels. Delegates the objective's calls, so the solver's
    shared final checks read it like any bundle."""

    objective: object
    constraints: ConstraintKernels
    # each objective term's variable indices, for problems large enough that auglag's
    # Newton systems may be sparse (symgd.constrained.sparse_newton.objective_cliques)
    objective_cliques: tuple = ()

    @property
    def has_hessian(self) -> bool:
        return True  # the kernel's, or central differences of the gradient (hess)

    @property
    def backend(self) -> str:
        return getattr(self.objective, "backend", "numba")

    def fun(self, x) -> float:
        return self.objective.fun(x)

    def fg(self, x, g) -> float:
        return self.objective.fg(x, g)

    def hess(self, x, H) -> None:
        """The objective's Hessian kernel, or its sparse one scattered (templated sums
        past the dense limit); where none was compiled (it passes the
        operation limit), central differences of the compiled gradient, h_j =
        eps^(1/3) max(1, |x_j|), symmetrised (Nocedal & Wright section 8.1)."""
        if self.objective.has_hessian:
            self.objective.hess(x, H)
            return
        if getattr(self.objective, "has_sparse_hessian", False):  # past the dense limit
            self.objective.sparse_hess_dense(x, H)
            return
        self._difference_hessian(x, H)

    def hessian_coo(self):
        """(rows, cols) of :meth:`hessian_nz`'s values where the objective has its
        sparse Hessian kernel (templated sums from sparse_newton.MIN_VARS variables),
        else None (ask :meth:`hess` for the dense matrix)."""
        if getattr(self.objective, "has_sparse_hessian", False):
            return self.objective.sparse_hessian_coo()
        return None

    def hessian_nz(self, x) -> np.ndarray:
        """The objective's Hessian entries at :meth:`hessian_coo`."""
        return self.objective.sparse_hessian_nz(x)

    def _difference_hessian(self, x, H) -> None:
        n = x.size
        gp, gm = np.zeros(n), np.zeros(n)
        for j in range(n):
            h = 6e-6 * max(1.0, abs(x[j]))
            xp, xm = x.copy(), x.copy()
            xp[j] += h
            xm[j] -= h
            self.objective.fg(xp, gp)
            self.objective.fg(xm, gm)
            H[:, j] = (gp - gm) / (2.0 * h)
        H[:, :] = 0.5 * (H + H.T)


def constraint_kernels(problem) -> ConstraintKernels:
    """Derive, generate and compile (or load from the cache) the kernels of
    ``problem.constraints``; built once per Problem object."""
    import time

    import sympy as sp

    from symgd.kernelgen import cache
    from symgd.kernelgen.codegen import constraint_source
    from symgd.kernelgen.templates import split_rows

    found = _BUILT.get(problem)
    if found is not None:
        return found
    t0 = time.perf_counter()
    syms = list(problem.symbols)
    values = [c.g_le for c in problem.constraints]
    groups, rest = split_rows(values, syms)
    from symgd.constrained.sparse_newton import MIN_VARS
    sparse_outputs = len(syms) >= MIN_VARS and bool(values)
    layout = ()
    if groups or sparse_outputs:
        # loops for constraints of repeated shapes (symgd.kernelgen.constraint_codegen);
        # its module also writes the nonzeros alone for sparse Newton systems
        from symgd.kernelgen.constraint_codegen import constraint_loop_source
        jac, hess = sparse_constraint_derivatives([values[i] for i in rest], syms, sp.diff)
        jac = {(rest[i], j): d for (i, j), d in jac.items()}
        hess = {key: [(rest[i], h) for i, h in terms] for key, terms in hess.items()}
        src, layout = constraint_loop_source(problem.name, values, groups, rest, jac, hess,
                                             syms, sparse_outputs)
        variables = list(_rows_of(jac, len(values)))
        for tpl, rows in groups:   # a templated constraint's variables: its index row
            for k, i in enumerate(rows):
                variables[int(i)] = np.sort(tpl.index[k])
        variables = tuple(variables)
    else:
        jac, hess = sparse_constraint_derivatives(values, syms, sp.diff)
        src = constraint_source(problem.name, values, jac, hess, syms)
        variables = _rows_of(jac, len(values))
    module = cache.load_module(src)
    funcs = (module.cval, module.cjac, module.chess)
    if layout:
        funcs += (module.cjac_nz, module.chess_nz)
    ck = ConstraintKernels(
        len(syms), tuple(c.text for c in problem.constraints),
        tuple(c.relation for c in problem.constraints),
        np.array([c.relation == "==" for c in problem.constraints], dtype=bool),
        funcs, time.perf_counter() - t0, variables, layout[:2], layout[2:])
    _BUILT[problem] = ck
    return ck


def _rows_of(jac: dict, m: int) -> tuple:
    """Each constraint's variable indices, from the Jacobian's nonzero (i, j)."""
    rows = [[] for _ in range(m)]
    for i, j in jac:
        rows[i].append(j)
    return tuple(np.array(r, dtype=np.int64) for r in rows)


def sparse_constraint_derivatives(values, syms, diff) -> tuple:
    """The nonzero first and second derivatives of the constraints ``values``:

        jac  = {(i, j): d c_i / d x_j}                     (i, j) in row-major order
        hess = {(j, k): [(i, d2 c_i / d x_j d x_k), ...]}   j <= k, (j, k) and i ascending

    Only the variables that occur in c_i are differentiated (in d c_i / d x_j, those
    that occur in it): the cost is each constraint's own size, where differentiating
    every c_i by every pair of variables cost m n^2 derivatives (60 chained constraints
    in 120 variables: 864,000 derivatives, 12 s). ``diff(expr, symbol)`` is sympy's."""
    position = {s: k for k, s in enumerate(syms)}
    jac, hess = {}, {}
    for i, v in enumerate(values):
        held = sorted(position[s] for s in v.free_symbols if s in position)
        for j in held:
            d = diff(v, syms[j])
            if d == 0:
                continue
            jac[(i, j)] = d
            for k in sorted(position[s] for s in d.free_symbols if s in position):
                if k < j:
                    continue
                h = diff(d, syms[k])
                if h != 0:
                    hess.setdefault((j, k), []).append((i, h))
    jac = dict(sorted(jac.items()))
    hess = {key: hess[key] for key in sorted(hess)}
    return jac, hess

