"""The compiled-kernel cache survives concurrency, corruption, clearing and growth.

* Four processes that solve the same new problem at the same moment all succeed.
* A damaged cache (the generated module, numba's index ``.nbi`` and data ``.nbc``
  files beside it in ``<cache>/kernels/__pycache__/``, symgd's ``.sums`` record, the
  warm-start index) is detected and rebuilt: the next solve gives the right answer,
  with exit status 0, never a crash or a stale kernel.
* ``python -m symgd cache clear`` empties it; ``cache info`` reports it.
* Its size stays within the limits (least recently used modules are evicted).

Each test uses its own cache folder (``SYMGD_CACHE_DIR``). The problems have a known
minimum, computed here, and a constant drawn per run so that they are new to any cache.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from symgd.kernelgen import cache

ROOT = Path(__file__).resolve().parents[1]
RNG = random.Random()  # a fresh problem text on every run: nothing can be cached already


def new_problem(folder: Path, name="p"):
    """A problem file whose minimum is known: (x - a)^2 + 10 (y - b)^2 + c x has its
    minimum at x = a - c/2, y = b."""
    a, b, c = (round(RNG.uniform(-3, 3), 6) for _ in range(3))
    path = folder / f"{name}.yaml"
    path.write_text(f"variables: {{x: 0.5, y: -0.5}}\nminimize: (x - {a})**2 + "
                    f"10*(y - {b})**2 + {c}*x\nmethod: newton\n")
    return path, (a - c / 2, b)


def solve(path: Path, cache_dir: Path, *extra, timeout=300):
    env = dict(os.environ, SYMGD_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-m", "symgd", "solve", str(path), "--json",
                           *extra], cwd=path.parent, env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_solved(r, expected):
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "converged", d["message"]
    assert d["x"]["x"] == pytest.approx(expected[0], abs=1e-9)
    assert d["x"]["y"] == pytest.approx(expected[1], abs=1e-9)
    return d


def kernel_files(cache_dir: Path):
    k = cache_dir / "kernels"
    return (sorted(k.glob(f"{cache.MODULE_PREFIX}*.py")),
            sorted((k / "__pycache__").glob("*.nbi")),
            sorted((k / "__pycache__").glob("*.nbc")))


# --------------------------------------------------------------------------- concurrency
def test_four_processes_solving_one_new_problem_at_once_all_succeed(tmp_path):
    path, expected = new_problem(tmp_path)
    cache_dir = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: solve(path, cache_dir), range(4)))
    for r in results:
        assert_solved(r, expected)
    py, nbi, nbc = kernel_files(cache_dir)
    assert len(py) == 1 and nbi and nbc  # one module, compiled and cached
    assert not list((cache_dir / "kernels").glob(".tmp_*"))  # no temporary left behind
    # and the cache they left is sound: a fifth process loads it and agrees
    assert_solved(solve(path, cache_dir), expected)


# --------------------------------------------------------------------------- corruption
def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 3)])


def _garbage(p: Path):
    p.write_bytes(os.urandom(max(64, p.stat().st_size)))


def _flip_middle(p: Path):
    raw = bytearray(p.read_bytes())
    for i in range(len(raw) // 2, min(len(raw), len(raw) // 2 + 16)):
        raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))


def _wrong_code(p: Path):
    # still valid Python, still compiles, computes the wrong thing: must not be used
    text = p.read_text()
    assert "return f" in text
    p.write_text(text.replace("return f", "return f + 1.0"))


CORRUPTIONS = {
    "py_truncated": ("py", _truncate),
    "py_wrong_code": ("py", _wrong_code),
    "nbi_garbage": ("nbi", _garbage),
    "nbc_truncated": ("nbc", _truncate),
    "nbc_bytes_flipped": ("nbc", _flip_middle),
    "sums_garbage": ("sums", _garbage),
    "everything_garbage": ("all", _garbage),
}


@pytest.fixture(scope="module")
def warmed(tmp_path_factory):
    """A cache holding one compiled problem (solved twice: the second run is warm)."""
    folder = tmp_path_factory.mktemp("warm")
    path, expected = new_problem(folder)
    cache_dir = folder / "cache"
    assert_solved(solve(path, cache_dir), expected)
    assert_solved(solve(path, cache_dir), expected)
    return path, expected, cache_dir


def _damage(cache_dir: Path, which: str, how) -> list:
    py, nbi, nbc = kernel_files(cache_dir)
    sums = sorted((cache_dir / "kernels").glob("*.sums"))
    files = {"py": py, "nbi": nbi, "nbc": nbc, "sums": sums,
             "all": py + nbi + nbc + sums}[which]
    assert files, f"nothing to damage ({which})"
    before = {p: p.read_bytes() for p in files}
    for p in files:
        how(p)
    assert any(p.read_bytes() != b for p, b in before.items())
    return files


def test_damaged_cache_files_are_detected_and_rebuilt(warmed, tmp_path):
    path, expected, source_cache = warmed

    def case(name):
        which, how = CORRUPTIONS[name]
        cache_dir = tmp_path / name
        shutil.copytree(source_cache, cache_dir, symlinks=True)
        _damage(cache_dir, which, how)
        return name, solve(path, cache_dir), cache_dir

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(case, CORRUPTIONS))
    for name, r, cache_dir in outcomes:
        assert r.returncode == 0, (name, r.returncode, r.stderr[-2000:])
        assert_solved(r, expected)
        # the cache was rebuilt, not left damaged: an intact module, and numba's files
        # exactly those recorded after the good import (so the next run loads them)
        py, nbi, nbc = kernel_files(cache_dir)
        assert len(py) == 1 and nbi and nbc, name
        text = py[0].read_text()
        assert cache._intact(py[0].stem, text) and "return f + 1.0" not in text, name
        sums = json.loads((cache_dir / "kernels" / f"{py[0].stem}.sums").read_text())
        assert sorted(sums) == sorted(p.name for p in nbi + nbc), name


def test_damaged_warm_index_is_ignored(warmed, tmp_path):
    path, expected, source_cache = warmed
    cache_dir = tmp_path / "c"
    shutil.copytree(source_cache, cache_dir, symlinks=True)
    index = sorted((cache_dir / "index").glob("*.json"))
    assert index, "the warm run left no index entry"
    for p in index:
        p.write_bytes(os.urandom(200))
    assert_solved(solve(path, cache_dir), expected)
    for p in index:
        p.write_text('{"format": 1, "method": "newton", "module": "symgd_k_nonexistent", '
                     '"variables": [["x", 0.5, null, null]], "name": "p", "sense": '
                     '"minimize", "options": {}, "objective": "x", "is_polynomial": true}')
    assert_solved(solve(path, cache_dir), expected)


def test_processes_starting_together_on_a_damaged_cache_all_succeed(warmed, tmp_path):
    path, expected, source_cache = warmed
    cache_dir = tmp_path / "c"
    shutil.copytree(source_cache, cache_dir, symlinks=True)
    _damage(cache_dir, "all", _garbage)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: solve(path, cache_dir), range(4)))
    for r in results:
        assert_solved(r, expected)


def test_damaged_data_fit_kernels_are_rebuilt(tmp_path):
    slope = round(RNG.uniform(1, 3), 6)
    xs = [0, 1, 2, 3, 4]
    (tmp_path / "d.csv").write_text("x,y\n" + "".join(f"{x},{slope * x}\n" for x in xs))
    path = tmp_path / "fit.yaml"
    path.write_text("variables: {a: 0.1}\ndata: {file: d.csv}\nmodel: a*x\ntarget: y\n"
                    "method: lm\n")
    cache_dir = tmp_path / "cache"

    def check(r):
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout)["x"]["a"] == pytest.approx(slope, rel=1e-9)

    check(solve(path, cache_dir))
    _damage(cache_dir, "all", _garbage)
    check(solve(path, cache_dir))
    check(solve(path, cache_dir))


# --------------------------------------------------------------------------- commands
def test_cache_clear_and_info_commands(tmp_path):
    path, expected = new_problem(tmp_path)
    cache_dir = tmp_path / "cache"
    assert_solved(solve(path, cache_dir), expected)
    env = dict(os.environ, SYMGD_CACHE_DIR=str(cache_dir))

    def cmd(*args):
        return subprocess.run([sys.executable, "-m", "symgd", "cache", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)

    r = cmd("info")
    assert r.returncode == 0 and "1 kernel modules" in r.stdout, r.stdout
    r = cmd("clear")
    assert r.returncode == 0 and "removed 1 kernel modules" in r.stdout, r.stdout
    py, nbi, nbc = kernel_files(cache_dir)
    assert not (py or nbi or nbc)
    assert not list((cache_dir / "index").glob("*.json"))
    r = cmd("info")
    assert r.returncode == 0 and "0 kernel modules" in r.stdout
    assert_solved(solve(path, cache_dir), expected)  # rebuilt on demand


# --------------------------------------------------------------------------- size
def _fake_module(folder: Path, k: int, age_s: float, size: int = 1000) -> str:
    name = f"{cache.MODULE_PREFIX}{k:024d}"
    (folder / f"{name}.py").write_text("x = 1\n" + "#" * size)
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / f"{name}.fun-1.py311.nbi").write_bytes(b"i" * size)
    (folder / "__pycache__" / f"{name}.fun-1.py311.1.nbc").write_bytes(b"c" * size)
    sums = folder / f"{name}.sums"
    sums.write_text("{}")
    t = time.time() - age_s
    for p in (folder / f"{name}.py", sums):
        os.utime(p, (t, t))
    return name


def test_eviction_keeps_the_most_recently_used_modules(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    folder = cache.cache_dir()
    names = [_fake_module(folder, k, age_s=1000 - k) for k in range(10)]  # k=9 newest
    monkeypatch.setenv("SYMGD_CACHE_MAX_MODULES", "4")
    assert cache.evict() == 6
    left = sorted(p.stem for p in folder.glob(f"{cache.MODULE_PREFIX}*.py"))
    assert left == names[6:]
    assert not [p for p in (folder / "__pycache__").iterdir()
                if not any(p.name.startswith(n) for n in left)]  # compiled code went too
    # by size: 3 modules of ~3 kB each, limit 7 kB -> the oldest goes
    monkeypatch.setenv("SYMGD_CACHE_MAX_MODULES", "100")
    monkeypatch.setenv("SYMGD_CACHE_MAX_MB", str(7e3 / 1e6 * 1.5))
    cache.evict()
    assert cache.info()["bytes"] <= 7e3 * 1.5
    assert sorted(p.stem for p in folder.glob(f"{cache.MODULE_PREFIX}*.py"))[-1] == names[-1]
    info = cache.info()
    assert info["max_modules"] == 100 and info["max_bytes"] == int(7e3 * 1.5)


def test_cache_stays_within_its_module_limit(tmp_path):
    cache_dir = tmp_path / "cache"
    env_extra = {"SYMGD_CACHE_MAX_MODULES": "2"}
    expected_by_path = [new_problem(tmp_path, f"p{k}") for k in range(3)]
    for path, expected in expected_by_path:
        env = dict(os.environ, SYMGD_CACHE_DIR=str(cache_dir), **env_extra)
        r = subprocess.run([sys.executable, "-m", "symgd", "solve", str(path), "--json"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert_solved(r, expected)
    py, _, _ = kernel_files(cache_dir)
    assert len(py) == 2  # the first problem's module was evicted when the third came


# --------------------------------------------------------------------------- in process
KERNEL_SOURCE = """\
from numba import cfunc, types


@cfunc(types.float64(types.float64), cache=True)
def f(x):
    return x * {k}
"""


def _fresh(name):
    import sys as _sys
    _sys.modules.pop(name, None)


def test_numba_files_that_fail_to_load_are_purged_and_recompiled(tmp_path, monkeypatch):
    """numba files recorded as good but unreadable (the .sums written over them, so the
    digest check passes): the import fails, the files are purged, the module compiles
    again, and the kernel computes the right value."""
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    k = RNG.randint(10**6, 10**7)
    src = KERNEL_SOURCE.format(k=k)
    mod = cache.load_module(src)
    name = mod.__name__
    assert mod.f.ctypes(2.0) == 2.0 * k
    files = cache._numba_files(name)
    assert files and cache._numba_files_ok(name)
    for p in files:
        p.write_bytes(os.urandom(300))
    cache._record_numba_files(name)  # vouch for the garbage
    assert cache._numba_files_ok(name)
    _fresh(name)
    mod = cache.load_module(src)
    assert mod.f.ctypes(3.0) == 3.0 * k
    assert cache._numba_files_ok(name)
    assert all(p.read_bytes()[:2] != b"" for p in cache._numba_files(name))


def test_import_by_name_reports_a_damaged_module_as_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGD_CACHE_DIR", str(tmp_path))
    k = RNG.randint(10**6, 10**7)
    mod = cache.load_module(KERNEL_SOURCE.format(k=k))
    name = mod.__name__
    path = cache.cache_dir() / f"{name}.py"
    path.write_text(path.read_text().replace(str(k), str(k + 1)))  # valid, but altered
    _fresh(name)
    with pytest.raises(cache.CacheCorrupted):
        cache.import_cached(name, path)
    assert isinstance(cache.CacheCorrupted("x"), LookupError)  # the warm path's miss
    assert not path.exists() and not cache._numba_files(name)
    mod = cache.load_module(KERNEL_SOURCE.format(k=k))  # the source rebuilds it
    assert mod.f.ctypes(1.0) == float(k)


def test_the_eviction_scan_counts_each_modules_numba_files(tmp_path):
    """cache._modules lists __pycache__ once for all modules: each module's size is
    its .py, .sums and its own numba files (not another module's, not other files),
    as the per-module listing (cache._numba_files) finds them."""
    pyc = tmp_path / "__pycache__"
    pyc.mkdir()
    sizes = {}
    for k, name in enumerate([f"{cache.MODULE_PREFIX}aa", f"{cache.MODULE_PREFIX}aab"]):
        (tmp_path / f"{name}.py").write_text("x" * (10 + k))
        (tmp_path / f"{name}.sums").write_text("y" * 3)
        for j, suffix in enumerate(["fg-12.py311.nbi", "fg-12.py311.1.nbc", "hess.nbc"]):
            (pyc / f"{name}.{suffix}").write_bytes(b"z" * (100 * (j + 1) + k))
        (pyc / f"{name}.cpython-311.pyc").write_bytes(b"p" * 7)   # not numba's
        sizes[name] = 10 + k + 3 + sum(100 * (j + 1) + k for j in range(3))
    got = {name: size for _, size, name in cache._modules(tmp_path)}
    assert got == sizes
    for name in sizes:
        listed = [tmp_path / f"{name}.py", tmp_path / f"{name}.sums"] + \
            cache._numba_files(name, tmp_path)
        assert sum(p.stat().st_size for p in listed) == sizes[name]
