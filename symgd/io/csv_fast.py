"""A compiled reader for the common CSV data file, tried before the careful one.

:func:`symgd.io.csv_reader.read_csv` first reads and checks the header as it always
has, then asks :func:`read_fast` for the rows. This module either returns exactly what
the careful reader would return (the same floats bit for bit, the same row count and
line numbers) or *refuses*, and the careful reader then reads the file from the start
of its data and raises whatever error it raises today. So this module never raises an
error for bad data and never decides what is accepted: it only makes the plain case
fast (a million rows of two columns in under 0.2 s, where Python's csv module and
``float`` take about a second; see bench/csv_read.py).

The grammar accepted after the header line (anything else is refused):

* lines end with ``\\n`` or ``\\r\\n`` (a ``\\r`` elsewhere is refused, because the
  careful reader would split the line there);
* a line that is empty, or holds only spaces and tabs, is skipped (with one column
  such a line is a row with a blank field to the careful reader, so it is refused);
* every other line has exactly as many comma-separated fields as the header;
* a field of a wanted column is ``[blanks] [+|-] digits [. digits] [(e|E) [+|-]
  digits] [blanks]`` (``digits.`` and ``.digits`` included), blanks being spaces and
  tabs; ``inf``, ``nan``, underscores, other white space and any other text are
  refused, which sends them to the careful reader and its messages;
* a field of an unused column may hold printable ASCII text, without quotes;
* no field is as long as ``limits.max_field_chars`` bytes; no quote, control byte
  (tabs aside) or non-ASCII byte appears after the header (so the data is valid UTF-8
  and csv quoting never applies).

Numbers are converted as Python's ``float`` converts them: correctly rounded, ties to
even. A number with at most 19 significant digits is ``w * 10**q`` for a 64-bit integer
w; it is converted with the Eisel-Lemire method (D. Lemire, "Number parsing at a
gigabyte per second", 2021; N. Mushtak and D. Lemire, "Fast number parsing without
fallback", 2023, which proves that for 64-bit w the method needs no fallback), using a
128-bit approximation of 5**q from a table built here with Python integers. A number
with more significant digits is rare in data; its text is handed to ``float`` after the
scan. A value that is not finite (``1e999``) is refused, as is a file with no data rows.
"""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
# the per-number helpers are inlined into the scan by numba (about 15% faster)
_INLINE = dict(_JIT, inline="always")

# scan outcomes (the first item of what _scan returns)
ACCEPTED, REFUSED_TEXT, REFUSED_SHAPE, REFUSED_LIMIT, REFUSED_VALUE = 0, 1, 2, 3, 4
REASONS = {REFUSED_TEXT: "text outside the fast grammar",
           REFUSED_SHAPE: "a row with another number of fields than the header",
           REFUSED_LIMIT: "a field at the field-size limit",
           REFUSED_VALUE: "a value that is not finite"}

# decimal exponents with a table entry; w * 10**q is 0 below and infinite above
_Q_MIN, _Q_MAX = -342, 308
_BOM = b"\xef\xbb\xbf"


def _powers_of_five():
    """5**q for q in [_Q_MIN, _Q_MAX] as 128-bit numbers whose top bit is set, as pairs
    of uint64 (high word first): shape (2 * 651,).

    Non-negative q: 5**q shifted to 128 bits, truncated. Negative q: 2**b // 5**-q + 1
    with b chosen so that the quotient has 128 bits (for 5**-q < 2**64, i.e. q >= -27),
    or twice as many bits and then truncated to 128. These are the approximations the
    method's error analysis assumes (rounded up where one word holds 5**-q)."""
    words = []
    for q in range(_Q_MIN, _Q_MAX + 1):
        if q >= 0:
            v = 5 ** q
            v = v << (128 - v.bit_length()) if v.bit_length() <= 128 \
                else v >> (v.bit_length() - 128)
        else:
            d = 5 ** -q
            z = d.bit_length()  # the least z with 2**z >= d (d is not a power of 2)
            v = (1 << ((z + 127) if q >= -27 else (2 * z + 128))) // d + 1
            v >>= max(0, v.bit_length() - 128)
        words += [v >> 64, v & (2 ** 64 - 1)]
    return np.array(words, dtype=np.uint64)


POW5 = _powers_of_five()


@njit(**_INLINE)
def _mul128(a, b):
    """The full 128-bit product of two uint64, as (high, low) words."""
    m, s = np.uint64(0xFFFFFFFF), np.uint64(32)
    a0, a1, b0, b1 = a & m, a >> s, b & m, b >> s
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> s) + (p01 & m) + (p10 & m)
    return p11 + (p01 >> s) + (p10 >> s) + (mid >> s), (mid << s) | (p00 & m)


@njit(**_INLINE)
def decimal_bits(w, q, table):
    """IEEE-754 bits (uint64, sign clear) of w * 10**q correctly rounded to a double,
    for a uint64 w > 0; an infinite result has exponent field 0x7FF."""
    one = np.uint64(1)
    inf = np.uint64(0x7FF) << np.uint64(52)
    if q < _Q_MIN:
        return np.uint64(0)  # below half the least subnormal even for w near 2**64
    if q > _Q_MAX:
        return inf
    lz = 0  # normalise w so that its top bit is set
    for k in (32, 16, 8, 4, 2, 1):
        if w < (one << np.uint64(64 - k)):
            w <<= np.uint64(k)
            lz += k
    i = 2 * (q - _Q_MIN)
    hi, lo = _mul128(w, table[i])
    if (hi & np.uint64(0x1FF)) == np.uint64(0x1FF):
        # the bits kept might change with the low word of 5**q: add its product
        hi2, _ = _mul128(w, table[i + 1])
        lo += hi2
        if hi2 > lo:
            hi += one
    upper = int(hi >> np.uint64(63))
    shift = np.uint64(upper + 9)
    mant = hi >> shift  # 54 bits: the 53 of a double and one to round with
    # binary exponent: floor(q * log2(10)) + 63 from the product, biased by 1023
    e2 = ((217706 * q) >> 16) + 63 + upper - lz + 1023
    if e2 <= 0:  # subnormal (or zero)
        if 1 - e2 >= 64:
            return np.uint64(0)
        mant >>= np.uint64(1 - e2)
        mant += mant & one
        return mant >> one  # 2**52 here is the least normal number, bits included
    if lo <= one and -4 <= q <= 23 and (mant & np.uint64(3)) == one \
            and (mant << shift) == hi:
        mant -= one  # exactly half way between two doubles: round to even (down)
    mant += mant & one
    mant >>= one
    if mant >= (one << np.uint64(53)):
        mant = one << np.uint64(52)
        e2 += 1
    if e2 >= 0x7FF:
        return inf
    return (mant ^ (one << np.uint64(52))) | (np.uint64(e2) << np.uint64(52))


@njit(**_JIT)
def _blank(b):
    return b == 32 or b == 9


@njit(**_JIT)
def _digit(b):
    return 48 <= b <= 57


@njit(**_JIT)
def _ending(buf, p, n):
    """Bytes of a line ending at p: 0 at the end of the file, 1 for LF, 2 for CRLF;
    -1 where no line ends, -2 for a CR alone."""
    if p >= n:
        return 0
    b = buf[p]
    if b == 10:
        return 1
    if b == 13:
        return 2 if p + 1 < n and buf[p + 1] == 10 else -2
    return -1


@njit(**_INLINE)
def parse_number(buf, p, n, table):
    """Read one number field from p: (kind, end, bits). kind 0: bits are the double's;
    1: valid, but over 19 significant digits (leave it to ``float``); -1: outside the
    grammar; 2: not finite. end is where the trailing blanks stop."""
    zero = np.uint64(0)
    while p < n and _blank(buf[p]):
        p += 1
    neg = False
    if p < n and (buf[p] == 43 or buf[p] == 45):
        neg = buf[p] == 45
        p += 1
    w, sig, digits, frac = zero, 0, 0, 0
    point = False
    while p < n:
        b = buf[p]
        if _digit(b):
            if sig > 0 or b != 48:
                sig += 1
                if sig <= 19:
                    w = w * np.uint64(10) + np.uint64(b - 48)
            digits += 1
            if point:
                frac += 1
        elif b == 46 and not point:
            point = True
        else:
            break
        p += 1
    if digits == 0:
        return -1, p, zero
    e = 0
    if p < n and (buf[p] == 101 or buf[p] == 69):
        p += 1
        eneg = False
        if p < n and (buf[p] == 43 or buf[p] == 45):
            eneg = buf[p] == 45
            p += 1
        if p >= n or not _digit(buf[p]):
            return -1, p, zero
        while p < n and _digit(buf[p]):
            if e < 100_000_000:  # far past any finite non-zero value; stop growing
                e = e * 10 + (buf[p] - 48)
            p += 1
        if eneg:
            e = -e
    while p < n and _blank(buf[p]):
        p += 1
    if sig > 19:
        return 1, p, zero
    sign = np.uint64(1) << np.uint64(63) if neg else zero
    if w == zero:
        return 0, p, sign
    bits = decimal_bits(w, e - frac, table)
    if (bits >> np.uint64(52)) == np.uint64(0x7FF):
        return 2, p, zero
    return 0, p, bits | sign


@njit(**_JIT)
def _scan(buf, start, ncols, slot_of, field_limit, table):
    """Rows of buf[start:] (the data after the header): (outcome, rows or the line
    refused, values as float64 bits with one row per wanted column, line numbers,
    deferred fields as (row, slot, start, end), count of deferred fields)."""
    n = buf.size
    cap = 1
    for i in range(start, n):
        if buf[i] == 10:
            cap += 1
    npick = 0
    for c in range(ncols):
        if slot_of[c] >= 0:
            npick += 1
    out = np.empty((npick, cap), np.uint64)
    lines = np.empty(cap, np.int64)
    slow = np.empty((16, 4), np.int64)
    nslow = 0
    row, line, pos = 0, 2, start
    while pos < n:
        q = pos
        while q < n and _blank(buf[q]):
            q += 1
        t = _ending(buf, q, n)
        if t == -2:
            return REFUSED_TEXT, line, out, lines, slow, nslow
        if t >= 0:  # an empty or blank line
            if q > pos and ncols == 1:
                return REFUSED_TEXT, line, out, lines, slow, nslow
            if q - pos >= field_limit:
                return REFUSED_LIMIT, line, out, lines, slow, nslow
            pos = q + t
            line += 1
            continue
        col, p = 0, pos
        while True:
            if col >= ncols:
                return REFUSED_SHAPE, line, out, lines, slow, nslow
            fs = p
            s = slot_of[col]
            if s >= 0:
                kind, p, bits = parse_number(buf, p, n, table)
                if kind < 0:
                    return REFUSED_TEXT, line, out, lines, slow, nslow
                if kind == 2:
                    return REFUSED_VALUE, line, out, lines, slow, nslow
                if kind == 1:
                    if nslow == slow.shape[0]:
                        grown = np.empty((2 * nslow, 4), np.int64)
                        grown[:nslow] = slow
                        slow = grown
                    slow[nslow, 0], slow[nslow, 1] = row, s
                    slow[nslow, 2], slow[nslow, 3] = fs, p
                    nslow += 1
                else:
                    out[s, row] = bits
            else:
                while p < n:
                    b = buf[p]
                    if b == 44 or b == 10 or b == 13:
                        break
                    if b == 34 or b >= 128 or (b < 32 and b != 9):
                        return REFUSED_TEXT, line, out, lines, slow, nslow
                    p += 1
            if p - fs >= field_limit:
                return REFUSED_LIMIT, line, out, lines, slow, nslow
            if p < n and buf[p] == 44:
                p += 1
                col += 1
                continue
            t = _ending(buf, p, n)
            if t < 0:
                return REFUSED_TEXT, line, out, lines, slow, nslow
            if col + 1 != ncols:
                return REFUSED_SHAPE, line, out, lines, slow, nslow
            lines[row] = line
            row += 1
            line += 1
            pos = p + t
            break
    return ACCEPTED, row, out, lines, slow, nslow


class Scan:
    """What :func:`scan_file` found: ``result`` is ``(cols, n, lines)`` as
    :func:`symgd.io.csv_reader.read_csv` returns them, or None with ``reason`` (and
    ``line``, the file's line where the scan stopped, when it stopped at one)."""

    def __init__(self, result=None, reason="", line=None):
        self.result, self.reason, self.line = result, reason, line

    def __repr__(self):
        return "Scan(accepted)" if self.result is not None else \
            f"Scan(refused: {self.reason}, line {self.line})"


def _read_regular(p: Path):
    """The bytes of p, or None when it is not a regular file or cannot be read."""
    try:
        with open(p, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            return fh.read()
    except (OSError, MemoryError):
        return None


def _data_start(data: bytes, header_chars: int):
    """Offset of the first byte after the header line, or None when the header bytes
    are not the line of ``header_chars`` characters the careful reader read (a CR
    inside it, no LF after it, or a file that changed since)."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    nl = data.find(b"\n", start)
    if nl < 0:
        return None
    head = data[start:nl + 1]
    body = head[:-2] if head.endswith(b"\r\n") else head[:-1]
    try:
        same = b"\r" not in body and len(head.decode("utf-8")) == header_chars
    except UnicodeDecodeError:
        same = False
    return nl + 1 if same else None


def scan_file(p: Path, names, picks, header_chars: int, limits) -> Scan:
    """Read the rows of the CSV file p on the fast path.

    Args:
        p: the file; names: its header's names; picks: the sorted indices of the
            columns wanted; header_chars: the length of the header line in characters,
            line ending included (the second item of ``read_header``); limits: the
            :class:`~symgd.io.limits.DataLimits`.
    """
    data = _read_regular(Path(p))
    if data is None:
        return Scan(reason="not a regular file, or unreadable")
    start = _data_start(data, header_chars)
    if start is None:
        return Scan(reason="header line not as read", line=1)
    ncols = len(names)
    slot_of = np.full(ncols, -1, dtype=np.int64)
    for s, i in enumerate(picks):
        slot_of[i] = s
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        outcome, rows, bits, lines, slow, nslow = _scan(
            buf, start, ncols, slot_of, int(limits.max_field_chars), POW5)
    except MemoryError:
        return Scan(reason="out of memory")
    if outcome != ACCEPTED:
        return Scan(reason=REASONS[outcome], line=int(rows))
    if rows == 0:
        return Scan(reason="no data rows")
    values = bits[:, :rows].view(np.float64)
    for k in range(nslow):
        r, s, a, b = (int(v) for v in slow[k])
        try:
            v = float(data[a:b].decode("ascii"))
        except ValueError:  # pragma: no cover - the scan checked the grammar
            return Scan(reason="number text", line=int(lines[r]))
        if not math.isfinite(v):
            return Scan(reason=REASONS[REFUSED_VALUE], line=int(lines[r]))
        values[s, r] = v
    cols = {names[i]: values[s] for s, i in enumerate(picks)}
    return Scan((cols, rows, lines[:rows]))


def read_fast(p: Path, names, picks, header_chars: int, limits):
    """``(cols, n, lines)`` as the careful reader would return them, or None when the
    file is outside the fast grammar (then the careful reader must read it)."""
    return scan_file(p, names, picks, header_chars, limits).result
