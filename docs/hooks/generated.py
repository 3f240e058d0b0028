"""MkDocs hook: the parts of the site that are generated, so the docs cannot drift from the code.

Each marker below, an HTML comment on a line of its own in a page, is replaced while the site is
built (``on_page_markdown``), before the Markdown is rendered:

``<!-- readme: SECTION -->``
    The README section with that ``##`` heading, heading included; ``intro`` is the text between
    the title and the first section. ``<!-- readme: SECTION | TEXT -->`` takes only the
    paragraph of the section that contains ``TEXT``. The README stays the one source.
``<!-- table: reservation -->`` (or ``return``, ``order``)
    The state table's own Mermaid diagram, ``Table.mermaid()``. A ```` ```mermaid ```` block right
    after the marker (kept so that the page also reads well on GitHub) is replaced, and a warning
    (an error under ``--strict``) says when it no longer matches the table.
``<!-- transitions: reservation -->`` (or ``return``, ``order``)
    The same table as a Markdown table of transitions.
``<!-- effects -->``
    Every ledger movement kind and its effect on the position counters, from ``EFFECTS``.
``<!-- json: enums -->``, ``<!-- json: values -->``, ``<!-- json: events -->``
    Every enumeration's values; the public values and every event class, each with a JSON
    example made by ``omniorder.serialization.converter`` from a real engine run (see
    ``omniorder_samples.py``).
``<!-- api-if-present: MODULE -->``
    ``::: MODULE`` (mkdocstrings) when the module exists, else a note that it is not there yet.

Code spans naming a test as ``path/to/file.py::Class::test_name`` are checked: the file must
exist and define every name, or the build warns. An unknown marker warns too.
"""

from __future__ import annotations

import ast
import functools
import html
import importlib.util
import inspect
import json
import re
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import attrs
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from omniorder_samples import Sample, events, values

from omniorder import (
    Capability,
    Channel,
    Condition,
    Disposition,
    LocationKind,
    Mode,
    OrderStatus,
    ReservationState,
    ReturnState,
)
from omniorder.model.machine import Table
from omniorder.model.order_table import ORDER_TABLE
from omniorder.model.position import COUNTERS, EFFECTS, MovementKind
from omniorder.model.reservation import RESERVATION_TABLE
from omniorder.model.returns import RETURN_TABLE
from omniorder.serialization import unstructure

log = get_plugin_logger("omniorder")

ROOT = Path(__file__).resolve().parents[2]
TABLES: dict[str, Table[Any, Any]] = {
    "reservation": RESERVATION_TABLE,
    "return": RETURN_TABLE,
    "order": ORDER_TABLE,
}
ENUMS: tuple[type[Enum], ...] = (
    Channel,
    Mode,
    Capability,
    LocationKind,
    ReservationState,
    OrderStatus,
    MovementKind,
    ReturnState,
    Condition,
    Disposition,
)

_MARKER = re.compile(
    r"^<!-- (?P<kind>readme|table|transitions|effects|json|api-if-present)"
    r"(?::[ \t]*(?P<arg>[^\n]*?))?[ \t]*-->[ \t]*\n"
    r"(?P<stale>```mermaid\n(?s:.*?)\n```[ \t]*\n)?",
    re.MULTILINE,
)
_ANY_MARKER = re.compile(
    r"^<!-- (readme|table|transitions|effects|json|api-if-present)\b.*-->", re.MULTILINE
)
_TEST_REF = re.compile(r"`(?P<path>[\w./-]+\.py)::(?P<names>[\w:]+)`")
_ROLE = re.compile(r":(?:py:)?\w+:`~?([^`]+)`")


# -- the README, one source -------------------------------------------------------------------


def _blocks(lines: list[str]) -> Iterator[tuple[int, bool]]:
    """Each line's index, and whether it is inside a fenced code block."""
    fenced = False
    for index, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            yield index, True
        else:
            yield index, fenced


@functools.cache
def readme_sections() -> dict[str, str]:
    """The README by ``##`` section: ``{heading: text with the heading}``, plus ``intro``."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    starts = [i for i, fenced in _blocks(lines) if not fenced and lines[i].startswith("## ")]
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    sections = {"intro": "\n".join(lines[title + 1 : starts[0]]).strip()}
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        sections[lines[start][3:].strip()] = "\n".join(lines[start:end]).strip()
    return sections


def _paragraph(text: str, needle: str) -> str | None:
    for paragraph in re.split(r"\n\s*\n", text):
        if needle in paragraph:
            return paragraph.strip()
    return None


def readme(arg: str, page: Page) -> str:
    """The README section (or one paragraph of it) that ``arg`` names."""
    section, _, needle = (part.strip() for part in arg.partition("|"))
    found = readme_sections().get(section)
    if found is None:
        log.warning("%s: README.md has no section %r", page.file.src_uri, section)
        return ""
    if not needle:
        return found
    paragraph = _paragraph(found, needle)
    if paragraph is None:
        log.warning("%s: README section %r has no %r", page.file.src_uri, section, needle)
        return ""
    return paragraph


# -- the state tables -------------------------------------------------------------------------


def diagram(table: Table[Any, Any]) -> str:
    """The table's own Mermaid text, fenced."""
    return f"```mermaid\n{table.mermaid()}\n```"


def transitions(table: Table[Any, Any]) -> str:
    """The table as Markdown: every legal (state, command) and where it leads."""
    rows = ["| from | command | to |", "|---|---|---|"]
    rows += [f"| — | `{c.value}` | {s.name} |" for c, s in table.initial.items()]
    rows += [
        f"| {source.name} | `{command.value}` | {target.name} |"
        for (source, command), target in table.transitions.items()
    ]
    terminal = ", ".join(s.name for s in table.states if s in table.terminal)
    return "\n".join(rows) + f"\n\nTerminal states: {terminal}. Any other pair is refused."


# -- the ledger's movement kinds ------------------------------------------------------------


def _member_docs(cls: type) -> dict[str, str]:
    """The docstrings written under each member of an enum class (read from its source)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    found: dict[str, str] = {}
    for statement, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.targets[0].id] = following.value.value
    return found


def effects() -> str:
    """Every movement kind with its signed effect on each counter."""
    docs = _member_docs(MovementKind)
    head = "| kind | " + " | ".join(f"`{c}`" for c in COUNTERS) + " | meaning |"
    rows = [head, "|---" * (len(COUNTERS) + 2) + "|"]
    for kind in MovementKind:
        signs = ["+q" if s > 0 else "\N{MINUS SIGN}q" if s < 0 else "" for s in EFFECTS[kind]]
        meaning = docs.get(kind.name, "")
        rows.append(f"| `{kind.value}` | " + " | ".join(signs) + f" | {meaning} |")
    return "\n".join(rows)


# -- JSON from the converter ------------------------------------------------------------------


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return _plain(doc.split("\n\n")[0].replace("\n", " "))


def _plain(text: str) -> str:
    """Sphinx roles as code spans (``:class:`~a.B``` -> ```B```)."""
    return _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)


def _attribute_docs(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` sections of ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) if klass.__doc__ else None
        if not doc or "Attributes:" not in doc:
            continue
        name = ""
        for line in doc.split("Attributes:", 1)[1].splitlines()[1:]:
            if not line.strip():
                if name:
                    break
                continue
            if not line.startswith(" "):
                break
            entry = re.match(r"^ {4}(\w+): ?(.*)$", line)
            if entry:
                name = entry.group(1)
                found[name] = entry.group(2).strip()
            elif name:
                found[name] += " " + line.strip()
    return {key: _plain(text) for key, text in found.items()}


def _type_cell(annotation: object) -> str:
    """An annotation as inline code in a table cell (its pipes escaped as HTML)."""
    if isinstance(annotation, str):
        text = annotation
    elif isinstance(annotation, type):
        text = annotation.__name__
    else:
        text = re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))
    return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"


def _fields_table(cls: type) -> str:
    docs = _attribute_docs(cls)
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for field in attrs.fields(cls):
        if field.name.startswith("_") or (field.eq is False and field.repr is False):
            continue
        rows.append(f"| `{field.name}` | {_type_cell(field.type)} | {docs.get(field.name, '')} |")
    return "\n".join(rows)


def _json_block(data: object) -> str:
    return "```json\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n```"


def _sample_section(sample: Sample, level: str, *, with_type_row: bool = False) -> str:
    cls = type(sample.value)
    parts = [f"{level} {sample.title}", "", _summary(cls)]
    if sample.note:
        parts += ["", sample.note]
    table = _fields_table(cls)
    if with_type_row:
        head, rule, *rest = table.splitlines()
        type_row = f'| `type` | `str` | the class name, `"{cls.__name__}"` (the union\'s tag) |'
        table = "\n".join([head, rule, type_row, *rest])
    parts += ["", table]
    for part in sample.parts:
        parts += ["", f"**`{part.__name__}`**: {_summary(part)}", "", _fields_table(part)]
    parts += ["", _json_block(unstructure(sample.value, sample.as_type))]
    return "\n".join(parts)


def enums() -> str:
    """Every enumeration the JSON uses: its values and what each means."""
    parts = []
    for enum in ENUMS:
        docs = _member_docs(enum)
        rows = ["| value | meaning |", "|---|---|"]
        rows += [f'| `"{m.value}"` | {_plain(docs.get(m.name, ""))} |' for m in enum]
        parts.append(f"### {enum.__name__}\n\n{_summary(enum)}\n\n" + "\n".join(rows))
    return "\n\n".join(parts)


def json_section(arg: str, page: Page) -> str:
    """Every public value, or every event class, documented with converter-made JSON."""
    if arg == "enums":
        return enums()
    if arg == "values":
        return "\n\n".join(_sample_section(s, "###") for s in values())
    if arg == "events":
        return "\n\n".join(_sample_section(s, "###", with_type_row=True) for s in events())
    log.warning("%s: unknown JSON section %r (enums, values, events)", page.file.src_uri, arg)
    return ""


# -- optional modules -------------------------------------------------------------------------


def api_if_present(module: str) -> str:
    """mkdocstrings for ``module`` if it exists, else a note."""
    try:
        present = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        present = False
    if present:
        return f"::: {module}"
    return f'!!! note "Not in this release"\n\n    `{module}` is not part of this release yet.'


# -- references to tests ----------------------------------------------------------------------


def check_test_references(markdown: str, page: Page) -> None:
    """Warn about every ``file.py::name`` code span whose file or name does not exist."""
    for match in _TEST_REF.finditer(markdown):
        path = ROOT / match.group("path")
        if not path.is_file():
            log.warning("%s: %s does not exist", page.file.src_uri, match.group("path"))
            continue
        source = path.read_text(encoding="utf-8")
        for name in match.group("names").split("::"):
            if not re.search(rf"^\s*(?:def|class) {re.escape(name)}\b", source, re.MULTILINE):
                log.warning("%s: %s defines no %s", page.file.src_uri, match.group("path"), name)


# -- the hook ---------------------------------------------------------------------------------


def _replace(match: re.Match[str], page: Page) -> str:
    kind, arg = match.group("kind"), (match.group("arg") or "").strip()
    stale = match.group("stale")
    if kind in ("table", "transitions") and arg not in TABLES:
        log.warning("%s: no state table %r (%s)", page.file.src_uri, arg, ", ".join(TABLES))
        return ""
    makers: dict[str, Callable[[], str]] = {
        "readme": lambda: readme(arg, page),
        "table": lambda: diagram(TABLES[arg]),
        "transitions": lambda: transitions(TABLES[arg]),
        "effects": effects,
        "json": lambda: json_section(arg, page),
        "api-if-present": lambda: api_if_present(arg),
    }
    made = makers[kind]()
    if stale is not None:
        if kind != "table":
            log.warning("%s: a mermaid block after %s is overwritten", page.file.src_uri, kind)
        elif stale.strip() != made:
            log.warning(
                "%s: the mermaid block after <!-- table: %s --> is stale; paste %s.mermaid()",
                page.file.src_uri,
                arg,
                f"{arg.upper()}_TABLE",
            )
    return made + "\n"


def on_pre_build(*, config: MkDocsConfig) -> None:
    """Read the README afresh on every build (``mkdocs serve`` rebuilds when it changes)."""
    readme_sections.cache_clear()


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace every marker of this module's docstring with what it generates."""
    check_test_references(markdown, page)
    replaced = _MARKER.sub(lambda m: _replace(m, page), markdown)
    for leftover in _ANY_MARKER.finditer(replaced):
        log.warning("%s: malformed marker %s", page.file.src_uri, leftover.group(0))
    return replaced
