"""Data fits on a Dask cluster (``pip install symgd[dask]``).

A fit whose samples live in a Dask collection, or in a glob of parts too large for this
machine's memory, runs its data passes on a ``dask.distributed`` cluster: each pass maps
the fit's compiled per-chunk kernel over the blocks and adds the partial sums in a fixed
tree (symgd.fit.passes), and the solver's method loops (lm, newton, lbfgs, gd,
linesearch, bfgs) run here on those sums (:mod:`symgd.dask.fit`); sgd streams its
minibatches from the blocks, each block's steps run where the block is
(:mod:`symgd.dask.sgd`).

Which cluster (:mod:`symgd.dask.cluster`):

* ``options.cluster`` in a problem file: ``auto`` (default: a local cluster when the
  data do not fit in memory, :func:`symgd.dask.cluster.too_big`), ``local`` (a
  ``LocalCluster`` started for the run) or ``off``. A problem file may never name a
  scheduler: a downloaded file must not send the user's data to a host it names, and a
  Dask client unpickles what the scheduler sends back.
* at run time, from the user only: ``symgd.solve(..., cluster="tcp://host:8786")``
  (or ``"local"``, or a ``distributed.Client``), ``symgd solve --cluster ADDRESS``, or
  the environment variable ``SYMGD_DASK_SCHEDULER``.

This package imports no Dask at import time: the core runs without the extra.
"""
from __future__ import annotations

import os

ENV_VAR = "SYMGD_DASK_SCHEDULER"
OPTION_VALUES = ("auto", "local", "off")


def env_address() -> str | None:
    """The scheduler address the user set in ``SYMGD_DASK_SCHEDULER``, or None."""
    value = os.environ.get(ENV_VAR, "").strip()
    return value or None
