"""Nothing is lost when the README is short: every option of every `bench` command appears in some guide
(docs/*.md or README.md), written as it is typed, and every guide the README links to exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def _docs_text() -> str:
    return "\n".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])


def _options() -> dict[str, set[str]]:
    """command -> its long options (argparse's own --help left out)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {s for a in p._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
            for name, p in sub.choices.items()}


def test_every_option_of_every_command_is_in_a_guide() -> None:
    text = _docs_text()
    missing = sorted(f"bench {cmd} {opt}" for cmd, opts in _options().items() for opt in opts
                     if not re.search(re.escape(opt) + r"(?![\w-])", text))
    assert missing == [], "options no guide explains: " + ", ".join(missing)


def test_every_command_has_a_guide_and_the_readme_links_exist() -> None:
    text = _docs_text()
    assert all(f"bench {cmd}" in text for cmd in _options()), [c for c in _options() if f"bench {c}" not in text]
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(((?:docs|reports)/[^)#]+)", readme)
    assert links and [x for x in links if not (REPO / x).exists()] == []
    assert len(readme.splitlines()) <= 120
