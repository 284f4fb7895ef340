"""The killable worker process that runs the closed form (DESIGN: "The analytic subprocess").

``sympy.solve`` and Groebner bases can run for minutes inside one long C-level or Python call
(sympy #17960, #22932); neither ``signal.alarm`` nor threads can stop that reliably. So the
work runs in a fresh interpreter started with ``subprocess.Popen`` (the equivalent of
multiprocessing's ``spawn``: no fork of a parent that may hold numba or BLAS threads), which

* sets ``RLIMIT_AS`` to ``memory_mb`` before importing anything heavy;
* imports only SymPy and ``symgd.analytic`` (a stub ``symgd`` package object is installed so
  that ``symgd/__init__.py``, and whatever numba-heavy modules it pulls in, never runs in the
  child; unlike multiprocessing, the parent's ``__main__`` is not re-imported either);
* reads the pickled problem pieces from stdin and writes the pickled report to stdout.

The parent waits at most ``timeout`` seconds, then sends SIGKILL and reports ``timeout``;
an exception in the child becomes ``no_closed_form`` with the reason; a child that dies
(memory limit, crash) is reported as ``no_closed_form`` too. The parent never hangs.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

from symgd.analytic.report import AnalyticReport, failure

SYMGD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BOOTSTRAP = r"""
import sys, types
root, mem = sys.argv[1], int(sys.argv[2])
if mem > 0:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    except (ImportError, ValueError, OSError):
        pass
pkg = types.ModuleType("symgd")
pkg.__path__ = [root]
sys.modules["symgd"] = pkg
from symgd.analytic.worker import child_main
child_main()
"""


def child_main() -> None:
    """Entry point inside the worker: stdin -> analyze -> stdout (both pickled)."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the pickled report may reach the parent's pipe
    try:
        data = pickle.load(sys.stdin.buffer)
        from symgd.analytic.analyze import analyze

        report = analyze(data)
    except MemoryError:
        report = failure("no_closed_form", "the closed form ran out of memory (memory_mb "
                         "limit); try an iterative method")
    except RecursionError:
        report = failure("no_closed_form", "the closed form hit Python's recursion limit")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a status
        report = failure("no_closed_form", f"the closed form failed: "
                         f"{type(exc).__name__}: {exc}")
    out.write(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL))
    out.flush()


def run(data: dict, *, timeout: float, memory_mb: int) -> AnalyticReport:
    """Run :func:`symgd.analytic.analyze.analyze` on ``data`` in a killable child process."""
    start = time.perf_counter()
    timeout = max(float(timeout), 0.0)
    mem = int(memory_mb) * 1024 * 1024 if memory_mb else 0
    try:
        blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001
        return failure("no_closed_form", f"cannot send the problem to the worker: {exc}")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        proc = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, SYMGD_DIR, str(mem)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, close_fds=True)
    except OSError as exc:
        return failure("no_closed_form", f"cannot start the analytic worker: {exc}",
                       time.perf_counter() - start)
    try:
        out, err = proc.communicate(blob, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
            pass
        elapsed = time.perf_counter() - start
        return failure("timeout", f"the closed form did not finish within {timeout:g} s "
                       "and was stopped", elapsed)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    elapsed = time.perf_counter() - start
    if proc.returncode == 0 and out:
        try:
            report = pickle.loads(out)
        except Exception as exc:  # noqa: BLE001
            return failure("no_closed_form", f"unreadable worker output: {exc}", elapsed)
        return report.with_time(elapsed)
    tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
    why = "killed by signal %d" % -proc.returncode if proc.returncode < 0 else \
        "exit status %d" % proc.returncode
    return failure("no_closed_form", f"the analytic worker died ({why}; memory limit "
                   f"{memory_mb} MB?) {' | '.join(tail)}".strip(), elapsed)
