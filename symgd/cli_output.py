"""What the command line shows besides the result: the progress bar of a long solve and
the ``--trace`` CSV of its history (SPEC §3, *output*). Output only, no math.

Nothing here imports tqdm, numpy or sympy at import time: ``symgd.cli`` imports this
module on every solve, and the bar's tqdm is imported only when a bar is drawn.
"""
from __future__ import annotations

import os
import sys

PROGRESS_DELAY_S = 1.0                    # a bar appears only for runs longer than this
PROGRESS_DELAY_ENV = "SYMGD_PROGRESS_DELAY"  # seconds; overrides it (tests use 0)


class ProgressBar:
    """A progress bar on ``stream`` (stderr) for a run that has lasted ``delay`` seconds:
    iteration (epoch for sgd), f, gradient norm, elapsed time and rate.

    It is the solver's progress callback, called as (iterations, f, grad_norm) between
    compiled chunks (about every 20 ms), and redraws at most every ``interval``
    seconds of ``clock``. Nothing is drawn, and tqdm is not even imported, before
    ``delay`` has passed: short runs print no bar. tqdm is a base dependency (pure
    Python, no dependencies of its own); it only formats and draws the line here.
    ``clock`` is replaceable for tests.
    """

    FORMAT = "{desc}: iteration {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"

    def __init__(self, stream=None, *, delay: float | None = None, clock=None,
                 interval: float = 0.1):
        import time

        self.stream = sys.stderr if stream is None else stream
        self.delay = progress_delay() if delay is None else float(delay)
        self.clock = clock or time.monotonic
        self.interval = float(interval)
        self.t0 = self.clock()
        self.drawn_at = None
        self.bar = None

    def __call__(self, iterations, f, grad_norm):
        now = self.clock()
        if self.bar is None:
            if now - self.t0 < self.delay:
                return
            from tqdm import tqdm

            cols, rows = self._size()
            self.bar = tqdm(file=self.stream, leave=False, ncols=cols, nrows=rows,
                            unit="it", desc="symgd", bar_format=self.FORMAT, delay=1e9)
            self.bar.delay = 0  # (1e9 above: no empty first line; close() still clears)
            self.bar.start_t -= now - self.t0  # elapsed counts from the solve's start
        elif now - self.drawn_at < self.interval:
            return
        self.drawn_at = now
        self.bar.n = int(iterations)  # set, not added: a later stage may count anew
        self.bar.set_postfix_str(f"f={f:.8g}, |grad|={grad_norm:.3g}", refresh=False)
        self.bar.refresh()

    def _size(self) -> tuple:
        """The terminal's (columns, lines); 80 x 24 where it says 0 or cannot say (a
        new pseudo-terminal), which tqdm would take as no room to draw in."""
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return 80, 24
        return size.columns or 80, size.lines or 24

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_delay() -> float:
    """PROGRESS_DELAY_S, or the environment's SYMGD_PROGRESS_DELAY when it is a number."""
    try:
        return max(0.0, float(os.environ.get(PROGRESS_DELAY_ENV, PROGRESS_DELAY_S)))
    except ValueError:
        return PROGRESS_DELAY_S


TRACE_COLUMNS = ("iteration", "f", "grad_norm", "step", "learning_rate")
_TRACE_KEYS = ("iteration", "fun", "grad_norm", "step", "learning_rate")


def trace_csv(result) -> str:
    """The CSV of ``--trace``: a header, then one row per iteration (row 0 the start)
    from ``result.history``: iteration, f (user's sense), grad_norm, step,
    learning_rate (nan where the method has none), then x of up to 20 variables under
    their names. Only the header when no iterative method ran."""
    import csv
    import io

    history = result.history or {}
    xs = history.get("x")
    width = len(xs[0]) if xs is not None and len(xs) else min(len(result.names), 20)
    names = [str(n) for n in result.names[:width]]
    taken = set(TRACE_COLUMNS)
    header = list(TRACE_COLUMNS) + [f"x.{n}" if n in taken else n for n in names]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    its = history.get("iteration")
    rows = len(its) if its is not None else 0
    for i in range(rows):
        row = [int(its[i])]
        for key in _TRACE_KEYS[1:]:
            col = history.get(key)
            row.append(_number(col[i] if col is not None and i < len(col) else None))
        x = xs[i] if xs is not None and i < len(xs) else ()
        row += [_number(x[j] if j < len(x) else None) for j in range(width)]
        w.writerow(row)
    return buf.getvalue()


def _number(v) -> str:
    """A float as the shortest text that reads back the same; nan where unknown."""
    return "nan" if v is None else repr(float(v))


