"""The layer rule of DESIGN §1, read from the source: every layer imports only those below it,
the model is pure, nothing imports the CLI, and no module imports itself through others."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import omniorder

PACKAGE = Path(omniorder.__file__).parent

# What each layer may import from omniorder (besides itself): DESIGN §1. Every module and folder
# at the top of the package is a layer and must be listed ("" is the package root).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "errors": {"model"},  # the public error tree, re-exported
    "allocation": {"model"},
    # The one converter: every public value, plans included.
    "serialization": {"model", "allocation"},
    "stores": {"model", "serialization"},
    "service": {"model", "allocation", "stores", "serialization"},
    "engine": {"service", "model", "allocation", "stores"},
    "metrics": {"model"},
    "simulate": {"engine", "model", "allocation", "stores"},
    "": {"engine", "errors", "model", "stores", "allocation", "serialization"},
    # The public test helpers sit on top of everything but the CLI.
    "testing": {"", "model", "stores", "engine", "serialization", "errors", "allocation"},
    # The command line, on top of everything.
    "_cli": {"engine", "metrics", "model", "serialization", "simulate", "stores", "allocation"},
    "cli": {"_cli", "stores", "model"},
    "__main__": {"cli"},
}

FORBIDDEN_IN_MODEL = {
    "os",
    "sqlite3",
    "socket",
    "time",
    "random",
    "threading",
    "logging",
    "subprocess",
    "pathlib",
    "psycopg",
    "urllib",
    "http",
}


def _imports(path: Path) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.append(node.module)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(layer: str, imported: list[str]) -> list[str]:
    """The omniorder modules in ``imported`` that ``layer`` may not import."""
    return [
        name
        for name in imported
        if name.split(".")[0] == "omniorder"
        and _layer(name) != layer
        and _layer(name) not in ALLOWED[layer]
    ]


def _layer_of(path: Path) -> str:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return "" if top == "__init__" else top


def test_every_part_of_the_package_is_a_declared_layer() -> None:
    assert {_layer_of(path) for path in PACKAGE.rglob("*.py")} == set(ALLOWED)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    broken = []
    for path in PACKAGE.rglob("*.py"):
        layer = _layer_of(path)
        broken += [
            f"{path.relative_to(PACKAGE)} imports {name}"
            for name in _violations(layer, _imports(path))
        ]
    assert broken == []


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> nx.DiGraph[str]:
    """Module -> the package's modules it imports (``from a import b`` is ``a.b`` when b is a
    module; type-checking imports included)."""
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{up}.{base}" if base else up
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: nx.DiGraph[str]) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    """The checker itself must be able to fail."""
    graph = _import_graph()
    graph.add_edge("omniorder.service.context", "omniorder.engine")
    assert ["omniorder.engine", "omniorder.service.context"] in [
        [m for m in c if m in {"omniorder.engine", "omniorder.service.context"}]
        for c in _cycles(graph)
    ]


def test_the_model_does_no_io_and_reads_no_clock() -> None:
    offenders = []
    for path in (PACKAGE / "model").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN_IN_MODEL:
                offenders.append(f"{path.name} imports {name}")
        source = path.read_text(encoding="utf-8")
        if "datetime.now(" in source and path.name != "clock.py":
            offenders.append(f"{path.name} reads the clock")
    assert offenders == []


def test_nothing_imports_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name in {"cli.py", "__main__.py"}:
            continue
        assert "omniorder.cli" not in _imports(path), path


def test_the_rule_checker_sees_a_violation() -> None:
    """The checker itself must be able to fail."""
    assert _violations("model", ["omniorder.engine", "omniorder.model.values", "attrs"]) == [
        "omniorder.engine"
    ]
    assert _violations("stores", ["omniorder.allocation.flow"]) == ["omniorder.allocation.flow"]
    assert "omniorder.model" in _imports(PACKAGE / "engine.py")
