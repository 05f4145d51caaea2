"""HTML pages: Jinja2 templates (autoescaped) with the CSS inlined for mail clients.

The templates are in ``templates/``; ``base.html`` holds the style sheet. css-inline moves
the rules into ``style`` attributes (mail clients drop ``<style>``) and keeps the
``@media`` block, which turns each server row into a card below 600 px. Paths break only
after ``/`` or ``\\`` (a ``<wbr>``), dates never break, and nothing uses ``break-all``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from acorntui.core.textsafe import _CONTROL


def _wbr(value: Any) -> Markup:
    """Escaped text with a break opportunity after each path separator."""
    text = str(escape(_safe(value)))
    return Markup(text.replace("/", "/<wbr>").replace("\\", "\\<wbr>"))


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


def render_page(template: str, ctx: dict[str, Any]) -> str:
    """Render ``templates/<template>`` with ``ctx`` and inline its CSS."""
    return _inliner().inline(_env().get_template(template).render(**ctx))
