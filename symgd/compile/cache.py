"""The on-disk cache of generated kernel modules.

A module is named by a hash of its source and of the sympy, numba, numpy, Python and
symgd versions, written to a temporary file and published with ``os.replace`` so that
a process never imports half a file, then imported by name. numba's own cache
(``cache=True``) keeps the compiled machine code beside it in ``__pycache__``, so a
second process loads the kernels without compiling.

The folder is ``$SYMGD_CACHE_DIR`` or the per-user cache directory
(``$XDG_CACHE_HOME/symgd`` or ``~/.cache/symgd``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

MODULE_PREFIX = "symgd_k_"


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


def _versions() -> str:
    import numba
    import numpy
    import sympy

    from symgd import __version__

    return (f"symgd={__version__};sympy={sympy.__version__};numba={numba.__version__};"
            f"numpy={numpy.__version__};python={sys.version_info[:3]}")


def source_hash(source: str) -> str:
    return hashlib.sha256((_versions() + "\n" + source).encode()).hexdigest()[:24]


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_module(source: str):
    """Import the module with this source from the cache, writing it first if needed.

    A cached file whose text differs from ``source`` (truncated or corrupted) is
    rewritten; numba's own index detects the changed file and recompiles.
    """
    name = MODULE_PREFIX + source_hash(source)
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != source:
        _write_atomically(path, source)
    return import_cached(name, path)


def import_cached(name: str, path: Path):
    """Import the generated module ``name`` from ``path`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def info() -> dict:
    """Where the cache is, how many modules it holds and their size in bytes."""
    path = cache_dir()
    files = [p for p in path.rglob("*") if p.is_file()]
    return {"path": str(path), "modules": len(list(path.glob(f"{MODULE_PREFIX}*.py"))),
            "files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def package_cache_files() -> list:
    """numba's cached machine code for symgd's own method loops (``*.nbi``/``*.nbc``).

    numba checks only the timestamp of the file that defines a cached function, not of
    the helpers it inlines from other files: after editing a helper, clear these.
    """
    root = Path(__file__).resolve().parent.parent
    return [p for p in root.rglob("*.nb[ic]") if p.is_file()]


def clear(*, include_method_loops: bool = False) -> dict:
    """Remove every cached kernel module and its compiled code; with
    ``include_method_loops`` also symgd's own compiled method loops (they are rebuilt on
    next use, ~10 s). Returns what the kernel cache held before."""
    before = info()
    shutil.rmtree(cache_dir(), ignore_errors=True)
    cache_dir()
    for p in (package_cache_files() if include_method_loops else []):
        try:
            p.unlink()
        except OSError:
            pass
    return before
