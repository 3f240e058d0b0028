"""Griffe extension: docstrings written for Sphinx habits read well in the Markdown site.

The code's docstrings use Sphinx roles (``:class:`~omniorder.InvalidInput```), reST literal
markers (``::``) and bare doctest lines (``>>> ...``). mkdocstrings renders Markdown, where those
come out as stray colons, block quotes and run-on text. This extension rewrites each docstring once
the object tree is built:

* a role becomes an optional cross-reference, a link where the target is documented in the site
  and plain code where it is not (so it never breaks the strict build); ``~`` keeps the last name
  only, as Sphinx does, and relative names are looked up in the enclosing scopes;
* a line that is only ``::`` disappears, and a trailing ``::`` becomes ``:``;
* consecutive doctest lines (with their output, up to a blank line) become a ``pycon`` block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|func|mod|data|attr|exc|obj|const):`([^`]+)`")
_CALLABLE_ROLES = frozenset({"meth", "func"})


def _identifier(obj: griffe.Object, target: str) -> str:
    """The full path ``target`` names, seen from ``obj`` (itself, then its parents)."""
    if "." in target:
        return target
    scope: griffe.Object | None = obj
    while scope is not None:
        if target in scope.members:
            return f"{scope.path}.{target}"
        scope = scope.parent
    return target


def _roles(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        role, target = match.group(1), match.group(2).lstrip("!")
        short = target.startswith("~")
        target = target.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if short else target
        if role in _CALLABLE_ROLES:
            shown += "()"
        return (
            f'<autoref identifier="{_identifier(obj, target)}" optional>'
            f"<code>{shown}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


def _literal_markers(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip() == "::":
            continue
        lines.append(line[:-1] if line.endswith("::") else line)
    return "\n".join(lines)


def _doctests(text: str) -> str:
    """Fence every run of doctest lines (and their output) as a ``pycon`` block."""
    out: list[str] = []
    in_block = False
    indent = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not in_block and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            in_block = True
        elif in_block and not stripped:
            out.append(f"{indent}```")
            in_block = False
        out.append(line)
    if in_block:
        out.append(f"{indent}```")
    return "\n".join(out)


def _in_fence(text: str) -> bool:
    return "```" in text


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles, reST literal markers and bare doctests in every docstring."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring (once the whole tree is known)."""
        _rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the top package's own docstring (``on_object`` covers its members)."""
        _rewrite(pkg)


def _rewrite(obj: griffe.Object) -> None:
    """Rewrite ``obj``'s docstring; running it twice changes nothing more."""
    docstring = obj.docstring
    if docstring is None:
        return
    text = _roles(obj, docstring.value)
    if not _in_fence(text):
        text = _doctests(_literal_markers(text))
    docstring.value = text
