"""The expression index: a problem's objective -> its generated kernel module.

A second process that builds the same problem in Python (``symgd.Problem(...)``, then
``symgd.solve``) has sympy already, but deriving and generating code again costs
seconds for a large objective (chained Rosenbrock, 200 variables: ~1.5 s to derive,
and the module's source must exist before its hash names the cached module). This
index maps a hash of what the generated module is made from to the module's name, so
the kernels load straight from the kernel cache (symgd.kernelgen.cache) and numba's.

The key hashes, separated by NULs:

* the index format, :func:`build_stamp` (versions of symgd, sympy, numba, numpy and
  Python, and the size and time of each of symgd's own source files, so an edited
  codegen never meets modules it did not write) and the environment settings that
  change the generated code (``SYMGD_MAX_COMPILE_LINES``, ``SYMGD_DERIVE_BUDGET``);
* ``repr(problem.name)`` (it is written into the module), ``sympy.srepr`` of the
  minimised objective and of the variables' symbols in order (srepr is exact and
  deterministic: it spells out every number and each symbol's assumptions);
* the kernel set asked for: ``need_hessian`` and ``need_line_poly`` as passed to
  ``symgd.solver.compiled``, so a hit loads exactly the module a cold solve with the
  same request would have built (with or without the saddle check's Hessian).

Bounds, starts, constraints and options are left out: they do not enter the kernels
(the solver takes the box and the start from the problem on every solve).

An entry (``<cache>/index/expr/<key>.json``) holds the module's name and what it
contains; a missing, unreadable or stale entry, or a module the kernel cache no longer
has or finds damaged, is a miss. ``symgd cache clear`` removes the index with the
modules. Importing this module loads neither sympy nor numpy.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
import weakref
from pathlib import Path

FORMAT = 1
# Settings read when generating code: a module built under other values may differ.
ENV_SETTINGS = ("SYMGD_MAX_COMPILE_LINES", "SYMGD_DERIVE_BUDGET")


# the kernel set of a method that takes the exact Hessian where it is affordable and
# differences the gradient elsewhere (symgd.solver.compiled's want_hessian)
WANTED = "wanted"


@functools.lru_cache(maxsize=None)
def _versions() -> str:
    import importlib.metadata

    out = []
    for dist in ("symgd", "sympy", "numba", "numpy", "PyYAML"):
        try:
            out.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist}=?")
    out.append("python=" + ".".join(map(str, sys.version_info[:3])))
    return ";".join(out)


@functools.lru_cache(maxsize=None)
def _code_stamp() -> str:
    """Size and modification time of every symgd source file (once per process: the
    code running is the code that was imported)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        try:
            st = p.stat()
        except OSError:
            continue
        h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_stamp() -> str:
    """What any generated or indexed artefact depends on besides the problem itself:
    versions, symgd's own sources and the code-generation settings of the environment.
    Shared with the file index (symgd.warm)."""
    env = ";".join(f"{k}={os.environ.get(k, '')}" for k in ENV_SETTINGS)
    return f"{_versions()}|{_code_stamp()}|{env}"


def index_dir(kind: str | None = None) -> Path:
    """``<cache>/index`` (the file index, symgd.warm) or ``<cache>/index/<kind>``
    (created on demand), beside the kernel modules, so that ``symgd cache clear``
    removes it with them."""
    from symgd.kernelgen.cache import cache_dir

    d = cache_dir().parent / "index"
    if kind:
        d = d / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


# srepr of a large objective costs tens of ms: once per Problem object (frozen), for the
# lookup and the record after a miss.
_SREPR: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _problem_digest(problem) -> str:
    try:
        return _SREPR[problem]
    except (KeyError, TypeError):
        pass
    import sympy

    h = hashlib.sha256()
    # order="none": the arguments in sympy's own canonical order, as stored; printing
    # them sorted costs seconds on a sum of thousands of terms (n = 3,000: 3 s vs 0.08 s)
    for part in (repr(problem.name), sympy.srepr(problem.minimized_objective(), order="none"),
                 sympy.srepr(tuple(problem.symbols), order="none")):
        h.update(part.encode())
        h.update(b"\0")
    digest = h.hexdigest()
    try:
        _SREPR[problem] = digest
    except TypeError:  # not weakly referenceable: computed each time
        pass
    return digest


def problem_key(problem, need_hessian, need_line_poly: bool) -> str:
    """The index key of a (non-data) sympy Problem and a kernel set; ``need_hessian``
    True, False or WANTED (the Hessian where affordable: auglag, sqp)."""
    hess = WANTED if need_hessian == WANTED else bool(need_hessian)
    h = hashlib.sha256()
    for part in (f"expr-index {FORMAT}", build_stamp(), _problem_digest(problem),
                 f"hessian={hess};line_poly={bool(need_line_poly)}"):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def load_kernels(module_name: str, n: int):
    """The Kernels of the cached module ``module_name`` (``n`` variables), or None when
    the cache no longer has it intact (symgd.kernelgen.cache.CacheCorrupted)."""
    from symgd.kernelgen.cache import CacheCorrupted, MODULE_PREFIX, cache_dir, import_cached
    from symgd.kernelgen.kernels import kernels_from_module

    if not (isinstance(module_name, str) and module_name.startswith(MODULE_PREFIX)
            and module_name[len(MODULE_PREFIX):].isalnum()):
        return None  # not a name this cache gives (a damaged entry): never a path
    t0 = time.perf_counter()
    try:
        module = import_cached(module_name, cache_dir() / f"{module_name}.py")
    except CacheCorrupted:
        return None
    return kernels_from_module(module, n, time.perf_counter() - t0)


def lookup(problem, need_hessian: bool, need_line_poly: bool):
    """The kernels a cold ``compiled(problem, need_hessian=..., need_line_poly=...)``
    built for this problem earlier, loaded from the cache; None on a miss.

    Returns what :func:`symgd.kernelgen.kernels.kernels_from_module` returns.
    """
    try:
        key = problem_key(problem, need_hessian, need_line_poly)
        entry = json.loads((index_dir("expr") / f"{key}.json").read_text(encoding="utf-8"))
        n = len(problem.symbols)
        if not (isinstance(entry, dict) and entry.get("format") == FORMAT
                and entry.get("key") == key and entry.get("n") == n):
            return None
        k = load_kernels(entry["module"], n)
    except Exception:  # a cache: an unreadable entry or module is a miss, never an error
        return None
    if k is None or k.has_hessian != bool(entry.get("has_hessian")) or \
            bool(k.line_poly) != bool(entry.get("line_poly")):
        return None
    return k


def record(problem, kernels, need_hessian: bool, need_line_poly: bool) -> None:
    """Remember that ``kernels`` are this problem's for this kernel set (best effort:
    failing to write the index never fails a solve)."""
    try:
        key = problem_key(problem, need_hessian, need_line_poly)
        entry = {"format": FORMAT, "key": key, "module": kernels.module_name,
                 "n": int(kernels.n), "has_hessian": bool(kernels.has_hessian),
                 "line_poly": bool(kernels.line_poly)}
        from symgd.atomic import write_atomically
        write_atomically(index_dir("expr") / f"{key}.json", json.dumps(entry),
                         prefix=".tmp_")
    except Exception:  # a cache: failing to write it must not fail the solve
        pass
