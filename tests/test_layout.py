"""The package's structure: no import circles, no private names across modules, and
the stages below the views, the investigator's objects and the weekly report.

Imports are read from the source with ``ast`` at every level (module top, inside
functions, under ``TYPE_CHECKING``): a circle hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import igraph as ig

PACKAGE = Path(__file__).resolve().parent.parent / "sybilgraph"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    """Each module's imports of other modules of the package, and every private name
    one module takes from another (as ``module:line name from other``)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[tuple[str, str | None]] = []
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.append((sub if sub in modules else node.module, alias.name))
            for target, name in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if not target or target == module:
                    continue
                graph[module].add(target)
                if name and name.startswith("_") and not name.startswith("__"):
                    private.append(f"{module}:{node.lineno} {name} from {target}")
    return graph, private


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others."""
    names = sorted(graph)
    index = {name: i for i, name in enumerate(names)}
    edges = [(index[a], index[b]) for a in names for b in graph[a] if a != "sybilgraph"]
    # the package root imports its public names lazily, by name; it is above everything
    directed = ig.Graph(n=len(names), edges=edges, directed=True)
    return [
        sorted(names[i] for i in part)
        for part in directed.connected_components(mode="strong")
        if len(part) > 1
    ]


def test_circles_are_found() -> None:
    # a -> b -> c -> a is one circle; d imports a and stands outside it
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    graph, _ = _imports()
    assert _circles(graph) == []


def test_no_private_names_across_modules() -> None:
    _, private = _imports()
    assert private == []


def test_stages_import_no_layer_above_them() -> None:
    graph, _ = _imports()
    above = ("sybilgraph.views", "sybilgraph.investigate", "sybilgraph.report")
    above += ("sybilgraph.pipeline", "sybilgraph.api", "sybilgraph.cli", "sybilgraph.synth")
    wrong = {
        module: sorted(t for t in targets if t.startswith(above))
        for module, targets in graph.items()
        if module.startswith(("sybilgraph.stages", "sybilgraph.engines"))
    }
    assert {m: t for m, t in wrong.items() if t} == {}


def test_the_pipeline_knows_nothing_of_the_investigators_objects() -> None:
    graph, _ = _imports()
    assert sorted(t for t in graph["sybilgraph.pipeline"] if ".investigate" in t) == []
