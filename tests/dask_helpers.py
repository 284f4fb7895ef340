"""What the Dask tests share: a LocalCluster of two worker processes, and a progress
callback that kills one of them mid-fit."""
from __future__ import annotations

import contextlib
import os
import signal

MEMORY_LIMIT = 560e6   # per worker: twice a loaded worker's ~250 MB, with room for blocks


def local_cluster(silence: int = 40):
    """(LocalCluster, Client): two single-threaded worker processes of MEMORY_LIMIT."""
    import distributed
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY_LIMIT, dashboard_address=None,
                                  silence_logs=silence)
    return lc, distributed.Client(lc, set_as_default=False)


def close_quietly(lc, client) -> None:
    """Close a cluster one of whose workers may have been killed."""
    with contextlib.suppress(Exception):
        client.close()
        lc.close(timeout=5)


def killer(client):
    """(progress callback, killed): the callback SIGKILLs one worker of ``client`` at the
    first progress report and records that report's iteration in ``killed``."""
    pids = client.run(os.getpid)
    killed = []

    def progress(it, f, gnorm):
        if not killed:
            os.kill(next(iter(pids.values())), signal.SIGKILL)
            killed.append(it)

    return progress, killed
