"""The command line (SPEC §3): argument parsing and output only, no math.

Exit status: 0 solved, 1 ran but did not converge (or verify disagreed), 2 bad input,
3 internal error (a bug: traceback on stderr), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from symgd.atomic import write_atomically  # noqa: F401  (--out; tests import it from here)
from symgd.cli_output import ProgressBar, trace_csv

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as exit status 2 in our own format."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"symgd: error: {message}", file=sys.stderr)
        sys.exit(EXIT_INPUT)


def version() -> str:
    """The installed distribution's version, or the package's own ``__version__`` when
    symgd runs from a source tree that is not installed."""
    from importlib import metadata

    try:
        return metadata.version("symgd")
    except metadata.PackageNotFoundError:
        from symgd import __version__
        return __version__


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"symgd {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symgd", description="Symbolic-numeric optimisation: exact derivatives, "
                "closed-form critical points, compiled gradient descent, line search and Newton.")
    p.add_argument("--version", action=_VersionAction)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("solve", help="solve a problem file")
    s.add_argument("problem", metavar="PROBLEM.yaml")
    s.add_argument("--method", help="auto, analytic, gd, linesearch, newton, lm, sgd (overrides the file)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set options.tol=1e-12 (repeatable)")
    s.add_argument("--cluster", metavar="ADDRESS",
                   help="run a data fit's passes on Dask: 'local' or a scheduler address "
                        "such as tcp://host:8786 (symgd[dask]; never read from the file)")
    s.add_argument("--json", action="store_true", help="print exactly one JSON object")
    s.add_argument("--out", metavar="RESULT.json", help="also write the JSON result here")
    s.add_argument("--verbose", "-v", action="store_true",
                   help="report progress on stderr about once a second")
    s.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar (it shows on a terminal for runs over a second)")
    s.add_argument("--trace", metavar="TRACE.csv",
                   help="write one CSV row per iteration: iteration, f, grad_norm, step, "
                   "learning_rate, and x (up to 20 variables)")
    s.add_argument("--plot", metavar="FIG.png",
                   help="draw the solution (contour, curve, landscape or fit) into this "
                   "image (needs matplotlib: pip install symgd[plot])")
    _add_limit_option(s)

    g = sub.add_parser("plot", help="solve a problem file and draw it (needs matplotlib)")
    g.add_argument("problem", metavar="PROBLEM.yaml")
    g.add_argument("--out", metavar="FIG.png", default="fig.png",
                   help="the image to write (default fig.png; .pdf and .svg work too)")
    g.add_argument("--kind", metavar="KIND",
                   help="contour, landscape, convergence, fit or schedule (default: fit for "
                   "data fits, contour up to two variables, landscape beyond)")
    g.add_argument("--method", help="the method to solve with (overrides the file)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set options.tol=1e-12 (repeatable)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_limit_option(g)

    d = sub.add_parser("derive", help="print the gradient and Hessian")
    d.add_argument("problem", metavar="PROBLEM.yaml")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    d.add_argument("--latex", action="store_true", help="print LaTeX")
    _add_limit_option(d)

    v = sub.add_parser("verify", help="check the closed form against an iterative solve, and "
                       "the compiled derivatives against finite differences")
    v.add_argument("problem", metavar="PROBLEM.yaml")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    v.add_argument("--json", action="store_true")
    _add_limit_option(v)

    c = sub.add_parser("cache", help="show or clear the compiled-kernel cache")
    c.add_argument("action", choices=["info", "clear"])
    c.add_argument("--all", action="store_true",
                   help="with clear: also symgd's own compiled method loops (numba's cache "
                   "files; each method compiles them again at its first use, about 8 s)")
    return p


def _add_limit_option(sub) -> None:
    sub.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                     help="raise (or lower) a limit of the problem-file reader, e.g. "
                     "--limit max_variables=5000 or --limit max_depth=400 (repeatable; "
                     "see symgd.io.limits.LoadLimits and ExprLimits)")


def _load(args):
    from symgd.io.limits import LoadLimits
    from symgd.problem import load

    limits = LoadLimits.from_settings(getattr(args, "limit", None) or [])
    return load(args.problem, overrides=_overrides(args), limits=limits)


def check_out_path(path: str, option: str = "--out") -> None:
    """Refuse an output path (``--out``, ``--trace``, ``--plot``) that cannot be
    written, before any work is done.

    Raises:
        InputError: (file ``option``) a folder, a missing folder, a folder without write
            permission.
    """
    from symgd.errors import InputError

    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise InputError(f"'{path}' is a folder; give a file name", file=option,
                         kind="input")
    if not os.path.isdir(folder):
        raise InputError(f"the folder {folder} does not exist", file=option, kind="input")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in the folder {folder}", file=option, kind="input")


def _dumps(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


def _progress_printer():
    """A progress callback printing at most about once a second to stderr."""
    import time
    last = [0.0]

    def report(iterations, f, grad_norm):
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            print(f"symgd: iteration {iterations}: f = {f:.10g}, |grad| = {grad_norm:.3g}",
                  file=sys.stderr, flush=True)
    return report


def _progress(args):
    """The progress callback a command runs with: --verbose's lines, a bar on a
    terminal, or None (--json, --quiet, or stderr not a terminal)."""
    if getattr(args, "verbose", False):
        return _progress_printer()
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return None
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return ProgressBar() if tty else None


def _overrides(args) -> list:
    overrides = list(args.set)
    if getattr(args, "method", None):
        overrides.append(f"method={args.method}")
    return overrides


def _solve_file(args, progress=None):
    """(problem, result): from the warm index when this file was solved before by the
    same method (no sympy: symgd.warm), else the full path, which then records it."""
    from symgd.warm import solve_file

    cluster = getattr(args, "cluster", None)
    return solve_file(args.problem, _overrides(args), limits=args.limit, progress=progress,
                      **({} if cluster is None else {"cluster": cluster}))


def _cmd_solve(args) -> int:
    from symgd.report import format_result

    for path, option in ((args.out, "--out"), (args.trace, "--trace"), (args.plot, "--plot")):
        if path:
            check_out_path(path, option)  # before the work, not after it
    if args.plot:
        _check_plotting(args.plot)
    progress = _progress(args)
    try:
        problem, result = _solve_file(args, progress)
    finally:
        if isinstance(progress, ProgressBar):
            progress.close()
    payload = _dumps(result.to_dict())
    failed = []
    for path, option, text in ((args.out, "--out", lambda: payload + "\n"),
                               (args.trace, "--trace", lambda: trace_csv(result))):
        if path:
            try:
                write_atomically(path, text())
            except OSError as err:  # the result is still printed below: nothing is lost
                failed.append(f"{option}: cannot write {path}: {err.strerror or err}")
    if args.json:
        print(payload)
    else:
        print(format_result(problem, result))
        if args.trace and not any(m.startswith("--trace") for m in failed):
            print(f"trace: {args.trace}")
    if args.plot:
        failed += _plot_after_solve(args, problem, result)
    for message in failed:
        print(f"symgd: error: {message} (the result is on stdout)", file=sys.stderr)
    if failed:
        return EXIT_INPUT
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_OK if result.success else EXIT_NOT_CONVERGED


def _check_plotting(out) -> None:
    """Refuse a figure that cannot be drawn (no matplotlib, unknown image format)
    before solving, not after."""
    from symgd.plot import render

    render.check_format(out)
    render.require_matplotlib()


def _plot_after_solve(args, problem, result) -> list:
    """``solve --plot``: draw the kind the problem is best shown by; the problems met,
    as messages (the result is printed already, so none of them may raise)."""
    from symgd.errors import InputError
    from symgd.plot import plot

    if result.status == "interrupted":
        print("symgd: --plot: interrupted, no figure drawn", file=sys.stderr)
        return []
    try:
        # a problem from the warm index is drawn from its compiled kernels; the file is
        # loaded again (sympy) only where the figure needs the expressions
        path = plot(problem, result, out=args.plot, full_problem=lambda: _load(args))
    except InputError as err:
        return [f"--plot: {err.describe()}"]
    except OSError as err:
        return [f"--plot: cannot write {args.plot}: {err.strerror or err}"]
    if not args.json:
        print(f"plot: {path}")
    return []


def _cmd_plot(args) -> int:
    import symgd
    from symgd.plot import check_kind, plot

    check_kind(args.kind)
    check_out_path(args.out, "--out")
    _check_plotting(args.out)
    problem = _load(args)
    kind = check_kind(args.kind, problem)
    result = None
    if kind != "schedule":  # a schedule needs no run
        progress = _progress(args)
        try:
            result = symgd.solve(problem, progress=progress)
        finally:
            if isinstance(progress, ProgressBar):
                progress.close()
    drawn = plot(problem, result, kind=kind, out=args.out, return_figure=True,
                 critical_points=True)
    drawn.figure.clear()
    status = "" if result is None else f"; {result.method}: {result.status}"
    print(f"wrote {drawn.path}: {drawn.kind} of {problem.name}{status}")
    for note in drawn.notes:
        print(f"note: {note}")
    return EXIT_OK


def _cmd_derive(args) -> int:
    from symgd.report import format_derivatives

    problem = _load(args)
    if problem.is_fit:
        from symgd.fit.report import format_fit_derivatives
        print(format_fit_derivatives(problem, latex=args.latex))
    else:
        print(format_derivatives(problem, latex=args.latex))
    return EXIT_OK


def _cmd_verify(args) -> int:
    import symgd
    from symgd.report import format_verify

    problem = _load(args)
    report = symgd.verify(problem)
    if args.json:
        print(_dumps(report.to_dict()))
    else:
        print(format_verify(problem, report))
    return EXIT_OK if report.ok else EXIT_NOT_CONVERGED


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _cmd_cache(args) -> int:
    from symgd.kernelgen import cache

    again = (f"each method compiles its loops again at its next use (about "
             f"{cache.LOOP_COMPILE_S} s, once)")
    if args.action == "clear":
        before = cache.clear(include_method_loops=args.all)
        loops = before["loops"]
        print(f"removed {before['modules']} kernel modules ({before['bytes']} bytes) from "
              f"{before['path']}")
        where = ", ".join(loops["folders"]) or "nowhere"
        if not args.all:
            if loops["files"]:
                print(f"kept symgd's compiled method loops ({loops['files']} numba cache "
                      f"files, {_mb(loops['bytes'])}, in {where}); 'cache clear --all' "
                      f"removes them too, and then {again}")
        elif loops["files"]:
            print(f"removed symgd's compiled method loops: {before['loops_removed']} of "
                  f"{loops['files']} numba cache files ({_mb(loops['bytes'])}) from "
                  f"{where}; {again}")
        else:
            print("symgd's compiled method loops were not cached (no numba cache files "
                  f"beside symgd's sources or in numba's cache folders); {again}")
    else:
        info = cache.info()
        loops = cache.method_loop_info()
        print(f"{info['path']}: {info['modules']} kernel modules, {info['files']} files, "
              f"{info['bytes']} bytes")
        print(f"symgd's compiled method loops: {loops['files']} numba cache files, "
              f"{_mb(loops['bytes'])}" + (f", in {', '.join(loops['folders'])}"
                                          if loops["folders"] else ""))
    return EXIT_OK


COMMANDS = {"solve": _cmd_solve, "derive": _cmd_derive, "verify": _cmd_verify,
            "plot": _cmd_plot, "cache": _cmd_cache}


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `symgd ... | head`


def main(argv=None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader of our output went away (`| head`): no traceback, and no second
        # error when Python flushes stdout at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    want_json = getattr(args, "json", False)
    from symgd.errors import InputError

    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:
        raise
    except InputError as err:
        if want_json:
            print(_dumps(err.to_dict()))
        print(f"symgd: error: {err.describe()}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("symgd: interrupted before a result existed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: say so, with the traceback
        traceback.print_exc()
        print("symgd: internal error (a bug in symgd; please report it with the traceback "
              "above)", file=sys.stderr)
        if want_json:
            print(_dumps({"error": {"kind": "internal", "file": getattr(args, "problem", None),
                                    "field": None, "line": None, "column": None,
                                    "message": "internal error; see stderr"}}))
        return EXIT_INTERNAL
