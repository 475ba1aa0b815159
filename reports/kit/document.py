"""A tiny document model rendered twice: a self-contained HTML page and Markdown for issues and PRs.

Every string in the model is plain text. The renderers escape all of it (HTML: html.escape; Markdown:
&, <, > as entities and | in tables), so a value taken from a run folder can never become markup.
The HTML page also carries a Content-Security-Policy that forbids scripts and any network access.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from reports.kit.fmt import DASH


@dataclass
class Para:
    text: str
    kind: str = ""  # "headline", "note", "warning": only changes the look


@dataclass
class Bullets:
    items: list[str]
    kind: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    collapsed: str = ""  # when set: shown folded, with this as the summary line


@dataclass
class KeyValues:
    rows: list[tuple[str, str]]
    caption: str = ""


@dataclass
class Pre:
    """Literal text (a config file) in a collapsible block."""

    summary: str
    text: str
    lang: str = ""


@dataclass
class FigureBlock:
    name: str
    title: str
    caption: str = ""
    png: bytes | None = None
    png_size: tuple[int, int] | None = None  # pixels, to size the image at 100 dpi
    files: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the figure is not there


@dataclass
class Code:
    """Literal lines shown open and prominent (directives to paste), unlike Pre's folded config files."""

    text: str
    caption: str = ""
    lang: str = ""


Block = Para | Bullets | Table | KeyValues | Pre | Code | FigureBlock


@dataclass
class Section:
    id: str
    title: str
    blocks: Sequence[Block]
    in_markdown: bool = True


@dataclass
class Document:
    title: str
    meta: list[str]
    sections: list[Section]


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; --accent:#00798c;
        --warn-bg:#fff8e6; --warn-line:#e5b94e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--soft); color:var(--fg);
       font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1120px; margin:0 auto; padding:28px 28px 60px; background:var(--bg);
       box-shadow:0 0 0 1px var(--line); min-height:100vh; }
header h1 { font-size:1.55rem; margin:0 0 4px; letter-spacing:-0.01em; }
header .meta { color:var(--muted); font-size:0.9rem; margin:0; }
header .meta span + span::before { content:" · "; }
nav { margin:18px 0 8px; padding:10px 14px; background:var(--soft); border-radius:8px; font-size:0.9rem;
      display:flex; flex-wrap:wrap; row-gap:4px; }  /* links wrap between each other, never inside */
nav a { color:var(--accent); text-decoration:none; margin-right:14px; white-space:nowrap; }
nav a:hover { text-decoration:underline; }
section { margin-top:34px; }
h2 { font-size:1.2rem; border-bottom:1px solid var(--line); padding-bottom:6px; margin:0 0 14px; }
p { margin:0 0 12px; }
p.headline { font-size:1.15rem; font-weight:600; padding:12px 16px; border-left:4px solid var(--accent);
             background:#eef7f8; border-radius:0 8px 8px 0; }
p.note, .skipped { color:var(--muted); font-size:0.9rem; }
ul { margin:0 0 14px; padding-left:22px; }
ul.warning { background:var(--warn-bg); border:1px solid var(--warn-line); border-radius:8px;
             padding:10px 14px 10px 32px; }
li { margin:3px 0; }
.table-wrap { overflow-x:auto; margin:0 0 16px; }
table { border-collapse:collapse; font-size:0.88rem; min-width:50%; }
caption { caption-side:top; text-align:left; color:var(--muted); font-size:0.85rem; padding:0 0 6px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:var(--soft); font-weight:600; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tbody tr:hover { background:#fafbfc; }
figure { margin:0 0 26px; }
figure img { display:block; max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; }
figcaption { color:var(--muted); font-size:0.9rem; margin-top:6px; }
figcaption b { color:var(--fg); }
.skipped { border:1px dashed var(--line); border-radius:6px; padding:12px 14px; margin:0 0 20px; }
details { margin:0 0 12px; border:1px solid var(--line); border-radius:6px; padding:6px 12px; }
summary { cursor:pointer; font-weight:600; }
.code { margin:0 0 16px; }
.code .caption { color:var(--muted); font-size:0.85rem; margin:0 0 4px; }
pre.directives { font-size:1rem; line-height:1.5; font-weight:600; background:#eef7f8;
                 border-left:4px solid var(--accent); border-radius:0 8px 8px 0; padding:12px 16px; margin:0; }
pre { overflow-x:auto; font-size:0.8rem; line-height:1.4; background:var(--soft); padding:10px; border-radius:6px; }
@media print { body { background:#fff; } main { box-shadow:none; } details { border:none; } }
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_NUMERIC = re.compile(r"^[+\-−]?[\d,.]+(x|%| ms| MB)?(( to |[–-])[+\-−]?[\d,.]+(x|%| ms| MB)?)?$")


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _cell_class(text: str) -> str:
    return ' class="num"' if text == DASH or _NUMERIC.match(text.strip()) else ""


def _html_table(headers: list[str], rows: list[list[str]], caption: str, numeric: bool = True) -> str:
    out = ['<div class="table-wrap"><table>']
    if caption:
        out.append(f"<caption>{_e(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{_cell_class(c) if numeric else ''}>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        cls = f' class="{_e(block.kind)}"' if block.kind else ""
        return f"<p{cls}>{_e(block.text)}</p>"
    if isinstance(block, Bullets):
        cls = f' class="{_e(block.kind)}"' if block.kind else ""
        return f"<ul{cls}>" + "".join(f"<li>{_e(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        table = _html_table(block.headers, block.rows, block.caption)
        if block.collapsed:
            return f"<details><summary>{_e(block.collapsed)}</summary>{table}</details>"
        return table
    if isinstance(block, KeyValues):
        # Settings mix numbers and words: one left-aligned column reads better than a ragged one.
        return _html_table(["setting", "value"], [[k, v] for k, v in block.rows], block.caption, numeric=False)
    if isinstance(block, Pre):
        return f"<details><summary>{_e(block.summary)}</summary><pre>{_e(block.text)}</pre></details>"
    if isinstance(block, Code):
        cap = f'<p class="caption">{_e(block.caption)}</p>' if block.caption else ""
        return f'<div class="code">{cap}<pre class="directives">{_e(block.text)}</pre></div>'
    if isinstance(block, FigureBlock):
        if block.png is None:
            return f'<div class="skipped" id="fig-{_e(block.name)}"><b>{_e(block.title)}</b>: ' \
                   f"skipped. {_e(block.skipped or '')}</div>"
        data = base64.b64encode(block.png).decode("ascii")
        size = ""
        if block.png_size:
            # Saved at 144 dpi for sharp screens; shown at its 100-dpi size.
            w, h = block.png_size
            size = f' width="{round(w / 1.44)}" height="{round(h / 1.44)}"'
        files = f" Files: {', '.join(block.files)}." if block.files else ""
        return (
            f'<figure id="fig-{_e(block.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{_e(block.title)}"{size}><figcaption><b>{_e(block.title)}.</b> '
            f"{_e(block.caption)}{_e(files)}</figcaption></figure>"
        )
    raise TypeError(f"unknown block {block!r}")


def render_html(doc: Document) -> str:
    nav = "".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in doc.sections)
    body = []
    for s in doc.sections:
        blocks = "\n".join(_html_block(b) for b in s.blocks)
        body.append(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>\n{blocks}\n</section>')
    meta = "".join(f"<span>{_e(m)}</span>" for m in doc.meta)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(doc.title)}</title>\n<style>{CSS}</style></head>\n<body><main>\n"
        f'<header><h1>{_e(doc.title)}</h1><p class="meta">{meta}</p></header>\n'
        f"<nav>{nav}</nav>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


# --- Markdown ------------------------------------------------------------------------------------


def md_escape(text: str) -> str:
    # Entities render as the character on GitHub and stop any HTML in a value from being live.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(text: str) -> str:
    return md_escape(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[str]], caption: str, numeric: bool = True) -> str:
    lines = [f"*{md_escape(caption)}*", ""] if caption else []
    lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
    aligns = ["---:" if numeric and rows and all(_cell_class(r[i]) for r in rows if i < len(r)) else "---"
              for i in range(len(headers))]
    lines.append("| " + " | ".join(aligns) + " |")
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _fence(text: str) -> str:
    # A fence longer than any backtick run inside, so the text cannot close it early.
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_block(block: Block) -> str:
    if isinstance(block, Para):
        text = md_escape(block.text)
        return f"**{text}**" if block.kind == "headline" else text
    if isinstance(block, Bullets):
        return "\n".join(f"- {md_escape(i)}" for i in block.items)
    if isinstance(block, Table):
        table = _md_table(block.headers, block.rows, block.caption)
        if block.collapsed:
            return f"<details><summary>{md_escape(block.collapsed)}</summary>\n\n{table}\n\n</details>"
        return table
    if isinstance(block, KeyValues):
        return _md_table(["setting", "value"], [[k, v] for k, v in block.rows], block.caption, numeric=False)
    if isinstance(block, Pre):
        fence = _fence(block.text)
        return (f"<details><summary>{md_escape(block.summary)}</summary>\n\n{fence}{block.lang}\n"
                f"{block.text.rstrip()}\n{fence}\n\n</details>")
    if isinstance(block, Code):
        cap = f"*{md_escape(block.caption)}*\n\n" if block.caption else ""
        return f"{cap}{_fence(block.text)}{block.lang}\n{block.text.rstrip()}\n{_fence(block.text)}"
    if isinstance(block, FigureBlock):
        if block.png is None:
            return f"*{md_escape(block.title)}: skipped. {md_escape(block.skipped or '')}*"
        files = ", ".join(block.files)
        return f"*{md_escape(block.title)}* ({md_escape(files)}): {md_escape(block.caption)}"
    raise TypeError(f"unknown block {block!r}")


def render_markdown(doc: Document) -> str:
    out = [f"# {md_escape(doc.title)}", "", md_escape(" · ".join(doc.meta)), ""]
    for s in doc.sections:
        if not s.in_markdown or not s.blocks:
            continue
        out += [f"## {md_escape(s.title)}", ""]
        for b in s.blocks:
            out += [_md_block(b), ""]
    return "\n".join(out).rstrip() + "\n"
