"""The clock that time budgets (``time_limit``, deadlines) are read from.

Code that enforces a budget reads ``clock.now()`` (the module attribute, looked up at
each call, never ``from symgd.clock import now``), so that a test can replace the clock
and check that a budget is honoured without depending on the machine's speed:

    with fake_clock(step=0.5) as c:      # every read advances the time by 0.5 s
        result = symgd.solve(problem, time_limit=20)

Only budgets read this clock. What must stop a stage that really hangs (the analytic
worker's kill timeout) keeps the real clock: a fake one cannot make a hung process end.
Nothing here imports more than the standard library (the analytic worker's child and the
warm path may import it).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

now = time.perf_counter  # seconds, monotonic; replaced by fake_clock


class FakeClock:
    """A clock that moves only when read: each read returns the time and then advances
    it by ``step`` seconds. ``reads`` counts the reads."""

    def __init__(self, start: float, step: float):
        self.t = float(start)
        self.step = float(step)
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            t = self.t
            self.t += self.step
            self.reads += 1
            return t

    def advance(self, seconds: float) -> None:
        """Move the time on by ``seconds`` without a read."""
        with self._lock:
            self.t += float(seconds)


@contextmanager
def fake_clock(step: float = 0.0, start: float | None = None):
    """Replace :func:`now` by a :class:`FakeClock` within the ``with`` block.

    ``start`` defaults to the real ``time.perf_counter()`` on entry, so that a deadline
    taken from the real clock a moment before (by code that does not read this module)
    is still comparable with the fake times.
    """
    global now
    fake = FakeClock(time.perf_counter() if start is None else start, step)
    saved = now
    now = fake
    try:
        yield fake
    finally:
        now = saved
