"""The import graph of gsdf_ros, read from the source with ast: no circles, and the live path
reaches no training, evaluation or dataset code.

An edge A -> B means module A imports B anywhere in its body (inside functions too): importing
``gsdf_ros.x.y`` also runs the package ``gsdf_ros.x``, so that is an edge as well unless A lives
inside ``gsdf_ros.x`` (then the package is already being imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "gsdf_ros"
LIVE = ("gsdf_ros.predictor", "gsdf_ros.gsdf_predictor", "gsdf_ros.inference", "gsdf_ros.reconstruction",
        "gsdf_ros.frames", "gsdf_ros.nodes.inference_node", "gsdf_ros.nodes.preprocess_node",
        "gsdf_ros.nodes.outputs_node")
OFFLINE = ("gsdf_ros.train", "gsdf_ros.evaluate", "gsdf_ros.data.dataset")


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by the name of its ``__init__``)."""
    found = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = ("gsdf_ros", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """The dotted names of gsdf_ros modules (and names in them) that a module imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.update(f"{module}.{alias.name}" for alias in node.names)
            out.add(module)
    return {n for n in out if n == "gsdf_ros" or n.startswith("gsdf_ros.")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the gsdf_ros modules importing it runs (packages on the way included)."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own_packages = {name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)}
        targets = set()
        for imported in imported_names(name, path):
            parts = imported.split(".")
            for k in range(2, len(parts) + 1):
                prefix = ".".join(parts[:k])
                if prefix in modules and prefix not in own_packages:
                    targets.add(prefix)
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def reachable(graph: dict[str, set[str]], starts: tuple[str, ...]) -> set[str]:
    """Every module importing ``starts`` runs, the starts included."""
    seen, todo = set(), list(starts)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def unit_of(module: str) -> str:
    """The top-level unit of a module: its subpackage (``gsdf_ros.data``) or its own name."""
    return ".".join(module.split(".")[:2])


def test_no_module_imports_itself_through_others() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import circle: {' -> '.join(cycle)}"


def test_no_circle_between_subpackages_and_top_level_modules() -> None:
    units: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        units.setdefault(unit_of(module), set()).update(unit_of(t) for t in targets if unit_of(t) != unit_of(module))
    units.pop("gsdf_ros", None)  # the root package holds only the version
    cycle = find_cycle(units)
    assert cycle is None, f"circle between parts of the package: {' -> '.join(cycle)}"


def test_live_path_reaches_no_training_evaluation_or_dataset_code() -> None:
    graph = import_graph()
    assert set(LIVE) <= set(graph)
    assert sorted(reachable(graph, LIVE) & set(OFFLINE)) == []


def test_the_graph_sees_lazy_and_package_imports() -> None:
    graph = import_graph()
    assert "gsdf_ros.gsdf_predictor" in graph["gsdf_ros.predictor"]  # imported inside a function
    assert "gsdf_ros.data" in graph["gsdf_ros.synth.generate"]  # the package runs before its module
    assert "gsdf_ros.data" not in graph["gsdf_ros.data.layout"]  # ... but not for its own modules
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
