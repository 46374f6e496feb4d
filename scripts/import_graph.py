"""Count import cycles and lazy (function-level) imports inside a package.

Usage: python scripts/import_graph.py [PACKAGE_DIR]   (default: pruning_core)

Prints the strongly connected components of the module import graph that have more
than one module (each is an import cycle), and every import statement found inside a
function body (a lazy import). Exits 1 when there is a cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(tree: ast.AST, current: str, is_package: bool, known: set[str]):
    """Yield (target module, lineno, lazy) for every import of a known module."""
    lazy_lines: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(fn):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    lazy_lines.add(inner.lineno)
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, current, is_package)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != current:
                yield target, node.lineno, node.lineno in lazy_lines
                break


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            result.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return result


# The engine's layers, bottom first: a package may import only from its own layer or below.
LAYERS = [
    {
        "errors",
        "registry",
        "structure",
        "yaml_input",
        "recipe",
        "environment",
        "output_paths",
        "data_config",
        "threads",
    },
    {"latency", "models"},
    {"masks"},
    {"criteria"},
    {"structures"},
    {"allocation", "compression", "formats"},
    {"pruning"},
    {"sensitivity"},
    {"pipeline"},
    {"bench", "runs"},
    {"cli", "cli_support", "cli_measure", "__init__"},
]


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return next((i for i, layer in enumerate(LAYERS) if top in layer), None)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a package from a higher layer (or of an unlayered package)."""
    found = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            low, high = layer_of(source), layer_of(target)
            if low is None or high is None or high > low:
                found.append(f"{source} -> {target}")
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "pruning_core").resolve()
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {name: set() for name in files}
    lazy: list[str] = []
    for name, path in sorted(files.items()):
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, line, is_lazy in imported_modules(tree, name, path.stem == "__init__", known):
            # A package's __init__ importing its own submodules is not a dependency cycle.
            if target.startswith(name + ".") and path.stem == "__init__":
                continue
            graph[name].add(target)
            if is_lazy:
                lazy.append(f"{path.relative_to(root.parent)}:{line} -> {target}")
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    print(f"modules: {len(files)}")
    print(f"import cycles (strongly connected groups of >1 module): {len(cycles)}")
    for cycle in cycles:
        print(f"  {len(cycle)} modules: {', '.join(cycle)}")
    print(f"lazy imports of package modules: {len(lazy)}")
    for line in lazy:
        print(f"  {line}")
    upward = upward_imports(graph)
    print(f"imports from a higher layer: {len(upward)}")
    for line in upward:
        print(f"  {line}")
    return 1 if cycles or upward else 0


if __name__ == "__main__":
    sys.exit(main())
