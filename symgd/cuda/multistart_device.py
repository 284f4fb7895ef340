"""CUDA device functions of multistart Newton: one thread owns one start (issue 16,
item 2).

This module holds text only: symgd.cuda.multistart_source writes the constants of
symgd.methods.status and the number of variables N, a problem's generated ``d_fun``,
``d_fg`` and ``d_hess`` (straight-line code from the symbolic f, gradient and
Hessian), these functions, then its own kernels (k_start, k_step, k_settle, k_count)
into one module, loaded through symgd.kernelgen.cache.load_module. Importing this
needs no GPU.

Each is a transcription of the CPU code it names, statement by statement and in the
same order of floating-point operations, so a start follows the CPU multistart's
path (methods/loops.newton_loop through methods/multistart_loop.run_starts):

    d_check_stop      loops._check_stop: relative gradient of Dennis and Schnabel,
                      max_i |g_i| max(|x_i|, typ_x) / max(|f|, typ_f) <= tol
    d_chol            linalg.cholesky_shifted: L L^T = A + tau I on A's envelope
    d_modified_factor linalg.modified_factor: the smallest tau = 0, beta, 2 beta, ...
                      with A + tau I positive definite, beta = 1e-3 max(1, max |A_ii|)
                      (Nocedal and Wright, Numerical Optimization, 2nd ed., Alg. 3.3)
    d_armijo          common.armijo: backtracking to f(P(x + a d)) <= f + c1 g.(P(x +
                      a d) - x) (Alg. 3.1 there), with its rounding band and expansion
    d_within_noise    common.within_noise: a unit step within f's rounding that
                      halves the gradient is taken (Berahas, Byrd and Nocedal 2019)
    d_newton_step     loops.newton_step: the unit step first, then the search
"""
from __future__ import annotations

DEVICE_FUNCTIONS = '''

@cuda.jit(device=True)
def d_project(x, lo, hi):
    for i in range(N):
        if x[i] < lo[i]:
            x[i] = lo[i]
        elif x[i] > hi[i]:
            x[i] = hi[i]


@cuda.jit(device=True)
def d_held(x, g, lo, hi, i):
    xi = x[i]
    gi = g[i]
    if xi <= lo[i] and gi > 0.0:
        return True
    if xi >= hi[i] and gi < 0.0:
        return True
    return False


@cuda.jit(device=True)
def d_finite(v):
    for i in range(N):
        if not math.isfinite(v[i]):
            return False
    return True


@cuda.jit(device=True)
def d_gnorm(x, g, lo, hi):
    m = 0.0
    for i in range(N):
        if d_held(x, g, lo, hi, i):
            continue
        a = abs(g[i])
        if a > m or a != a:
            m = a
    return m


@cuda.jit(device=True)
def d_relg(x, g, lo, hi, f, typ_x, typ_f):
    m = 0.0
    for i in range(N):
        if d_held(x, g, lo, hi, i):
            continue
        r = abs(g[i]) * max(abs(x[i]), typ_x)
        if r > m or r != r:
            m = r
    return m / max(abs(f), typ_f)


@cuda.jit(device=True)
def d_chol(A, m, tau, L, first):
    """linalg.cholesky_shifted on the leading m x m block."""
    for i in range(m):
        f = i
        for j in range(i):
            if A[i, j] != 0.0:
                f = j
                break
        first[i] = f
    for j in range(m):
        fj = first[j]
        for k in range(fj):
            L[j, k] = 0.0
        s = A[j, j] + tau
        for k in range(fj, j):
            s -= L[j, k] * L[j, k]
        if not (s > 0.0) or not math.isfinite(s):
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, m):
            fi = first[i]
            if j < fi:
                L[i, j] = 0.0
                continue
            s = A[i, j]
            for k in range(max(fi, fj), j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    return True


@cuda.jit(device=True)
def d_modified_factor(A, L, first):
    min_diag = math.inf
    scale = 1.0
    for i in range(N):
        a = A[i, i]
        if not math.isfinite(a):
            return -1.0
        min_diag = min(min_diag, a)
        scale = max(scale, abs(a))
    beta = 1e-3 * scale
    tau = 0.0 if min_diag > 0.0 else beta - min_diag
    for _ in range(200):
        if d_chol(A, N, tau, L, first):
            return tau
        tau = max(2.0 * tau, beta)
    return -1.0


@cuda.jit(device=True)
def d_chol_solve(L, b, out):
    for i in range(N):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * out[k]
        out[i] = s / L[i, i]
    for i in range(N - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, N):
            s -= L[k, i] * out[k]
        out[i] = s / L[i, i]


@cuda.jit(device=True)
def d_moved(x, g, xt, gt, ft, xb, fst, ist):
    """common.moved: go to xt (f and gradient known), keep the best point."""
    f_old = fst[F_F]
    step = 0.0
    scale = 0.0
    for i in range(N):
        step = max(step, abs(xt[i] - x[i]))
        scale = max(scale, abs(x[i]))
        x[i] = xt[i]
        g[i] = gt[i]
    ist[I_ITER] += 1
    fst[F_F] = ft
    return d_after_move(x, g, ft, f_old, step, scale, xb, fst, ist)


@cuda.jit(device=True)
def d_after_move(x, g, ft, f_old, step, scale, xb, fst, ist):
    """The tests shared by common.moved and loops._accept."""
    if ft == -math.inf:
        ist[I_REASON] = R_UNBOUNDED
        return UNBOUNDED
    if not (math.isfinite(ft) and d_finite(g)):
        ist[I_REASON] = R_NONFINITE
        return DIVERGED
    if ft < fst[F_FBEST]:
        fst[F_FBEST] = ft
        for i in range(N):
            xb[i] = x[i]
        ist[I_SINCE_BEST] = 0
    else:
        ist[I_SINCE_BEST] += 1
    if ft < UNBOUNDED_F or scale > 1e150:
        ist[I_REASON] = R_UNBOUNDED
        return UNBOUNDED
    if step <= 1e-15 * (1.0 + scale) and abs(ft - f_old) <= 1e-15 * (1.0 + abs(ft)):
        ist[I_NSMALL] += 1
        if ist[I_NSMALL] >= 3:
            ist[I_REASON] = R_SMALL_STEP
            return STALLED
    else:
        ist[I_NSMALL] = 0
    return RUNNING


@cuda.jit(device=True)
def d_accept(x, g, xt, xb, fst, ist, f_known):
    """loops._accept: go to xt and evaluate f and the gradient there."""
    f_old = fst[F_F]
    step = 0.0
    scale = 0.0
    for i in range(N):
        step = max(step, abs(xt[i] - x[i]))
        scale = max(scale, abs(x[i]))
        x[i] = xt[i]
    f = d_fg(x, g)
    if not f_known:
        ist[I_NFEV] += 1
    ist[I_NGEV] += 1
    ist[I_ITER] += 1
    fst[F_F] = f
    return d_after_move(x, g, f, f_old, step, scale, xb, fst, ist)


@cuda.jit(device=True)
def d_step_point(x, a, d, lo, hi, xt):
    for i in range(N):
        xt[i] = x[i] + a * d[i]
    d_project(xt, lo, hi)


@cuda.jit(device=True)
def d_expand(x, f, g, d, lo, hi, a, fa, c1, xt):
    """common._expand with 40 doublings."""
    nfev = 0
    accepted = 0
    for _ in range(40):
        a2 = 2.0 * a
        d_step_point(x, a2, d, lo, hi, xt)
        f2 = d_fun(xt)
        nfev += 1
        slope = 0.0
        for i in range(N):
            slope += g[i] * (xt[i] - x[i])
        if not (math.isfinite(f2) and f2 < fa and f2 <= f + c1 * slope):
            break
        a = a2
        fa = f2
        accepted += 1
    d_step_point(x, a, d, lo, hi, xt)
    return a, fa, nfev, accepted == 40


@cuda.jit(device=True)
def d_armijo(x, f, g, d, lo, hi, a0, c1, xt, gt, max_back, expand, bounded):
    """common.armijo: returns (a, f_trial, evaluations, gradient evaluations, flag)."""
    a = a0
    nfev = 0
    ngev = 0
    seen_finite = False
    band = 8.0 * 2.220446049250313e-16 * abs(f)
    g_inf = 0.0
    for i in range(N):
        g_inf = max(g_inf, abs(g[i]))
    gd0 = 0.0
    for i in range(N):
        gd0 += g[i] * d[i]
    for _ in range(max_back):
        for i in range(N):
            xt[i] = x[i] + a * d[i]
        if bounded:
            d_project(xt, lo, hi)
        ft = d_fun(xt)
        nfev += 1
        if math.isfinite(ft):
            seen_finite = True
            if bounded:
                slope = 0.0
                for i in range(N):
                    slope += g[i] * (xt[i] - x[i])
            else:
                slope = a * gd0
            if ft <= f + c1 * slope:
                if expand and a == a0:
                    a, ft, ne, endless = d_expand(x, f, g, d, lo, hi, a, ft, c1, xt)
                    nfev += ne
                    if endless:
                        return a, ft, nfev, ngev, 3
                return a, ft, nfev, ngev, 0
            if ft <= f + band:
                d_fg(xt, gt)
                ngev += 1
                gt_inf = 0.0
                for i in range(N):
                    gt_inf = max(gt_inf, abs(gt[i]))
                if gt_inf < g_inf:
                    return a, ft, nfev, ngev, 0
        a *= 0.5
    return a, f, nfev, ngev, (2 if seen_finite else 1)


@cuda.jit(device=True)
def d_within_noise(f, ft, g, gt):
    """common.within_noise: f rose by no more than 1e-10 max(1, |f|) (its rounding)
    and the gradient fell to at most half (max norm)."""
    if not (math.isfinite(ft) and ft - f <= 1e-10 * max(1.0, abs(f))):
        return False
    gmax = 0.0
    gtmax = 0.0
    for i in range(N):
        if not math.isfinite(gt[i]):
            return False
        gmax = max(gmax, abs(g[i]))
        gtmax = max(gtmax, abs(gt[i]))
    return gtmax <= 0.5 * gmax


@cuda.jit(device=True)
def d_newton_step(x, g, d, tau, lo, hi, bounded, c1, xt, gt, xb, fst, ist):
    """loops.newton_step: the unit step, taken when it decreases f enough (and, after a
    shift, meets the curvature condition), else the Armijo search."""
    for i in range(N):
        xt[i] = x[i] + d[i]
    if bounded:
        d_project(xt, lo, hi)
    ft = d_fg(xt, gt)
    ist[I_NFEV] += 1
    ist[I_NGEV] += 1
    slope = 0.0
    slope_t = 0.0
    for i in range(N):
        slope += g[i] * (xt[i] - x[i])
        slope_t += gt[i] * (xt[i] - x[i])
    sufficient = (math.isfinite(ft) and d_finite(gt) and ft <= fst[F_F] + c1 * slope
                  or tau == 0.0 and d_within_noise(fst[F_F], ft, g, gt))
    if sufficient and (tau == 0.0 or slope_t >= 0.9 * slope):
        fst[F_STEP] = 1.0
        return d_moved(x, g, xt, gt, ft, xb, fst, ist)
    a, ft, ne, nge, flag = d_armijo(x, fst[F_F], g, d, lo, hi, 2.0 if sufficient else 0.5,
                                    c1, xt, gt, 60, sufficient, bounded)
    ist[I_NFEV] += ne
    ist[I_NGEV] += nge
    if flag == 3:
        d_accept(x, g, xt, xb, fst, ist, False)
        ist[I_REASON] = R_UNBOUNDED
        return UNBOUNDED
    if flag != 0:
        ist[I_REASON] = R_LS_NONFINITE if flag == 1 else R_LS_NODECREASE
        return DIVERGED if flag == 1 else STALLED
    fst[F_STEP] = a
    return d_accept(x, g, xt, xb, fst, ist, True)


@cuda.jit(device=True)
def d_check_stop(x, g, lo, hi, tol, typ_x, typ_f, max_iter, fst, ist):
    fst[F_GNORM] = d_gnorm(x, g, lo, hi)
    rel = d_relg(x, g, lo, hi, fst[F_F], typ_x, typ_f)
    fst[F_RELG] = rel
    if rel <= tol:
        if fst[F_F] > fst[F_F0]:
            ist[I_REASON] = R_WORSE
            return STALLED
        ist[I_REASON] = R_GRAD
        return CONVERGED
    if ist[I_ITER] >= max_iter:
        ist[I_REASON] = R_MAXITER
        return MAX_ITER
    return RUNNING
'''
