"""Choosing how a templated objective's Hessian is built (dense, banded, sparse or
none) and compiling its kernels as loops (symgd.kernelgen.kernels.compile_templated).

The choice, for an objective symgd.kernelgen.templates splits into loops:
* the dense Hessian up to TEMPLATED_HESSIAN_MAX_VARS variables, where a method needs
  or wants one;
* for newton, the band where an ordering makes it narrow (symgd.kernelgen.band) and
  pays, or the general sparse factor (symgd.kernelgen.sparse_pattern) where its flops
  beat both;
* terms outside the loops that couple too many variables (REST_HESSIAN_MAX entries of
  straight-line code) get no Hessian, and newton is refused at once with advice.
"""
from __future__ import annotations


def templated_kernels(problem, need_hessian: bool, need_line_poly: bool,
                      want_hessian: bool = False):
    """The kernels of an objective made of many terms of a few shapes, compiled as loops
    (symgd.kernelgen.templates), or None where it is not (or the exact line search's
    polynomial kernel is wanted, which is built from the whole expression).

    ``need_hessian``: newton's Hessian (dense, banded or sparse), refused with advice
    where none is affordable; ``want_hessian``: the dense Hessian where it is
    affordable (at most TEMPLATED_HESSIAN_MAX_VARS variables), and its nonzeros in a
    sparse pattern (``hess_sparse``) from sparse_newton.MIN_VARS variables on."""
    from symgd.kernelgen import kernels, templates

    if need_line_poly:
        return None
    parts = templates.split(problem.minimized_objective(), problem.symbols)
    if parts is None:
        return None
    from symgd.constrained import sparse_newton
    from symgd.kernelgen.band import ordering, rest_hessian_entries

    n = len(problem.symbols)
    with_h = n <= kernels.TEMPLATED_HESSIAN_MAX_VARS and (need_hessian or want_hessian)
    entries = rest_hessian_entries(parts, problem.symbols)
    if entries > kernels.REST_HESSIAN_MAX:
        if need_hessian:
            raise problem.input_error(
                f"newton needs the Hessian of the terms that are not sums of one shape; "
                f"they couple so many variables that it would be {entries} entries of "
                f"straight-line code (at most {kernels.REST_HESSIAN_MAX} compile in "
                "seconds); try method=lbfgs (or auto), which needs no Hessian",
                field=problem.sense, kind="limit")
        with_h = False
    b, pos = ordering(parts, problem.symbols) if need_hessian else (-1, None)
    band = b if b >= 0 and kernels.band_pays(n, b) else -1
    sparse = None
    if need_hessian and b > 2:   # a band of 1 or 2 is as good as it gets
        from symgd.kernelgen.sparse_pattern import pattern

        sparse = pattern(parts, problem.symbols)
        if sparse.pays(band):
            band = -1
        else:
            sparse = None
    if want_hessian and not need_hessian and entries <= kernels.REST_HESSIAN_MAX and \
            (not with_h or n >= sparse_newton.MIN_VARS):
        # the Hessian's nonzeros alone (hess_sparse): what the constrained methods'
        # sparse Newton systems gather (symgd.constrained.sparse_newton), and past the
        # dense limit what they scatter where they hold a dense matrix, in place of n
        # differenced gradients (symgd.constrained.kernels.ConstrainedBundle.hess)
        from symgd.kernelgen.sparse_pattern import pattern
        sparse = pattern(parts, problem.symbols)
    if need_hessian and not with_h and band < 0 and sparse is None:
        raise problem.input_error(
            f"newton needs the dense {n} x {n} Hessian (half-bandwidth {b}, and a "
            "sparse factor with too much fill), more than the "
            f"{kernels.TEMPLATED_HESSIAN_MAX_VARS} variables it is built for; try "
            "method=lbfgs (or auto), which needs no Hessian", field=problem.sense,
            kind="limit")
    return kernels.compile_templated(problem, parts, with_hessian=with_h, band=band,
                                     band_pos=pos if band >= 0 else None, sparse=sparse)
