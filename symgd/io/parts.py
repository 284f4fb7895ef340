"""Where a data file may be, and globs of parts (SPEC §1).

``data: {file: ...}`` names one file or, when the name holds ``*``, ``?`` or ``[`` and
is not the name of an existing file, a glob of parts (``parts/*.csv``,
``parts/day-??.parquet``) read as one table: the parts are the glob's matches sorted by
path (code-point order, so ``part-10`` comes before ``part-2``: zero-pad numbers), their
rows concatenated in that order. A glob must match at least one file and at most
``limits.max_parts`` (10,000); every match must be a regular file of one format (by its
extension: .csv, .npz, or .parquet/.pq, which are one format), and every part must hold
every column the problem uses. Matching follows Python's :mod:`glob`: ``*`` does not
cross a ``/``, and names starting with a dot are matched only by a pattern that starts
with a dot.

A relative name (plain or glob) is relative to the problem file's folder, its *root*,
and must stay inside it: ``../x.csv``, ``parts/../../etc/*`` and a file reached through
a symbolic link that points outside are refused, because a problem file received from
someone else must not be able to read the rest of the disk. An absolute name is the
user's own choice and is read wherever it is. Data given through the Python API has no
root: the caller is trusted.

This module reads no data: :mod:`symgd.io.data` hands each part to its format's reader
and joins the results with :func:`join_parts`.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symgd.errors import InputError
from symgd.io.data_checks import DATA_FORMATS, PARQUET_SUFFIXES, SUFFIXES, shown
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Part:
    """One part of a dataset: its file, the index of its first sample in the joined
    data, and its rows' line numbers (CSV) or None (rows are counted)."""

    file: str
    start: int
    lines: np.ndarray | None = None

    def where(self, i: int) -> str:
        """'line L of FILE' or 'row r of FILE' for sample ``i`` of the joined data."""
        k = i - self.start
        if self.lines is not None:
            return f"line {int(self.lines[k])} of {self.file}"
        return f"row {k + 1} of {self.file}"


def is_glob(path) -> bool:
    """Is ``path`` a glob: does it hold ``*``, ``?`` or ``[`` and name no existing file
    (so that a file whose name holds one of them is still read as itself)?"""
    return any(c in str(path) for c in GLOB_CHARS) and not os.path.lexists(path)


def format_of(path) -> str | None:
    """'csv', 'npz' or 'parquet' by a file's extension; None for any other."""
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in SUFFIXES:
        return None
    return "parquet" if suffix in PARQUET_SUFFIXES else suffix[1:]


def _error(message: str) -> InputError:
    return InputError(message, field="data.file", kind="data")


def inside(path, root) -> bool:
    """Is ``path``, its links and ``..`` resolved, inside the folder ``root``?"""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, top]) == top


def resolve_data_path(name: str, base_dir, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """What the problem-file loader stores for ``data.file``: (absolute path or glob,
    root), root being the problem file's folder for a relative name and None for an
    absolute one. The file (or every part) must exist, be a regular file of a known
    format, and stay inside the root.

    Raises:
        InputError: (field ``data.file``, no location: the caller adds the problem
            file's) a name outside the folder, an unknown extension, a file that is
            missing, a folder or not a regular file, a glob matching nothing or too many
            files or files of several formats.
    """
    name = str(name)
    if os.path.isabs(name):
        full, root = os.path.abspath(name), None
    else:
        root = os.path.abspath(base_dir)
        full = os.path.abspath(os.path.join(root, name))
        if os.path.commonpath([full, root]) != root:
            raise _error(f"data file '{shown(name)}' is outside the problem file's folder "
                         f"({shown(root)}); a relative path must stay inside it (give an "
                         "absolute path to read a file elsewhere)")
    if is_glob(full):
        data_files(full, root, limits, shown_as=name)
        return full, root
    if format_of(full) is None:
        raise _error(f"data files are {DATA_FORMATS}, got '{shown(name)}'")
    path = Path(full)
    if not path.is_file():
        if path.exists() or path.is_symlink():
            what = "a folder" if path.is_dir() else "not a regular file (a device, a " \
                "pipe or a broken link)"
            raise _error(f"data file '{shown(name)}' is {what}; give a data file")
        raise _error(f"data file '{shown(name)}' not found (looked for {shown(full)})")
    if root is not None and not inside(full, root):
        raise _error(f"data file '{shown(name)}' is a link to a file outside the problem "
                     f"file's folder ({shown(root)}); copy the file into the folder or give "
                     "its absolute path")
    return full, root


def data_files(file: str, root: str | None, limits: DataLimits = DEFAULT_DATA_LIMITS,
               *, shown_as: str | None = None) -> list:
    """The files behind ``data.file``: the file itself, or a glob's parts in order, each
    checked to be inside ``root`` (when there is one). A plain file's other checks are
    its reader's; the parts are checked here (see the module's docstring)."""
    label = shown(shown_as if shown_as is not None else file)
    if not is_glob(file):
        if root is not None and not inside(file, root):
            raise _error(f"data file '{label}' is outside the problem file's folder "
                         f"({shown(root)}) once its links are followed")
        return [Path(file)]
    matches = []
    for m in glob.iglob(file):
        if len(matches) == limits.max_parts:
            raise InputError(f"the glob '{label}' matches more than {limits.max_parts} "
                             "files (limit on parts)", field="data.file", kind="limit")
        matches.append(m)
    if not matches:
        raise _error(f"the glob '{label}' matches no file")
    matches.sort()
    formats: dict = {}
    for m in matches:
        fmt = format_of(m)
        if fmt is None:
            raise _error(f"the glob '{label}' matches {shown(m)}, which is not a data file; "
                         f"data files are {DATA_FORMATS}")
        formats.setdefault(fmt, m)
        if not os.path.isfile(m):
            raise _error(f"the glob '{label}' matches {shown(m)}, which is not a regular "
                         "file (a folder, a device, a pipe or a broken link)")
        if root is not None and not inside(m, root):
            raise _error(f"the glob '{label}' matches {shown(m)}, which is outside the "
                         f"problem file's folder ({shown(root)}) once its links are followed")
    if len(formats) > 1:
        listed = ", ".join(f"{shown(m)} ({fmt})" for fmt, m in formats.items())
        raise _error(f"the glob '{label}' matches files of more than one format: {listed}; "
                     "all parts must have one format")
    return [Path(m) for m in matches]


def join_parts(pieces: list, symbols: list):
    """Join the parts' columns in order.

    Args:
        pieces: per part, (file, {column: float64 array}, n_samples, lines or None).
        symbols: the columns to join (every part holds them: its reader checked).

    Returns:
        ({column: joined array}, total samples, tuple of :class:`Part`).
    """
    parts, start = [], 0
    for file, _, n, lines in pieces:
        parts.append(Part(str(file), start, lines))
        start += n
    cols = {c: np.concatenate([cols[c] for _, cols, _, _ in pieces]) for c in symbols}
    return cols, start, tuple(parts)
