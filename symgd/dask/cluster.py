"""Which Dask cluster a fit runs on, and connecting to it.

The rule (symgd.dask's docstring): a problem file says only ``auto``, ``local`` or
``off``; a scheduler's address comes from the user at run time (``cluster=`` of
``symgd.solve``, ``--cluster``, ``SYMGD_DASK_SCHEDULER``), in that order of precedence,
then a ``distributed`` client already current in this process, then a
``LocalCluster`` started for the run and closed after it.

``auto`` starts a local cluster when the data do not fit in memory, by this rule
(:func:`too_big`): the samples' estimated size in float64 (rows x columns used x 8
bytes; for CSV parts, their size on disk) exceeds a third of the memory available now
(``MemAvailable`` of /proc/meminfo, or the physical memory where that is unknown).
A third, because reading a glob holds each part's columns and their joined copy at
once, and a fit's passes need room beside them.

A scheduler that cannot be reached within ``CONNECT_TIMEOUT_S`` seconds (or
``$SYMGD_DASK_CONNECT_TIMEOUT``) is an
InputError (kind ``unavailable``, field ``cluster``), never a hang.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os

from symgd.dask import ENV_VAR, OPTION_VALUES, env_address
from symgd.errors import InputError

CONNECT_TIMEOUT_S = 5.0  # default; $SYMGD_DASK_CONNECT_TIMEOUT sets another
MEMORY_FRACTION = 1.0 / 3.0
SCHEMES = ("tcp://", "tls://", "ws://", "wss://", "ucx://", "inproc://")


def check_option(value) -> str:
    """``options.cluster`` of a problem (file or Problem(options=...)): auto, local or
    off. An address is refused, saying why and where an address may be given."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value.strip().lower() in OPTION_VALUES:
        return value.strip().lower()
    text = str(value)
    if any(s in text for s in ("://", ":")) or "." in text:
        raise InputError(
            f"a problem file cannot name a Dask scheduler ({text[:80]!r}): a file received "
            "from someone else must not send your data to a host it names, and a Dask "
            "client unpickles what the scheduler sends back. Give the address yourself at "
            f"run time: --cluster ADDRESS, symgd.solve(..., cluster=ADDRESS) or {ENV_VAR}; "
            "in the file use cluster: auto, local or off", field="options.cluster",
            kind="option")
    raise InputError(f"cluster must be one of {', '.join(OPTION_VALUES)}, got {value!r} "
                     f"(a scheduler's address is given at run time: --cluster, "
                     f"symgd.solve(cluster=...) or {ENV_VAR})", field="options.cluster",
                     kind="option")


def check_runtime(value):
    """``cluster=`` of symgd.solve / ``--cluster``: "local", "off" (no cluster, whatever
    the data and options say), an address (``tcp://host:port``, ``host:port``) or a
    ``distributed.Client``; returned as given."""
    if value is None or hasattr(value, "scheduler_info"):  # a Client (duck-typed)
        return value
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"cluster must be 'local', 'off', a scheduler address such as "
                         f"tcp://host:8786 or a distributed.Client, got {value!r}",
                         field="cluster", kind="option")
    value = value.strip()
    if value.lower() in ("local", "off"):
        return value.lower()
    if not (value.startswith(SCHEMES) or ":" in value):
        raise InputError(f"cluster {value!r} is neither 'local', 'off' nor a scheduler address "
                         "(tcp://host:8786 or host:8786)", field="cluster", kind="option")
    return value


def connect_timeout() -> float:
    """Seconds to wait for a scheduler: $SYMGD_DASK_CONNECT_TIMEOUT or 5."""
    try:
        value = float(os.environ.get("SYMGD_DASK_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S))
    except ValueError:
        return CONNECT_TIMEOUT_S
    return value if value > 0 else CONNECT_TIMEOUT_S


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: assume it fits


def too_big(nbytes: int) -> bool:
    """Whether data of ``nbytes`` (float64 estimate) does not fit this machine's memory
    (the module's rule)."""
    return nbytes > MEMORY_FRACTION * available_memory()


def dask_installed() -> bool:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def require_dask(why: str):
    """Import dask and distributed, or an InputError naming the extra."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise InputError(f"{why} needs dask and distributed, which are not installed: "
                         "pip install symgd[dask]", field="cluster",
                         kind="unavailable") from None
    return distributed


class ClusterRequest:
    """The cluster of one solve: what the user asked at run time, opened on first use
    (:meth:`client`) and closed by :meth:`close` when the solve ends (a cluster this
    request started is shut down; a scheduler the user named is only disconnected)."""

    def __init__(self, runtime=None):
        self.runtime = check_runtime(runtime)
        self._client = None
        self._cluster = None
        self._owned = False       # a LocalCluster we started: shut it down
        self._disconnect = False  # a client we connected by address: close it
        self._config = None       # dask's default scheduler is ours while open
        self.description = None
        self.decided: dict = {}   # option -> on_cluster's answer (estimated once)

    def client(self):
        if self._client is None:
            self._open()
            import dask
            # dask arrays made from the blocks (targets, residuals) compute here too
            self._config = dask.config.set(scheduler=self._client)
        return self._client

    def _open(self):
        distributed = require_dask("running a fit on a Dask cluster")
        target = self.runtime if self.runtime is not None else env_address()
        if target is not None and not isinstance(target, str):
            self._client, self.description = target, f"Dask client {target.scheduler.address}"
            return
        if target is None:
            try:
                self._client = distributed.get_client()
                self.description = f"Dask client {self._client.scheduler.address}"
                return
            except ValueError:  # no client in this process: start one for the run
                target = "local"
        if target == "local":
            self._start_local(distributed)
            return
        self._connect(distributed, target)

    def _start_local(self, distributed):
        n = max(1, os.cpu_count() or 1)
        self._cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.ERROR)
        self._client = distributed.Client(self._cluster, set_as_default=False)
        self._owned = True
        self.description = f"a local Dask cluster of {n} workers started for the run"

    def _connect(self, distributed, address):
        timeout = connect_timeout()
        try:
            self._client = distributed.Client(address, timeout=timeout,
                                              set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            why = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            raise InputError(f"cannot reach the Dask scheduler at {address} within "
                             f"{timeout:g} s ({why}); is it running, and is the "
                             "address right?", field="cluster", kind="unavailable") from None
        self._disconnect = True
        self.description = f"the Dask scheduler at {address}"

    def close(self):
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None
        if client is None:
            return
        if self._owned or self._disconnect:  # a user's own Client stays open
            try:
                client.close()
            finally:
                if cluster is not None:
                    cluster.close()


_CURRENT: contextvars.ContextVar = contextvars.ContextVar("symgd_cluster", default=None)


def current():
    """The ClusterRequest of the solve running in this context, or None."""
    return _CURRENT.get()


@contextlib.contextmanager
def cluster_request(problem, cluster):
    """The solve of ``problem`` runs inside this: for a fit, a ClusterRequest is
    :func:`current` (opened on first use, closed at the end: a LocalCluster started
    for the run ends with it); for a problem without data, ``cluster`` is an
    InputError."""
    if not problem.is_fit:
        if cluster is not None:
            raise InputError("cluster runs the data passes of a fit; this problem has no "
                             "data", field="cluster", kind="option")
        yield None
        return
    outer = _CURRENT.get()
    request = ClusterRequest(cluster) if cluster is not None or outer is None else outer
    token = _CURRENT.set(request)
    try:
        yield request
    finally:
        _CURRENT.reset(token)
        if request is not outer:
            request.close()


def on_cluster(problem, opts, ctx=None) -> bool:
    """Whether a fit's passes run on a Dask cluster: a cluster named at run time, data
    in a Dask collection (unless ``cluster: off``), ``cluster: local``, or ``auto`` with
    data that do not fit in memory (:func:`too_big`) and Dask installed."""
    request = _CURRENT.get()
    if request is None or not problem.is_fit:
        return False
    if request.runtime is not None:
        return request.runtime != "off"
    option = opts.get("cluster", "auto")
    if option not in request.decided:
        request.decided[option] = _wanted(problem, option)
    return request.decided[option]


def _wanted(problem, option) -> bool:
    if option == "off":
        return False
    from symgd.io.data_spec import is_dask_data
    data = problem.data
    if option == "local" or is_dask_data(data):
        return True
    from symgd.dask.blocks import estimate_bytes
    n_symbols = len(getattr(data, "symbols", None) or ()) or 2
    est = estimate_bytes(data, n_symbols)
    return est is not None and too_big(est) and dask_installed()
