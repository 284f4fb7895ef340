"""A fitted model, as a Result carries it: ``Result.predict(data)`` and ``.residuals``.

The model is evaluated by the fit's own compiled ``pred`` kernel (symgd.fit.codegen),
the one the statistics use, so that predictions and residuals are the numbers the fit
was judged by, on the full path and on the warm one (no sympy) alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from symgd.errors import InputError


@dataclass(frozen=True, eq=False)
class FitModel:
    """The fit's kernels at the fitted parameters.

    Attributes:
        kernels: the fit's symgd.fit.kernels.FitKernels (its data and compiled kernels).
        theta: the fitted parameters (the variables solved for, in their order).
        init_values: every declared variable at the problem's start (held and tied
            ones included, as FitKernels.expand gives them), or None.
    """

    kernels: object
    theta: np.ndarray
    init_values: np.ndarray | None = None
    _residuals: list = field(default_factory=list, repr=False)

    @property
    def has_model(self) -> bool:
        return self.kernels.spec.model is not None

    def predict(self, data) -> np.ndarray:
        """model(theta; data_i) for every sample of ``data``: a mapping of column name
        to values, or a DataFrame, holding the columns the model reads (by the name the
        fit read them under, or the symbol's own name). Columns the target or weights
        alone use may be absent.

        Raises:
            ValueError: the fit has no model (a per-sample objective).
            symgd.InputError: a column is missing, ragged or not finite.
        """
        if not self.has_model:
            raise ValueError("this fit has no model to predict with (its objective is "
                             "per sample); give 'model' and 'target' to predict")
        from symgd.io.data import column_names, data_spec, load

        K = self.kernels
        spec = data_spec(data, field="data")
        offered = set(spec.arrays) if spec.arrays is not None else set(column_names(spec))
        syms = [K.spec.data_symbols[k].name for k in K.model_columns]
        read = {}
        for s in syms:
            col = K.data.columns.get(s, s)
            read[s] = col if col in offered else s
            if read[s] not in offered:
                also = f" (or '{s}')" if col != s else ""
                raise InputError(f"predict needs the model's column '{col}'{also}; the "
                                 f"data has {', '.join(sorted(map(str, offered))[:20])}",
                                 field="data", kind="data")
        if syms:
            got = load(replace(spec, columns=read), syms)
            n = got.n_samples
        else:  # a model of no column: as many values as the data has rows
            n = len(next(iter(spec.arrays.values()))) if spec.arrays else 0
        array = np.full((len(K.spec.data_symbols), n), np.nan)
        for k, s in zip(K.model_columns, syms):
            array[k] = got.column(s)
        array.setflags(write=False)
        return K.evaluate(self.theta, array)[0].copy()

    @property
    def residuals(self) -> np.ndarray | None:
        """target_i - model_i over the fit's own data (unweighted; computed once), or
        None for a fit without a model."""
        if not self.has_model:
            return None
        if not self._residuals:
            pred, target, _ = self.kernels.evaluate(self.theta)
            r = target - pred
            r.setflags(write=False)
            self._residuals.append(r)
        return self._residuals[0]
