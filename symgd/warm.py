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
would build: :meth:`LightProblem.runs`). ``auto`` and ``analytic`` never do (the
closed form needs sympy).

Data fits are recorded too (:class:`LightFitProblem`: the fit's module, kernel kinds,
loss, data spec and the data file's size and time), and used once symgd.fit can take
an indexed fit (:data:`FIT_SOURCE_READY`; what it must provide is in
:class:`LightFitProblem`).

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
import time

from symgd.kernelgen.expr_index import build_stamp, index_dir, load_kernels
from symgd.problem_interface import INDEXED, ProblemInterface

FORMAT = 2
# symgd.fit takes a LightFitProblem (see its docstring) once this is True; until then
# fit entries are recorded and read back (lookup(..., fits=True)) but not solved from.
FIT_SOURCE_READY = True


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


@dataclasses.dataclass(frozen=True)
class _Named:
    """A symbol's stand-in where only its name is read (``s.name``)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class LightFitSpec:
    """The read interface of symgd.fit.spec.FitSpec without sympy: expressions as text
    (``value``, ``model``, ``target``), symbols as names (``.name``)."""

    names: tuple
    symbols: tuple
    data_symbols: tuple
    loss: str
    mean: bool
    value: str
    model: str | None
    target: str | None
    delta: float = 1.0
    sign: float = 1.0
    from_square: bool = False

    @property
    def least_squares(self) -> bool:
        return self.loss in ("mse", "sse")

    @property
    def p(self) -> int:
        return len(self.symbols)


class LightFitProblem(LightProblem):
    """A data fit from the index: a LightProblem plus the fit's data spec and texts.

    ``kernel_source`` is INDEXED (its kernels come from the index) and ``is_fit`` is
    True (the solver runs it on the data source's path). What symgd.fit must do to
    take it (then set :data:`FIT_SOURCE_READY`):

    * ``fit.source.spec_of``: for ``problem.kernel_source == INDEXED`` return
      ``problem.fit_spec(delta)`` (a :class:`LightFitSpec`; None means the entry was
      built for another huber ``delta``: raise LookupError, the caller's cue to take
      the full path);
    * ``fit.source.kernels``: for INDEXED build nothing and return
      ``problem.fit_kernels(spec, data, kinds)`` (None: raise LookupError); the data
      is read as today, ``symgd.io.data.load(problem.data, names of
      spec.data_symbols)``;
    * import sympy only where it is used: ``fit/__init__`` without eager imports,
      ``fit/kernels.py`` importing codegen and derive inside ``build``,
      ``fit/source.py`` importing ``fit_spec`` inside its functions; the statistics
      and ``fit.report.fit_report`` (the CLI prints it) stay sympy-free;
    * ``symgd.solver.kernels_of(problem)`` returns the fit's FitKernels too (the
      entry records its module, kinds and spec).
    """

    def __init__(self, entry: dict, source: str):
        super().__init__(entry, source)
        fit = entry["fit"]
        self.loss = fit["loss"]
        self.reduce = fit["reduce"]
        self.model = fit["model"]
        self.target = fit["target"]
        self.data = _data_from_entry(fit["data"])
        self.kinds = frozenset(fit["kinds"])
        # as Problem.objective reads in the report: the per-sample objective, None for
        # a model fit (text here, not sympy)
        self.objective = self.objective_text or None

    @property
    def is_fit(self) -> bool:
        return True

    def fit_spec(self, delta: float = 1.0) -> LightFitSpec | None:
        """The fit's spec as recorded, or None if it was recorded for another delta."""
        s = self._entry["fit"]["spec"]
        if float(delta) != float(s["delta"]):
            return None
        return LightFitSpec(self.names, tuple(_Named(n) for n in self.names),
                            tuple(_Named(n) for n in s["data_symbols"]), s["loss"],
                            bool(s["mean"]), s["value"], s["model"], s["target"],
                            float(s["delta"]), float(s["sign"]), bool(s["from_square"]))

    def fit_kernels(self, spec, data, kinds):
        """The fit's kernels over ``data`` (symgd.fit.kernels.FitKernels) from the
        recorded module, or None when it lacks a kind asked for or is gone."""
        from symgd.kernelgen.cache import CacheCorrupted, cache_dir, import_cached
        from symgd.fit.kernels import FitKernels

        wanted = (set(kinds) | {"f", "pred"}) - {"avv"}  # avv: dropped for linear models
        if not spec.least_squares:
            wanted -= {"lsq"}
        if not wanted <= self.kinds:
            return None
        t0 = time.perf_counter()
        try:
            module = import_cached(self.module, cache_dir() / f"{self.module}.py")
            ks = {kind: getattr(module, f"k_{kind}") for kind in sorted(self.kinds)}
        except (CacheCorrupted, AttributeError):
            return None
        return FitKernels(spec, data, self.kinds, {k: f.address for k, f in ks.items()},
                          self.module, 0.0, time.perf_counter() - t0, tuple(ks.values()))


# ----------------------------------------------------------------------------- data specs
def _data_to_entry(data):
    """A data spec as JSON (file-based data only; None when it cannot be recorded),
    with the data file's size and time (a changed data file is a miss)."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):  # io.data_spec
        if getattr(data, "file", None) is None:
            return None  # in-memory columns are not worth an index entry
        fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        out = {"class": type(data).__module__ + ":" + type(data).__qualname__,
               "file": str(fields.pop("file")), "fields": {}}
        for name, value in fields.items():
            if dataclasses.is_dataclass(value):
                value = {"dataclass": type(value).__module__ + ":" + type(value).__qualname__,
                         "fields": dataclasses.asdict(value)}
            elif hasattr(value, "items"):
                value = {str(k): (list(v) if isinstance(v, tuple) else v)
                         for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out["fields"][name] = value
    elif isinstance(data, dict) and isinstance(data.get("file"), str):
        out = {"class": "dict", "file": data["file"], "fields": {
            k: v for k, v in data.items() if k != "file"}}
    else:
        return None
    st = os.stat(out["file"])
    out["stat"] = [st.st_size, st.st_mtime_ns]
    json.dumps(out)  # must round-trip: raises on anything else
    return out


def _resolve(qualified: str):
    import importlib

    module, _, name = qualified.partition(":")
    if not module.startswith("symgd."):
        raise ValueError("not a symgd class")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _data_from_entry(out):
    """The data spec recorded by :func:`_data_to_entry`; ValueError when the data file
    changed since (or the record is not one)."""
    st = os.stat(out["file"])
    if [st.st_size, st.st_mtime_ns] != list(out["stat"]):
        raise ValueError("the data file changed")
    fields = dict(out["fields"])
    if out["class"] == "dict":
        return {"file": out["file"], **fields}
    cls = _resolve(out["class"])
    for name, value in list(fields.items()):
        if isinstance(value, dict) and "dataclass" in value:
            fields[name] = _resolve(value["dataclass"])(**value["fields"])
        elif name == "locations" and isinstance(value, dict):
            fields[name] = {k: tuple(v) for k, v in value.items()}
        elif isinstance(value, list):
            fields[name] = tuple(value)
    return cls(file=out["file"], **fields)


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
        if (is_fit and not fits) or not indexable_method(entry["method"], data=is_fit):
            return None
        light = (LightFitProblem if is_fit else LightProblem)(entry, os.fspath(path))
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
    def text(e):
        return None if e is None else str(e)
    return {"objective": text(getattr(problem, "objective", None)) or ""}


def _fit_entry(problem, kernels) -> dict | None:
    """The fit part of an entry, or None when this fit cannot be indexed."""
    spec = getattr(kernels, "spec", None)
    data = _data_to_entry(problem.data)
    if spec is None or data is None:
        return None
    return {
        "loss": problem.loss, "reduce": problem.reduce,
        "model": None if problem.model is None else str(problem.model),
        "target": None if problem.target is None else str(problem.target),
        "data": data, "kinds": sorted(kernels.kinds),
        "spec": {"data_symbols": [s.name for s in spec.data_symbols], "loss": spec.loss,
                 "mean": bool(spec.mean), "value": str(spec.value),
                 "model": None if spec.model is None else str(spec.model),
                 "target": None if spec.target is None else str(spec.target),
                 "delta": float(spec.delta), "sign": float(spec.sign),
                 "from_square": bool(spec.from_square)},
    }


def record(path, overrides, problem, result, *, limits=(), method=None, options=None) -> bool:
    """Remember a problem file solved by the full path (best effort: never fails the
    run). ``method`` and ``options``: what the solve was asked for beyond the file.
    Returns whether an entry was written."""
    try:
        options = dict(options or {})
        name = method or problem.method or "auto"
        is_fit = bool(problem.is_fit)
        if problem.constraints or not indexable_method(name, data=is_fit) or \
                result.method != name or result.requested_method != name:
            return False  # a fallback ran another method: its kernels are another set
        kernels = _kernels_of(problem)
        key = _key(path, tuple(overrides), tuple(limits))
        if kernels is None or key is None:
            return False
        fit = _fit_entry(problem, kernels) if is_fit else None
        if is_fit and fit is None:
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
