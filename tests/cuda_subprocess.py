"""Running a script under numba's CUDA simulator in a child process, for the CUDA tests.

NUMBA_ENABLE_CUDASIM must be set before numba starts, whatever this test process (or
its pytest-xdist worker) imported before, so each simulated run is a child process
that prints one line ``RESULT <json>``; :func:`run_script` returns that object.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def env(sim: bool) -> dict:
    """This process's environment with the simulator switched on (``sim``) or off."""
    out = dict(os.environ)
    out.pop("NUMBA_ENABLE_CUDASIM", None)
    if sim:
        out["NUMBA_ENABLE_CUDASIM"] = "1"
    return out


def run_script(script: str, *, sim: bool = True, timeout: float = 600) -> dict:
    """The JSON object ``script`` printed after ``RESULT `` (run from the repository
    root); the child's stderr tail is the assertion message when it fails."""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env(sim),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])
