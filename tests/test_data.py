"""Reading and checking fit data (symgd.io.data): layout, and every refusal with its
file, line and column."""
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symgd
from symgd.errors import InputError
from symgd.io import data as D


def write(tmp_path, text, name="d.csv", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def refused(spec, symbols):
    with pytest.raises(InputError) as info:
        D.load(spec, symbols)
    return info.value


# ----------------------------------------------------------------------------- layout
def test_csv_layout_columns_contiguous(tmp_path):
    p = write(tmp_path, "\ufeffx, y ,unused\n1,10,a\n2,20,b\n\n3,30.5,c\n")
    ds = D.load({"file": str(p), "columns": {"v": "y"}}, ["x", "v"])
    assert ds.array.shape == (2, 3) and ds.array.flags.c_contiguous
    assert ds.array.dtype == np.float64 and not ds.array.flags.writeable
    np.testing.assert_array_equal(ds.array[0], [1, 2, 3])
    np.testing.assert_array_equal(ds.column("v"), [10, 20, 30.5])
    # column j of sample i is flat[j * n + i]
    assert ds.array.ravel()[1 * 3 + 2] == 30.5
    assert ds.n_samples == 3 and ds.source == str(p)
    assert list(ds.lines) == [2, 3, 5]  # the blank line 4 is skipped
    assert D.column_names({"file": str(p)}) == ["x", "y", "unused"]


def test_npz_mapping_inline_and_frame(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.arange(4.0), b=np.arange(4) * 2)
    ds = D.load({"file": str(tmp_path / "d.npz"), "columns": {}}, ["b", "a"])
    np.testing.assert_array_equal(ds.array, [[0, 2, 4, 6], [0, 1, 2, 3]])
    ds = D.load({"inline": {"x": [1.0, 2.0]}, "symbols": ["x"]}, ["x"])
    np.testing.assert_array_equal(ds.array, [[1.0, 2.0]])
    x = sp.Symbol("x")
    ds = D.load({x: [1, 2, 3], "y": np.array([4.0, 5, 6])}, ["y", "x"])
    np.testing.assert_array_equal(ds.array, [[4, 5, 6], [1, 2, 3]])

    class Frame:  # duck-typed DataFrame: .columns and [name]
        columns = ["p", "q"]

        def __getitem__(self, k):
            return {"p": np.array([1.0, 2.0]), "q": np.array([3.0, 4.0])}[k]
    ds = D.load(Frame(), ["q"])
    np.testing.assert_array_equal(ds.array, [[3, 4]])


# ----------------------------------------------------------------------------- CSV errors
def test_csv_non_numeric_names_file_line_and_column(tmp_path):
    p = write(tmp_path, "x,y\n1,2\n3,oops\n")
    e = refused({"file": str(p)}, ["x", "y"])
    assert (e.file, e.line, e.column, e.kind) == (str(p), 3, 2, "data")
    assert "'y'" in e.message and "oops" in e.message
    assert str(p) + ":3:2" in str(e)


def test_csv_empty_field_and_non_finite(tmp_path):
    p = write(tmp_path, "x,y\n1,\n")
    e = refused({"file": str(p)}, ["y"])
    assert (e.line, e.column) == (2, 2) and "empty" in e.message
    p = write(tmp_path, "x,y\n1,2\n2,inf\n", name="e.csv")
    e = refused({"file": str(p)}, ["x", "y"])
    assert (e.line, e.column) == (3, 2) and "finite" in e.message
    p = write(tmp_path, "x,y\nnan,2\n", name="f.csv")
    assert refused({"file": str(p)}, ["x"]).line == 2


def test_csv_unused_text_column_is_not_converted(tmp_path):
    p = write(tmp_path, "when,x\nmonday,1\ntuesday,2\n")
    np.testing.assert_array_equal(D.load({"file": str(p)}, ["x"]).array, [[1, 2]])


def test_csv_ragged_rows_and_duplicates(tmp_path):
    p = write(tmp_path, "x,y\n1,2\n3\n")
    e = refused({"file": str(p)}, ["x"])
    assert e.line == 3 and "1 fields" in e.message and "header has 2" in e.message
    p = write(tmp_path, "x,y,x\n1,2,3\n", name="dup.csv")
    e = refused({"file": str(p)}, ["y"])
    assert e.line == 1 and e.column == 3 and "twice" in e.message
    p = write(tmp_path, "x,,y\n1,2,3\n", name="noname.csv")
    assert refused({"file": str(p)}, ["x"]).column == 2


def test_csv_empty_header_only_missing_column(tmp_path):
    p = write(tmp_path, "")
    e = refused({"file": str(p)}, ["x"])
    assert "empty" in e.message and e.file == str(p)
    p = write(tmp_path, "x,y\n", name="h.csv")
    assert "no data rows" in refused({"file": str(p)}, ["x"]).message
    p = write(tmp_path, "length,area\n1,2\n", name="m.csv")
    e = refused({"file": str(p), "columns": {"x": "lenght"}}, ["x"])
    assert e.field == "data.columns.x" and "did you mean 'length'" in e.message
    e = refused({"file": str(p)}, ["area2"])
    assert "no column named 'area2'" in e.message


def test_csv_encoding_bom_and_size_limits(tmp_path):
    p = write(tmp_path, b"x\n1\n2\n\xff\n", name="bad.csv", mode="wb")
    e = refused({"file": str(p)}, ["x"])
    assert "UTF-8" in e.message and e.line == 4
    p = write(tmp_path, "\ufeffx\n5\n", name="bom.csv")
    assert D.load({"file": str(p)}, ["x"]).array[0, 0] == 5.0
    wide = ",".join(f"c{i}" for i in range(D.MAX_COLUMNS + 1)) + "\n"
    p = write(tmp_path, wide, name="wide.csv")
    e = refused({"file": str(p)}, ["c0"])
    assert e.kind == "limit" and "100000 columns" in e.message


def test_npz_refusals(tmp_path):
    np.savez(tmp_path / "obj.npz", a=np.array([1, "x"], dtype=object))
    e = refused({"file": str(tmp_path / "obj.npz")}, ["a"])
    assert "pickle" in e.message
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones(3), c=np.ones(2))
    assert "one-dimensional" in refused({"file": str(tmp_path / "two.npz")}, ["a"]).message
    assert "has 2 values" in refused({"file": str(tmp_path / "two.npz")}, ["b", "c"]).message
    np.savez(tmp_path / "nan.npz", a=np.array([1.0, np.nan]))
    assert "index 1" in refused({"file": str(tmp_path / "nan.npz")}, ["a"]).message
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "npz" in refused({"file": str(tmp_path / "junk.npz")}, ["a"]).message


def test_mapping_refusals():
    e = refused({"x": [1, 2], "y": [1, 2, 3]}, ["x", "y"])
    assert e.field == "data.y" and "equal lengths" in e.message
    e = refused({"x": ["a", "b"]}, ["x"])
    assert e.field == "data.x" and "not numeric" in e.message
    e = refused({"x": [1.0, float("inf")]}, ["x"])
    assert "row 2" in e.message
    e = refused({"x": []}, ["x"])
    assert "no samples" in e.message
    with pytest.raises(InputError):
        D.load(42, ["x"])


# ----------------------------------------------------------------------------- problems
def test_problem_names_symbols_that_are_neither_variables_nor_columns():
    a, x, z, y = sp.symbols("a x z y")
    with pytest.raises(InputError) as info:
        symgd.Problem(model=a * x + z, target=y, data={"x": [1.0], "y": [2.0]},
                      variables=[a])
    assert info.value.field == "model" and "'z'" in info.value.message
    with pytest.raises(InputError) as info:
        symgd.Problem(model=a * x, target=y * a, data={"x": [1.0], "y": [2.0]}, variables=[a])
    assert info.value.field == "target"
    with pytest.raises(InputError) as info:
        symgd.Problem(model=a * x, target=y, loss="l2", data={"x": [1.0], "y": [2.0]})
    assert info.value.field == "loss" and "mse" in info.value.message
    # the default variables exclude data columns
    p = symgd.Problem(model=a * x, target=y, data={"x": [1.0], "y": [2.0]})
    assert p.names == ("a",) and p.loss == "mse"


def test_cli_bad_csv_exits_2_with_file_line_column(tmp_path):
    write(tmp_path, "x,y\n1,2\n2,abc\n")
    f = tmp_path / "fit.yaml"
    f.write_text("variables: {m: 1}\ndata: {file: d.csv}\nmodel: m*x\ntarget: y\n")
    out = subprocess.run([sys.executable, "-m", "symgd", "solve", str(f), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    err = json.loads(out.stdout)["error"]
    assert err["file"].endswith("d.csv") and err["line"] == 3 and err["column"] == 2
    assert "Traceback" not in out.stderr


def test_problem_takes_a_file_path(tmp_path):
    p = write(tmp_path, "x,y\n1,2\n2,4\n3,6.5\n")
    a, x, y = sp.symbols("a x y")
    r = symgd.solve(symgd.Problem(model=a * x, target=y, loss="sse", data=p, variables=[a]))
    # least squares through the origin: a = sum(x y) / sum(x^2) = 29.5 / 14
    assert r.x[0] == pytest.approx(29.5 / 14, rel=1e-12) and r.extra["n_samples"] == 3
