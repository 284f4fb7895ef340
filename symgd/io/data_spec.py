"""What a data fit's ``data`` says, as one frozen value: :class:`DataSpec`.

A problem file's ``data`` block, and every form ``Problem(data=...)`` accepts (a path,
``{"file": path, "columns": {...}}``, a mapping of column name to values, a pandas
DataFrame), become one :class:`DataSpec` through :func:`data_spec`. Nothing is read
here: the samples are read and checked when a solve needs them
(:func:`symgd.io.data.load`). This module imports neither sympy nor numpy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from symgd.errors import InputError
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits

@dataclass(frozen=True, eq=False)
class DataSpec:
    """Where a fit's samples come from, and how to find its columns.

    Exactly one of ``file`` and ``arrays`` is set.

    Attributes:
        file: a CSV, ``.npz`` or Parquet file, or a glob of parts of one of these
            formats (:mod:`symgd.io.parts`); absolute when it came from a problem file.
        columns: ``{symbol: column name}`` for symbols that read a column of another
            name; a symbol not listed reads the column of its own name.
        arrays: in-memory columns, ``{name: values}`` (a problem file's inline lists,
            a Python mapping, a DataFrame's columns); the values are the caller's
            objects, converted to float64 when the data is loaded.
        symbols: the data symbols the expressions may use, when the problem-file
            loader worked them out; None to read them from the columns.
        inline: ``arrays`` came from a problem file's ``data`` block.
        limits: caps on reading the file (:class:`symgd.io.limits.DataLimits`).
        root: the folder that ``file`` and every part must stay inside once links are
            followed (the problem file's, for a name given relative to it); None for
            no such bound (an absolute name, or data given through the Python API).
        source: the problem file that declared the data, for error messages.
        locations: ``{field: (line, column)}`` of the ``data`` fields in ``source``.
        collection: the Dask DataFrame the ``arrays`` (its lazy columns) came from, or
            None (symgd.dask reads it by partition; nothing here computes it).

    Equality is identity: the arrays may be large, and two specs are the same data only
    when they are one object.
    """

    file: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    arrays: Mapping[str, object] | None = None
    symbols: tuple | None = None
    inline: bool = False
    limits: DataLimits = DEFAULT_DATA_LIMITS
    root: str | None = None
    source: str | None = None
    locations: Mapping[str, tuple] = field(default_factory=dict, repr=False)
    collection: object = field(default=None, repr=False)

    def __post_init__(self):
        # Private read-only copies: a caller changing its dict later cannot change us.
        set_ = object.__setattr__
        set_(self, "columns", MappingProxyType({str(k): str(v)
                                                for k, v in dict(self.columns).items()}))
        if self.arrays is not None:
            set_(self, "arrays", MappingProxyType(dict(self.arrays)))
        if self.symbols is not None:
            set_(self, "symbols", tuple(str(s) for s in self.symbols))
        set_(self, "locations", MappingProxyType(dict(self.locations)))
        if (self.file is None) == (self.arrays is None):
            raise ValueError("DataSpec needs exactly one of file and arrays")

    @property
    def suffix(self) -> str | None:
        """The file's extension in lower case (``.csv``, ``.npz``, ``.parquet``, ``.pq``;
        a glob's may be anything), None for in-memory data."""
        return None if self.file is None else os.path.splitext(self.file)[1].lower()

    def locate(self, err: InputError) -> InputError:
        """``err`` with the problem file, line and column of its field filled in where
        it does not point into the data file itself."""
        if self.source is None:
            return err
        line, column = self.locations.get(err.field or "", (None, None))
        return err.located(file=self.source, line=line, column=column)


def _key_name(k) -> str:
    return getattr(k, "name", None) or str(k)


def _is_frame(data) -> bool:
    return (not isinstance(data, Mapping) and hasattr(data, "columns")
            and hasattr(data, "__getitem__"))


def _is_dask(data) -> bool:
    """A Dask collection, told by its type's module (Dask is not imported here)."""
    mod = type(data).__module__ or ""
    return mod == "dask" or mod.startswith("dask.")


def is_dask_data(spec) -> bool:
    """Whether a DataSpec's samples live in a Dask collection (a DataFrame, or columns
    that are Dask arrays or series)."""
    if spec.collection is not None:
        return True
    return spec.arrays is not None and any(_is_dask(v) for v in spec.arrays.values())


def _check_unique(names) -> None:
    seen: dict = {}
    for i, nm in enumerate(names):
        if nm in seen:
            raise InputError(f"column name '{nm}' appears twice (fields {seen[nm] + 1} and "
                             f"{i + 1}); column names must be unique", field="data",
                             kind="data")
        seen[nm] = i


def data_spec(data, *, source: str | None = None, locations: Mapping | None = None,
              field: str = "data") -> DataSpec:
    """The :class:`DataSpec` of any accepted form of ``data``.

    Args:
        data: a DataSpec (returned as it is, with ``source``/``locations`` added where it
            has none), a path (``str`` or ``os.PathLike``), ``{"file": path, "columns":
            {symbol: column}}``, ``{"inline": {name: values}, "symbols": [...]}``, a
            mapping of column name (or sympy symbol) to values, or a DataFrame
            (duck-typed: ``columns`` and ``[name]``; pandas is not a dependency).
        source, locations: the problem file and the ``data`` fields' places in it.
        field: the field named in errors about in-memory columns.

    Raises:
        InputError: (kind ``data``) a type that is none of these, or a column name given
            twice.
    """
    where = {"source": source, "locations": dict(locations or {})}
    if isinstance(data, DataSpec):
        if data.source is None and source is not None:
            return replace(data, **where)
        return data
    if isinstance(data, (str, os.PathLike)):
        return DataSpec(file=os.fspath(data), **where)
    if isinstance(data, Mapping) and isinstance(data.get("file"), (str, os.PathLike)):
        return DataSpec(file=os.fspath(data["file"]), columns=dict(data.get("columns") or {}),
                        symbols=data.get("symbols"), **where)
    if isinstance(data, Mapping) and set(data) <= {"inline", "symbols"} and \
            isinstance(data.get("inline"), Mapping):
        return DataSpec(arrays={_key_name(k): v for k, v in data["inline"].items()},
                        symbols=data.get("symbols"), inline=True, **where)
    if _is_dask(data):
        if not hasattr(data, "columns"):
            raise InputError("a Dask array as data has no column names; give a mapping "
                             "{name: 1-D dask array} or a dask DataFrame", field=field,
                             kind="data")
        names = [_key_name(c) for c in data.columns]
        _check_unique(names)
        return DataSpec(arrays={n: data[c] for n, c in zip(names, data.columns)},
                        collection=data, **where)
    if _is_frame(data):
        names = [_key_name(c) for c in data.columns]
        _check_unique(names)
        return DataSpec(arrays={n: data[c] for n, c in zip(names, data.columns)}, **where)
    if isinstance(data, Mapping):
        arrays: dict = {}
        for k, v in data.items():
            name = _key_name(k)
            if name in arrays:
                raise InputError(f"column '{name}' is given twice", field=f"{field}.{name}",
                                 kind="data")
            arrays[name] = v
        return DataSpec(arrays=arrays, **where)
    raise InputError(f"data must be a mapping of column name to values, a pandas DataFrame "
                     f"or a CSV, .npz or Parquet file, got {type(data).__name__}",
                     field=field, kind="data")
