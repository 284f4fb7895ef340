"""Ctrl-C in the middle of a command-line solve, for the tests that check what is kept."""
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def solve_and_interrupt(*args):
    """Run ``symgd solve ARGS --verbose``, send SIGINT once it reports an iteration on
    stderr, and return (exit status, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "symgd", "solve", *map(str, args),
                             "--verbose"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line, deadline = "", time.time() + 120
    while time.time() < deadline and "iteration" not in line:
        line = proc.stderr.readline()
    assert "iteration" in line, "the solve never reported an iteration"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr
