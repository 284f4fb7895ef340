"""The problem-file schema's vocabulary (SPEC §1), shared by the reader and by Problem.

The keys a problem file may hold, the losses and reductions of a data fit, the senses
and the relations of constraints. :mod:`symgd.problem` checks values against these, and
the file reader (:mod:`symgd.io.schema`) checks keys; docs/problem-files.md lists them
(tests compare). This module imports nothing.
"""

TOP_KEYS = ("name", "description", "variables", "parameters", "minimize", "maximize",
            "constraints", "method", "options", "data", "model", "target", "loss", "reduce",
            "weights", "sigma")
VARIABLE_KEYS = ("start", "lower", "upper", "vary", "expr")  # vary, expr: data fits only
DATA_FILE_KEYS = ("file", "columns")
FIT_ONLY_KEYS = ("model", "target", "loss", "reduce", "weights", "sigma")

SENSES = ("minimize", "maximize")
LOSSES = ("mse", "sse", "mae", "huber", "logcosh", "cross_entropy")  # data fits (SPEC §1)
REDUCES = ("mean", "sum")
REDUCE_VALUES = REDUCES
RELATIONS = ("==", "<=", ">=")
