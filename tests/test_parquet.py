"""Parquet data files and globs of parts (issue 15, item 1; SPEC §1).

The reader and the parts are tested through :func:`symgd.io.data.load` and the Python
API, which reach them whatever the problem-file schema accepts; the tests that go
through a problem file (and the command line) need the schema to hand ``data.file`` to
:func:`symgd.io.parts.resolve_data_path`, and are skipped until it does.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.io import data as D
from symgd.io.data_spec import DataSpec
from symgd.io.limits import DataLimits
from symgd.io.parts import resolve_data_path

ROOT = Path(__file__).resolve().parents[1]
MISRA = ROOT / "problems" / "nist_misra1a.csv"


def _schema_takes_parts() -> bool:
    """Does a problem file accept ``data: {file: <glob>}`` (the schema's side)?"""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p").mkdir()
        (Path(tmp) / "p" / "a.csv").write_text("x,y\n1,2\n")
        f = Path(tmp) / "f.yaml"
        f.write_text("variables: {a: 1}\ndata: {file: p/*.csv}\nmodel: a*x\ntarget: y\n")
        try:
            symgd.load(f)
        except InputError:
            return False
    return True


needs_schema = pytest.mark.skipif(
    not _schema_takes_parts(), reason="the problem-file schema does not yet pass data.file "
    "to symgd.io.parts.resolve_data_path (Parquet files and globs)")


def refused(spec, symbols=("x", "y"), **kw) -> InputError:
    with pytest.raises(InputError) as info:
        D.load(spec, list(symbols), **kw)
    return info.value


def misra_columns():
    rows = np.loadtxt(MISRA, delimiter=",", skiprows=1)
    return {"y": rows[:, 0], "x": rows[:, 1]}


def write_parquet(path: Path, columns: dict, **kw) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, **kw)
    return path


def write_csv(path: Path, columns: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    rows = zip(*(columns[n] for n in names))
    path.write_text(",".join(names) + "\n" + "".join(
        ",".join(repr(float(v)) for v in row) + "\n" for row in rows))
    return path


def misra_fit(data):
    b1, b2, x, y = sp.symbols("b1 b2 x y")
    p = symgd.Problem(model=b1 * (1 - sp.exp(-b2 * x)), target=y, loss="sse", data=data,
                      variables={b1: 500, b2: 0.0001})
    return symgd.solve(p)


# ----------------------------------------------------------------------------- the same fit
def test_parquet_fit_equals_csv_fit(tmp_path):
    """NIST Misra1a (problems/nist_misra1a.yaml): the same parameters from its CSV and
    from the same columns in Parquet, float and integer-free."""
    pq_file = write_parquet(tmp_path / "misra.parquet", misra_columns())
    from_csv, from_pq = misra_fit(MISRA), misra_fit(pq_file)
    assert from_pq.success and from_pq.extra["n_samples"] == 14
    np.testing.assert_allclose(from_pq.x, from_csv.x, rtol=1e-12, atol=0)
    assert from_pq.x[0] == pytest.approx(2.3894212918e2, rel=1e-9)


def test_globs_of_parts_equal_the_single_file(tmp_path):
    cols = misra_columns()
    for k, (lo, hi) in enumerate([(0, 5), (5, 6), (6, 14)]):
        part = {c: v[lo:hi] for c, v in cols.items()}
        write_csv(tmp_path / "csv" / f"part-{k}.csv", part)
        write_parquet(tmp_path / "pq" / f"part-{k}.parquet", part)
    whole = D.load(str(MISRA), ["x", "y"])
    for pattern in ("csv/*.csv", "pq/part-?.parquet"):
        joined = D.load({"file": str(tmp_path / pattern)}, ["x", "y"])
        assert joined.n_samples == 14 and np.array_equal(joined.array, whole.array)
        assert len(joined.parts) == 3 and joined.source.endswith(pattern)
    fit = misra_fit(str(tmp_path / "pq" / "*.parquet"))
    np.testing.assert_allclose(fit.x, misra_fit(MISRA).x, rtol=1e-12, atol=0)


def test_parts_are_joined_in_name_order_and_located_by_part(tmp_path):
    write_csv(tmp_path / "p" / "b.csv", {"x": [3.0, 4.0], "y": [0.0, 0.0]})
    write_csv(tmp_path / "p" / "a.csv", {"x": [1.0, 2.0], "y": [0.0, 0.0]})
    d = D.load(str(tmp_path / "p" / "*.csv"), ["x", "y"])
    assert d.column("x").tolist() == [1.0, 2.0, 3.0, 4.0]
    assert d.where(2) == f"line 2 of {tmp_path / 'p' / 'b.csv'}" and d.lines is None
    # a bad value names the part file and its line
    (tmp_path / "p" / "b.csv").write_text("x,y\n3,0\nabc,0\n")
    err = refused(str(tmp_path / "p" / "*.csv"))
    assert err.file.endswith("b.csv") and err.line == 3 and "'abc' is not a number" in str(err)


def test_a_file_whose_name_looks_like_a_glob_is_read_as_itself(tmp_path):
    write_csv(tmp_path / "run[1].csv", {"x": [1.0, 2.0], "y": [0.0, 0.0]})
    d = D.load(str(tmp_path / "run[1].csv"), ["x"])
    assert d.n_samples == 2 and not d.parts and d.lines.tolist() == [2, 3]


def test_parquet_integers_and_unused_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    f = write_parquet(tmp_path / "d.pq", {"x": pa.array([1, 2, 3], pa.int32()),
                                          "y": pa.array([2**60, 0, 1], pa.uint64()),
                                          "note": ["a", "b", None]})
    d = D.load(str(f), ["x", "y"])
    assert d.array.dtype == np.float64 and d.column("y").tolist() == [2.0**60, 0.0, 1.0]
    assert D.column_names(str(f)) == ["x", "y", "note"] and d.where(1) == "row 2"


def test_column_values_equal_numpy_conversion_without_importing_pandas(tmp_path):
    """float64_values reads the chunks' buffers (pyarrow's to_numpy would import
    pandas, ~45 MB of each Dask worker): values equal numpy's astype, chunk offsets and
    all, and a read in a fresh process leaves pandas unimported."""
    pa = pytest.importorskip("pyarrow")
    from symgd.io.parquet_reader import float64_values
    big = np.array([2**53 + 1, -(2**62) + 3, 7], dtype=np.int64)
    halves = np.array([0.1, 3.5, -2.25], dtype=np.float32)
    chunked = pa.chunked_array([pa.array(big), pa.array(big)[1:]])  # a sliced chunk
    assert float64_values(chunked).tolist() == \
        np.concatenate([big, big[1:]]).astype(np.float64).tolist()
    assert float64_values(pa.chunked_array([pa.array(halves)])).tolist() == \
        halves.astype(np.float64).tolist()
    f = write_parquet(tmp_path / "d.pq", {"x": np.arange(5.0), "y": big[[0, 1, 2, 0, 1]]})
    code = ("import sys; from symgd.io import data as D; d = D.load(sys.argv[1], ['x', 'y']);"
            " print(d.column('y').tolist(), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    want = big[[0, 1, 2, 0, 1]].astype(np.float64).tolist()
    assert out.stdout.strip() == f"{want} False"


# ----------------------------------------------------------------------------- refusals
def test_not_parquet_and_truncated(tmp_path):
    f = tmp_path / "d.parquet"
    f.write_text("x,y\n1,2\n3,4\n")
    assert "not a Parquet file (it does not start and end with the bytes 'PAR1')" in \
        str(refused(str(f)))
    raw = write_parquet(tmp_path / "ok.parquet", {"x": [1.0, 2.0], "y": [3.0, 4.0]}).read_bytes()
    f.write_bytes(raw[:len(raw) - 5])
    assert "is it truncated?" in str(refused(str(f)))
    f.write_bytes(raw[:6] + raw[-8:])  # magic at both ends, a footer longer than the file
    assert "footer claims" in str(refused(str(f)))
    f.write_bytes(b"PAR1" + bytes(200) + (200).to_bytes(4, "little") + b"PAR1")  # zeros
    msg = str(refused(str(f)))
    assert "not a readable Parquet file (" in msg and "Traceback" not in msg
    f.write_bytes(b"")
    assert "is empty" in str(refused(str(f)))


@pytest.mark.parametrize("kind", ["string", "bool", "date", "dictionary", "struct",
                                  "list", "decimal"])
def test_non_numeric_types_are_named(tmp_path, kind):
    pa = pytest.importorskip("pyarrow")
    import datetime
    import decimal
    values = {"string": pa.array(["1", "2"]), "bool": pa.array([True, False]),
              "date": pa.array([datetime.date(2020, 1, 1)] * 2),
              "dictionary": pa.array(["a", "b"]).dictionary_encode(),
              "struct": pa.array([{"a": 1.0}, {"a": 2.0}]),
              "list": pa.array([[1.0], [2.0]]),
              "decimal": pa.array([decimal.Decimal("1.5")] * 2)}[kind]
    f = write_parquet(tmp_path / "d.parquet", {"x": values, "y": [1.0, 2.0]})
    msg = str(refused(str(f)))
    assert "column 'x' has type" in msg and "integers or floating-point numbers" in msg


def test_nulls_and_non_finite_values_name_the_row(tmp_path):
    f = write_parquet(tmp_path / "n.parquet", {"x": [1.0, 2.0, None, 4.0], "y": [0.0] * 4})
    assert "column 'x' has no value (null) at row 3" in str(refused(str(f)))
    for bad, shown in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")):
        f = write_parquet(tmp_path / "f.parquet", {"x": [1.0, bad], "y": [0.0, 0.0]})
        msg = str(refused(str(f)))
        assert f"value {shown} at row 2" in msg and "not finite" in msg


def test_missing_column_lists_the_columns(tmp_path):
    f = write_parquet(tmp_path / "d.parquet", {"x": [1.0], "why": [2.0]})
    err = refused(str(f))
    assert "no column named 'y'" in str(err) and str(f) in str(err)
    assert "(columns: x, why)" in str(err)


def test_limits_on_columns_rows_and_parts(tmp_path):
    f = write_parquet(tmp_path / "w.parquet", {f"c{i}": [1.0] for i in range(60)} |
                      {"x": [1.0], "y": [1.0]})
    err = refused(DataSpec(file=str(f), limits=DataLimits(max_columns=50)))
    assert err.kind == "limit" and "more than 50 columns" in str(err)
    f = write_parquet(tmp_path / "r.parquet", {"x": np.zeros(200), "y": np.zeros(200)})
    err = refused(DataSpec(file=str(f), limits=DataLimits(max_member_bytes=1000)))
    assert err.kind == "limit" and "claims 200 rows" in str(err)
    for k in range(4):
        write_csv(tmp_path / "p" / f"{k}.csv", {"x": [1.0], "y": [2.0]})
    err = refused(DataSpec(file=str(tmp_path / "p" / "*.csv"), limits=DataLimits(max_parts=3)))
    assert err.kind == "limit" and "more than 3 files" in str(err)


def test_glob_refusals(tmp_path):
    assert "the glob" in str(refused(str(tmp_path / "none" / "*.csv"))) and \
        "matches no file" in str(refused(str(tmp_path / "none" / "*.csv")))
    write_csv(tmp_path / "m" / "a.csv", {"x": [1.0], "y": [2.0]})
    write_parquet(tmp_path / "m" / "b.parquet", {"x": [1.0], "y": [2.0]})
    msg = str(refused(str(tmp_path / "m" / "*")))
    assert "more than one format" in msg and "all parts must have one format" in msg
    (tmp_path / "m" / "b.parquet").unlink()
    (tmp_path / "m" / "notes.txt").write_text("hello")
    assert "which is not a data file" in str(refused(str(tmp_path / "m" / "*")))
    (tmp_path / "m" / "notes.txt").unlink()
    write_csv(tmp_path / "m" / "c.csv", {"x": [1.0], "z": [2.0]})  # a part without y
    err = refused(str(tmp_path / "m" / "*.csv"))
    assert "no column named 'y'" in str(err) and "c.csv" in str(err)


def test_paths_stay_inside_the_problem_folder(tmp_path):
    base = tmp_path / "prob"
    write_csv(base / "parts" / "a.csv", {"x": [1.0], "y": [2.0]})
    write_csv(tmp_path / "outside.csv", {"x": [1.0], "y": [2.0]})
    assert resolve_data_path("parts/a.csv", base) == (str(base / "parts" / "a.csv"), str(base))
    assert resolve_data_path("parts/*.csv", base)[0] == str(base / "parts" / "*.csv")
    # an absolute path is the user's own choice
    assert resolve_data_path(str(tmp_path / "outside.csv"), base) == \
        (str(tmp_path / "outside.csv"), None)
    for name in ("../outside.csv", "parts/../../outside.csv", "parts/../../etc/*",
                 "../*.csv"):
        with pytest.raises(InputError, match="outside the problem file's folder") as info:
            resolve_data_path(name, base)
        assert info.value.field == "data.file"


def test_symlinks_that_leave_the_folder_are_refused(tmp_path):
    base = tmp_path / "prob"
    write_csv(base / "parts" / "a.csv", {"x": [1.0], "y": [2.0]})
    secret = write_csv(tmp_path / "secret.csv", {"x": [1.0], "y": [2.0]})
    os.symlink(secret, base / "link.csv")
    with pytest.raises(InputError, match="a link to a file outside"):
        resolve_data_path("link.csv", base)
    os.symlink(secret, base / "parts" / "b.csv")
    with pytest.raises(InputError, match="outside the problem file's folder .* once its links"):
        resolve_data_path("parts/*.csv", base)
    os.symlink(tmp_path, base / "up")  # a linked folder
    with pytest.raises(InputError, match="outside"):
        resolve_data_path("up/secret.csv", base)
    # checked again when the data is read (the spec keeps its root)
    err = refused(DataSpec(file=str(base / "link.csv"), root=str(base)))
    assert "outside the problem file's folder" in str(err)
    # a link that stays inside is fine
    os.remove(base / "parts" / "b.csv")
    os.symlink(base / "parts" / "a.csv", base / "same.csv")
    assert D.load(DataSpec(file=str(base / "same.csv"), root=str(base)), ["x"]).n_samples == 1


# ----------------------------------------------------------------------------- pyarrow
def test_without_pyarrow_csv_works_and_parquet_says_how_to_install(tmp_path):
    f = write_parquet(tmp_path / "d.parquet", {"x": [1.0], "y": [2.0]})
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import sympy as sp, symgd\n"
        "from symgd.io.data import load\n"
        "a, x, y = sp.symbols('a x y')\n"
        f"r = symgd.solve(symgd.Problem(model=a*x, target=y, data={str(MISRA)!r},\n"
        "                               variables=[a]))\n"
        "assert r.success\n"
        "try:\n"
        f"    load({str(f)!r}, ['x', 'y'])\n"
        "except symgd.InputError as err:\n"
        "    print(err)\n"
        "assert 'pyarrow' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "pip install symgd[parquet]" in out.stdout


def test_old_pyarrow_is_refused(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    from symgd.io import parquet_reader
    f = write_parquet(tmp_path / "d.parquet", {"x": [1.0], "y": [2.0]})
    monkeypatch.setattr(pa, "__version__", "14.0.0")
    msg = str(refused(str(f)))
    assert "pyarrow 14.0.0 is installed" in msg and "CVE-2023-47248" in msg
    assert parquet_reader.pyarrow_version("14.0.1") == (14, 0, 1)
    assert parquet_reader.pyarrow_version("15.0.0.dev12+g1") == (15, 0, 0)
    assert parquet_reader.pyarrow_version("junk") == (0, 0, 0)


def test_hostile_parquet_corpus_is_refused_by_the_reader():
    """Every Parquet file of tests/hostile/data, read directly: an InputError that names
    the file, quickly, and no sentinel (the corpus run checks the command line)."""
    pytest.importorskip("pyarrow")
    import time
    files = sorted((ROOT / "tests" / "hostile" / "data").glob("parquet_*.parquet"))
    assert len(files) >= 10
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            shutil.copy(f, tmp)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            for f in files:
                t0 = time.process_time()
                err = refused(f.name)
                assert f.name in str(err) and err.kind in ("data", "limit"), err
                assert time.process_time() - t0 < 1.0, f.name
            assert not os.path.exists("SENTINEL")
        finally:
            os.chdir(cwd)


# ----------------------------------------------------------------------------- problem files
@needs_schema
def test_problem_file_with_parquet_and_parts(tmp_path):
    shutil.copy(ROOT / "problems" / "nist_misra1a.yaml", tmp_path / "csv.yaml")
    shutil.copy(MISRA, tmp_path / "nist_misra1a.csv")
    write_parquet(tmp_path / "misra.parquet", misra_columns())
    text = (tmp_path / "csv.yaml").read_text()
    (tmp_path / "pq.yaml").write_text(text.replace("nist_misra1a.csv", "misra.parquet"))
    cols = misra_columns()
    write_parquet(tmp_path / "parts" / "0.parquet", {c: v[:7] for c, v in cols.items()})
    write_parquet(tmp_path / "parts" / "1.parquet", {c: v[7:] for c, v in cols.items()})
    (tmp_path / "parts.yaml").write_text(text.replace("nist_misra1a.csv", "parts/*.parquet"))
    ref = symgd.solve(symgd.load(tmp_path / "csv.yaml"))
    for name in ("pq.yaml", "parts.yaml"):
        r = symgd.solve(symgd.load(tmp_path / name))
        np.testing.assert_allclose(r.x, ref.x, rtol=1e-12, atol=0)


@needs_schema
@pytest.mark.parametrize("case", ["not_parquet", "escape"])
def test_cli_exit_2_without_traceback(tmp_path, case):
    if case == "not_parquet":
        (tmp_path / "d.parquet").write_text("x,y\n1,2\n")
        name, expected = "d.parquet", "not a Parquet file"
    else:
        name, expected = "../*.csv", "outside the problem file's folder"
    f = tmp_path / "fit.yaml"
    f.write_text(f"variables: {{m: 1}}\ndata:\n  file: {json.dumps(name)}\nmodel: m*x\n"
                 "target: y\n")
    out = subprocess.run([sys.executable, "-m", "symgd", "solve", str(f), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    err = json.loads(out.stdout)["error"]
    assert expected in err["message"] and err["field"] == "data.file" and err["line"] == 3
