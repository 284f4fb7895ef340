"""The command line's output beyond the result: ``solve --trace`` and ``--plot``, the
``plot`` command, its input errors (exit 2, no traceback), and the progress bar (on a
terminal only, never with --json or --quiet). No test depends on timing: the bar's
delay is a fake clock in-process and SYMGD_PROGRESS_DELAY=0 in subprocesses."""
import csv
import io
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cli_interrupt import solve_and_interrupt
from symgd import cli
from symgd.cli_output import ProgressBar, progress_delay, trace_csv
from symgd.result import Result

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
BLOCK_MATPLOTLIB = ("import sys; [sys.modules.__setitem__(m, None) for m in ('matplotlib', "
                    "'matplotlib.figure', 'matplotlib.backends.backend_agg')]; "
                    "from symgd.cli import main; sys.exit(main(sys.argv[1:]))")
# linesearch on Rosenbrock runs its 3000 iterations (exit 1), reporting progress
LONG = ["--method", "linesearch", "--set", "options.max_iter=3000"]


def run(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "symgd", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, **kw)


def rows_of(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def same(text, value) -> bool:
    v = float(text)
    return (math.isnan(v) and (value is None or math.isnan(value))) or v == value


# ----------------------------------------------------------------------------- --trace
def test_trace_csv_holds_the_history(tmp_path):
    out = tmp_path / "trace.csv"
    r = run("solve", PROBLEMS / "max_gaussian_bump.yaml", "--json", "--trace", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)                   # stdout: still exactly one JSON object
    h = d["history"]
    rows = rows_of(out)
    assert rows[0] == ["iteration", "f", "grad_norm", "step", "learning_rate", "x", "y"]
    assert len(rows) - 1 == len(h["iteration"]) == d["iterations"] + 1
    for i, row in enumerate(rows[1:]):
        assert int(row[0]) == h["iteration"][i]
        for text, key in zip(row[1:5], ("fun", "grad_norm", "step", "learning_rate")):
            assert same(text, h[key][i]), (i, key)
        assert [float(v) for v in row[5:]] == h["x"][i]
    assert float(rows[-1][1]) == pytest.approx(d["fun"])
    assert not list(tmp_path.glob(".symgd_*"))


def test_trace_csv_text():
    hist = {"iteration": [0, 1], "fun": [2.5, 1.0], "grad_norm": [3.0, float("nan")],
            "step": [float("nan"), 0.5], "x": [[float(i) for i in range(20)]] * 2}
    names = tuple(["step"] + [f"w[{i}]" for i in range(1, 25)])   # 25 variables
    res = Result("p", "newton", "newton", "converged", "", names, np.zeros(25), 1.0, 0.0, 1,
                 {}, 0.0, history=hist)
    rows = list(csv.reader(io.StringIO(trace_csv(res))))
    assert rows[0][:6] == ["iteration", "f", "grad_norm", "step", "learning_rate", "x.step"]
    assert len(rows[0]) == 5 + 20 and rows[0][-1] == "w[19]"        # x of 20 variables
    assert rows[1][:5] == ["0", "2.5", "3.0", "nan", "nan"]
    assert rows[2][:5] == ["1", "1.0", "nan", "0.5", "nan"]
    closed = Result("p", "analytic", "analytic", "solved", "", ("x",), np.zeros(1), 0.0,
                    0.0, 0, {}, 0.0, history=None)
    assert trace_csv(closed) == "iteration,f,grad_norm,step,learning_rate,x\n"


def test_trace_is_written_on_ctrl_c(tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text("variables: {x: -1.2, y: 1.0}\nminimize: (1 - x)**2 + 100*(y - x**2)**2\n"
                    "method: gd\noptions: {learning_rate: 1.0e-7, max_iter: 1000000000}\n")
    trace, fig = tmp_path / "t.csv", tmp_path / "f.png"
    code, stdout, stderr = solve_and_interrupt(slow, "--json", "--trace", trace,
                                               "--plot", fig)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    d = json.loads(stdout)
    assert d["status"] == "interrupted"
    rows = rows_of(trace)
    assert rows[0][:5] == ["iteration", "f", "grad_norm", "step", "learning_rate"]
    assert len(rows) - 1 == len(d["history"]["iteration"]) > 1
    assert not fig.exists() and "no figure" in stderr       # Ctrl-C: no plot after it


# ------------------------------------------------------------------------------ --plot
def test_solve_with_plot_writes_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    fig = tmp_path / "fig.png"
    for extra in ([], ["--json"]):                   # cold, then from the warm index
        r = run("solve", PROBLEMS / "rosenbrock.yaml", "--plot", fig, *extra)
        assert r.returncode == 0, r.stderr
        assert imread(str(fig)).shape[:2] == (560, 700)
        fig.unlink()
    assert json.loads(r.stdout)["status"] == "converged"   # --json: one object only
    assert not list(tmp_path.iterdir())


def test_plot_after_a_warm_solve_needs_no_sympy(tmp_path):
    pytest.importorskip("matplotlib")
    fig = tmp_path / "fig.png"
    code = ("import sys; from symgd.cli import main; code = main(sys.argv[1:]); "
            "sys.exit(code or (9 if 'sympy' in sys.modules else 0))")
    args = ["solve", str(PROBLEMS / "booth.yaml"), "--plot", str(fig)]
    run("solve", PROBLEMS / "booth.yaml")                 # records the file
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr                     # 9: sympy was imported
    assert fig.exists()


def test_plot_command(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "s.png"
    r = run("plot", PROBLEMS / "linreg_sgd.yaml", "--kind", "schedule", "--out", out)
    assert r.returncode == 0, r.stderr
    assert out.exists() and "schedule of linreg-sgd" in r.stdout
    out = tmp_path / "h.png"
    r = run("plot", PROBLEMS / "himmelblau.yaml", "--out", out, "--set", "method=newton")
    assert r.returncode == 0, r.stderr
    assert out.exists() and "contour of himmelblau; newton: converged" in r.stdout


@pytest.mark.parametrize("args,words", [
    (["plot", "problems/himmelblau.yaml", "--kind", "contuor"], "did you mean 'contour'"),
    (["plot", "problems/quadratic3.yaml", "--kind", "fit"], "3 variable(s) and no data"),
    (["plot", "problems/rosenbrock.yaml", "--kind", "schedule"], "gd or sgd"),
    (["plot", "problems/booth.yaml", "--out", "no/such/folder/f.png"], "does not exist"),
    (["solve", "problems/booth.yaml", "--plot", "fig.xyz"], "cannot write a figure"),
    (["solve", "problems/booth.yaml", "--trace", "no/such/folder/t.csv"], "--trace"),
])
def test_bad_input_exits_2_without_traceback(args, words, tmp_path):
    args = [a if not a.startswith("no/") and a != "fig.xyz" else str(tmp_path / a)
            for a in args]
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""                                  # refused before any solving
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["plot", "solve"])
def test_missing_matplotlib_exits_2_and_says_how_to_install(command, tmp_path):
    fig = str(tmp_path / "f.png")
    args = [command, str(PROBLEMS / "booth.yaml"), "--out" if command == "plot" else "--plot",
            fig]
    r = subprocess.run([sys.executable, "-c", BLOCK_MATPLOTLIB, *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "pip install symgd[plot]" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == "" and not list(tmp_path.iterdir())   # refused before solving


# ------------------------------------------------------------------------ progress bar
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_bar_appears_only_after_the_delay():
    pytest.importorskip("tqdm")
    term, clock = FakeTerminal(), FakeClock()
    bar = ProgressBar(term, delay=1.0, clock=clock, interval=0.1)
    clock.t += 0.5
    bar(10, 3.5, 0.25)
    assert bar.bar is None and term.getvalue() == ""        # a short run: nothing drawn
    clock.t += 0.7
    bar(250, 1.25, 0.0625)
    text = term.getvalue()
    assert "iteration 250" in text and "f=1.25" in text and "|grad|=0.0625" in text
    assert "it/s" in text and "iteration 0 " not in text
    assert bar.bar.format_dict["elapsed"] >= 1.2             # counted from the solve's start
    bar(300, 1.0, 0.05)                                      # within the interval: no redraw
    assert "iteration 300" not in term.getvalue()
    clock.t += 0.2
    bar(400, 0.5, 0.01)
    assert "iteration 400" in term.getvalue() and "f=0.5" in term.getvalue()
    clock.t += 0.2
    bar(20, 0.4, 0.005)                                      # a later stage counts again
    assert bar.bar.n == 20
    before = len(term.getvalue())
    bar.close()
    assert bar.bar is None and term.getvalue()[before:].strip() == ""  # the line cleared


def test_which_progress_a_command_gets(monkeypatch):
    args = lambda **kw: SimpleNamespace(**{"json": False, "quiet": False, "verbose": False,
                                           **kw})
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    assert isinstance(cli._progress(args()), ProgressBar)
    assert cli._progress(args(json=True)) is None           # never with --json
    assert cli._progress(args(quiet=True)) is None          # --quiet turns it off
    verbose = cli._progress(args(verbose=True))              # --verbose keeps its lines
    assert callable(verbose) and not isinstance(verbose, ProgressBar)
    monkeypatch.setattr(sys, "stderr", io.StringIO())        # not a terminal
    assert cli._progress(args()) is None


def test_progress_delay_setting(monkeypatch):
    monkeypatch.delenv("SYMGD_PROGRESS_DELAY", raising=False)
    assert progress_delay() == 1.0
    monkeypatch.setenv("SYMGD_PROGRESS_DELAY", "0")
    assert progress_delay() == 0.0
    monkeypatch.setenv("SYMGD_PROGRESS_DELAY", "soon")
    assert progress_delay() == 1.0


def run_on_terminal(*args):
    """Run the CLI with stderr on a pseudo-terminal and SYMGD_PROGRESS_DELAY=0: (exit
    status, stdout, what the terminal received)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "symgd", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, text=True,
                            env={**os.environ, "SYMGD_PROGRESS_DELAY": "0"})
    os.close(slave)
    received = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:          # EIO: the child closed the terminal
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(timeout=60)
    os.close(master)
    return proc.returncode, stdout, b"".join(received).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_bar_on_a_terminal_and_never_with_json_or_off_one():
    pytest.importorskip("tqdm")
    code, stdout, term = run_on_terminal("solve", PROBLEMS / "rosenbrock.yaml", *LONG)
    assert code == 1 and "iteration" in term and "it/s" in term and "|grad|=" in term
    assert "it/s" not in stdout                              # stdout stays clean
    code, stdout, term = run_on_terminal("solve", PROBLEMS / "rosenbrock.yaml", *LONG,
                                         "--json")
    assert code == 1 and term.strip() == ""                 # --json: no bar at all
    assert json.loads(stdout)["status"] == "max_iter"
    code, stdout, term = run_on_terminal("solve", PROBLEMS / "rosenbrock.yaml", *LONG,
                                         "--quiet")
    assert code == 1 and term.strip() == ""
    r = run("solve", PROBLEMS / "rosenbrock.yaml", *LONG, env={"SYMGD_PROGRESS_DELAY": "0"})
    assert r.returncode == 1 and r.stderr == ""             # stderr not a terminal
