"""HTML pages: Jinja2 templates (autoescaped) with the CSS inlined for mail clients.

The templates are in ``templates/``; ``base.html`` holds the style sheet. css-inline moves
the rules into ``style`` attributes (mail clients drop ``<style>``) and keeps the
``@media`` block, which turns each server row into a card below 600 px. Paths break only
after ``/`` or ``\\`` (a ``<wbr>``; segments with a hyphen or space are ``nowrap``), dates
never break, and nothing uses ``break-all``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from acorntui.core.textsafe import _CONTROL

SEG_NOWRAP_MAX = 40  # a path segment longer than this may still break inside (last resort)


def path_pieces(path: str) -> list[str]:
    """``path`` cut after each ``/`` or ``\\`` (a run of them stays with the piece before):
    where the HTML and the text mail may break a path."""
    return re.findall(r"[^/\\]*[/\\]+|[^/\\]+$", path) or [path]


def _wbr(value: Any) -> Markup:
    """Escaped path with a break opportunity (``<wbr>``) after each ``/`` or ``\\`` and
    nowhere else: a segment holding a hyphen or a space (where a browser would otherwise
    break) is kept in one ``nowrap`` span, unless it is longer than a phone line could hold."""
    text = _safe(value)
    out = []
    for part in path_pieces(text):
        e = str(escape(part))
        if len(part) <= SEG_NOWRAP_MAX and re.search(r"[-\s\u2010-\u2014]", part):
            e = f'<span class="seg">{e}</span>'
        out.append(e)
    return Markup("<wbr>".join(out))


def _dates(value: Any) -> Markup:
    """Escaped text whose dates (YYYY-MM-DD) never break across lines."""
    text = str(escape(_safe(value)))
    return Markup(re.sub(r"\d{4}-\d{2}-\d{2}", r'<span class="date">\g<0></span>', text))


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("acorntui.reports", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["wbr"] = _wbr
    env.filters["dates"] = _dates
    return env


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def _safe(value: Any) -> str:
    """A value as one printable line (the reports' ``safe``; kept here so that this module
    imports no other report module)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\t", "\\#011").replace("\n", "\\#012")

    def esc(m: re.Match[str]) -> str:
        o = ord(m.group())
        if o < 0x100:
            return f"\\#{o:03o}"
        return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"

    return _CONTROL.sub(esc, text)


def rows_mark(i: int) -> Markup:
    """Where a table body built outside Jinja goes (see :func:`render_page`)."""
    return Markup(f"<!--acorn-rows-{i}-->")


def render_page(template: str, ctx: dict[str, Any], bodies: list[str] | None = None) -> str:
    """Render ``templates/<template>`` with ``ctx`` and inline its CSS.

    ``bodies`` are pre-built table bodies whose styles are already inline
    (:func:`style_attr`); they replace the :func:`rows_mark` comments after css-inline has
    run over the (small) rest of the page."""
    page = _inliner().inline(_env().get_template(template).render(**ctx))
    for i, body in enumerate(bodies or []):
        page = page.replace(str(rows_mark(i)), body, 1)
    return page


@cache
def _style_sheet() -> str:
    env = _env()
    assert env.loader is not None
    source = env.loader.get_source(env, "base.html")[0]
    m = re.search(r"<style>(.*?)</style>", source, re.S)
    return m.group(1) if m else ""


@cache
def style_attr(*chain: tuple[str, str]) -> str:
    """`` style="..."`` (or "") as css-inline writes it for the innermost element of
    ``chain``: (tag, class) pairs from ``<body>`` down, e.g. ``("table", "rows cards"),
    ("tbody", ""), ("tr", "srv"), ("td", "num")``. Worked out once per chain on a tiny page
    with the report style sheet, so a pre-built row matches what inlining the page gives."""
    opens, closes = "", ""
    for i, (tag, cls) in enumerate(chain):
        mark = ' id="acorn-probe"' if i == len(chain) - 1 else ""
        opens += f'<{tag} class="{cls}"{mark}>'
        closes = f"</{tag}>" + closes
    doc = (f"<html><head><style>{_style_sheet()}</style></head><body>{opens}x{closes}"
           "</body></html>")
    out = _inliner().inline(doc)
    probe = re.search(r'<[^>]*\bid="acorn-probe"[^>]*>', out)
    style = re.search(r'\bstyle="([^"]*)"', probe.group(0)) if probe else None
    return f' style="{style.group(1)}"' if style else ""
