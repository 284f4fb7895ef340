"""The primal-dual system of the interior-point method (symgd.constrained.interior),
factored with inertia control, dense or sparse.

    K = [[H, A^T], [A, -d_c I]],   H = W + Sigma + d_w I   (N + m unknowns)

must have N positive and m negative eigenvalues and none zero, or the step need not
be a descent direction of the barrier problem (Wächter & Biegler 2006, section 3.1).
The caller raises d_w (and d_c once, for a rank-deficient A) until :meth:`factor`
says "ok".

DenseKKT counts the signs of the eigenvalues of D K D, D = diag(1 / sqrt(max(1,
|K_ii|))), which has K's inertia (Sylvester's law) but not the huge diagonal
(Sigma ~ z / gap grows like 1 / mu^2 at an active bound) that would drown the small
eigenvalues; its eigenvectors then solve. n^3 flops a step.

SparseKKT proves the inertia without an indefinite factorisation (scipy has no
sparse LDL^T): K with d_c = 0 has inertia (N, m, 0) exactly when A has full row rank
and H is positive definite on A's null space (N. I. M. Gould, "On practical
conditions for the existence and uniqueness of solutions to the general equality
quadratic programming problem", Math. Program. 32, 1985).

- H + sum_i r_i a_i a_i^T positive definite proves the second (v^T H v > 0 for every
  v with A v = 0; Finsler's lemma, Debreu 1952, says some r makes it so whenever the
  second holds). One sparse Cholesky in the fixed minimum-degree pattern of the
  objective's terms and the constraints (symgd.kernelgen.sparse_pattern) decides it.
  The weights r_i = RHO_SHARE max(1, max_j |W_jj| + d_w) / |a_i|^2 make the test
  exact but for nearly dependent rows; where it fails though the inertia was right,
  d_w is raised once more than needed, and the step is still a descent direction.
- With d_c > 0, K's inertia is m negative plus that of the Schur complement
  H + A^T A / d_c (Haynsworth's inertia additivity), so weights r_i <= 1 / d_c keep
  the Cholesky test a proof.
- A full row rank: K's sparse LU (SuperLU, of D K D as above) has no pivot below
  SINGULAR_PIVOT of its largest; otherwise K is called singular and d_c is set.

The LU then solves the step and the second-order corrections. Used from
sparse_newton.MIN_VARS variables where the factor's flops are under
sparse_pattern.DENSE_SHARE of the dense ones (SparsePattern.pays).
"""
from __future__ import annotations

import numpy as np

RHO_SHARE = 1e6
SINGULAR_PIVOT = 1e-13


def for_problem(n, ineq, bundle):
    """SparseKKT where the run's cliques make a sparse factor pay, else DenseKKT."""
    sparse = SparseKKT.build(n, ineq, bundle)
    return sparse if sparse is not None else DenseKKT(n, ineq, bundle.constraints.m)


class DenseKKT:
    """The primal-dual system as one dense matrix (module docstring)."""

    def __init__(self, n, ineq, m):
        self.n, self.m, self.N = n, m, n + ineq.size
        self.P = np.zeros((m, ineq.size))
        self.P[ineq, np.arange(ineq.size)] = 1.0
        self.K = None

    def jacobian(self, ck, x):
        """A = [J, P]: the slacks' columns are unit columns of their rows."""
        J = ck.jacobian(x) if self.m else np.zeros((0, self.n))
        return np.hstack([J, self.P])

    def lagrangian_hessian(self, bundle, x, y):
        """W = hess f + sum_i y_i hess c_i at x (n x n)."""
        W = np.zeros((self.n, self.n))
        bundle.hess(x, W)
        if self.m:
            W += bundle.constraints.weighted_hessian(x, y)
        return W

    def multipliers(self, A, r):
        """The least-squares y of A^T y = r."""
        return np.linalg.lstsq(A.T, r, rcond=None)[0]

    def prepare(self, W, sig, A) -> bool:
        """K without the shifts (W from :meth:`lagrangian_hessian`); False where it is
        not finite."""
        N, n = self.N, self.n
        K = np.zeros((N + self.m, N + self.m))
        K[:n, :n] = W
        K[:N, :N] += np.diag(sig)
        K[:N, N:] = A.T
        K[N:, :N] = A
        self.K = K
        return bool(np.all(np.isfinite(K)))

    def factor(self, shift, dc):
        """("ok" | "singular" | "wrong", a solver of K s = rhs or None) for K with the
        shifts d_w = shift, d_c = dc."""
        N, m = self.N, self.m
        Ks = self.K.copy()
        Ks[np.arange(N), np.arange(N)] += shift
        Ks[np.arange(N, N + m), np.arange(N, N + m)] -= dc
        D = 1.0 / np.sqrt(np.maximum(1.0, np.abs(np.diag(Ks))))
        lam, V = np.linalg.eigh(Ks * np.outer(D, D))
        V = V * D[:, None]     # K^-1 = D V diag(1 / lam) V^T D
        small = 1e-13 * max(float(np.max(np.abs(lam), initial=0.0)), 1e-300)
        pos, neg = int(np.sum(lam > small)), int(np.sum(lam < -small))
        if pos == N and neg == m:
            return "ok", lambda rhs: V @ ((V.T @ rhs) / lam)
        return ("singular" if pos + neg < N + m else "wrong"), None


class SparseKKT:
    """The primal-dual system in sparse storage (module docstring)."""

    @classmethod
    def build(cls, n, ineq, bundle):
        """None where the dense system is used: fewer than sparse_newton.MIN_VARS
        variables (no objective cliques are known), constraints whose variables are
        unknown, or a pattern whose factor does not pay."""
        from symgd.constrained.sparse_newton import MIN_VARS
        from symgd.kernelgen.sparse_pattern import clique_neighbours, pattern_of

        ck = bundle.constraints
        cons = ck.variables
        if n < MIN_VARS or len(cons) != ck.m:
            return None
        slack_of = np.full(ck.m, -1, dtype=np.int64)
        slack_of[ineq] = n + np.arange(ineq.size)
        # each row's columns of A: the constraint's variables, then its slack
        rows = [np.concatenate([np.sort(np.asarray(v, dtype=np.int64)),
                                [slack_of[i]] if slack_of[i] >= 0 else []]).astype(np.int64)
                for i, v in enumerate(cons)]
        N = n + ineq.size
        pattern = pattern_of(clique_neighbours(list(bundle.objective_cliques) + rows, N))
        if not pattern.pays(-1):
            return None
        return cls(n, ineq, pattern, rows)

    def __init__(self, n, ineq, pattern, rows):
        from symgd.constrained.sparse_newton import SparseSystem

        self.n, self.m, self.N = n, len(rows), n + ineq.size
        # H + sum r_i a_i a_i^T, and A's CSR structure (jac_layout, slack columns last)
        self.system = SparseSystem(self.N, pattern, rows, n_x=n)
        self.layout = self.system.jac_layout
        self._h = self._a = None

    def jacobian(self, ck, x):
        """A = [J, P] as a CSR matrix (sparse_jacobian.JacobianLayout)."""
        return self.layout.matrix(ck, x)

    def lagrangian_hessian(self, bundle, x, y):
        """W's entries in the pattern's slots (sparse_newton.SparseSystem.
        lagrangian_slots): no n x n matrix where the kernels write nonzeros alone."""
        return self.system.lagrangian_slots(bundle, x, y, self.n)

    def multipliers(self, A, r):
        """The least-squares y of A^T y = r, from [[I, A^T], [A, 0]] (v, y) = (r, 0)
        (W&B section 3.6); zeros where that system is singular."""
        import scipy.sparse as sps
        from scipy.sparse.linalg import splu

        K = sps.bmat([[sps.identity(self.N), A.T], [A, None]], format="csc")
        try:
            sol = splu(K).solve(np.concatenate([r, np.zeros(self.m)]))
        except RuntimeError:  # "Factor is exactly singular": a degenerate start
            return np.zeros(self.m)
        return sol[self.N:] if np.all(np.isfinite(sol)) else np.zeros(self.m)

    def prepare(self, W, sig, A) -> bool:
        """H's slots without the shift (W from :meth:`lagrangian_hessian`, Sigma on the
        diagonal) and A's data; False where they are not finite."""
        s = self.system
        h = W.copy()
        h[s.diag_slot] += sig
        self._h, self._a = h, A.data
        self._norms = self.layout.row_norms(A.data)
        x_diag = s.diag_slot[:self.n]
        self._scale = max(1.0, float(np.max(np.abs(W[x_diag]), initial=0.0)))
        return bool(np.all(np.isfinite(h)) and np.all(np.isfinite(A.data)))

    def factor(self, shift, dc):
        """As DenseKKT.factor: the Cholesky test, then the LU (module docstring)."""
        if not self._positive_on_null_space(shift, dc):
            return "wrong", None
        return self._lu(shift, dc)

    def _positive_on_null_space(self, shift, dc) -> bool:
        from symgd.methods import sparse_linalg

        s = self.system
        norms = self._norms
        weights = np.where(norms > 0.0, RHO_SHARE * (self._scale + shift)
                           / np.where(norms > 0.0, norms, 1.0), 0.0)
        if dc > 0.0:
            weights = np.minimum(weights, 1.0 / dc)
        vals = self._h.copy()
        vals[s.diag_slot] += shift
        a = self._a
        vals += np.bincount(s.pair_slot, weights[s.pair_con] * a[s.pair_ja] * a[s.pair_jb],
                            minlength=vals.size)
        arrays = (s.colptr, s.rowidx, s.rowptr, s.rowcol, s.rowslot)
        return bool(sparse_linalg.sparse_cholesky(vals, 0.0, s.L, *arrays, s.work))

    def _lu(self, shift, dc):
        import scipy.sparse as sps
        from scipy.sparse.linalg import splu

        s = self.system
        h = self._h.copy()
        h[s.diag_slot] += shift
        A = self.layout.csr(self._a)
        K = sps.bmat([[s.matrix(h), A.T], [A, -dc * sps.identity(self.m)]], format="csc")
        D = 1.0 / np.sqrt(np.maximum(1.0, np.abs(K.diagonal())))
        K = sps.diags(D) @ K @ sps.diags(D)
        try:
            lu = splu(K.tocsc(), permc_spec="MMD_AT_PLUS_A")
        except RuntimeError:  # "Factor is exactly singular"
            return "singular", None
        pivots = np.abs(lu.U.diagonal())
        if not float(np.min(pivots)) > SINGULAR_PIVOT * float(np.max(pivots)):
            return "singular", None
        return "ok", lambda rhs: D * lu.solve(D * rhs)
