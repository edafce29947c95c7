"""Import layers: ersattning's packages import downwards only (register → products → pricing →
statements → store, jobs → trace, export → core → interfaces), and no module or package imports itself back through others.

Every `import` counts, those inside functions too (a late import is still a dependency). To see the
graph: `python tests/health/test_layers.py` prints each package's imports, layer by layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "ersattning"

# One line per layer, lowest first. A unit (a package or top-level module of ersattning) may
# import units of its own layer or of lower ones; inside a layer the cycle tests keep it one-way.
LAYERS = [
    {"errors", "ids", "lines", "money", "period", "region"},  # values, refusals, the line schema, region codes
    {"engine", "inputs", "rulebook", "synth"},  # the table engine, master data, rule parameters, synthetic regions
    {"register"},                               # the contact register (GVR): intake, event log, current view
    {"products"},                               # contacts and listings → product codes (ERSMO)
    {"pricing"},                                # product codes → prices (HEJ)
    {"statements"},                             # a month's and a year's lines and statements (VF)
    {"store", "jobs"},                          # the database: inputs, computed, issued and adjusted months; job history
    {"export", "trace"},                        # VF's files of a stored month; AF: the paying expressions, filtered
    {"core"},                                   # the one entry point: a database and the rulebook that applies
    {"whatif"},                                 # one hypothetical case priced by the core on inputs of its own
    {"analysis", "api", "bench", "cli", "demo", "remote", "spark", "spark_bench"},  # interfaces over all of the above
]

# Imports that go upwards today, each with the issue that removes it. A line whose import is gone
# fails test_no_stale_upward_allowance: delete it then.
UPWARD_ALLOWED: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name → (file, is a package's __init__)."""
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module an imported dotted name lives in (a name imported from a module is the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path, package: bool):
    """(imported module, line) for every import of ersattning's own modules in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                base = name.split(".")[: None if package else -1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from a import b`: b is a submodule or a name in a
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module for alias in node.names]
        else:
            continue
        for target in targets:
            if target == ROOT or target.startswith(ROOT + "."):
                owner = _owner(target)
                if owner and owner != name:
                    yield owner, node.lineno


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC)}:{line}"


def module_graph() -> dict[str, dict[str, str]]:
    """module → {imported module: where (the first such import)}."""
    graph: dict[str, dict[str, str]] = {}
    for name, (path, package) in MODULES.items():
        graph[name] = {}
        for target, line in _imports(name, path, package):
            graph[name].setdefault(target, _where(path, line))
    return graph


def unit(module: str) -> str:
    """The package or top-level module of ersattning a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def unit_graph() -> dict[str, dict[str, str]]:
    """unit → {imported unit: where (the first such import)}; imports inside a unit left out."""
    graph: dict[str, dict[str, str]] = {}
    for module, targets in sorted(module_graph().items()):
        imported = graph.setdefault(unit(module), {})
        for target, where in targets.items():
            if unit(target) != unit(module):
                imported.setdefault(unit(target), where)
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[str]:
    """One cycle per strongly connected component of more than one node, as `a -> b (where) -> a (where)`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(v: str) -> None:  # Tarjan; the graphs are small (about a hundred modules)
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_through(graph, component) for component in components]


def _cycle_through(graph: dict[str, dict[str, str]], component: set[str]) -> str:
    """The shortest cycle from the component's first node back to it (breadth first)."""
    start = min(component)
    came_from: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                path.reverse()
                steps = [start] + [f"{b} ({graph[a][b]})" for a, b in zip(path, path[1:] + [start])]
                return " -> ".join(steps)
            if w in component and w not in came_from and w != start:
                came_from[w] = v
                todo.append(w)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component always has one


def layer_of(name: str) -> int | None:
    return next((i for i, units in enumerate(LAYERS) if name in units), None)


def test_no_import_cycle_between_modules():
    found = cycles(module_graph())
    assert not found, "modules that import each other (move what both need into a module both import):\n  " + \
        "\n  ".join(found)


def test_no_import_cycle_between_packages():
    found = cycles(unit_graph())
    assert not found, "packages that import each other:\n  " + "\n  ".join(found)


def test_every_package_has_a_layer():
    units = {unit(m) for m in MODULES} - {ROOT}
    missing = sorted(u for u in units if layer_of(u) is None)
    gone = sorted(set().union(*LAYERS) - units)
    assert not missing, f"packages or top-level modules in no layer of LAYERS (add them): {missing}"
    assert not gone, f"LAYERS names what no longer exists: {gone}"


def test_imports_go_downwards():
    upward = [f"{source} (layer {layer_of(source)}) imports {target} (layer {layer_of(target)}) at {where}"
              for source, targets in unit_graph().items() if source != ROOT
              for target, where in targets.items()
              if target != ROOT and layer_of(target) > layer_of(source) and (source, target) not in UPWARD_ALLOWED]
    assert not upward, "imports from a lower layer to a higher one:\n  " + "\n  ".join(upward)


def test_no_stale_upward_allowance():
    graph = unit_graph()
    stale = [pair for pair in UPWARD_ALLOWED if pair[1] not in graph.get(pair[0], {})]
    assert not stale, f"UPWARD_ALLOWED allows imports that are gone (delete these lines): {stale}"


def test_imports_inside_functions_are_counted():
    # cli imports api, bench and demo only inside its commands; the graph must still see them.
    assert {"api", "bench", "demo"} <= set(unit_graph()["cli"])


if __name__ == "__main__":
    graph = unit_graph()
    for number, units in enumerate(LAYERS):
        print(f"layer {number}")
        for name in sorted(units):
            print(f"  {name:<11} -> {', '.join(sorted(graph.get(name, {}))) or '-'}")
    print("cycles between modules:", cycles(module_graph()) or "none")
    print("cycles between packages:", cycles(unit_graph()) or "none")
