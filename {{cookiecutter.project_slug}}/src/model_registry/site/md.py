"""Card Markdown to HTML with markdown-it-py: CommonMark plus tables, strikethrough and bare
URLs, raw HTML off.

The renderer's rules decide what may come out: every text is escaped, links and images go to
absolute http(s) URLs only (anything else shows as its text, an image as a link named after it,
never loaded), and headings move down under the page's own. What it returns is the only HTML
from a card that a template may trust.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markupsafe import Markup

MAX_MARKDOWN = 256 * 1024  # longer card bodies are shown as plain text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANG = re.compile(r"[\w+-]{1,30}")
# Layout: a newline between blocks and between list items; none just inside a quote or an item,
# none within a table, none at the end.
_TIGHT_AFTER = {"list_item_open", "blockquote_open", "table_open", "thead_open", "thead_close",
                "tbody_open", "tbody_close", "tr_open", "tr_close", "th_close", "td_close"}
_TIGHT_BEFORE = {"list_item_close", "blockquote_close"}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL a link may point to, else None."""
    url = url.strip()
    if not url or any(c in url for c in " \t\n\"'<>`\\") or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _anchor(url: str) -> str:
    return f'<a href="{esc(url)}" rel="nofollow noopener noreferrer">'


class _CardRenderer(RendererHTML):
    """markdown-it's HTML renderer with the card's rules (see the module's docstring)."""

    def __init__(self, parser=None):
        super().__init__(parser)
        self.rules.update({
            "text": lambda tokens, idx, *_: esc(tokens[idx].content),
            "code_inline": lambda tokens, idx, *_: f"<code>{esc(tokens[idx].content)}</code>",
            "hardbreak": lambda *_: "\n",  # a line break stays a newline, as in the card
            "s_open": lambda *_: "<del>", "s_close": lambda *_: "</del>",
            "link_open": self._link_open, "link_close": self._link_close,
            "image": self._image, "fence": self._code, "code_block": self._code,
        })

    def renderToken(self, tokens, idx, options, env):
        token = tokens[idx]
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + env['heading_offset'])}"
        elif token.type in ("th_open", "td_open"):
            # Alignment as a class: a style attribute would be blocked by the page's CSP.
            align = token.attrs.pop("style", "")[len("text-align:"):]
            if align in ("center", "right"):
                token.attrs["class"] = f"al-{align}"
        out = super().renderToken(tokens, idx, options, env)
        if token.type == "table_open":
            out = '<div class="scroll">' + out
        elif token.type == "table_close":
            out = out.replace("</table>", "</table></div>", 1)
        return _tight(out, tokens, idx)

    def _code(self, tokens, idx, options, env):
        token = tokens[idx]
        lang = token.info.split()[0] if token.info.strip() else ""
        cls = f' class="language-{esc(lang)}"' if _LANG.fullmatch(lang) else ""
        body = token.content[:-1] if token.content.endswith("\n") else token.content
        lead = "\n" if idx and tokens[idx - 1].hidden else ""  # after a tight item's text
        return lead + _tight(f"<pre><code{cls}>{esc(body)}</code></pre>\n", tokens, idx)

    def _link_open(self, tokens, idx, options, env):
        url = safe_url(tokens[idx].attrGet("href") or "")
        env["links"].append(url is not None)  # link_close needs to know; links never nest
        return _anchor(url) if url else ""

    def _link_close(self, tokens, idx, options, env):
        return "</a>" if env["links"].pop() else ""

    def _image(self, tokens, idx, options, env):
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        label = esc(f"image: {alt}" if alt else "image")
        url = safe_url(token.attrGet("src") or "")
        return f"{_anchor(url)}{label}</a>" if url else label


def _tight(out: str, tokens, idx: int) -> str:
    """`out` without its closing newline where the layout (above) wants none."""
    if out.endswith("\n") and (tokens[idx].type in _TIGHT_AFTER or idx + 1 == len(tokens)
                               or tokens[idx + 1].type in _TIGHT_BEFORE):
        return out[:-1]
    return out


_PARSER = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "linkify": True},
                     renderer_cls=_CardRenderer).enable(["table", "strikethrough", "linkify"])
# Every link is parsed, so the renderer shows an unsafe one as its text rather than as
# Markdown source; only URLs written with http:// or https:// become links on their own.
_PARSER.validateLink = lambda url: True
_PARSER.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
for _scheme in ("ftp:", "//", "mailto:"):
    _PARSER.linkify.add(_scheme, None)


def markdown(text: str, heading_offset: int = 1) -> Markup:
    """Markdown to HTML with nothing raw let through (headings shifted down by the offset)."""
    if len(text) > MAX_MARKDOWN:
        return Markup(f'<pre class="plain">{esc(_CONTROL.sub("", text))}</pre>')
    return Markup(_PARSER.render(_CONTROL.sub("", text),
                                 {"heading_offset": heading_offset, "links": []}))
