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

The parent waits at most ``timeout`` seconds (doing other work meanwhile if it likes:
:class:`Pending`), then sends SIGKILL and reports ``timeout``;
an exception in the child becomes ``no_closed_form`` with the reason; a child that dies
(memory limit, crash) is reported as ``no_closed_form`` too. The parent never hangs.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
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


def _exit_with_parent(interval: float = 0.5) -> None:
    """End this worker when its parent dies: the parent kills it at the timeout, but a
    parent killed first (kill -9, a crashed notebook) would leave it running sympy for
    as long as the system has. Re-parenting shows as a changed getppid()."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="symgd-parent-watch", daemon=True).start()


def child_main() -> None:
    """Entry point inside the worker: stdin -> analyze -> stdout (both pickled)."""
    _exit_with_parent()
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


class Pending:
    """A closed-form attempt running in its worker; :meth:`result` waits for it.

    The pipe is served by a thread (``communicate``), so the caller is free to run an
    iterative method meanwhile: an ``auto`` solve then costs the longer of the two, not
    their sum. The worker is killed ``timeout`` seconds after it started.
    """

    def __init__(self, data: dict, *, timeout: float, memory_mb: int):
        self.start = time.perf_counter()
        self.timeout = max(float(timeout), 0.0)
        self.memory_mb = memory_mb
        self.proc = None
        self.done = None          # an AnalyticReport, once known
        self._out = None
        try:
            blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001
            self.done = failure("no_closed_form", f"cannot send the problem to the worker: "
                                f"{exc}")
            return
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        mem = int(memory_mb) * 1024 * 1024 if memory_mb else 0
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, SYMGD_DIR, str(mem)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, close_fds=True)
        except OSError as exc:
            self.done = failure("no_closed_form", f"cannot start the analytic worker: {exc}",
                                time.perf_counter() - self.start)
            return
        self._thread = threading.Thread(target=self._serve, args=(blob,), daemon=True)
        self._thread.start()
        # the timeout holds while the caller is busy elsewhere (auto compiles and iterates
        # meanwhile): a timer stops the worker on time, not when result() is next asked
        self._expired_at = None
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self):
        if self.proc.poll() is None:
            self._expired_at = time.perf_counter()
            self.proc.kill()

    def _serve(self, blob):
        try:
            self._out = self.proc.communicate(blob)
        except Exception as exc:  # noqa: BLE001  (a broken pipe: the child died early)
            self._out = (b"", str(exc).encode())

    def finished(self) -> bool:
        """Whether the worker has ended (answered, failed or been killed)."""
        return self.done is not None or not self._thread.is_alive()

    def result(self) -> AnalyticReport:
        """The report: waits until the worker ends or its timeout passes (then kills it)."""
        if self.done is not None:
            return self.done
        try:
            left = self.start + self.timeout - time.perf_counter()
            self._thread.join(max(left, 0.0))
        except BaseException:
            self.cancel()
            raise
        stopped_at = self._expired_at
        if self._thread.is_alive() or stopped_at is not None:
            self.cancel()
            self.done = failure("timeout", f"the closed form did not finish within "
                                f"{self.timeout:g} s and was stopped",
                                (stopped_at or time.perf_counter()) - self.start)
            return self.done
        self._timer.cancel()
        self.done = self._report(time.perf_counter() - self.start)
        return self.done

    def cancel(self) -> None:
        """Kill the worker (nothing is raised if it has already ended)."""
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self._thread.join(2.0)

    def _report(self, elapsed) -> AnalyticReport:
        out, err = self._out
        if self.proc.returncode == 0 and out:
            try:
                report = pickle.loads(out)
            except Exception as exc:  # noqa: BLE001
                return failure("no_closed_form", f"unreadable worker output: {exc}", elapsed)
            return report.with_time(elapsed)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        rc = self.proc.returncode
        why = "killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc
        return failure("no_closed_form", f"the analytic worker died ({why}; memory limit "
                       f"{self.memory_mb} MB?) {' | '.join(tail)}".strip(), elapsed)


class Answered:
    """A Pending whose report is known without a worker (a closed form not tried)."""

    def __init__(self, report: AnalyticReport):
        self.done = report

    def finished(self) -> bool:
        return True

    def result(self) -> AnalyticReport:
        return self.done

    def cancel(self) -> None:
        pass


def run(data: dict, *, timeout: float, memory_mb: int) -> AnalyticReport:
    """Run :func:`symgd.analytic.analyze.analyze` on ``data`` in a killable child process."""
    return Pending(data, timeout=timeout, memory_mb=memory_mb).result()
