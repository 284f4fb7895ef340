"""Every size cap the readers apply, in one place, and ``--limit NAME=VALUE`` handling.

Three groups:

* :class:`ExprLimits`: what one expression may ask of the parser and of sympy.
* :class:`LoadLimits`: the problem-file reader (file size, YAML nesting and values,
  variables, constraints), holding an :class:`ExprLimits`; the CLI's ``--limit`` sets
  any field of either by name.
* :class:`DataLimits`: data files (CSV header and fields, columns, ``.npz`` members,
  a Parquet file's footer, the parts a glob may match).

Defaults are documented in docs/problem-files.md and README.md (tests compare them).
This module imports neither sympy, numpy nor yaml: the warm path may read it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace

from symgd.errors import InputError, unknown_name_message

# -- YAML problem files (symgd.io.yaml_nodes) ---------------------------------------------
MAX_DEPTH = 64
MAX_BYTES = 10 * 1024 * 1024
# Values in one file. Inline data is for small problems (SPEC §1): larger data belongs in a
# CSV or .npz file, which symgd.io.data reads far faster than YAML.
MAX_NODES = 100_000


@dataclass(frozen=True)
class ExprLimits:
    """Bounds on what one expression may ask of the parser and of sympy.

    Attributes:
        max_length: characters of expression text.
        max_depth: nesting depth of the expression (brackets, function calls,
            operators of different kinds; a flat chain ``a + b - c + ...`` or
            ``a * b / c * ...`` counts as one level).
        max_nodes: syntax-tree nodes (names, numbers, operators, calls).
        max_int_digits: digits of one integer literal (checked on the text,
            before Python converts it to an ``int``).
        max_power_bits: largest exact number, in bits, that a power, product or
            sum of exact numbers may produce, estimated *before* sympy computes
            it (``bits(base) * exponent`` for powers, so ``9**9**9`` and
            ``2**2**2**2**2`` are refused).
        max_root_bits: largest exact integer or rational (bits of numerator plus
            denominator) whose root sympy is asked to simplify, e.g. ``sqrt(n)``
            (sympy's perfect-power search grows steeply with the size of n).
        max_minmax_args: arguments of one Max or Min, counting those of a Max
            nested directly in a Max (sympy merges them); sympy compares every pair,
            and its cost grows steeply (200 arguments take seconds).
        max_minmax_depth: Max/Min calls nested inside one another (sympy's
            simplification of alternating Max/Min nests also grows steeply).
        max_seconds: wall-clock budget for building the sympy expression; a
            safety net against sympy constructions that are slow but not large.
        max_call_depth: function calls and powers with a non-numeric exponent nested
            inside one another (``sin(sin(...))``, ``x**x**x**...``). The Hessian of
            such a nest grows with about the cube of its depth (2 variables, depth 30:
            ~60,000 operations and seconds of sympy time; depth 60: ~15 s), so deeper
            nests are refused before anything is differentiated.
        max_sum_terms: terms that the sums of one expression may expand to, all
            nesting levels together (``sum(..., (i, 0, 10**9))`` would otherwise build
            for hours); the same bound as ``symgd.indexed.MAX_TERMS`` in the Python API.
        max_sum_depth: ``sum(...)`` calls nested inside one another; each level
            multiplies the terms, so deep nests are refused before they are built.

    A function of numbers whose value is not real or not finite as a double
    (``asin(2)``, ``exp(1000)``) is refused; exact numbers beyond the double range
    are kept (sympy computes with them exactly), and
    :func:`symgd.io.exact.double_range_defect` finds them for callers that compile to
    doubles (problem files do). A user who needs more passes their own limits:
    ``parse_expression(text, symbols, limits=ExprLimits(max_depth=400))``.

    Independently of these, no exact number in the result may have more decimal
    digits than Python will convert to text (``sys.get_int_max_str_digits()``,
    4300 by default): sympy could not print it, nor generate code from it.
    """

    max_length: int = 100_000
    max_depth: int = 200
    max_nodes: int = 20_000
    max_int_digits: int = 1000
    max_power_bits: int = 100_000
    max_root_bits: int = 2048
    max_minmax_args: int = 50
    max_minmax_depth: int = 20
    max_seconds: float = 5.0
    max_call_depth: int = 32
    max_sum_terms: int = 100_000
    max_sum_depth: int = 3


DEFAULT_LIMITS = ExprLimits()


@dataclass(frozen=True)
class LoadLimits:
    """Every bound the problem-file reader applies (documented defaults; the CLI sets any
    of them with ``--limit NAME=VALUE``, e.g. ``--limit max_variables=5000``).

    Attributes:
        expr: limits on each expression (:class:`ExprLimits`; its fields are set by
            their own names, ``--limit max_depth=400``).
        yaml_max_bytes: size of the problem file (10 MB).
        yaml_max_depth: nesting of YAML lists and mappings (64).
        yaml_max_nodes: values in the YAML, keys included (100,000): inline data is
            for small problems.
        max_variables: declared variables (1,000): derivatives and the dense Hessian
            grow with the square of their number (100,000 variables exhaust memory).
        max_constraints: constraints (1,000).
        max_shape: elements of one variable declared with ``shape`` (100,000); they
            count towards ``max_variables`` too, checked after this.
    """

    expr: ExprLimits = DEFAULT_LIMITS
    yaml_max_bytes: int = MAX_BYTES
    yaml_max_depth: int = MAX_DEPTH
    yaml_max_nodes: int = MAX_NODES
    max_variables: int = 1000
    max_constraints: int = 1000
    max_shape: int = 100_000

    @classmethod
    def from_settings(cls, settings) -> "LoadLimits":
        """Limits from ``NAME=VALUE`` strings (or a ``{name: value}`` mapping).

        Raises:
            InputError: (file ``--limit``) an unknown name or a value that is not a
                positive number.
        """
        items = settings.items() if hasattr(settings, "items") else \
            [str(a).partition("=")[::2] for a in settings]
        own = {f.name for f in fields(cls) if f.name != "expr"}
        expr_names = {f.name for f in fields(ExprLimits)}
        mine, theirs = {}, {}
        for name, text in items:
            name = str(name).strip()
            if name not in own and name not in expr_names:
                raise InputError(unknown_name_message("limit", name, own | expr_names),
                                 file="--limit", field=name, kind="limit")
            default = getattr(DEFAULT_LIMITS, name) if name in expr_names else \
                getattr(cls, name)
            try:
                value = float(text) if isinstance(default, float) else int(str(text), 10)
            except (TypeError, ValueError):
                value = None
            if value is None or not (value > 0) or value == math.inf:
                raise InputError(f"--limit {name} expects a positive "
                                 f"{'number' if isinstance(default, float) else 'integer'},"
                                 f" got {text!r}", file="--limit", field=name, kind="limit")
            (theirs if name in expr_names else mine)[name] = value
        return cls(expr=replace(DEFAULT_LIMITS, **theirs), **mine)


# -- data files (README's limits table) -------------------------------------------------
MAX_COLUMNS = 100_000
# One cap for a CSV's header line, wherever it is read (the loader looking for column
# names and the data reader alike): 16 MiB, as documented in README.
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_FIELD_CHARS = 1_000_000
# Uncompressed size of one .npz member; a bigger one (or a header claiming more than the
# member holds: a zip bomb or a forged shape) is refused before anything is allocated.
# Override with the environment variable SYMGD_MAX_DATA_MB.
DEFAULT_MAX_MEMBER_MB = 512
# A Parquet file's footer (its schema and the place of every column chunk) is read whole
# before anything else; a bigger one, or one that claims more bytes than the file holds,
# is refused before pyarrow parses it. 100,000 columns in one row group take ~15 MB.
MAX_PARQUET_FOOTER_BYTES = 64 * 1024 * 1024
# Files one glob of parts (``data: {file: parts/*.csv}``) may match.
MAX_PARTS = 10_000


def max_member_bytes() -> int:
    """The .npz member cap in bytes: ``SYMGD_MAX_DATA_MB`` (read at each call, so a
    change of the environment applies to the next read), else the default."""
    try:
        return int(float(os.environ.get("SYMGD_MAX_DATA_MB", DEFAULT_MAX_MEMBER_MB)) * 2**20)
    except ValueError:
        return DEFAULT_MAX_MEMBER_MB * 2**20


@dataclass(frozen=True)
class DataLimits:
    """Bounds on reading one data source, checked before any large allocation.

    Attributes:
        max_columns: columns in a CSV header or row, members of an .npz file.
        max_header_bytes: characters of a CSV's header line.
        max_field_chars: characters of one CSV field.
        max_member_bytes: uncompressed bytes of one .npz member, or of one column
            read from a Parquet file (as float64); None reads ``SYMGD_MAX_DATA_MB``
            when the file is read (:func:`max_member_bytes`).
        max_footer_bytes: bytes of a Parquet file's footer (its metadata).
        max_parts: files that one glob of parts may match.
    """

    max_columns: int = MAX_COLUMNS
    max_header_bytes: int = MAX_HEADER_BYTES
    max_field_chars: int = MAX_FIELD_CHARS
    max_member_bytes: int | None = None
    max_footer_bytes: int = MAX_PARQUET_FOOTER_BYTES
    max_parts: int = MAX_PARTS

    def member_bytes(self) -> int:
        return max_member_bytes() if self.max_member_bytes is None else self.max_member_bytes


DEFAULT_DATA_LIMITS = DataLimits()
