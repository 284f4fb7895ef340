"""Per-sample losses as hand-written, numerically stable code (SPEC §1, DESIGN.md).

Each loss is l(r) of the residual r = model - target (``cross_entropy``: of the logit z
and the label y), with its first and second derivatives l1 = dl/dr, l2 = d2l/dr2. The
kernels chain them with the symbolic derivatives of r:

    d/dtheta_j   sum_i l(r_i) = sum_i l1_i dr_i/dtheta_j
    d2/dtheta_jk sum_i l(r_i) = sum_i l2_i dr_i/dtheta_j dr_i/dtheta_k + l1_i d2r_i/dtheta_jk

Losses (no factor 1/2; the mean 1/n is applied outside):

    mse, sse       r**2                       l1 = 2 r               l2 = 2
    mae            |r|                        l1 = sign r (0 at 0)   l2 = 0
    huber          r**2/2 for |r| <= delta, else delta (|r| - delta/2)
                                              l1 = clip(r, -delta, delta)
                                              l2 = 1 inside, 0 outside (Huber 1964)
    logcosh        |r| + log1p(exp(-2|r|)) - log 2   (= log cosh r without overflow)
                                              l1 = tanh r            l2 = 1 - tanh**2 r
    cross_entropy  log(1 + e**z) - y z = max(z, 0) + log1p(exp(-|z|)) - y z
                                              l1 = sigmoid(z) - y    l2 = s (1 - s)

sympy's own derivative of log(cosh r) is sinh/cosh, nan past |r| = 710, and
log(1 + exp(z)) overflows at z = 710: hence these forms.
"""
from __future__ import annotations

LOG2 = "0.6931471805599453"


def loss_lines(loss: str, *, order: int, delta: float = 1.0, var: str = "r",
               label: str = "y_") -> list:
    """Python lines computing ``l`` (and ``l1`` if order >= 1, ``l2`` if order >= 2)
    from the variable ``var`` (r, or the logit z for cross_entropy with label ``label``).

    ``per_sample`` is not a loss of r: its lines are produced by the code generator.
    """
    r = var
    d = repr(float(delta))
    if loss in ("mse", "sse"):
        out = [f"l = {r} * {r}", f"l1 = 2.0 * {r}", "l2 = 2.0"]
    elif loss == "mae":
        out = [f"l = abs({r})",
               f"l1 = 1.0 if {r} > 0.0 else (-1.0 if {r} < 0.0 else 0.0)",
               "l2 = 0.0"]
    elif loss == "huber":
        out = [f"a_ = abs({r})",
               f"l = 0.5 * {r} * {r} if a_ <= {d} else {d} * (a_ - 0.5 * {d})",
               f"l1 = {r} if a_ <= {d} else ({d} if {r} > 0.0 else -{d})",
               f"l2 = 1.0 if a_ <= {d} else 0.0"]
    elif loss == "logcosh":
        out = [f"a_ = abs({r})",
               f"l = a_ + math.log1p(math.exp(-2.0 * a_)) - {LOG2}",
               f"l1 = math.tanh({r})",
               "l2 = 1.0 - l1 * l1"]
    elif loss == "cross_entropy":
        out = [f"e_ = math.exp(-abs({r}))",
               f"l = max({r}, 0.0) + math.log1p(e_) - {label} * {r}",
               f"s_ = 1.0 / (1.0 + e_) if {r} >= 0.0 else e_ / (1.0 + e_)",
               f"l1 = s_ - {label}",
               "l2 = s_ * (1.0 - s_)"]
    else:
        raise ValueError(f"unknown loss {loss!r}")
    keep = 1 + order
    if loss in ("huber", "logcosh"):
        keep += 1
    elif loss == "cross_entropy":
        keep = {0: 2, 1: 4, 2: 5}[order]
    return out[:keep]
