"""The constraints' Jacobian as a sparse matrix of fixed structure, for problems large
enough for sparse Newton systems (symgd.constrained.sparse_newton).

Row i holds constraint i's variables (symgd.constrained.kernels.ConstraintKernels.
variables), ascending, in compressed sparse rows (CSR); the interior-point method
appends each inequality's slack column. The structure is fixed for a run, so an
entry (i, j) has one position in the data array, found once (:meth:`entries`), and
each evaluation only fills the data from the kernel's nonzeros (``cjac_nz``): an
m x n matrix is never formed (256 MB at 4,000 constraints in 8,000 variables).
"""
from __future__ import annotations

import numpy as np


class JacobianLayout:
    """CSR structure: ``rows[i]`` the column indices of row i; columns from ``n_x`` on
    (slacks) hold ones."""

    def __init__(self, rows, n_cols: int, n_x: int | None = None):
        rows = [np.sort(np.asarray(r, dtype=np.int64)) for r in rows]
        self.m, self.n_cols = len(rows), n_cols
        self.n_x = n_cols if n_x is None else n_x
        self.indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
        self.indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.row_of = np.repeat(np.arange(self.m, dtype=np.int64), np.diff(self.indptr))
        # row * n_cols + column ascends over the data (rows in order, columns sorted)
        self._keys = self.row_of * n_cols + self.indices
        self.from_x = np.flatnonzero(self.indices < self.n_x)
        self._nz_at = None

    def entries(self, rows, cols) -> np.ndarray:
        """The data positions of the entries (rows[k], cols[k]); KeyError for one
        outside the structure."""
        want = np.asarray(rows, dtype=np.int64) * self.n_cols + np.asarray(cols, dtype=np.int64)
        if want.size == 0:
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, want), max(self._keys.size - 1, 0))
        if self._keys.size == 0 or not np.array_equal(self._keys[at], want):
            raise KeyError("a Jacobian entry outside the constraints' variables")
        return at

    def data(self, ck, x) -> np.ndarray:
        """The matrix's data at x: the kernel's nonzeros where it writes them alone
        (ck.jac_coo), else gathered from the dense J."""
        data = np.ones(self.indices.size)
        if len(ck.jac_coo):
            if self._nz_at is None:
                self._nz_at = self.entries(*ck.jac_coo)
            data[self.from_x] = 0.0
            data += np.bincount(self._nz_at, ck.jacobian_nz(x), minlength=data.size)
        elif self.m:
            J = ck.jacobian(x)
            data[self.from_x] = J[self.row_of[self.from_x], self.indices[self.from_x]]
        return data

    def matrix(self, ck, x):
        """The Jacobian at x as a scipy CSR matrix (m x n_cols)."""
        return self.csr(self.data(ck, x))

    def csr(self, data):
        import scipy.sparse as sps
        return sps.csr_matrix((data, self.indices, self.indptr), shape=(self.m, self.n_cols))

    def row_norms(self, data) -> np.ndarray:
        """|row i|^2 for each row."""
        return np.bincount(self.row_of, data * data, minlength=self.m)
