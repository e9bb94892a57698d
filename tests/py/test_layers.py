"""One room per layer: no Chromaluma module imports, directly or through others, a module that imports it back.

Import circles hide which layer depends on which (and break as soon as one side imports at module level); the
check reads every module's imports, including those inside functions and TYPE_CHECKING blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "pybackend"


def module_imports(root: Path) -> dict[str, set[str]]:
    """Every chromaluma module → the chromaluma modules it imports (a name imported from a package counts as its
    submodule when there is one, else as the package)."""
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chromaluma"):
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
                edges[name] |= submodules or ({node.module} & modules.keys())
            elif isinstance(node, ast.Import):
                edges[name] |= {alias.name for alias in node.names} & modules.keys()
    return edges


def circles(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(a, b) for every import a → b from which a can be reached again (the package root excluded)."""

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current in seen or current == "chromaluma":
                continue
            seen.add(current)
            todo.extend(edges.get(current, ()))
        return False

    return sorted((a, b) for a, targets in edges.items() for b in targets if b != "chromaluma" and reaches(b, a))


def test_no_module_imports_itself_back() -> None:
    edges = module_imports(PACKAGE_ROOT)
    assert "chromaluma.backend.restore" in edges, "the package was not found"
    assert circles(edges) == []


def test_a_circle_is_found(tmp_path: Path) -> None:
    package = tmp_path / "chromaluma"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "scan.py").write_text("def f():\n    from chromaluma.reference import g\n")
    (package / "reference.py").write_text("from chromaluma import scan\n")
    (package / "matte.py").write_text("from chromaluma.scan import f\n")
    assert circles(module_imports(tmp_path)) == [("chromaluma.reference", "chromaluma.scan"),
                                                 ("chromaluma.scan", "chromaluma.reference")]
