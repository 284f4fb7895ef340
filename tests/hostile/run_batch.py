"""Run hostile corpus items through ``symgd.cli.main`` in this one process.

Usage: ``python run_batch.py MANIFEST.json RESULTS.jsonl``

MANIFEST is a JSON list of ``{"id", "cwd", "argv", "sentinel"}``. For each item the
working directory is set to ``cwd``, ``symgd.cli.main(argv)`` runs with stdout and
stderr captured, and one JSON line is appended to RESULTS (flushed at once, so that if
an item hangs and the batch is killed, the item that was running is the first one
without a line): exit code, stdout, stderr, wall and CPU time, the peak resident memory
before and after, and whether the item's sentinel file exists afterwards. Anything escaping
``main`` (it must not) is recorded as a traceback in ``escaped``.

Imports happen once, before the first item (a warm-up call on a missing file), so an
item's time is what the CLI spends on it, not the interpreter's start.
"""
import contextlib
import io
import json
import os
import resource
import sys
import time
import traceback


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(manifest: str, results: str) -> int:
    with open(manifest, encoding="utf-8") as fh:
        items = json.load(fh)
    import symgd.cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        symgd.cli.main(["solve", os.path.join(os.path.dirname(manifest), "missing.yaml"),
                        "--json"])  # warm-up: the solve path's imports
    with open(results, "a", encoding="utf-8") as out:
        for item in items:
            os.chdir(item["cwd"])
            so, se = io.StringIO(), io.StringIO()
            escaped = None
            before = _peak_mb()
            c0 = time.process_time()
            t0 = time.perf_counter()
            try:
                with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
                    rc = symgd.cli.main(item["argv"])
            except SystemExit as exc:  # argparse
                rc = exc.code
            except BaseException:  # noqa: BLE001 - recorded, the test fails on it
                rc = None
                escaped = traceback.format_exc()
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - c0
            out.write(json.dumps({
                "id": item["id"], "rc": rc, "stdout": so.getvalue(), "stderr": se.getvalue(),
                "seconds": seconds, "cpu_seconds": cpu, "peak_mb_before": before,
                "peak_mb_after": _peak_mb(),
                "sentinel": os.path.exists(item["sentinel"]), "escaped": escaped,
            }) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
