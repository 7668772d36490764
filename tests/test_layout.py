"""The shape of the house (README "How it works"): every module short, no import circle.

Both are checked on the source, statically: ``TYPE_CHECKING`` imports count too, so
that a circle cannot hide behind them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "imgsvc"
MAX_LINES = 300


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The imgsvc modules ``path`` imports, resolved to module names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("imgsvc")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("imgsvc"):
                continue
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path) if m in modules} - {name} for name, path in modules.items()
    }


def test_no_module_is_longer_than_300_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_circle() -> None:
    graph = _graph()

    # A package's __init__ re-exporting its own modules is not a circle: only edges
    # from a module to a module outside its own package's __init__ chain count.
    def edges(name: str) -> set[str]:
        return {m for m in graph[name] if not name.startswith(m + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for nxt in edges(name):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_the_rooms_exist() -> None:
    rooms = {"pipeline", "storage", "describe", "runtime", "web", "cli", "bulk"}
    assert rooms <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    for module in ("receive", "decode", "colour", "orient", "plan", "resize", "encode"):
        assert (PACKAGE / "pipeline" / f"{module}.py").is_file()
    for module in ("base", "file", "s3", "keys", "sets", "janitor"):
        assert (PACKAGE / "storage" / f"{module}.py").is_file()
