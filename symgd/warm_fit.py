"""The data-fit part of the warm index (symgd.warm): fits rebuilt without sympy.

A fit entry records the fit's kernel module and kinds, its loss, data spec (with the
data file's size and time: a changed data file is a miss) and the spec's texts. An
entry recorded for ``auto`` also records auto's choice (symgd.choose.fit_choice: the
method and the reason Result.path gives), so that a warm auto run needs no sympy to
choose: :attr:`LightFitSpec.auto_choice`, which ``fit_choice`` returns as it is. For a
model linear in its parameters (auto's closed form) the entry records the numpy code
that evaluates the design matrix's columns (the source ``sympy.lambdify`` printed on
the cold run, checked at recording to give the very same arrays when rebuilt here):
:class:`RecordedForm`, which ``symgd.fit.linear.linear_form`` returns for a
:class:`LightFitSpec` and ``symgd.fit.numpy_eval.columns_function`` evaluates. The
code runs from the cache folder as the kernel cache's generated modules do (whoever
can write there can change what runs either way).

This module imports neither sympy nor numpy at import time.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

from symgd.warm import LightProblem

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
    # recorded for auto: (method, why) as symgd.choose.fit_choice returns it, and the
    # linear form (RecordedForm) when auto's choice is the closed form
    auto_choice: tuple | None = None
    linear: object = None

    @property
    def least_squares(self) -> bool:
        return self.loss in ("mse", "sse")

    @property
    def p(self) -> int:
        return len(self.symbols)


class LightFitProblem(LightProblem):
    """A data fit from the index: a LightProblem plus the fit's data spec and texts.

    ``kernel_source`` is INDEXED: symgd.fit.source takes the spec from
    :meth:`fit_spec` and the kernels from :meth:`fit_kernels` (None from either: a
    LookupError there, the cue to take the full path); ``is_fit`` is True.
    """

    def __init__(self, entry: dict, source: str):
        super().__init__(entry, source)
        fit = entry["fit"]
        self.loss = fit["loss"]
        self.reduce = fit["reduce"]
        self.model = fit["model"]
        self.target = fit["target"]
        self.data = data_from_entry(fit["data"])
        self.kinds = frozenset(fit["kinds"])
        # as Problem.objective reads in the report: the per-sample objective, None for
        # a model fit (text here, not sympy)
        self.objective = self.objective_text or None
        auto = fit.get("auto")
        self.auto_choice = None if auto is None else (str(auto["choice"]), auto["why"])
        self.linear_form = None if not (auto or {}).get("linear") else \
            RecordedForm.from_entry(auto["linear"])

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
                            float(s["delta"]), float(s["sign"]), bool(s["from_square"]),
                            self.auto_choice, self.linear_form)

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
def data_to_entry(data):
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


def data_from_entry(out):
    """The data spec recorded by :func:`data_to_entry`; ValueError when the data file
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


def fit_entry(problem, kernels, auto=None) -> dict | None:
    """The fit part of an entry, or None when this fit cannot be indexed. ``auto``:
    what :func:`auto_entry` recorded of auto's choice (None: not an auto run)."""
    spec = getattr(kernels, "spec", None)
    data = data_to_entry(problem.data)
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
        "auto": auto,
    }




# ----------------------------------------------------------------------------- auto
def serves_auto(entry: dict) -> bool:
    """Whether an auto fit's entry can be run warm: auto's choice was recorded, and is
    a method that runs on indexed kernels or the closed form with its numpy code."""
    from symgd.warm import indexable_method

    auto = (entry.get("fit") or {}).get("auto")
    if not isinstance(auto, dict):
        return False
    if auto["choice"] == "linear":
        return bool(auto.get("linear"))
    return indexable_method(auto["choice"], data=True)


def auto_entry(kernels, result) -> dict | None:
    """What a warm auto run needs of auto's choice on this fit (cold run: sympy is
    loaded), or None when the run is not to be recorded: auto's choice did not run as
    chosen (a fallback), or it is a path that needs sympy (IRLS), or the closed form's
    numpy code cannot be recorded."""
    from symgd.choose import fit_choice
    from symgd.warm import indexable_method

    spec = kernels.spec
    method, why = fit_choice(spec)
    if method == "linear":
        if result.method != "analytic":  # a fallback, or IRLS for a large LAD fit
            return None
        linear = _recorded_linear(spec, kernels.data)
        return None if linear is None else {"choice": method, "why": why, "linear": linear}
    if not indexable_method(method, data=True) or result.method != method:
        return None
    return {"choice": method, "why": why, "linear": None}


def _recorded_linear(spec, data) -> dict | None:
    """The numpy code of the linear form's columns (as sympy.lambdify prints it), when
    the code rebuilt by RecordedForm gives the very arrays the cold run used."""
    import inspect

    import numpy as np
    import sympy as sp

    from symgd.fit import numpy_eval
    from symgd.fit.linear import linear_form

    form = linear_form(spec)
    if form is None:
        return None
    exprs = list(form.basis) + [form.offset]
    args = list(spec.data_symbols)
    try:
        sources = [inspect.getsource(sp.lambdify(args, e, modules="numpy", dummify=True))
                   for e in exprs]
        rebuilt = RecordedForm.from_sources(sources)
        arrays, n = numpy_eval.data_arrays(spec, data), data.n_samples
        a = numpy_eval.evaluate(numpy_eval.columns_function(exprs, args), arrays, n)
        b = numpy_eval.evaluate(numpy_eval.columns_function(
            list(rebuilt.basis) + [rebuilt.offset], args), arrays, n)
    except Exception:  # noqa: BLE001  (no source to record: the cold path each time)
        return None
    if a is None or b is None or not all(np.array_equal(u, v) for u, v in zip(a, b)):
        return None
    return {"sources": sources}


def numpy_names(code) -> dict:
    """The names ``code`` reads, bound as ``import numpy; from numpy import *; from
    numpy.linalg import *`` binds them (lambdify's numpy namespace), plus Heaviside.

    Only the names the code uses are looked up: the star import itself takes ~0.1 s
    (it loads numpy.f2py, numpy.testing and more), a tenth of a warm fit."""
    import numpy
    import numpy.linalg

    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    top, linalg = set(numpy.__all__), set(numpy.linalg.__all__)
    namespace = {"numpy": numpy}
    for name in names:
        if name in linalg:
            namespace[name] = getattr(numpy.linalg, name)
        elif name in top:
            namespace[name] = getattr(numpy, name)
    if "Heaviside" in names:
        namespace["Heaviside"] = numpy.heaviside
    return namespace


def _numpy_function(source: str):
    """A recorded column's function, built as sympy.lambdify builds it (in the numpy
    namespace); ValueError when the source does not define one function."""
    import builtins

    code = compile(source, "<symgd warm index>", "exec")
    namespace = numpy_names(code)
    namespace.update({"I": 1j, "builtins": builtins, "range": range})
    local = {}
    exec(code, namespace, local)
    fns = [v for v in local.values() if callable(v)]
    if len(fns) != 1:
        raise ValueError("a recorded column defines one function")
    return fns[0]


@dataclasses.dataclass(frozen=True)
class RecordedColumn:
    """One column of a linear form as recorded numpy code (a function of the data
    columns in the spec's data_symbols order), built when the entry is read."""

    numpy_source: str
    function: object = dataclasses.field(compare=False, repr=False)

    def numpy_function(self):
        return self.function


@dataclasses.dataclass(frozen=True, eq=False)
class RecordedForm:
    """symgd.fit.linear.LinearForm's read interface, with recorded numpy code for the
    columns (``basis``: one per parameter, ``offset``) instead of sympy expressions."""

    columns: tuple

    @classmethod
    def from_sources(cls, sources) -> "RecordedForm":
        """The form of these sources (basis then offset); any damage raises (a miss)."""
        sources = [str(s) for s in sources]
        if len(sources) < 2:
            raise ValueError("a linear form has a basis and an offset")
        return cls(tuple(RecordedColumn(s, _numpy_function(s)) for s in sources))

    @classmethod
    def from_entry(cls, linear: dict) -> "RecordedForm":
        return cls.from_sources(linear["sources"])

    @property
    def basis(self) -> tuple:
        return self.columns[:-1]

    @property
    def offset(self) -> RecordedColumn:
        return self.columns[-1]
