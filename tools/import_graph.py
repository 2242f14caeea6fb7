"""Print the import graph of the product's packages and fail on a cycle or a wrong direction.

Why: the layering (models → warehouse → connectors and reports → pipelines → command line) is
what lets a connector or a metric be tested without Dagster, and a cycle is where a newcomer
stops understanding what loads what. The rule is checked on every import a module makes, at
the top or inside a function (a lazy import still couples the two modules), except those under
`if TYPE_CHECKING:`. Stdlib `ast` only: nothing is imported, so a broken module still gets a
graph.

Usage: `python tools/import_graph.py [--modules]` from the repository root. Exit 0 when the
graph is clean, 1 with one line per offending import or cycle. docs/architecture.md explains
the layers.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "warehouse", "connectors", "reports", "sandbox", "pipelines", "flowmetrics")

#: Layer -> the layers it may import (besides itself). The sandbox is a stand-alone simulator:
#: it imports no product code, and only the command line (the demo) uses it.
ALLOWED: dict[str, frozenset[str]] = {
    "models": frozenset(),
    "sandbox": frozenset(),
    "warehouse": frozenset({"models"}),
    "connectors": frozenset({"models", "warehouse"}),
    "reports": frozenset({"models", "warehouse"}),
    "pipelines": frozenset({"models", "warehouse", "connectors", "reports"}),
    "cli": frozenset({"models", "warehouse", "connectors", "reports", "pipelines", "sandbox"}),
}

#: Third-party packages a layer must not import: the lower layers stay free of Dagster.
FORBIDDEN_THIRD_PARTY: dict[str, frozenset[str]] = {
    "models": frozenset({"dagster"}),
    "warehouse": frozenset({"dagster"}),
    "connectors": frozenset({"dagster"}),
}

#: Package-level edges that are legal by layer but would make a package cycle, reported on
#: every run and never an error. None left: exports and the report live in `reports/`.
TOLERATED_PACKAGE_EDGES: frozenset[tuple[str, str]] = frozenset()


def layer(module: str) -> str:
    top = module.split(".")[0]
    return "cli" if top == "flowmetrics" else top


def discover(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every module of the product's packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path) -> Iterable[tuple[str, int]]:
    """(imported name, line) for each import in the file, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_lines(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # `from pkg import mod` or a name
            yield base, node.lineno


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The product module an imported name lives in (longest known prefix), else None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def module_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges between product modules, and third-party imports a layer must not make."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    forbidden: list[str] = []
    for module, path in modules.items():
        for name, line in imports_of(module, path):
            target = resolve(name, modules)
            if target is None:
                banned = FORBIDDEN_THIRD_PARTY.get(layer(module), frozenset())
                if name.split(".")[0] in banned:
                    forbidden.append(f"{path}:{line}: {module} imports {name}")
                continue
            if target != module and not module.startswith(target + "."):
                graph[module].add(target)  # a package's own __init__ is not a dependency
    return graph, sorted(set(forbidden))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def collapse(graph: dict[str, set[str]], key) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        out[key(source)]
        for target in targets:
            if key(source) != key(target):
                out[key(source)].add(key(target))
    return dict(out)


def check(root: Path = ROOT, *, show_modules: bool = False, out=sys.stdout) -> int:
    modules = discover(root)
    graph, forbidden = module_graph(modules)
    problems: list[str] = list(forbidden)

    layers = collapse(graph, layer)
    packages = collapse(graph, lambda m: m.split(".")[0])
    print("layers (may import):", file=out)
    for name in ALLOWED:
        print(f"  {name:10} -> {', '.join(sorted(layers.get(name, ()))) or '-'}", file=out)
    print("packages:", file=out)
    for name in PACKAGES:
        print(f"  {name:11} -> {', '.join(sorted(packages.get(name, ()))) or '-'}", file=out)
    if show_modules:
        print("modules:", file=out)
        for module in sorted(graph):
            print(f"  {module} -> {', '.join(sorted(graph[module])) or '-'}", file=out)

    for module in sorted(graph):
        for target in sorted(graph[module]):
            src, dst = layer(module), layer(target)
            if src != dst and dst not in ALLOWED[src]:
                problems.append(f"wrong direction: {module} ({src}) imports {target} ({dst})")
    for component in cycles(graph):
        problems.append("module cycle: " + " <-> ".join(component))
    for component in cycles(layers):
        problems.append("layer cycle: " + " <-> ".join(component))
    strict = {
        a: {b for b in bs if (a, b) not in TOLERATED_PACKAGE_EDGES} for a, bs in packages.items()
    }
    for component in cycles(strict):
        problems.append("package cycle: " + " <-> ".join(component))
    for source, target in sorted(TOLERATED_PACKAGE_EDGES):
        users = sorted(
            f"{m} -> {t}"
            for m in graph
            for t in graph[m]
            if m.split(".")[0] == source and t.split(".")[0] == target
        )
        if users:
            print(
                f"tolerated for now ({source} -> {target}): " + "; ".join(users),
                file=out,
            )

    for problem in problems:
        print("FAIL " + problem, file=out)
    print("import graph: " + ("clean" if not problems else f"{len(problems)} problem(s)"), file=out)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="also print every module's edges")
    args = parser.parse_args(argv)
    return check(show_modules=args.modules)


if __name__ == "__main__":
    sys.exit(main())
