"""First-order optimizers as pure update functions that numba compiles (optax's shape).

optax writes an optimizer as two pure functions, ``init(params) -> state`` and
``update(grad, state, params) -> (updates, state)``. Here the state is a small float
array ``state`` of shape (N_STATE, p) (zeros from :func:`init_state`), the
hyperparameters a float array ``hyper`` (slots H_*), and :func:`update` writes the
change to add to the parameters into ``step`` and updates ``state`` in place, so the
SGD loop (symgd.methods.sgd) runs any optimizer without allocating. ``t`` is the
1-based step number (Adam's bias correction), ``lr`` the learning rate of this step
(after the schedule). With g the minibatch gradient, element-wise:

    sgd        step = -lr g
    momentum   v <- mu v + g;                step = -lr v            (heavy ball, Polyak 1964;
                                                                       PyTorch / optax form)
    nesterov   v <- mu v + g;                step = -lr (g + mu v)    (Nesterov's accelerated
               gradient in the momentum form of Sutskever, Martens, Dahl & Hinton, "On the
               importance of initialization and momentum in deep learning", ICML 2013,
               eq. 3-4, rewritten in the look-ahead parameters as in Bengio,
               Boulanger-Lewandowski & Pascanu, ICASSP 2013; PyTorch's nesterov=True)
    adagrad    G <- G + g^2;                 step = -lr g / (sqrt(G) + eps)
               (Duchi, Hazan & Singer, "Adaptive subgradient methods", JMLR 12, 2011;
               G starts at 0, eps 1e-10 as in PyTorch)
    rmsprop    E <- rho E + (1 - rho) g^2;   step = -lr g / (sqrt(E) + eps)
               (Tieleman & Hinton, COURSERA Neural Networks lecture 6.5, 2012; rho 0.9)
    adam       m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
               m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t);  step = -lr m^ / (sqrt(v^) + eps)
               (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015, Alg. 1;
               b1 0.9, b2 0.999, eps 1e-8). The first step is -lr g / (|g| + eps), that is
               -lr sign(g) wherever |g| >> eps.
    adamw      adam's step - lr wd theta   (decoupled weight decay: Loshchilov & Hutter,
               "Decoupled weight decay regularization", ICLR 2019, Alg. 2; wd 0.01,
               multiplied by the scheduled lr as in PyTorch and optax)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(cache=True, error_model="numpy", nogil=True)

SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM, ADAMW = range(7)
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adagrad": ADAGRAD,
         "rmsprop": RMSPROP, "adam": ADAM, "adamw": ADAMW}

# Slots of the hyperparameter array.
H_MOMENTUM, H_BETA1, H_BETA2, H_EPS, H_WEIGHT_DECAY, H_DECAY = range(6)
N_HYPER = 6
N_STATE = 2  # rows of the state: (v | G | E | m) and (unused | v for adam/adamw)

DEFAULT_EPS = {"adagrad": 1e-10}  # every other optimizer: 1e-8
EPS = 1e-8


def hyper_array(optimizer: str, *, momentum=0.9, beta1=0.9, beta2=0.999, eps=None,
                weight_decay=0.01, decay=0.9) -> np.ndarray:
    """The ``hyper`` array for :func:`update`; ``eps=None`` picks the optimizer's default."""
    h = np.zeros(N_HYPER)
    h[H_MOMENTUM] = momentum
    h[H_BETA1] = beta1
    h[H_BETA2] = beta2
    h[H_EPS] = DEFAULT_EPS.get(optimizer, EPS) if eps is None else eps
    h[H_WEIGHT_DECAY] = weight_decay
    h[H_DECAY] = decay
    return h


@njit(**_JIT)
def init_state(p):
    """optax's ``init``: the zero state for p parameters (accumulators start at 0)."""
    return np.zeros((N_STATE, p))


@njit(**_JIT)
def _adam(g, state, params, lr, t, hyper, step, decoupled):
    b1, b2, eps = hyper[H_BETA1], hyper[H_BETA2], hyper[H_EPS]
    c1 = 1.0 - b1 ** t
    c2 = 1.0 - b2 ** t
    wd = hyper[H_WEIGHT_DECAY] if decoupled else 0.0
    for i in range(g.size):
        m = b1 * state[0, i] + (1.0 - b1) * g[i]
        v = b2 * state[1, i] + (1.0 - b2) * g[i] * g[i]
        state[0, i] = m
        state[1, i] = v
        step[i] = -lr * ((m / c1) / (math.sqrt(v / c2) + eps) + wd * params[i])


@njit(**_JIT)
def update(code, g, state, params, lr, t, hyper, step):
    """optax's ``update`` for optimizer ``code``: writes the step into ``step``.

    Args:
        code: one of SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM, ADAMW.
        g: the gradient (float array, length p).
        state: (N_STATE, p) accumulators, updated in place.
        params: the current parameters (read by adamw's weight decay only).
        lr: this step's learning rate.
        t: 1-based step number (float or int).
        hyper: the H_* hyperparameters.
        step: output, the change to add to params.
    """
    n = g.size
    if code == SGD:
        for i in range(n):
            step[i] = -lr * g[i]
    elif code == MOMENTUM or code == NESTEROV:
        mu = hyper[H_MOMENTUM]
        for i in range(n):
            v = mu * state[0, i] + g[i]
            state[0, i] = v
            step[i] = -lr * (g[i] + mu * v) if code == NESTEROV else -lr * v
    elif code == ADAGRAD:
        eps = hyper[H_EPS]
        for i in range(n):
            acc = state[0, i] + g[i] * g[i]
            state[0, i] = acc
            step[i] = -lr * g[i] / (math.sqrt(acc) + eps)
    elif code == RMSPROP:
        rho, eps = hyper[H_DECAY], hyper[H_EPS]
        for i in range(n):
            e = rho * state[0, i] + (1.0 - rho) * g[i] * g[i]
            state[0, i] = e
            step[i] = -lr * g[i] / (math.sqrt(e) + eps)
    else:
        _adam(g, state, params, lr, t, hyper, step, code == ADAMW)
