"""NumPy ``.npz`` data files: one 1-D numeric member per column, read with
``allow_pickle=False`` (SPEC §1).

Each member's ``.npy`` header is read from the zip before numpy loads the member, so a
zip bomb, a forged shape or a member above the size cap (``SYMGD_MAX_DATA_MB``,
:class:`symgd.io.limits.DataLimits`) is refused before anything is allocated.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from symgd.io.data_checks import check_file, data_error, missing_column, numeric_1d
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits


def member_names(p: Path, limits: DataLimits = DEFAULT_DATA_LIMITS) -> list:
    """The column names of an .npz file (its members, ``.npy`` dropped); only the zip's
    directory is read."""
    try:
        with zipfile.ZipFile(p) as z:
            members = z.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise data_error(f"not a readable .npz file ({err})", p) from None
    if len(members) > limits.max_columns:
        raise data_error(f"the .npz file has more than {limits.max_columns} members (limit)",
                         p, kind="limit")
    return [m[:-4] if m.endswith(".npy") else m for m in members]


def read_npz(p: Path, wanted: dict, limits: DataLimits = DEFAULT_DATA_LIMITS):
    """Members ``wanted.values()`` as float arrays, and the number of samples."""
    check_file(p)
    file = str(p)
    names = member_names(p, limits)
    for sym, col in wanted.items():
        if col not in names:
            raise missing_column(col, sym, names, file, "data")
    cols = {}
    n = None
    first = None
    try:
        with np.load(p, allow_pickle=False) as z:
            for col in dict.fromkeys(wanted.values()):
                _check_member(p, col, limits.member_bytes())
                try:
                    raw = z[col]
                except ValueError as err:
                    why = ("it holds Python objects, which would need pickle; store numeric "
                           "arrays" if "pickle" in str(err).lower() else str(err))
                    raise data_error(f"member '{col}' cannot be read: {why}", p) from None
                cols[col] = numeric_1d(raw, col, file, "data.file")
                if n is None:
                    n, first = cols[col].size, col
                elif cols[col].size != n:
                    raise data_error(f"member '{col}' has {cols[col].size} values but "
                                     f"'{first}' has {n}", p)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise data_error(f"not a readable .npz file ({err})", p) from None
    if not wanted:
        n = _length(p)
    if not n:
        raise data_error("the data has no samples", p)
    return cols, n


def _check_member(p: Path, name: str, limit: int) -> None:
    """Refuse a member whose .npy header claims more data than the member holds, or more
    than ``limit`` bytes, or complex numbers, before numpy allocates it."""
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo(name + ".npy")
        if info.file_size > limit:
            raise data_error(f"member '{name}' is {info.file_size / 2**20:.0f} MB "
                             f"uncompressed (limit {limit / 2**20:.0f} MB; raise "
                             f"SYMGD_MAX_DATA_MB)", p)
        with zf.open(info) as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            except (ValueError, OSError, EOFError) as err:
                raise data_error(f"member '{name}' has no valid .npy header ({err})",
                                 p) from None
    if dtype.kind == "c":
        raise data_error(f"member '{name}' holds complex numbers; data must be real", p)
    count = 1
    for dim in shape:
        count *= int(dim)
    if dtype.itemsize and count * dtype.itemsize > info.file_size:
        raise data_error(f"member '{name}' claims shape {shape} ({count * dtype.itemsize} "
                         f"bytes) but holds only {info.file_size} bytes", p)


def _length(p: Path) -> int:
    """The length of the first member (the sample count when no column is read)."""
    with np.load(p, allow_pickle=False) as z:
        for name in z.files:
            return int(np.asarray(z[name]).shape[0]) if np.ndim(z[name]) else 0
    return 0
