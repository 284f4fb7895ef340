"""Exact linear algebra over the numbers of :mod:`symgd.analytic.points`.

Matrices are lists of rows of :class:`~symgd.analytic.points.AlgNum` (or ``ExprNum``);
every zero test and sign is exact, so the inertia below is exact.

* Characteristic polynomial by the Faddeev-LeVerrier recursion
  ``M_k = A M_{k-1} + c_{n-k+1} I``, ``c_{n-k} = -tr(A M_k) / k``
  (Householder, *The Theory of Matrices in Numerical Analysis*, 1964, §6.7).
* Inertia of a symmetric matrix from the signs of those coefficients: all eigenvalues are
  real, so Descartes' rule of signs counts the positive ones exactly; the multiplicity of
  the eigenvalue 0 is the number of trailing zero coefficients. (Leading principal minors
  decide definiteness only, never semidefiniteness.)
* Inertia on a subspace: for ``J`` (m x n) of full row rank and the bordered matrix
  ``B = [[0, J], [J^T, W]]``, ``In(B) = In(Z^T W Z) + (m, m, 0)`` with Z a basis of
  ``ker J`` (Gould, Math. Programming 32, 1985; the bordered-Hessian test).
"""
from __future__ import annotations


def charpoly(A, one):
    """Coefficients [1, c1, ..., cn] of det(lambda I - A), lambda^n first."""
    n = len(A)
    zero = one * 0
    coeffs = [one]
    M = [[zero for _ in range(n)] for _ in range(n)]
    for k in range(1, n + 1):
        # M = A @ M + c_{k-1} I
        AM = [[sum((A[i][l] * M[l][j] for l in range(n)), zero) for j in range(n)]
              for i in range(n)]
        for i in range(n):
            AM[i][i] = AM[i][i] + coeffs[-1]
        M = AM
        tr = sum((sum((A[i][l] * M[l][i] for l in range(n)), zero) for i in range(n)), zero)
        coeffs.append(tr * (-1) / k)
    return coeffs


def inertia(A, one):
    """(positive, negative, zero) eigenvalue counts of the symmetric matrix A, exactly."""
    n = len(A)
    if n == 0:
        return (0, 0, 0)
    signs = [c.sign() for c in charpoly(A, one)]
    z = 0
    while z < n and signs[n - z] == 0:
        z += 1
    nonzero = [s for s in signs[: n - z + 1] if s != 0]
    pos = sum(1 for a, b in zip(nonzero, nonzero[1:]) if a != b)
    return (pos, n - z - pos, z)


def bordered(W, J, one):
    """The bordered matrix [[0, J], [J^T, W]]."""
    m, n = len(J), len(W)
    zero = one * 0
    top = [[zero] * m + list(J[i]) for i in range(m)]
    bottom = [[J[k][i] for k in range(m)] + list(W[i]) for i in range(n)]
    return top + bottom


def reduced_inertia(W, J, one):
    """Inertia of W restricted to ker J (J of full row rank), via the bordered matrix."""
    m = len(J)
    if m == 0:
        return inertia(W, one)
    p, q, z = inertia(bordered(W, J, one), one)
    return (p - m, q - m, z)


def rank(rows, one) -> int:
    """Rank by Gaussian elimination with exact pivots."""
    M = [list(r) for r in rows]
    r = 0
    ncols = len(M[0]) if M else 0
    for c in range(ncols):
        piv = next((i for i in range(r, len(M)) if not M[i][c].is_zero()), None)
        if piv is None:
            continue
        M[r], M[piv] = M[piv], M[r]
        inv = M[r][c].inverse()
        for i in range(r + 1, len(M)):
            if not M[i][c].is_zero():
                f = M[i][c] * inv
                M[i] = [a - f * b for a, b in zip(M[i], M[r])]
        r += 1
        if r == len(M):
            break
    return r


def solve(A, b, one):
    """x with A x = b for a square nonsingular A (exact Gauss-Jordan)."""
    n = len(A)
    M = [list(A[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        piv = next(i for i in range(c, n) if not M[i][c].is_zero())
        M[c], M[piv] = M[piv], M[c]
        inv = M[c][c].inverse()
        M[c] = [a * inv for a in M[c]]
        for i in range(n):
            if i != c and not M[i][c].is_zero():
                f = M[i][c]
                M[i] = [a - f * bb for a, bb in zip(M[i], M[c])]
    return [M[i][n] for i in range(n)]


def least_squares_multipliers(J, grad, one):
    """nu with J^T nu = grad, J (m x n) of full row rank: (J J^T) nu = J grad."""
    m, n = len(J), len(grad)
    zero = one * 0
    JJt = [[sum((J[i][k] * J[j][k] for k in range(n)), zero) for j in range(m)]
           for i in range(m)]
    Jg = [sum((J[i][k] * grad[k] for k in range(n)), zero) for i in range(m)]
    return solve(JJt, Jg, one)
