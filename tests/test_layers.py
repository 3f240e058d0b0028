"""The layer rule of DESIGN §1, read from the source: model is pure; nothing imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import omniorder

PACKAGE = Path(omniorder.__file__).parent

# What each layer may import from omniorder (besides itself).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "allocation": {"model"},
    # Stores encode values with the one converter (serialization imports only model).
    "stores": {"model", "serialization"},
    # The public test helpers sit on top of everything but the CLI ("" is the package root).
    "testing": {"", "model", "stores", "engine", "serialization", "errors", "allocation"},
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


def test_each_layer_imports_only_the_layers_below_it() -> None:
    broken = []
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer in ALLOWED:
            broken += [
                f"{path.relative_to(PACKAGE)} imports {name}"
                for name in _violations(layer, _imports(path))
            ]
    assert broken == []


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
