"""The on-disk cache of generated kernel modules.

A module is named by a hash of its source and of the sympy, numba, numpy, Python and
symgd versions, written to a temporary file and published with ``os.replace`` so that
a process never imports half a file, then imported by name. numba's own cache
(``cache=True``) keeps the compiled machine code beside it in ``__pycache__``, so a
second process loads the kernels without compiling.

The folder is ``$SYMGD_CACHE_DIR`` or the per-user cache directory
(``$XDG_CACHE_HOME/symgd`` or ``~/.cache/symgd``); ``python -m symgd cache info`` shows
it and ``python -m symgd cache clear`` empties it.

Robustness (the cache is only ever a cache: whatever is found there, a solve succeeds):

* Integrity. A module's name is a hash of its text (and the versions), so a module file
  is checked by hashing it again; ``<name>.sums`` beside it holds the SHA-256 of each
  of numba's index and data files (``__pycache__/<name>.*.nbi``/``.nbc``) as they were
  after the last successful import. numba itself trusts those files blindly (it
  unpickles them and links the machine code in them). Before an import, a module file
  that fails its hash is rewritten from the source (or, on the warm path that has no
  source, reported as a miss: :class:`CacheCorrupted`), and numba files that do not
  match ``.sums`` are deleted, so numba compiles afresh. Should an import still fail,
  the module's numba files are deleted and it is imported once more from scratch.
* Concurrency. Every file is published by ``os.replace`` (numba does the same for its
  own files), so processes that compile the same new problem at once each see either
  no file or a whole one; at worst they compile it more than once.
* Size. When a new module is written, the least recently used modules (by the time
  of their ``.sums`` file, refreshed at each load, or of the module file) are evicted until at most
  ``$SYMGD_CACHE_MAX_MODULES`` modules (default 500) and ``$SYMGD_CACHE_MAX_MB``
  megabytes (default 500) remain. Modules imported by the running process are kept.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

from symgd.atomic import write_atomically

MODULE_PREFIX = "symgd_k_"
DEFAULT_MAX_MODULES = 500
DEFAULT_MAX_MB = 500.0


class CacheCorrupted(LookupError):
    """A cached module failed its integrity check and no source was given to rebuild it
    (the warm path treats it as a cache miss)."""


def cache_dir() -> Path:
    """The kernel cache folder (created on demand)."""
    env = os.environ.get("SYMGD_CACHE_DIR")
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "symgd"
    path = base / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def limits() -> tuple:
    """(most modules, most bytes) the cache keeps, from the environment or the defaults."""
    def read(name, default, kind):
        try:
            value = kind(os.environ.get(name, default))
        except ValueError:
            return kind(default)
        return value if value > 0 else kind(default)

    return (read("SYMGD_CACHE_MAX_MODULES", DEFAULT_MAX_MODULES, int),
            int(read("SYMGD_CACHE_MAX_MB", DEFAULT_MAX_MB, float) * 1e6))


@functools.lru_cache(maxsize=None)
def _versions() -> str:
    """The versions a generated module depends on, read from the installed packages'
    metadata (so that checking a module on the warm path does not import sympy)."""
    from symgd import __version__

    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            module = sys.modules.get(dist) or __import__(dist)
            return getattr(module, "__version__", "?")

    return (f"symgd={__version__};sympy={version('sympy')};numba={version('numba')};"
            f"numpy={version('numpy')};python={sys.version_info[:3]}")


def source_hash(source: str) -> str:
    return hashlib.sha256((_versions() + "\n" + source).encode()).hexdigest()[:24]


def _intact(name: str, text: str) -> bool:
    """Whether a stored module text is still the one its name was made from."""
    return name == MODULE_PREFIX + source_hash(text)


def _write_atomically(path: Path, text: str) -> None:
    write_atomically(path, text, prefix=".tmp_")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# ------------------------------------------------------------------ numba's files
def _numba_files(name: str, folder: Path | None = None) -> list:
    """numba's index and data files of the module ``name`` (sorted)."""
    pyc = (folder or cache_dir()) / "__pycache__"
    try:
        return sorted(p for p in pyc.glob(f"{name}.*") if p.suffix in (".nbi", ".nbc")
                      and p.is_file())
    except OSError:
        return []


def _digests(files) -> dict:
    out = {}
    for p in files:
        try:
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:  # removed meanwhile (another process, eviction): not ours to vouch
            continue
    return out


def _sums_path(name: str, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{name}.sums"


def _numba_files_ok(name: str) -> bool:
    """Whether numba's files for ``name`` are those recorded after a good import (no
    files at all is fine: numba compiles)."""
    files = _numba_files(name)
    if not files:
        return True
    try:
        recorded = json.loads(_sums_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and _digests(files) == recorded


def _purge_numba_files(name: str) -> None:
    for p in _numba_files(name) + [_sums_path(name)]:
        try:
            p.unlink()
        except OSError:
            pass


def _record_numba_files(name: str) -> None:
    """Remember the digests of numba's files as they are after a good import, and mark
    the module as just used (the ``.sums`` time drives eviction). Best effort; a module
    without compiled functions gets no record."""
    try:
        sums = _sums_path(name)
        files = _numba_files(name)
        if not files:
            if sums.exists():
                sums.unlink()
            return
        text = json.dumps(_digests(files), sort_keys=True)
        if _read_text(sums) == text:
            os.utime(sums)
        else:
            _write_atomically(sums, text)
    except OSError:
        pass


# ------------------------------------------------------------------ loading
def load_module(source: str):
    """Import the module with this source from the cache, writing it first if needed.

    A cached file that is truncated or corrupted is rewritten; numba files that are not
    the ones recorded after the last good import are deleted (numba recompiles); an
    import that fails anyway is retried once from scratch. Writing a new module evicts
    the least recently used ones beyond the size limits (:func:`limits`).
    """
    name = MODULE_PREFIX + source_hash(source)
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    if _read_text(path) != source:
        fresh = not path.exists()
        _purge_numba_files(name)  # compiled from other text (or from nothing we trust)
        _write_atomically(path, source)
        if fresh:
            evict(keep={name})
    return _import(name, path, source)


def import_cached(name: str, path: Path):
    """Import the generated module ``name`` from ``path`` (once per process), for callers
    that know the module by name only (the warm index).

    Raises:
        CacheCorrupted: the file is missing, truncated or altered (a cache miss).
    """
    if name in sys.modules:
        return sys.modules[name]
    text = _read_text(path)
    if text is None or not _intact(name, text):
        _purge_numba_files(name)
        try:
            path.unlink()
        except OSError:
            pass
        raise CacheCorrupted(f"the cached kernel module {path.name} is missing or damaged")
    return _import(name, path, text)


def _import(name: str, path: Path, text: str):
    if not _numba_files_ok(name):
        _purge_numba_files(name)
    try:
        module = _exec(name, path)
    except Exception:  # a damaged numba file numba could not read, a vanished file, ...
        _purge_numba_files(name)
        if _read_text(path) != text:
            _write_atomically(path, text)
        module = _exec(name, path)  # from scratch; a second failure is a real error
    _record_numba_files(name)
    return module


def _exec(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


# ------------------------------------------------------------------ size
def _numba_files_by_module(folder: Path) -> dict:
    """{module name: its numba index and data files}, from one listing of __pycache__
    (a glob per module made every eviction check quadratic: 1.25 s with 500 modules and
    3,000 files, once per new module)."""
    out: dict = {}
    try:
        entries = list(os.scandir(folder / "__pycache__"))
    except OSError:
        return out
    for e in entries:
        if e.name.endswith((".nbi", ".nbc")) and e.is_file():
            out.setdefault(e.name.split(".", 1)[0], []).append(Path(e.path))
    return out


def _modules(folder: Path) -> list:
    """[(last use, bytes, name)] for every module in the cache."""
    out = []
    numba_files = _numba_files_by_module(folder)
    for py in folder.glob(f"{MODULE_PREFIX}*.py"):
        name = py.stem
        files = [py, _sums_path(name, folder)] + numba_files.get(name, [])
        size, used = 0, 0.0
        for p in files:
            try:
                st = p.stat()
            except OSError:
                continue
            size += st.st_size
            if p.suffix in (".sums", ".py"):
                used = max(used, st.st_mtime)
        out.append((used, size, name))
    return out


def evict(*, keep=()) -> int:
    """Delete the least recently used modules until the cache is within :func:`limits`
    (modules in ``keep`` and those imported by this process stay). Returns how many
    were deleted."""
    folder = cache_dir()
    max_modules, max_bytes = limits()
    mods = _modules(folder)
    total = sum(size for _, size, _ in mods)
    if len(mods) <= max_modules and total <= max_bytes:
        return 0
    removed = 0
    count = len(mods)
    for used, size, name in sorted(mods):
        if count <= max_modules and total <= max_bytes:
            break
        if name in keep or name in sys.modules:
            continue
        remove_module(name, folder)
        count -= 1
        total -= size
        removed += 1
    return removed


def remove_module(name: str, folder: Path | None = None) -> None:
    """Delete one module and its compiled code from the cache (best effort)."""
    folder = folder or cache_dir()
    for p in [folder / f"{name}.py", _sums_path(name, folder)] + _numba_files(name, folder):
        try:
            p.unlink()
        except OSError:
            pass


# ------------------------------------------------------------------ commands
def info() -> dict:
    """Where the cache is, how many modules it holds, their size in bytes, and the
    limits it is kept within."""
    path = cache_dir()
    files = [p for p in path.rglob("*") if p.is_file()]
    max_modules, max_bytes = limits()
    size = 0
    for p in files:
        try:
            size += p.stat().st_size
        except OSError:
            pass
    return {"path": str(path), "modules": len(list(path.glob(f"{MODULE_PREFIX}*.py"))),
            "files": len(files), "bytes": size, "max_modules": max_modules,
            "max_bytes": max_bytes}


# Seconds the first solve with a method spends compiling that method's loops after they
# were cleared (measured on 2 cores: `cache clear --all`, then problems/rosenbrock.yaml
# by newton 7.4 s, by gd 7.5 s, problems/fence_fit.yaml by sgd 6.8 s, against ~1 s warm).
LOOP_COMPILE_S = 8


def _numba_user_cache_dir() -> Path:
    """numba's user-wide cache folder (where it caches when ``__pycache__`` beside the
    source is not writable)."""
    try:
        from numba.misc.appdirs import AppDirs
        return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)
    except Exception:  # numba's layout changed: its documented default on Linux
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "numba"


def method_loop_folders() -> list:
    """Every folder where numba may keep the machine code of symgd's own compiled loops
    (the ``cache=True`` functions of the package, e.g. symgd/methods/).

    numba's cache locators (numba.core.caching, "Cache Sharing" in numba's docs) put a
    function's ``.nbi`` index and ``.nbc`` data files in ``__pycache__`` beside its source
    file when that folder is writable, else in numba's user-wide cache folder, and under
    ``$NUMBA_CACHE_DIR`` when it is set; the last two in a subfolder named
    ``<source folder name>_<sha1 of the source folder's absolute path>``.
    """
    root = Path(__file__).resolve().parent.parent
    sources = sorted({p.parent for p in root.rglob("*.py")})
    bases = [Path(os.environ["NUMBA_CACHE_DIR"]).expanduser()] \
        if os.environ.get("NUMBA_CACHE_DIR") else []
    bases.append(_numba_user_cache_dir())
    out = []
    for folder in sources:
        sub = folder.name + "_" + hashlib.sha1(str(folder).encode()).hexdigest()
        out.append(folder / "__pycache__")
        out += [base / sub for base in bases]
    return out


def method_loop_files() -> list:
    """numba's cached machine code for symgd's own loops (``*.nbi``/``*.nbc``), wherever
    numba wrote it (:func:`method_loop_folders`).

    numba checks only the timestamp of the file that defines a cached function, not of
    the helpers it inlines from other files: after editing a helper, clear these.
    """
    files = []
    for folder in method_loop_folders():
        if folder.is_dir():
            files += [p for p in folder.glob("*.nb[ic]") if p.is_file()]
    return sorted(files)


def _sizes(paths) -> int:
    total = 0
    for p in paths:
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def method_loop_info() -> dict:
    """How many files and bytes of compiled method loops are cached, and in which
    folders."""
    files = method_loop_files()
    return {"files": len(files), "bytes": _sizes(files),
            "folders": sorted({str(p.parent) for p in files})}


def clear(*, include_method_loops: bool = False) -> dict:
    """Remove every cached kernel module and its compiled code, and the warm-start index
    beside them; with ``include_method_loops`` also symgd's own compiled method loops
    (rebuilt by the next solve, about :data:`LOOP_COMPILE_S` seconds).

    Returns what the kernel cache held before (:func:`info`), with ``loops``: the
    :func:`method_loop_info` of the loops before, and ``loops_removed``: how many of
    their files were deleted (0 without ``include_method_loops``).
    """
    before = info()
    loops = method_loop_info()
    folder = cache_dir()
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(folder.parent / "index", ignore_errors=True)
    cache_dir()
    removed = 0
    for p in (method_loop_files() if include_method_loops else []):
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    before["loops"] = loops
    before["loops_removed"] = removed
    return before
