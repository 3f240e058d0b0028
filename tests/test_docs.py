"""The documentation site builds strictly, shows what the code generates, and its code runs."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omniorder.model.events import EVENT_TYPES
from omniorder.model.order_table import ORDER_TABLE
from omniorder.model.reservation import RESERVATION_TABLE
from omniorder.model.returns import RETURN_TABLE

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILDERS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
MISSING = [name for name in BUILDERS if importlib.util.find_spec(name.split(".")[0]) is None]

# A ```python block of a concept or how-to page runs unless the line just above it is
# "<!-- no-run: why -->" (it needs a server, say). The blocks of one page run in order, in one
# namespace, in an empty working directory; then every test_* function they define is called.
_BLOCK = re.compile(r"(?P<skip><!-- no-run:[^\n]*-->\n)?```python\n(?P<code>.*?)\n```", re.DOTALL)
_MERMAID = re.compile(r'<pre class="mermaid"><code>(.*?)</code></pre>', re.DOTALL)
RUNNABLE_PAGES = sorted((DOCS / "concepts").glob("*.md")) + sorted((DOCS / "how-to").glob("*.md"))


def _text(page: Path) -> str:
    """A built page's article as plain text."""
    article = page.read_text(encoding="utf-8").split("<article", 1)[1].split("</article>")[0]
    return html.unescape(re.sub(r"<[^>]+>", "", article))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MISSING:
        pytest.skip(
            f"the docs tools are not installed ({', '.join(MISSING)}): "
            "uv sync --locked --all-extras"
        )
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return out


def test_the_state_machine_page_draws_the_tables_as_they_are(site: Path) -> None:
    page = (site / "concepts" / "state-machines" / "index.html").read_text(encoding="utf-8")
    drawn = [html.unescape(block).strip() for block in _MERMAID.findall(page)]
    assert drawn == [RESERVATION_TABLE.mermaid(), RETURN_TABLE.mermaid(), ORDER_TABLE.mermaid()]
    text = _text(site / "concepts" / "state-machines" / "index.html")
    for (state, command), target in RESERVATION_TABLE.transitions.items():
        assert f"{state.name}\n{command.value}\n{target.name}" in text


def test_the_returns_guide_draws_the_return_table(site: Path) -> None:
    page = (site / "returns" / "index.html").read_text(encoding="utf-8")
    assert [html.unescape(b).strip() for b in _MERMAID.findall(page)] == [RETURN_TABLE.mermaid()]


def test_the_json_page_shows_every_event_as_the_converter_writes_it(site: Path) -> None:
    page = site / "reference" / "json" / "index.html"
    raw = page.read_text(encoding="utf-8")
    text = _text(page)
    for cls in EVENT_TYPES:
        assert f'id="{cls.__name__.lower()}"' in raw, cls.__name__
        assert f'"type": "{cls.__name__}"' in text, cls.__name__
    for value in ("Reservation", "Position", "OrderView", "ReturnAuthorization", "AllocationPlan"):
        assert f'id="{value.lower()}"' in raw, value
    for kind in ("ship", "pickup", "ship_to_store"):
        assert f'"kind": "{kind}"' in text


def test_the_home_page_is_the_readme_opening(site: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = _text(site / "index.html")
    for command in re.findall(r"```console\n(.*?)\n```", readme, re.DOTALL)[:2]:
        assert command in text
    assert "green velvet sofa" in text


def test_the_api_reference_has_no_sphinx_roles_left(site: Path) -> None:
    for page in (site / "reference").rglob("*.html"):
        assert not re.search(r":(class|meth|func|mod|data|attr|exc):", _text(page)), page


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_code_of_every_guide_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        if block.group("skip") is None:
            # The guides are this repository's own code, shown to readers: running it is the point.
            exec(compile(block.group("code"), str(page), "exec"), namespace)  # noqa: S102
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
