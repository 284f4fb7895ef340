"""The warm-start index for problem files: solve an already solved file without sympy.

A warm run of a problem file spends most of its time outside the solve: importing
sympy (~0.2-0.3 s), parsing, deriving (1.5 s for a chained Rosenbrock in 200
variables) and generating the kernel source whose hash names the cached module. After
a file has been solved once, this index (one small JSON file per entry, in
``<cache>/index/``) records what a later solve of the same file needs: the generated
kernel module's name and what it holds, the variables' names, starts and bounds, the
sense, the method run, the file's options, the objective's text for the report, and
the field locations for messages. A later run of the same file (same bytes, path,
``--set`` overrides and ``--limit`` settings, same versions and symgd sources:
:func:`symgd.kernelgen.expr_index.build_stamp`) gets a :class:`LightProblem`, whose
kernels load by module name from the kernel cache, and goes straight to the compiled
loop (DESIGN.md, "Compiling method loops once").

Which runs use it comes from the method registry (:func:`indexable_method`): an
iterative method with a runner that is neither planned nor one of auto's internal
paths, on a problem without constraints, and a method needing data only on a data
fit. A later run uses the entry only for the method the entry was recorded with and
the same exactness of the line search (so it loads the very kernel set a cold run
would build: :meth:`LightProblem.runs`). ``analytic`` never does, nor ``auto``
without data (the closed form needs sympy).

Data fits are recorded too (symgd.warm_fit.LightFitProblem: the fit's module, kernel
kinds, loss, data spec and the data file's size and time), and an ``auto`` fit with
auto's choice (and, for a model linear in its parameters, the closed form's numpy
code), so that a warm auto fit imports no sympy either (symgd.warm_fit.auto_entry).

The index is a cache: a missing, stale, edited or unreadable entry, or a module the
kernel cache no longer has intact, is simply not used (the full path runs, and
records the file again). This module imports neither sympy nor numpy at import time.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat

from symgd.kernelgen.expr_index import build_stamp, index_dir, load_kernels
from symgd.problem_interface import INDEXED, ProblemInterface

FORMAT = 2
# symgd.fit takes a LightFitProblem (symgd.warm_fit) while this is True; when False
# fit entries are recorded and read back (lookup(..., fits=True)) but not solved from.
FIT_SOURCE_READY = True


def __getattr__(name):
    """``LightFitProblem`` and ``LightFitSpec`` live in symgd.warm_fit (which imports
    this module); read here on first use."""
    if name in ("LightFitProblem", "LightFitSpec"):
        from symgd import warm_fit
        return getattr(warm_fit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- policy
def indexable_method(name, *, data: bool = False) -> bool:
    """Whether a run of method ``name`` can start from indexed kernels, read from
    ``symgd.methods.REGISTRY``: an iterative method (it has a runner), available, not
    one of auto's internal paths, and needing data only when the problem is a fit."""
    from symgd.methods import REGISTRY

    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None or spec.run is None or spec.planned or spec.internal:
        return False
    return spec.accepts_data if data else not spec.needs_data


def _exact_line_search(method: str, options) -> bool:
    """Whether ``method`` with these (merged) options asks for the exact line search's
    kernel (the solver's ``need_line_poly``)."""
    from symgd.methods import REGISTRY

    spec = REGISTRY[method]
    return "line_search" in spec.options and \
        options.get("line_search", spec.options["line_search"]) == "exact"


# ----------------------------------------------------------------------------- keys
def _regular_size(path) -> int | None:
    """The size of a regular file, else None (hashing a FIFO or a device would block or
    never end; the loader refuses them with a message)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _key(path, overrides, limits) -> str | None:
    size = _regular_size(path)
    from symgd.io.limits import MAX_BYTES  # the loader's default yaml_max_bytes
    if size is None or size > MAX_BYTES:  # a huge file would be read whole
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    h = hashlib.sha256()
    for part in (f"file-index {FORMAT}", build_stamp(), os.path.abspath(path),
                 "\0".join(overrides), "\0".join(limits)):
        h.update(part.encode())
        h.update(b"\0")
    h.update(data)
    return h.hexdigest()[:32]


# ----------------------------------------------------------------------------- problems
@dataclasses.dataclass(frozen=True)
class LightVariable:
    name: str
    start: float
    lower: float | None
    upper: float | None


class LightProblem(ProblemInterface):
    """A problem file's solve-time parts, rebuilt from the index without sympy.

    Implements :class:`symgd.problem_interface.ProblemInterface` with
    ``kernel_source == INDEXED``: :meth:`kernels` loads the recorded kernel module
    (what symgd.solver.compiled calls for INDEXED problems). ``objective_text`` is
    the objective as the report prints it.
    """

    kernel_source = INDEXED
    constraints = ()

    def __init__(self, entry: dict, source: str):
        self.name = str(entry["name"])
        self.sense = entry["sense"]
        if self.sense not in ("minimize", "maximize"):
            raise ValueError("sense")
        self.method = entry["file_method"]
        self.options = dict(entry["options"])
        self.variables = tuple(LightVariable(str(v[0]), float(v[1]),
                                             None if v[2] is None else float(v[2]),
                                             None if v[3] is None else float(v[3]))
                               for v in entry["variables"])
        self.objective_text = str(entry["objective"])
        self.module = str(entry["module"])
        self.source = source
        self.locations = {str(k): (v[0], v[1]) for k, v in entry["locations"].items()}
        self._entry = entry

    @property
    def is_polynomial(self) -> bool:
        return bool(self._entry["is_polynomial"])

    @property
    def recorded_method(self) -> str:
        """The method the entry was solved with (the only one it serves)."""
        return self._entry["method"]

    def runs(self, method=None, options=None) -> bool:
        """Whether a solve asking for ``method`` (None: the file's) with keyword
        ``options`` runs on the recorded kernels: the method the entry was solved with,
        and the same exactness of the line search."""
        options = options or {}
        name = method or self.method or "auto"
        if name != self.recorded_method:
            return False
        merged = {**self.options, **options}
        return _exact_line_search(name, merged) == bool(self._entry["exact"])

    def kernels(self):
        """The compiled kernels named by the entry (symgd.kernelgen.kernels.Kernels), or
        None when the kernel cache no longer has them intact."""
        k = load_kernels(self.module, len(self.variables))
        if k is None or k.has_hessian != bool(self._entry["has_hessian"]) or \
                bool(k.line_poly) != bool(self._entry["line_poly"]):
            return None
        return k

    def location(self, field):
        return self.locations.get(field or "", (None, None))

    def input_error(self, message, field=None, kind="input"):
        from symgd.errors import InputError
        line, col = self.location(field)
        return InputError(message, file=self.source, field=field, line=line, column=col,
                          kind=kind)

    def __repr__(self) -> str:
        return (f"LightProblem(name={self.name!r}, {self.sense}={self.objective_text[:60]!r}, "
                f"variables={len(self.variables)}, module={self.module!r})")


def kernels_for(light: LightProblem):
    """``light.kernels()``: the compiled kernels named by the index, or None."""
    return light.kernels()


# ----------------------------------------------------------------------------- index
def lookup(path, overrides=(), limits=(), *, fits: bool | None = None) -> LightProblem | None:
    """The indexed problem for this file, ``--set`` overrides and ``--limit``
    settings, or None. ``fits``: also data fits (default :data:`FIT_SOURCE_READY`)."""
    fits = FIT_SOURCE_READY if fits is None else fits
    key = _key(path, tuple(overrides), tuple(limits))
    if key is None:
        return None
    try:
        entry = json.loads((index_dir() / f"{key}.json").read_text(encoding="utf-8"))
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or \
                entry.get("key") != key:
            return None
        is_fit = entry.get("fit") is not None
        if is_fit:
            from symgd import warm_fit
            served = warm_fit.serves_auto(entry) if entry["method"] == "auto" else \
                indexable_method(entry["method"], data=True)
            if not (fits and served):
                return None
            return warm_fit.LightFitProblem(entry, os.fspath(path))
        if not indexable_method(entry["method"]):
            return None
        light = LightProblem(entry, os.fspath(path))
    except Exception:  # a cache: any damage is a miss
        return None
    return light


def _kernels_of(problem):
    from symgd import solver

    kernels_of = getattr(solver, "kernels_of", None)
    if kernels_of is not None:
        return kernels_of(problem)
    entry = solver._COMPILED.get(problem)  # pragma: no cover  (before solver.kernels_of)
    return None if entry is None else entry.kernels


def _texts(problem) -> dict:
    from symgd import large_expr
    return {"objective": large_expr.text(getattr(problem, "objective", None))}


def record(path, overrides, problem, result, *, limits=(), method=None, options=None) -> bool:
    """Remember a problem file solved by the full path (best effort: never fails the
    run). ``method`` and ``options``: what the solve was asked for beyond the file.
    Returns whether an entry was written."""
    try:
        options = dict(options or {})
        name = method or problem.method or "auto"
        is_fit = bool(problem.is_fit)
        fit_auto = is_fit and name == "auto" and result.requested_method == name
        if problem.constraints or not (fit_auto or (
                indexable_method(name, data=is_fit) and result.method == name
                and result.requested_method == name)):
            return False  # a fallback ran another method: its kernels are another set
        kernels = _kernels_of(problem)
        key = _key(path, tuple(overrides), tuple(limits))
        if kernels is None or key is None:
            return False
        fit = None
        if is_fit:
            from symgd import warm_fit
            auto = warm_fit.auto_entry(kernels, result) if fit_auto else None
            fit = None if fit_auto and auto is None else \
                warm_fit.fit_entry(problem, kernels, auto)
            if fit is None:
                return False
        merged = {**problem.options, **options}
        entry = {
            "format": FORMAT, "key": key, "name": problem.name, "sense": problem.sense,
            "method": name, "file_method": problem.method,
            "exact": _exact_line_search(name, merged), "options": dict(problem.options),
            "variables": [[v.name, float(v.start), v.lower, v.upper]
                          for v in problem.variables],
            "is_polynomial": False if is_fit else bool(problem.is_polynomial),
            "module": kernels.module_name,
            "has_hessian": bool(getattr(kernels, "has_hessian", False)),
            "line_poly": bool(getattr(kernels, "line_poly", 0)),
            "locations": {str(k): [v[0], v[1]] for k, v in
                          dict(getattr(problem, "locations", {}) or {}).items()},
            "fit": fit, **_texts(problem),
        }
        from symgd.atomic import write_atomically
        write_atomically(index_dir() / f"{key}.json", json.dumps(entry),
                         prefix=".tmp_")
        return True
    except Exception:  # a cache: failing to write it must not fail the solve
        return False


# ----------------------------------------------------------------------------- solving
def solve_file(path, overrides=(), *, limits=(), method=None, x0=None, progress=None,
               callback=None, **options):
    """(problem, result) of solving a problem file: from the index when this file was
    solved before by the same method (no sympy, no derivation, no code generation),
    else the full path (load, solve), which then records the file.

    Args:
        path: the problem file.
        overrides: ``KEY=VALUE`` strings (``--set``; the CLI's ``--method`` is one).
        limits: ``NAME=VALUE`` settings of the reader's limits (``--limit``).
        method, x0, progress, callback, **options: as for :func:`symgd.solver.solve`.
    """
    from symgd import solver

    path = os.fsdecode(os.fspath(path))
    overrides, limits = tuple(overrides), tuple(limits)
    light = lookup(path, overrides, limits)
    if light is not None and light.runs(method, options):
        try:
            return light, solver.solve(light, method=method, x0=x0, progress=progress,
                                       callback=callback, **options)
        except LookupError as err:
            if isinstance(err, (KeyError, IndexError)):
                raise  # a bug, not a cache miss
            # the indexed kernels are gone or damaged: take the full path
    from symgd.io.limits import LoadLimits
    from symgd.problem import load  # sympy: the full path only

    problem = load(path, overrides, limits=LoadLimits.from_settings(list(limits))
                   if limits else None)
    result = solver.solve(problem, method=method, x0=x0, progress=progress,
                          callback=callback, **options)
    record(path, overrides, problem, result, limits=limits, method=method, options=options)
    return problem, result
