"""The compiled CSV reader (symgd.io.csv_fast) against the csv-module reader.

Every file is read twice through symgd.io.csv_reader.read_csv: as users get it (the
compiled path first) and with the compiled path switched off (the reader every refused
file goes to). The two must agree exactly: the same float bits, row count and line
numbers, or the same InputError. Files in the plain grammar must also really be taken
by the compiled path (a test that only ever fell back would prove nothing).
"""
from __future__ import annotations

import random
import struct
import subprocess
import sys
from decimal import Decimal, getcontext

import numpy as np
import pytest

from symgd.errors import InputError
from symgd.io import csv_fast, csv_reader
from symgd.io.csv_reader import open_csv, read_csv, read_header
from symgd.io.limits import DEFAULT_DATA_LIMITS, DataLimits


def _outcome(p, wanted, limits):
    try:
        cols, n, lines = read_csv(p, wanted, limits)
    except InputError as err:
        return ("error", str(err), err.to_dict())
    assert lines.dtype == np.int64 and len(lines) == n
    return ("ok", {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in cols.items()}, n,
            lines.tolist())


def _scan(p, wanted, limits):
    """The compiled path's own verdict, or None where the header already fails."""
    try:
        with open_csv(p) as fh:
            names, chars = read_header(fh, p, limits)
    except InputError:
        return None
    index = {nm: i for i, nm in enumerate(names)}
    if any(c not in index for c in wanted.values()):
        return None
    picks = sorted({index[c] for c in wanted.values()})
    return csv_fast.scan_file(p, names, picks, chars, limits)


def both(p, wanted, monkeypatch, limits=DEFAULT_DATA_LIMITS):
    """(as users get it, with the compiled path off, the compiled path's Scan); the
    compiled path is tried whatever the file's size (these files are small)."""
    monkeypatch.setattr(csv_reader, "FAST_MIN_BYTES", 0)
    fast = _outcome(p, wanted, limits)
    with monkeypatch.context() as m:
        m.setattr(csv_fast, "read_fast", lambda *args: None)
        safe = _outcome(p, wanted, limits)
    return fast, safe, _scan(p, wanted, limits)


# --------------------------------------------------------------- (a) random plain files
def _number(rng: random.Random) -> str:
    x = rng.choice([rng.uniform(-1, 1), rng.gauss(0, 1e3), rng.uniform(0, 1e-300),
                    10 ** rng.uniform(-320, 308) * rng.choice([-1, 1])])
    form = rng.randrange(12)
    if form == 0:
        s = f"{x:.17g}"
    elif form == 1:
        s = f"{x:.{rng.randint(0, 12)}e}".replace("e", rng.choice("eE"))
    elif form == 2:
        s = str(rng.randint(-10 ** 12, 10 ** 12))
    elif form == 3:
        s = rng.choice(["-0.0", "0", "-0", "+0.0", ".5", "5.", "-.25e-3", "1E+05", "0e999"])
    elif form == 4:  # over 19 significant digits: left to float() after the scan
        s = str(rng.randint(10 ** 19, 10 ** 30)) + rng.choice(["", ".5", "e-20", "1e3"])
    elif form == 5:
        s = f"{rng.randint(0, 10 ** 6)}.{rng.randint(0, 10 ** 6):06d}"
    else:
        s = repr(x)
    if rng.random() < 0.15 and s[0] not in "+-":
        s = "+" + s
    if rng.random() < 0.2:
        s = rng.choice(["", " ", "  ", "\t"]) + s + rng.choice(["", " ", "\t "])
    return s


def _text(rng: random.Random) -> str:
    alphabet = "abcxyzABC019 _-.:;!?/()[]{}<>#%&*=+|~'`@$^\\"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def _random_csv(rng: random.Random):
    ncols = rng.randint(1, 5)
    names = [f"c{i}" for i in range(ncols)]
    numeric = [i for i in range(ncols) if ncols == 1 or rng.random() < 0.7] or [0]
    wanted_cols = rng.sample(numeric, rng.randint(1, len(numeric)))
    end = rng.choice(["\n", "\r\n", None])  # None: each line picks its own
    out = ["\ufeff" if rng.random() < 0.3 else ""]
    out.append(",".join(f" {nm} " if rng.random() < 0.2 else nm for nm in names))
    out.append(end or "\n")
    for r in range(rng.randint(1, 150)):
        if r and rng.random() < 0.05:
            out.append(rng.choice(["", " ", "\t ", "  "]) if ncols > 1 else "")
            out.append(end or rng.choice(["\n", "\r\n"]))
        cells = [_number(rng) if i in numeric else _text(rng) for i in range(ncols)]
        out.append(",".join(cells))
        out.append(end or rng.choice(["\n", "\r\n"]))
    if rng.random() < 0.3:
        out.pop()  # no line ending after the last row
    wanted = {f"s{i}": names[i] for i in wanted_cols}
    return "".join(out).encode("utf-8"), wanted


@pytest.mark.parametrize("seed", range(40))
def test_random_plain_files_read_identically_and_fast(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    for k in range(5):
        data, wanted = _random_csv(rng)
        p = tmp_path / f"r{k}.csv"
        p.write_bytes(data)
        fast, safe, scan = both(p, wanted, monkeypatch)
        assert safe[0] == "ok", (safe, data[:300])
        assert fast == safe, data[:300]
        assert scan.result is not None, (scan, data[:300])


def test_many_long_numbers_go_through_float(tmp_path, monkeypatch):
    rng = random.Random(7)
    rows = [f"{rng.randint(10 ** 20, 10 ** 40)}e-{rng.randint(0, 60)},{i}"
            for i in range(500)]
    p = tmp_path / "long.csv"
    p.write_text("a,b\n" + "\n".join(rows) + "\n")
    fast, safe, scan = both(p, {"a": "a", "b": "b"}, monkeypatch)
    assert fast == safe and scan.result is not None


# ------------------------------------------------------------ (b) correctly rounded floats
HARD = [
    "9007199254740993", "9007199254740992", "9007199254740995", "2.2250738585072014e-308",
    "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072013e-308",
    "4.9e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "5e-324", "1e-400",
    "1.5e-323", "1.7976931348623157e308", "1.7976931348623158e308", "0.1", "0.3",
    "123456789012345678901234567890", "1e23", "8.98846567431158e307", "1e22", "1e-22",
    "9007199254740993.0000000001", "7.3177701707893310e+15", "3.0517578125e-05",
    "18446744073709551615", "18446744073709551616", "9999999999999999999",
    "0.000000000000000000001", "4.4501477170144023e-308", "6.02214076e23",
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000011102230246251565404236316680908203124",
    "1.00000000000000011102230246251565404236316680908203126",
    "0.500000000000000166533453693773481063544750213623046875",
    "1.448997445238699", "45035996.273704985", "3.518437208883201171875e13",
    "62.5364939768271845828", "8.10109172351e-10", "1.1754943508222875e-38",
    "179769313486231580793728971405301e276"]


def _hard_strings():
    strs = list(HARD) + ["-" + s for s in HARD] + ["+" + s for s in HARD]
    rng = random.Random(1)
    getcontext().prec = 800
    for _ in range(3000):  # near half-way between neighbouring doubles, 16-19 digits
        bits = rng.getrandbits(63) % (0x7FE << 52)
        lo, hi = (struct.unpack("<d", struct.pack("<Q", b))[0] for b in (bits, bits + 1))
        mid = (Decimal(lo) + Decimal(hi)) / 2
        strs.append(f"{mid:.{rng.randint(15, 18)}e}")
    for _ in range(3000):
        strs.append(f"{rng.randint(1, 10 ** rng.randint(1, 19))}e{rng.randint(-350, 310)}")
    return [s for s in strs if np.isfinite(float(s))]


def test_numbers_convert_exactly_as_python_float(tmp_path):
    strs = _hard_strings()
    p = tmp_path / "hard.csv"
    p.write_text("v,i\n" + "".join(f"{s},{k}\n" for k, s in enumerate(strs)))
    scan = csv_fast.scan_file(p, ["v", "i"], [0], 4, DEFAULT_DATA_LIMITS)
    got = scan.result[0]["v"]
    want = np.array([float(s) for s in strs])
    bad = np.flatnonzero(got.view(np.uint64) != want.view(np.uint64))
    assert bad.size == 0, [(strs[k], got[k], want[k]) for k in bad[:5]]


def test_decimal_bits_directly():
    for w, q in [(1, 0), (1, 308), (17976931348623157, 292), (49, -325), (1, -342),
                 (2 ** 64 - 1, 0), (2 ** 53 + 1, 0), (5, -324)]:
        bits = csv_fast.decimal_bits(np.uint64(w), q, csv_fast.POW5)
        want = float(f"{w}e{q}")
        assert np.uint64(bits) == np.array(want).view(np.uint64), (w, q)
    inf_bits = csv_fast.decimal_bits(np.uint64(18), 307, csv_fast.POW5)
    assert int(inf_bits) >> 52 == 0x7FF


# -------------------------------------------------------- (c) anything else: same outcome
MALFORMED = [
    (b"x,y\n1,2\n3,oops\n", "xy", None),
    (b"x,y\n1,\n", "y", None),
    (b"x,y\n1,  \n", "y", None),
    (b"x,y\n1,2\n,\n", "x", None),
    (b"x,y\n1,2\n2,inf\n", "xy", None),
    (b"x,y\n1,2\n2,-Infinity\n", "xy", None),
    (b"x,y\nnan,2\n", "x", None),
    (b"x,y\n1,2\n1e999,3\n", "x", None),
    (b"x,y\n1,2\n-1e400,3\n", "x", None),
    (b"x,y\n1.8e308,3\n", "x", None),
    (b"x,y\n123456789012345678901234567890e300,3\n", "x", None),
    (b"x,y\n1,2\n3\n", "x", None),
    (b"x,y\n1,2\n3,4,5\n", "x", None),
    (b"x,y\n1,2\n3,4,\n", "y", None),
    (b'x,y\n"1",2\n', "xy", None),
    (b'x,y\n1,2\n"3,4\n', "xy", None),
    (b'when,x\nmon"day,1\n', "x", None),
    (b'x,y\n1,"2"x\n', "x", None),
    (b"x,y\n1,2\n3,4\r5,6\n", "xy", None),
    (b"x,y\n1,2\r", "xy", None),
    (b"x\ry\n1\n", "x", None),
    (b"x\n1\n2\n\xff\n", "x", None),
    (b"when,x\nmontag\xc3\xa9,1\n", "x", None),
    (b"x,y\n1,2\x003\n", "x", None),
    (b"x,y\n1,2\x0c\n", "x", None),
    (b"x,y\n\x0c1,2\n", "x", None),
    (b"x,y\n", "x", None),
    (b"x,y\n\n  \n\r\n", "x", None),
    (b"x\n1\n  \n2\n", "x", None),
    (b"x\n1\n\n2\n", "x", None),
    (b"x,y\n1_000,2\n", "x", None),
    ("x,y\n\u0661,2\n".encode(), "x", None),
    ("\ufeffx\n\ufeff1\n".encode(), "x", None),
    (b"x,y\n1 2,3\n", "x", None),
    (b"x,y\n0x10,3\n", "x", None),
    (b"x,y\n--1,3\n", "x", None),
    (b"x,y\n1e,3\n", "x", None),
    (b"x,y\n1e+,3\n", "x", None),
    (b"x,y\n.,3\n", "x", None),
    (b"x,y\n.e5,3\n", "x", None),
    (b"x,y\ne5,3\n", "x", None),
    (b"x,y\n+,3\n", "x", None),
    (b"x,y\n1.2.3,4\n", "x", None),
    (b"x,y\n1e5.5,3\n", "x", None),
    (b"x,y\n1,123456789012\n", "x", DataLimits(max_field_chars=8)),
    (b"x,y\n1,2\n          \n", "x", DataLimits(max_field_chars=4)),
    (b"x,y\n1,2\nabcdefghijkl,3\n", "y", DataLimits(max_field_chars=8)),
    (b"a,b\n1,2,3,4\n", "a", DataLimits(max_columns=3)),
    (b"x,y\r\n1,2\r\n", "xy", None),
    (b"x,y\n1,2", "xy", None),
    (b"x,y\n 1 , 2 \n\t3\t,4\n", "xy", None),
    (b"x,y\n1,2\n3,\xe2\x80\x83 4\n", "y", None),
    (b"x , y\n1,2\n", "xy", None),
    (b'"x,1",y\n1,2\n', "y", None),
    (b'"x\ny",z\n1,2\n', "z", None),
    (b"a,b\nfoo,bar\n", "", None),
    (b"a\n\n\n", "", None),
    (b"a\n  \n", "", None),
]


@pytest.mark.parametrize("k", range(len(MALFORMED)))
def test_every_other_input_gives_what_the_csv_module_reader_gives(k, tmp_path,
                                                                  monkeypatch):
    data, cols, limits = MALFORMED[k]
    limits = limits or DEFAULT_DATA_LIMITS
    p = tmp_path / "m.csv"
    p.write_bytes(data)
    names = {"xy": ["x", "y"], "": []}.get(cols, [cols])
    wanted = {nm: nm for nm in names}
    fast, safe, scan = both(p, wanted, monkeypatch, limits)
    assert fast == safe
    if safe[0] == "error":
        assert scan is None or scan.result is None, scan


def test_error_text_is_located_as_before(tmp_path, monkeypatch):
    p = tmp_path / "d.csv"
    p.write_text("x,y\n1,2\n\n3,oops\n")
    fast, safe, scan = both(p, {"x": "x", "y": "y"}, monkeypatch)
    assert fast == safe and fast[0] == "error"
    assert fast[1] == f"{p}:4:2: field 'data.file': column 'y': 'oops' is not a number"
    assert scan.result is None and scan.line == 4


def test_small_files_and_importing_the_reader_do_not_load_numba(tmp_path):
    p = tmp_path / "small.csv"
    p.write_text("x,y\n1,2\n3,4\n")
    code = ("import sys, symgd.io.data as D; a = sys.modules.get('numba');"
            f"ds = D.load({{'file': {str(p)!r}}}, ['x', 'y']);"
            "print(a, sys.modules.get('numba'), ds.array.tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None None [[1.0, 3.0], [2.0, 4.0]]"


def test_a_large_plain_file_takes_the_compiled_path(tmp_path, monkeypatch):
    n = 20_000
    x = np.random.default_rng(3).standard_normal((n, 2))
    p = tmp_path / "big.csv"
    p.write_text("a,b\n" + "".join(f"{u!r},{v!r}\n" for u, v in x.tolist()))
    assert p.stat().st_size >= csv_reader.FAST_MIN_BYTES
    called = []
    real = csv_fast.read_fast
    monkeypatch.setattr(csv_fast, "read_fast", lambda *a: called.append(1) or real(*a))
    cols, rows, lines = read_csv(p, {"a": "a", "b": "b"})
    assert called and rows == n and lines[0] == 2 and lines[-1] == n + 1
    assert np.array_equal(np.stack([cols["a"], cols["b"]], 1).view(np.uint64),
                          x.view(np.uint64))
