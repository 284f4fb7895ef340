"""The house's structure (issue 11): modules that fit in a head, imports that point one
way, no import circle, and the registry as the only dispatch."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "symgd"
MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool) -> set:
    """symgd modules ``path`` imports (at module level only, if asked)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("symgd")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("symgd"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    known = {_name(p) for p in MODULES}
    return {m for m in found if m in known}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500


def test_no_import_circle_at_module_level():
    graph = {_name(p): _imports(p, top_level_only=True) - {_name(p)} for p in MODULES}
    # a package importing its own submodules is how packages re-export: not a circle
    for pkg in graph:
        graph[pkg] = {m for m in graph[pkg] if not m.startswith(pkg + ".")}
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == "open":
                raise AssertionError(" -> ".join(stack + [m, dep]))
            if dep not in state:
                visit(dep, stack + [m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_io_does_not_import_the_problem():
    for path in (ROOT / "io").glob("*.py"):
        assert "symgd.problem" not in _imports(path, top_level_only=False), path.name


def test_lower_layers_do_not_import_the_solver():
    lower = [p for p in MODULES if _name(p).split(".")[1:2] in (["io"], ["kernelgen"], ["fit"],
                                                                ["methods"], ["analytic"])]
    for path in lower:
        used = _imports(path, top_level_only=False)
        assert not any(m in ("symgd.solver", "symgd.cli", "symgd.verifier") for m in used), \
            path


def test_no_module_reads_another_modules_private_names():
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("symgd") and node.module != _name(path):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")]
                assert not private, (path.name, node.module, private)
