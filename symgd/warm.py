"""The warm-start index: solve an already compiled problem file without sympy.

Importing sympy and re-deriving costs ~0.4 s of a ~1.3 s warm run. After a problem
file has been solved once, this index (a small JSON file in the kernel cache, named by
a hash of the file's bytes, the ``--set`` overrides and the versions of symgd and its
dependencies) records what an iterative solve needs: the generated kernel module and
the variables' names, starts and bounds, the sense, method and options. A later run of
the same file and overrides loads the kernels by module name and goes straight to the
compiled loop (DESIGN.md, "Compiling method loops once").

Only unconstrained, non-data problems solved by gd, linesearch or newton use it; the
closed form and everything else take the full path. The index is a cache: a missing,
stale or unreadable entry is simply not used.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

FAST_METHODS = ("gd", "linesearch", "newton")
_FORMAT = 1


def _code_stamp() -> str:
    """Sizes and times of symgd's own files, so an edited symgd never uses old entries."""
    root = Path(__file__).resolve().parent
    parts = []
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        parts.append(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _versions() -> str:
    out = []
    for dist in ("sympy", "numba", "numpy", "PyYAML"):
        try:
            out.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist}=?")
    return ";".join(out)


def _key(path, overrides) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    h = hashlib.sha256()
    for part in (str(_FORMAT), _versions(), _code_stamp(), os.path.abspath(path),
                 "\0".join(overrides)):
        h.update(part.encode())
        h.update(b"\0")
    h.update(data)
    return h.hexdigest()[:32]


def _index_dir() -> Path:
    from symgd.compile.cache import cache_dir
    d = cache_dir().parent / "index"
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass(frozen=True)
class LightVariable:
    name: str
    start: float
    lower: float | None
    upper: float | None


class LightProblem:
    """The parts of a Problem that an iterative solve and its report need.

    Mirrors :class:`symgd.Problem`'s read-only interface for those parts; built from
    the index, never from user text.
    """

    light = True
    constraints = ()
    is_fit = False
    locations: dict = {}

    def __init__(self, entry: dict, source: str):
        self.name = entry["name"]
        self.sense = entry["sense"]
        self.method = entry["method"]
        self.options = entry["options"]
        self.variables = tuple(LightVariable(*v) for v in entry["variables"])
        self.objective_text = entry["objective"]
        self.is_polynomial = entry["is_polynomial"]
        self.module = entry["module"]
        self.source = source

    @property
    def names(self):
        return tuple(v.name for v in self.variables)

    @property
    def start(self):
        import numpy as np
        return np.array([v.start for v in self.variables], dtype=float)

    @property
    def has_bounds(self):
        return any(v.lower is not None or v.upper is not None for v in self.variables)

    def location(self, field):
        return (None, None)

    def input_error(self, message, field=None, kind="input"):
        from symgd.errors import InputError
        return InputError(message, file=self.source, field=field, kind=kind)


def lookup(path, overrides=()) -> LightProblem | None:
    """The indexed problem for this file and overrides, or None."""
    key = _key(path, overrides)
    if key is None:
        return None
    try:
        entry = json.loads((_index_dir() / f"{key}.json").read_text())
        if entry.get("format") != _FORMAT or entry["method"] not in FAST_METHODS:
            return None
        return LightProblem(entry, str(path))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(path, overrides, problem, kernels) -> None:
    """Remember a solved problem file (best effort: never fails the run)."""
    try:
        if problem.constraints or problem.is_fit or problem.method not in FAST_METHODS:
            return
        key = _key(path, overrides)
        if key is None:
            return
        entry = {
            "format": _FORMAT, "name": problem.name, "sense": problem.sense,
            "method": problem.method, "options": dict(problem.options),
            "variables": [[v.name, v.start, v.lower, v.upper] for v in problem.variables],
            "objective": str(problem.objective),
            "is_polynomial": bool(problem.objective.is_polynomial(*problem.symbols)),
            "module": kernels.module_name,
        }
        text = json.dumps(entry)
        from symgd.compile.cache import _write_atomically
        _write_atomically(_index_dir() / f"{key}.json", text)
    except Exception:  # a cache: failing to write it must not fail the solve
        pass


def kernels_for(light: LightProblem):
    """The compiled kernels named by the index entry, or None if they are gone."""
    import time

    from symgd.compile.cache import cache_dir, import_cached
    from symgd.compile.kernels import kernels_from_module

    t0 = time.perf_counter()
    path = cache_dir() / f"{light.module}.py"
    if not path.exists():
        return None
    module = import_cached(light.module, path)
    return kernels_from_module(module, len(light.variables), time.perf_counter() - t0)
