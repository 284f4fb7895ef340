"""auglag's Newton systems as sparse matrices, for problems with many variables.

The inner projected Newton of symgd.constrained.auglag takes its direction from

    hess L = hess f + sum_i t_i hess c_i + rho sum_{i active} grad c_i grad c_i^T.

An entry (j, k) of it can be nonzero only where x_j and x_k share a term of f or a
constraint: each term and each constraint is a clique of the matrix's graph. With the
cliques known from the symbols (:func:`objective_cliques`, the constraint kernels'
Jacobian pattern), the factor's structure is computed once per run in the minimum-
degree order (symgd.kernelgen.sparse_pattern) and each step factors in that fixed
pattern (symgd.methods.sparse_linalg), in place of the dense path's eigendecomposition
(n^3 flops a step: seconds at n = 2,000).

The step, in the variables' scale D (as the dense path): the free variables solve

    (D H D + tau I) z = -D g,   d = D z,

with tau the modified-Cholesky shift making D H D + tau I positive definite (Nocedal &
Wright, Alg. 3.3, as newton's), then doubled while |z| exceeds the radius: a
Levenberg-Marquardt step held to the trust radius (More & Sorensen, "Computing a trust
region step", 1983), where the dense path bisects the same shift in the eigenbasis
after flooring |eigenvalues|. Variables held at a bound are decoupled and take a
diagonally scaled gradient step, as on the dense path.

Used where n >= MIN_VARS and the factor's flops are under DENSE_SHARE of the dense
n^3 / 3 (SparsePattern.pays); otherwise the dense path runs as before.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

MIN_VARS = 200
MAX_SHIFTS = 60   # doublings of the shift while the step is longer than the radius


def objective_cliques(problem) -> tuple:
    """Each term's variable indices of the minimised objective (sympy's Add terms),
    or () below MIN_VARS variables (the dense path needs none)."""
    syms = problem.symbols
    if len(syms) < MIN_VARS:
        return ()
    index_of = {s: i for i, s in enumerate(syms)}
    out = []
    for term in sp.Add.make_args(problem.minimized_objective()):
        held = [index_of[s] for s in term.free_symbols if s in index_of]
        if len(held) > 1:
            out.append(np.array(sorted(held), dtype=np.int64))
    return tuple(out)


class SparseSystem:
    """The fixed sparse structure of hess L for one run (module docstring)."""

    def __init__(self, n: int, pattern, constraint_vars, n_x: int | None = None):
        """``n_x``: the variables whose Jacobian columns the kernels write (sqp's
        slacks, from n_x on, have unit columns); n where omitted."""
        from symgd.constrained.sparse_jacobian import JacobianLayout
        from symgd.methods import sparse_linalg
        self._la = sparse_linalg
        self.n = n
        self.pattern = pattern
        self.colptr, self.rowidx, self.rowptr, self.rowcol, self.rowslot = pattern.arrays()
        pos = pattern.pos
        var_at = np.empty(n, dtype=np.int64)
        var_at[pos] = np.arange(n)
        col_pos = np.repeat(np.arange(n), np.diff(self.colptr))
        self.slot_row = var_at[self.rowidx]   # the variables of each slot's entry
        self.slot_col = var_at[col_pos]
        self.diag_slot = self.colptr[:-1][pos]  # variable i's diagonal slot
        # each constraint's grad c grad c^T entries: (constraint, j, k, slot), j, k its
        # variables, one entry per unordered pair (the lower triangle's slot)
        con, a, b = [], [], []
        for i, held in enumerate(constraint_vars):
            held = [int(v) for v in held]
            for j in held:
                for k in held:
                    if pos[j] >= pos[k]:
                        con.append(i)
                        a.append(j)
                        b.append(k)
        self.pair_con = np.array(con, dtype=np.int64)
        self.pair_a = np.array(a, dtype=np.int64)
        self.pair_b = np.array(b, dtype=np.int64)
        self.pair_slot = pattern.slots(self.pair_a, self.pair_b) if con else \
            np.zeros(0, dtype=np.int64)
        # the Jacobian as CSR of fixed structure, and each pair's two entries in it
        self.jac_layout = JacobianLayout(constraint_vars, n, n_x)
        self.pair_ja = self.jac_layout.entries(self.pair_con, self.pair_a)
        self.pair_jb = self.jac_layout.entries(self.pair_con, self.pair_b)
        self.L = np.empty(pattern.nnz)
        self.work = np.empty(n)
        self._slot_maps = None   # the kernels' nonzeros to slots (:meth:`_maps`)

    @classmethod
    def for_run(cls, bundle):
        """The system of a ConstrainedBundle whose cliques make a sparse factor pay,
        else None (the dense path). Kept on the bundle where it takes attributes (a
        run's symgd.constrained.counting.CountedBundle): auglag's steps and every
        second-order test of the run share one ordering."""
        if hasattr(bundle, "sparse_system"):
            return bundle.sparse_system
        system = cls._build(bundle)
        try:
            bundle.sparse_system = system
        except AttributeError:  # a frozen ConstrainedBundle: built again when asked
            pass
        return system

    @classmethod
    def _build(cls, bundle):
        from symgd.kernelgen.sparse_pattern import clique_neighbours, pattern_of

        ck = bundle.constraints
        n = ck.n
        cliques = getattr(bundle, "objective_cliques", ())
        if n < MIN_VARS or not cliques and not ck.m:
            return None
        cons = ck.variables
        pattern = pattern_of(clique_neighbours(list(cliques) + list(cons), n))
        if not pattern.pays(-1):
            return None
        return cls(n, pattern, cons)

    def lagrangian_slots(self, bundle, x, y, n) -> np.ndarray:
        """hess f + sum_i y_i hess c_i at x in the pattern's slots (variables 0..n-1 of
        the pattern's; sqp's slacks follow them), from the kernels' nonzeros where
        they write them alone (no n x n matrix), else gathered from the dense ones.

        The objective's sparse kernel writes its own pattern's slots, whose fill (in
        its ordering) holds zeros; a pair outside this pattern shares no term of f
        (each term is a clique here), so it is such a zero and is dropped."""
        nnz = self.pattern.nnz
        maps = self._maps(bundle, n)
        coo = bundle.hessian_coo()
        if coo is not None:
            vals = np.bincount(maps["objective"], bundle.hessian_nz(x), minlength=nnz + 1)[:nnz]
        else:
            H = np.zeros((n, n))
            bundle.hess(x, H)
            vals = np.zeros(nnz)
            xs = maps["x_slots"]
            vals[xs] = H[self.slot_row[xs], self.slot_col[xs]]
        ck = bundle.constraints
        if ck.m:
            if len(ck.hess_coo):
                vals += np.bincount(maps["constraints"], ck.weighted_hessian_nz(x, y),
                                    minlength=nnz)
            else:
                W = ck.weighted_hessian(x, y)
                xs = maps["x_slots"]
                vals[xs] += W[self.slot_row[xs], self.slot_col[xs]]
        return vals

    def _maps(self, bundle, n) -> dict:
        """The slots of the kernels' nonzeros (computed once per run; the objective's
        pairs outside the pattern go to a last, dropped slot)."""
        if self._slot_maps is not None:
            return self._slot_maps
        nnz = self.pattern.nnz
        maps = {"x_slots": np.flatnonzero((self.slot_row < n) & (self.slot_col < n))}
        coo = bundle.hessian_coo()
        if coo is not None:
            at = self.pattern.slots(coo[0], coo[1], missing=True)
            maps["objective"] = np.where(at >= 0, at, nnz)
        hc = bundle.constraints.hess_coo
        if len(hc):
            maps["constraints"] = self.pattern.slots(hc[0], hc[1])
        self._slot_maps = maps
        return maps

    def matrix(self, vals):
        """The symmetric matrix of the slots' values ``vals`` as scipy CSR (n x n)."""
        import scipy.sparse as sps
        keep = vals != 0.0
        r, c, v = self.slot_row[keep], self.slot_col[keep], vals[keep]
        off = r != c
        return sps.csr_matrix((np.concatenate([v, v[off]]),
                               (np.concatenate([r, c[off]]), np.concatenate([c, r[off]]))),
                              shape=(self.n, self.n))

    def values(self, H, J, active, rho) -> np.ndarray:
        """hess L in the pattern's slots: H (hess f + sum t_i hess c_i: its slots, as
        :meth:`lagrangian_slots` gives them, or dense and symmetric, gathered) plus
        rho grad c_i grad c_i^T of the active constraints (``rho`` a number, or one
        weight per constraint); J the Jacobian, a CSR matrix of ``jac_layout`` or
        dense."""
        vals = H.copy() if H.ndim == 1 else H[self.slot_row, self.slot_col]
        if self.pair_con.size:
            on = active[self.pair_con]
            c, s = self.pair_con[on], self.pair_slot[on]
            w = rho[c] if np.ndim(rho) else rho
            if isinstance(J, np.ndarray):
                ja, jb = J[c, self.pair_a[on]], J[c, self.pair_b[on]]
            else:
                ja, jb = J.data[self.pair_ja[on]], J.data[self.pair_jb[on]]
            vals += np.bincount(s, w * ja * jb, minlength=vals.size)
        return vals

    def direction(self, vals, gL, fixed, scale, radius) -> np.ndarray:
        """The projected-Newton direction from hess L's slot values (module docstring);
        ``vals`` is used as scratch."""
        la = self._la
        n = self.n
        d = np.zeros(n)
        diag = vals[self.diag_slot].copy()
        free = ~fixed
        if np.any(free):
            vals *= scale[self.slot_row] * scale[self.slot_col]
            for i in np.nonzero(fixed)[0]:
                la.decouple_sparse(vals, int(self.pattern.pos[i]), self.colptr, self.rowptr,
                                   self.rowslot)
            gs = np.where(free, gL * scale, 0.0)
            z = self._solve(vals, gs, radius) if np.all(np.isfinite(vals)) else None
            if z is None:  # not finite, or no shift factors it: a scaled gradient step
                z = -gs / max(float(np.linalg.norm(gs)), 1e-300)
            d[free] = (z * scale)[free]
        if np.any(fixed):
            dg = diag[fixed]
            d[fixed] = -gL[fixed] / np.where(dg > 1e-12, dg, 1.0)
        return d

    def _solve(self, vals, gs, radius):
        """z = -(A + tau I)^-1 gs with the modified-Cholesky shift tau, doubled while
        |z| > radius; None where no shift factors A."""
        la = self._la
        arrays = (self.colptr, self.rowidx, self.rowptr, self.rowcol, self.rowslot)
        tau = la.modified_sparse_factor(vals, self.L, *arrays, self.work)
        if tau < 0.0:
            return None
        pos = self.pattern.pos
        rhs = np.empty(self.n)
        rhs[pos] = -gs
        out = np.empty(self.n)
        beta = 1e-3 * max(1.0, float(np.max(np.abs(vals[self.colptr[:-1]]))))
        for _ in range(MAX_SHIFTS):
            la.sparse_solve(self.L, self.colptr, self.rowidx, rhs, out)
            z = out[pos]
            if not float(np.linalg.norm(z)) > radius:
                return z
            tau = max(2.0 * tau, beta)  # Alg. 3.3's steps
            if not la.sparse_cholesky(vals, tau, self.L, *arrays, self.work):
                return None
        return z if math.isfinite(float(np.linalg.norm(z))) else None

    def positive_on_tangent(self, H, J, active, held, tol) -> bool:
        """Whether the second-order test of symgd.constrained.kkt.reduced_curvature
        passes, proved by one sparse Cholesky: Z^T (H + eps I) Z is positive definite
        for Z a basis of the null space of M (the active constraints' gradients and the
        held variables' unit rows) when H + eps I + rho M^T M is, for any rho (Finsler's
        lemma; Debreu, Econometrica 20, 1952), with eps = tol max(1, max |H_ii|). M's
        rows are normalised (the same null space) and weighted rho = 1e6 max(1, max
        |H_ii|), past which the test is exact for all but nearly dependent rows, while
        the rounding of the weighted rows (~1e-16 rho) stays far below eps. H and J as
        :meth:`values` takes them (slots or dense; CSR or dense). False means
        "not proved": the caller then computes the eigenvalues densely."""
        la = self._la
        diag = H[self.diag_slot] if H.ndim == 1 else np.diag(H)
        scale = max(1.0, float(np.max(np.abs(diag), initial=0.0)))
        rho = 1e6 * scale
        if isinstance(J, np.ndarray):
            norms = np.sum(J * J, axis=1) if J.size else np.zeros(0)
        else:
            norms = self.jac_layout.row_norms(J.data)
        weights = np.where(norms > 0.0, rho / np.where(norms > 0.0, norms, 1.0), 0.0)
        vals = self.values(H, J, active, weights)
        vals[self.diag_slot] += tol * scale
        vals[self.diag_slot[held]] += rho
        arrays = (self.colptr, self.rowidx, self.rowptr, self.rowcol, self.rowslot)
        return bool(np.all(np.isfinite(vals))) and \
            bool(la.sparse_cholesky(vals, 0.0, self.L, *arrays, self.work))

