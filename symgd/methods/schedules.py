"""Learning-rate schedules: plain functions of the step counter t (as in optax).

Codes and parameters (p0, p1, p2) as packed by :func:`pack_schedule`:
    constant                     lr
    step (step_size, gamma)      lr * gamma ** floor(t / step_size)
    exponential (gamma)          lr * gamma ** t
    inverse_time (decay)         lr / (1 + decay t)
    cosine (t_max, lr_min)       lr_min + (lr - lr_min) (1 + cos(pi min(t, t_max) / t_max)) / 2
                                 (Loshchilov & Hutter, SGDR, ICLR 2017, eq. 5 without restarts)
    sgdr (t_0, t_mult, lr_min)   cosine restarted after t_0, t_0 t_mult, t_0 t_mult^2, ... steps
    triangular (lr_min, step_size)   cyclic between lr_min and lr, period 2 step_size
    triangular2 (lr_min, step_size)  the same with the amplitude halved each cycle
                                 (Smith, Cyclical Learning Rates, WACV 2017)
    plateau (factor, patience)   stateful: the loop multiplies lr by factor after `patience`
                                 steps (or epochs) without improvement
"""
from __future__ import annotations

import math

from numba import njit

from symgd.errors import InputError, unknown_name_message

CODES = {"constant": 0, "step": 1, "exponential": 2, "inverse_time": 3, "cosine": 4,
         "sgdr": 5, "triangular": 6, "triangular2": 7, "plateau": 8}
PLATEAU = 8

# name -> ((parameter, default), ...) in the order p0, p1, p2. None: must be given.
PARAMETERS = {
    "constant": (),
    "step": (("step_size", 100.0), ("gamma", 0.5)),
    "exponential": (("gamma", 0.99),),
    "inverse_time": (("decay", 0.01),),
    "cosine": (("t_max", None), ("lr_min", 0.0)),
    "sgdr": (("t_0", 100.0), ("t_mult", 2.0), ("lr_min", 0.0)),
    "triangular": (("lr_min", 0.0), ("step_size", 100.0)),
    "triangular2": (("lr_min", 0.0), ("step_size", 100.0)),
    "plateau": (("factor", 0.5), ("patience", 10.0)),
}


def pack_schedule(spec, *, default_t_max: float, field: str = "options.schedule"):
    """(code, p0, p1, p2) from a schedule name or mapping ``{name: ..., param: value}``."""
    if spec is None:
        spec = "constant"
    if isinstance(spec, str):
        name, given = spec, {}
    elif isinstance(spec, dict):
        given = dict(spec)
        name = given.pop("name", None)
        if not isinstance(name, str):
            raise InputError("a schedule mapping needs 'name'", field=f"{field}.name",
                             kind="option")
    else:
        raise InputError(f"expected a schedule name or mapping, got {spec!r}", field=field,
                         kind="option")
    if name not in CODES:
        raise InputError(unknown_name_message("schedule", name, CODES), field=field,
                         kind="option")
    params = []
    names = [p for p, _ in PARAMETERS[name]]
    for key in given:
        if key not in names:
            raise InputError(unknown_name_message(f"parameter of schedule '{name}'", key,
                                                  names or ["(none)"]),
                             field=f"{field}.{key}", kind="option")
    for pname, default in PARAMETERS[name]:
        value = given.get(pname, default)
        if value is None and pname == "t_max":
            value = default_t_max
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"expected a finite number, got {value!r}",
                             field=f"{field}.{pname}", kind="option")
        params.append(float(value))
    for pname, value in zip(names, params):
        if pname in ("step_size", "t_max", "t_0", "patience") and value <= 0:
            raise InputError(f"{pname} must be positive, got {value}", field=f"{field}.{pname}",
                             kind="option")
        if pname in ("gamma", "factor") and not 0 < value <= 1:
            raise InputError(f"{pname} must be in (0, 1], got {value}", field=f"{field}.{pname}",
                             kind="option")
    params += [0.0] * (3 - len(params))
    return CODES[name], params[0], params[1], params[2]


@njit(cache=True, error_model="numpy", nogil=True)
def learning_rate(code, t, lr, p0, p1, p2):
    """The learning rate at step t (t = 0, 1, ...) for schedule ``code``."""
    if code == 1:
        return lr * p1 ** math.floor(t / p0)
    if code == 2:
        return lr * p0 ** t
    if code == 3:
        return lr / (1.0 + p0 * t)
    if code == 4:
        tt = min(t, p0)
        return p1 + (lr - p1) * 0.5 * (1.0 + math.cos(math.pi * tt / p0))
    if code == 5:
        period = p0
        start = 0.0
        while t >= start + period:
            start += period
            period *= p1
        return p2 + (lr - p2) * 0.5 * (1.0 + math.cos(math.pi * (t - start) / period))
    if code == 6 or code == 7:
        cycle = math.floor(t / (2.0 * p1))
        pos = abs(t / p1 - 2.0 * cycle - 1.0)
        amp = (lr - p0) * max(0.0, 1.0 - pos)
        if code == 7:
            amp /= 2.0 ** cycle
        return p0 + amp
    return lr
