"""`registry site`: a static HTML catalogue of the registry, for a browser or a Pages host.

It reads what the other commands read (the tags, and the cards at tagged commits and at HEAD)
and writes plain files: an index of the models with a filter box; a page per model (versions,
stages, a timeline of events, a chart of each model-index metric across versions, the card);
and a page per version (its card, lineage, technical documentation, and how to fetch it).

Nothing is loaded from a network: the style and the filter's few lines of script are inline,
and charts are SVG made here. Everything taken from a card, a tag message or git is escaped.
Card Markdown goes through the small renderer below, which lets no raw HTML through and links
to http(s) URLs only; each page's Content Security Policy also allows its own inline style and
script (by hash) and nothing else, should anything ever slip through.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import posixpath
import re
import shutil
import tempfile
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit, urlunsplit

from . import cards, reports
from .errors import InputError, RegistryError
from .tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, semver_key, split_hashes

MARKER = ".registry-site"  # marks a folder this command wrote, so it may replace it
KEY_METRICS = 4  # metric columns in a model's versions table
MAX_MARKDOWN = 256 * 1024  # longer card bodies are shown as plain text


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ==================================================================== Markdown, safely
#
# A subset of CommonMark and GitHub's tables: headings, paragraphs, lists (nested), block
# quotes, fenced and indented code, tables, rules; inline code, emphasis, links and images
# (shown as links, never loaded). Raw HTML is text. Every pattern that could scan far is
# bounded, so a hostile card renders in linear time.

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`]*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?")
_ITEM = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)")
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MAX_DEPTH = 12

_SLOT = re.compile(r"\x00(\d+)\x01")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.{1,4000}?)(?<!`)\1(?!`)", re.S)
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")
_LINK = re.compile(r"(!?)\[([^\[\]\n]{0,1000})\]\([ \t]*<?((?:[^\s()<>]|\([^\s()<>]{0,200}\))"
                   r"{0,2000}?)>?"
                   r"(?:[ \t]+(?:\"[^\"\n]{0,500}\"|'[^'\n]{0,500}'))?[ \t]*\)")
_ANGLE_URL = re.compile(r"<(https?://[^\s<>\x00\x01]{1,2000})>", re.I)
_BARE_URL = re.compile(r"(?<![\w/\"'=])https?://[^\s<>\"'`\x00\x01]{1,2000}", re.I)
# Delimiter, tag, and whether it may open or close inside a word (`*` may, `_` may not).
_EMPHASIS = [("**", "strong", True), ("__", "strong", False), ("*", "em", True),
             ("_", "em", False), ("~~", "del", True)]


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


def _link(url: str, label_html: str) -> str:
    return (f'<a href="{esc(url)}" rel="nofollow noopener noreferrer">{label_html}</a>')


def inline(text: str) -> str:
    """One paragraph's text as HTML: escaped, with code spans, emphasis and safe links."""
    text = _CONTROL.sub("", text)
    slots: list[str] = []

    def keep(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x01"

    def emphasis(escaped: str) -> str:
        for delim, tag, inside_words in _EMPHASIS:
            escaped = _pair(escaped, delim, tag, inside_words)
        return escaped

    def fmt(raw: str) -> str:
        return emphasis(esc(raw))

    def code(m: re.Match) -> str:
        body = m[2].replace("\n", " ")
        if body.startswith(" ") and body.endswith(" ") and body.strip():
            body = body[1:-1]
        return keep(f"<code>{esc(body)}</code>")

    def link(m: re.Match) -> str:
        image, label, url = m[1], m[2], safe_url(m[3])
        if image:
            label = f"image: {label}" if label else "image"
        if url is None:
            return keep(fmt(label))
        return keep(_link(url, fmt(label)))

    def bare(m: re.Match) -> str:
        url = m[0]
        trail = ""
        while url and url[-1] in ".,;:!?*_~)" and not (url[-1] == ")" and url.count("(") >=
                                                        url.count(")")):
            url, trail = url[:-1], url[-1] + trail
        safe = safe_url(url)
        return (keep(_link(safe, esc(url))) if safe else esc(url)) + trail

    text = _CODE_SPAN.sub(code, text)
    text = _BACKSLASH.sub(lambda m: keep(esc(m[1])), text)
    text = _LINK.sub(link, text)
    text = _ANGLE_URL.sub(lambda m: keep(_link(m[1], esc(m[1]))) if safe_url(m[1])
                          else m[0], text)
    text = _BARE_URL.sub(bare, text)
    out = fmt(text)

    def restore(fragment: str, depth: int = 0) -> str:
        if depth > 3:
            return ""
        return _SLOT.sub(lambda m: restore(slots[int(m[1])], depth + 1), fragment)

    return restore(out)


def _pair(text: str, delim: str, tag: str, inside_words: bool) -> str:
    """Wrap text between an opening and a closing `delim` in <tag>, in one pass (linear, so a
    card full of unmatched delimiters costs no more than any other)."""
    pieces = text.split(delim)
    if len(pieces) < 3:
        return text
    mark = delim[0]

    def word(char: str) -> bool:
        return char.isalnum() or char == "_"

    out, opened = [pieces[0]], None
    for k in range(1, len(pieces)):
        before, after = pieces[k - 1], pieces[k]
        prev = before[-1:] or (mark if k > 1 else "")
        nxt = after[:1] or (mark if k < len(pieces) - 1 else "")
        can_open = bool(nxt) and not nxt.isspace() and nxt != mark and (
            inside_words or not word(prev))
        can_close = bool(prev) and not prev.isspace() and prev != mark and (
            inside_words or not word(nxt))
        if opened is not None and can_close:
            out[opened] = f"<{tag}>"
            out.append(f"</{tag}>")
            opened = None
        elif can_open:
            out.append(delim)
            opened = len(out) - 1
        else:
            out.append(delim)
        out.append(after)
    return "".join(out)


def markdown(text: str, heading_offset: int = 1) -> str:
    """Markdown to HTML with nothing raw let through (headings shifted down by the offset)."""
    if len(text) > MAX_MARKDOWN:
        return f"<pre class=\"plain\">{esc(_CONTROL.sub('', text))}</pre>"
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).expandtabs(4)
    return "\n".join(_blocks(text.split("\n"), heading_offset, 0))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _table_at(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines) or "|" not in lines[i] or "|" not in lines[i + 1]:
        return False
    if not _TABLE_RULE.match(lines[i + 1]):
        return False
    return len(_cells(lines[i])) == len(_cells(lines[i + 1]))


def _interrupts(lines: list[str], i: int) -> bool:
    """Whether line i starts a block that ends a paragraph."""
    line = lines[i]
    if _FENCE.match(line) or _HEADING.match(line) or _RULE.match(line) or _QUOTE.match(line):
        return True
    item = _ITEM.match(line)
    if item and line[item.end():].strip():
        marker = item[2]
        return not marker[0].isdigit() or int(marker[:-1]) == 1
    return _table_at(lines, i)


def _blocks(lines: list[str], offset: int, depth: int) -> list[str]:
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if depth > _MAX_DEPTH:
            rest = " ".join(part.strip() for part in lines[i:] if part.strip())
            out.append(f"<p>{inline(rest)}</p>")
            break
        fence = _FENCE.match(line)
        if fence:
            mark, info = fence[1], fence[2].strip()
            close = re.compile(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
            body = []
            i += 1
            while i < n and not close.match(lines[i]):
                body.append(lines[i])
                i += 1
            i += 1
            lang = info.split()[0] if info else ""
            cls = f' class="language-{esc(lang)}"' if re.fullmatch(r"[\w+-]{1,30}", lang) else ""
            out.append(f"<pre><code{cls}>{esc(chr(10).join(body))}</code></pre>")
            continue
        heading = _HEADING.match(line)
        if heading:
            level = min(6, len(heading[1]) + offset)
            out.append(f"<h{level}>{inline(heading[2] or '')}</h{level}>")
            i += 1
            continue
        if _RULE.match(line):
            out.append("<hr>")
            i += 1
            continue
        if _QUOTE.match(line):
            inner = []
            while i < n and lines[i].strip() and _QUOTE.match(lines[i]):
                inner.append(_QUOTE.sub("", lines[i], count=1))
                i += 1
            out.append("<blockquote>" + "\n".join(_blocks(inner, offset, depth + 1))
                       + "</blockquote>")
            continue
        if _ITEM.match(line):
            fragment, i = _list(lines, i, offset, depth)
            out.append(fragment)
            continue
        if _table_at(lines, i):
            fragment, i = _table(lines, i)
            out.append(fragment)
            continue
        if line.startswith("    "):
            code = []
            while i < n and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            out.append(f"<pre><code>{esc(chr(10).join(code).strip(chr(10)))}</code></pre>")
            continue
        para, level = [line.strip()], 0
        i += 1
        while i < n and lines[i].strip():
            setext = _SETEXT.match(lines[i])
            if setext:
                level = 1 if setext[1][0] == "=" else 2
                i += 1
                break
            if _interrupts(lines, i):
                break
            para.append(lines[i].strip())
            i += 1
        text = inline("\n".join(para))
        if level:
            level = min(6, level + offset)
            out.append(f"<h{level}>{text}</h{level}>")
        else:
            out.append(f"<p>{text}</p>")
    return out


def _list(lines: list[str], i: int, offset: int, depth: int) -> tuple[str, int]:
    first = _ITEM.match(lines[i])
    ordered = first[2][0].isdigit()
    start = int(first[2][:-1]) if ordered else 1
    items: list[list[str]] = []
    loose, column, n = False, 0, len(lines)
    while i < n:
        line = lines[i]
        item = _ITEM.match(line)
        if item and (not items or len(item[1]) < column):
            if item[2][0].isdigit() != ordered:
                break
            gap = len(item[3])
            column = len(item[1]) + len(item[2]) + (gap if 0 < gap <= 4 else 1)
            items.append([line[column:]])
            i += 1
            continue
        if not line.strip():
            j = i + 1
            while j < n and not lines[j].strip():
                j += 1
            nxt = _ITEM.match(lines[j]) if j < n else None
            if j < n and (_indent(lines[j]) >= column or (
                    nxt and len(nxt[1]) < column and nxt[2][0].isdigit() == ordered)):
                items[-1].extend([""] * (j - i))
                loose = True
                i = j
                continue
            break
        if _indent(line) >= column:
            items[-1].append(line[column:])
            i += 1
            continue
        if items[-1][-1].strip() and not _interrupts(lines, i):
            items[-1].append(line.strip())
            i += 1
            continue
        break
    parts = []
    for content in items:
        inner = _blocks(content, offset, depth + 1)
        if not loose:
            inner = [b[3:-4] if b.startswith("<p>") and b.endswith("</p>") else b for b in inner]
        parts.append("<li>" + "\n".join(inner) + "</li>")
    tag = "ol" if ordered else "ul"
    attr = f' start="{start}"' if ordered and start != 1 else ""
    return f"<{tag}{attr}>\n" + "\n".join(parts) + f"\n</{tag}>", i


def _cells(line: str) -> list[str]:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)]


def _table(lines: list[str], i: int) -> tuple[str, int]:
    header = _cells(lines[i])
    aligns = []
    for cell in _cells(lines[i + 1]):
        left, right = cell.startswith(":"), cell.endswith(":")
        aligns.append(' class="al-center"' if left and right else
                      ' class="al-right"' if right else "")
    i += 2
    rows = []
    while i < len(lines) and lines[i].strip() and "|" in lines[i] and not _interrupts(lines, i):
        rows.append(_cells(lines[i]))
        i += 1

    def row(cells: list[str], tag: str) -> str:
        cells = (cells + [""] * len(header))[:len(header)]
        return "<tr>" + "".join(f"<{tag}{a}>{inline(c)}</{tag}>"
                                for c, a in zip(cells, aligns)) + "</tr>"

    body = "".join(row(r, "td") for r in rows)
    return (f"<div class=\"scroll\"><table><thead>{row(header, 'th')}</thead>"
            f"<tbody>{body}</tbody></table></div>", i)


# ==================================================================== gathering


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def _shown_date(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] + " UTC" if iso else "-"


def _size(n) -> str:
    if not isinstance(n, int) or isinstance(n, bool):
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def public_url(url: str | None) -> str | None:
    """A remote URL fit to publish: any user name and password (a CI token) removed."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if parts.scheme in ("ssh", "git+ssh") and "@" in parts.netloc:
        user, host = parts.netloc.rsplit("@", 1)
        return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}@{host}"))
    return url


def _card(blob: bytes | None, source: str) -> dict | None:
    if blob is None:
        return None
    text = blob.decode("utf-8", errors="replace")
    try:
        front, body = cards.split(text, source)
    except InputError as exc:
        return {"front": {}, "body": "", "error": str(exc), "text": text}
    return {"front": front, "body": body, "error": None, "text": text}


def _block(front: dict, key: str) -> dict:
    value = front.get(key)
    return value if isinstance(value, dict) else {}


def collect(reg) -> dict:
    """Everything the pages show, as plain data, read from git through the registry."""
    git = reg.git
    head = git.head()
    listing = {m["name"]: m for m in reg.list()}
    history = reg.history()
    try:
        stage_order = list(reg.config.stages)
    except RegistryError:
        stage_order = []
    at_head = []
    if head:
        files = git.run("ls-tree", "-r", "--name-only", head, "--", "models",
                        check=False).stdout.splitlines()
        suffix = "/" + cards.CARD_FILE
        at_head = [f[len("models/"):-len(suffix)] for f in files
                   if f.startswith("models/") and f.endswith(suffix)]
    names = sorted(set(listing) | set(at_head))
    states = {name: reg.model(name) for name in names}

    specs = []
    for name, state in states.items():
        specs += [cards.card_at(v.commit, name) for v in state.versions if v.registration]
        if head:
            specs.append(cards.card_at(head, name))
    blobs = git.read_many(list(dict.fromkeys(specs)))

    origin = None
    if "origin" in git.remotes():
        origin = public_url(git.run("remote", "get-url", "origin", check=False).stdout.strip())
    title = None
    readme = git.read(head, "README.md") if head else None
    if readme:
        first = readme.decode("utf-8", errors="replace").lstrip().split("\n", 1)[0]
        if first.startswith("# "):
            title = first[2:].strip()

    def order(stages) -> list[str]:
        return sorted(stages, key=lambda s: (stage_order.index(s) if s in stage_order
                                             else len(stage_order), s))

    models = []
    for name in names:
        state = states[name]
        listed = listing.get(name) or {"latest": None, "stages": {}, "deprecated": False}
        events = [e for e in history if e["name"] == name]
        chosen: dict[str, object] = {}
        for v in sorted((v for v in state.versions if v.registration),
                        key=lambda v: (v.active, v.registration.time), reverse=True):
            chosen.setdefault(v.version, v)
        versions = []
        for v in sorted(chosen.values(), key=lambda v: semver_key(v.version), reverse=True):
            source = f"{cards.card_path(name)} at {v.tag}"
            card = _card(blobs.get(cards.card_at(v.commit, name)), source)
            front = card["front"] if card else {}
            block = _block(front, "registry")
            reg_event = v.registration
            stage_events = sorted((e for events_ in v.stage_events.values() for e in events_),
                                  key=lambda e: e.order)
            info = {
                "version": v.version, "tag": v.tag, "commit": v.commit,
                "date": _when(reg_event.time), "who": reg_event.tagger,
                "message": split_hashes(reg_event.message)[0],
                "active": v.active and not state.deprecated,
                "deregistered": not v.active, "stages": order(state.stages_of(v)),
                "card": card, "artifact": _block(block, "artifact"),
                "previous": block.get("previous_version"),
                "lineage": _block(block, "lineage"),
                "metrics": cards.metrics_of(front) if card else {},
                "stage_events": [{"date": _when(e.time), "stage": e.stage,
                                  "action": e.action, "tag": e.tag, "who": e.tagger}
                                 for e in stage_events],
                "doc": None, "doc_note": None,
            }
            if info["active"]:
                try:
                    doc = reg.doc(f"{name}@{v.version}", "html")["text"]
                    info["doc"] = doc.split("<body>", 1)[1].rsplit("</body>", 1)[0]
                except (RegistryError, IndexError) as exc:
                    info["doc_note"] = f"not available: {exc}"
            elif state.deprecated:
                info["doc_note"] = ("not available while the model is deprecated: "
                                    f"`registry doc` refuses {name}")
            else:
                info["doc_note"] = "not available for a deregistered version"
            versions.append(info)
        head_card = _card(blobs.get(cards.card_at(head, name)) if head else None,
                          f"{cards.card_path(name)} at HEAD")
        if head_card is not None:
            card, card_source = head_card, f"at HEAD (commit {head[:12]})"
        elif versions:
            card, card_source = versions[0]["card"], f"of {versions[0]['version']}"
        else:
            card, card_source = None, None
        metric_names: list[str] = []
        for info in sorted(versions, key=lambda i: semver_key(i["version"]), reverse=True):
            metric_names += [m for m in info["metrics"] if m not in metric_names]
        models.append({
            "name": name, "latest": listed["latest"],
            "stages": {s: listed["stages"][s] for s in order(listed["stages"])},
            "deprecated": listed["deprecated"], "registered": bool(state.events),
            "versions": versions, "events": events, "card": card, "card_source": card_source,
            "metric_names": metric_names,
        })
    return {"title": title or os.path.basename(reg.root.rstrip("/")) or "Model registry",
            "head": head, "origin": origin, "stages": stage_order, "models": models,
            "events": history}


# ==================================================================== pages

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--accent:#0969da;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;gap:1.5rem;align-items:baseline;padding:.8rem 2rem;
border-bottom:1px solid var(--line);background:var(--soft)}
.brand{font-weight:600;color:var(--fg)}.crumbs{color:var(--muted)}
main{max-width:1180px;margin:0 auto;padding:1.2rem 2rem 3rem}
h1{font-size:1.7rem;margin:.4rem 0 .6rem}h2{font-size:1.25rem;margin:2rem 0 .6rem;
padding-bottom:.3rem;border-bottom:1px solid var(--line)}h3{font-size:1.05rem}
.lead{color:var(--muted);margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
th[scope=row]{width:11rem}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.al-center{text-align:center}.al-right{text-align:right}
.scroll{overflow-x:auto}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--soft);padding:.1em .3em;border-radius:4px;overflow-wrap:anywhere}
pre{background:var(--soft);padding:.8rem 1rem;border-radius:6px;overflow-x:auto}
pre code{background:none;padding:0}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:.1rem .5rem;
border-radius:999px;border:1px solid var(--line);background:var(--soft);color:var(--muted);
margin:0 .25rem .15rem 0;white-space:nowrap}
.badge.stage{background:#ddf4ff;border-color:#54aeff;color:#0550ae}
.badge.active{background:#dafbe1;border-color:#4ac26b;color:var(--ok)}
.badge.deprecated,.badge.deregistered{background:#ffebe9;border-color:#ff8182;color:var(--bad)}
.badge.pending{background:#fff8c5;border-color:#d4a72c;color:var(--warn)}
.filter{display:flex;gap:1rem;align-items:center;margin:1rem 0 .4rem}
.filter input{flex:0 1 26rem;font:inherit;padding:.45rem .7rem;border:1px solid var(--line);
border-radius:6px}
.muted,.note{color:var(--muted)}.note{font-size:.9rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.2rem;margin:.8rem 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure.chart{margin:0;padding:.6rem .8rem;border:1px solid var(--line);border-radius:8px}
figure.chart figcaption{font-weight:600;margin-bottom:.2rem}
figure.chart figcaption span{font-weight:400;color:var(--muted);font-size:.85rem}
svg .grid{stroke:#e6eaef;stroke-width:1}svg .axis{stroke:#afb8c1;stroke-width:1}
svg .line{fill:none;stroke:var(--accent);stroke-width:2}
svg .point{fill:var(--accent);stroke:#fff;stroke-width:1.5}
svg .point.withdrawn{fill:#fff;stroke:var(--bad);stroke-width:2}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
ol.timeline{list-style:none;padding:0;margin:0;border-left:2px solid var(--line)}
ol.timeline li{position:relative;padding:.2rem 0 .8rem 1.2rem}
ol.timeline li::before{content:"";position:absolute;left:-7px;top:.55rem;width:12px;height:12px;
border-radius:50%;background:var(--accent);border:2px solid #fff}
ol.timeline li.deregister::before,ol.timeline li.deprecate::before,
ol.timeline li.unassign::before{background:var(--bad)}
ol.timeline li.register::before{background:var(--ok)}
ol.timeline time{color:var(--muted);font-size:.85rem;margin-right:.5rem}
.message{color:var(--muted);white-space:pre-wrap}
.card-body{border:1px solid var(--line);border-radius:8px;padding:.2rem 1.4rem;margin-top:1rem}
.doc{border-left:3px solid var(--line);padding-left:1rem}
blockquote{margin:0;padding:0 1rem;color:var(--muted);border-left:3px solid var(--line)}
footer{max-width:1180px;margin:0 auto;padding:1rem 2rem 2rem;color:var(--muted);
font-size:.85rem;border-top:1px solid var(--line)}
"""

FILTER_JS = """
(function () {
  var box = document.getElementById("filter");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#models tbody tr"));
  var shown = document.getElementById("shown");
  var none = document.getElementById("no-match");
  function apply() {
    var terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search") || "";
      var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
      row.hidden = !match;
      if (match) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " models";
    none.hidden = count !== 0;
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { box.value = query; }
  box.addEventListener("input", apply);
  document.getElementById("filter-box").hidden = false;
  apply();
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = ("default-src 'none'; img-src data:; style-src " + _hash(CSS) + "; script-src "
       + _hash(FILTER_JS) + "; base-uri 'none'; form-action 'none'")


def model_page(name: str) -> str:
    return f"models/{name}/index.html"


def version_page(name: str, version: str) -> str:
    return f"models/{name}/{version}.html"


def _href(here: str, target: str) -> str:
    rel = posixpath.relpath(target, posixpath.dirname(here) or ".")
    return quote(rel, safe="/")


def _a(here: str, target: str, label_html: str) -> str:
    return f'<a href="{esc(_href(here, target))}">{label_html}</a>'


def _shell(site: dict, here: str, title: str, crumbs: list[tuple[str, str | None]],
           body: str, script: bool = False) -> str:
    trail = " › ".join(_a(here, target, esc(label)) if target else
                       f'<span aria-current="page">{esc(label)}</span>'
                       for label, target in crumbs)
    head = site["head"][:12] if site["head"] else "no commit"
    origin = f" of {esc(site['origin'])}" if site["origin"] else ""
    js = f"<script>{FILTER_JS}</script>\n" if script else ""
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header class=\"top\"><a class=\"brand\" href=\"{esc(_href(here, 'index.html'))}\">"
        f"{esc(site['title'])}</a>"
        f"<nav class=\"crumbs\" aria-label=\"breadcrumbs\">{trail}</nav></header>\n"
        f"<main>\n{body}\n</main>\n"
        f"<footer>Built with <code>registry site</code> from commit <code>{esc(head)}</code>"
        f"{origin} and every registry tag.</footer>\n{js}</body>\n</html>\n")


def _badges(stages: list[str], here: str | None = None, name: str | None = None,
            versions: dict | None = None) -> str:
    out = []
    for stage in stages:
        label = esc(stage)
        if versions is not None:
            version = versions[stage]
            label += " " + esc(version)
            if here and name:
                label = _a(here, version_page(name, version), label)
        out.append(f'<span class="badge stage">{label}</span>')
    return " ".join(out)


def _status(model: dict) -> str:
    if model["deprecated"]:
        return '<span class="badge deprecated">deprecated</span>'
    if not model["registered"]:
        return '<span class="badge pending">no version yet</span>'
    if model["latest"] is None:
        return '<span class="badge deregistered">no active version</span>'
    return '<span class="badge active">active</span>'


_VERBS = {REGISTER: "registered", DEREGISTER: "deregistered", ASSIGN: "promoted",
          UNASSIGN: "demoted", DEPRECATE: "deprecated"}


def _event_text(event: dict) -> str:
    action, version, stage = event["event"], event.get("version"), event.get("stage")
    if action == ASSIGN:
        return f"promoted {version or '?'} to {stage}"
    if action == UNASSIGN:
        return f"demoted {version or '?'} from {stage}"
    if action == DEPRECATE:
        return "deprecated the model"
    return f"{_VERBS.get(action, action)} {version or ''}".strip()


def _time(iso: str | None) -> str:
    return f'<time datetime="{esc(iso)}">{esc(_shown_date(iso))}</time>' if iso else "-"


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict) and value:
        rows = []
        for key, item in value.items():
            rows += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [(prefix, ", ".join("null" if v is None else str(v) for v in value) or "[]")]
        rows = []
        for index, item in enumerate(value):
            rows += _flatten(item, f"{prefix}[{index}]")
        return rows
    return [(prefix, "null" if value is None else str(value))]


def _card_html(card: dict | None, skip=("registry", "model-index")) -> str:
    if card is None:
        return '<p class="note">No card.</p>'
    if card["error"]:
        return (f'<p class="note">The card could not be read: {esc(card["error"])}</p>'
                f'<pre class="plain">{esc(card["text"])}</pre>')
    rows = [(k, v) for k, v in _flatten({k: v for k, v in card["front"].items()
                                         if k not in skip})]
    fields = "".join(f"<tr><th scope=\"row\"><code>{esc(k)}</code></th><td>{esc(v)}</td></tr>"
                     for k, v in rows)
    table = (f'<details class="fields"><summary>Card fields ({len(rows)})</summary>'
             f'<div class="scroll"><table><tbody>{fields}</tbody></table></div></details>'
             if rows else "")
    return f'{table}<div class="card-body">{markdown(card["body"], 2)}</div>'


def _format(value) -> str:
    number = _number(value)
    if number is not None:
        return f"{number:.4g}"
    return "-" if value is None else str(value)


def _ticks(low: float, high: float) -> list[float]:
    """Three to six round values that span [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    digits = max(0, 2 - math.floor(math.log10(step)))
    first = math.floor(low / step)
    count = math.ceil(high / step) - first
    return [round((first + k) * step, digits) for k in range(count + 1)]


def _tick_label(value: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0]
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    if max(abs(ticks[0]), abs(ticks[-1])) >= 1e6:
        return f"{value:.3g}"
    if digits > 6:
        return f"{value:.7g}"
    return f"{value:.{digits}f}"


def chart(metric: str, points: list[tuple[str, float, bool]], ident: str) -> str:
    """An SVG line chart of one metric across versions (oldest first); hollow points are
    versions since deregistered."""
    width, height, left, right, top, bottom = 440, 196, 58, 18, 14, 32
    values = [v for _, v, _ in points]
    ticks = _ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    span_x, span_y = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (span_x * i / (len(points) - 1) if len(points) > 1 else span_x / 2)

    def y(v: float) -> float:
        return top + span_y * (1 - (v - low) / (high - low))

    parts = [f'<svg class="chart" id="{esc(ident)}" data-metric="{esc(metric)}" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-labelledby="{esc(ident)}-title">',
             f'<title id="{esc(ident)}-title">{esc(metric)} across versions</title>']
    for value in ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f'{esc(_tick_label(value, ticks))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" '
                 f'y2="{height - bottom}"/>')
    step = max(1, math.ceil(len(points) / 6))
    for i, (version, _, _) in enumerate(points):
        if i % step == 0 or i == len(points) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" '
                         f'text-anchor="middle">{esc(version)}</text>')
    if len(points) > 1:
        line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v, _) in enumerate(points))
        parts.append(f'<polyline class="line" points="{line}"/>')
    for i, (version, value, active) in enumerate(points):
        cls = "point" if active else "point withdrawn"
        note = "" if active else " (deregistered)"
        parts.append(f'<circle class="{cls}" cx="{x(i):.1f}" cy="{y(value):.1f}" r="4.5">'
                     f'<title>{esc(version)}: {esc(f"{value:.6g}")}{note}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def render_index(site: dict) -> str:
    here = "index.html"
    models = site["models"]
    rows = []
    for m in models:
        last = m["events"][0] if m["events"] else None
        head_front = (m["card"] or {}).get("front") or {}
        tags = head_front.get("tags") if isinstance(head_front.get("tags"), list) else []
        search = " ".join([m["name"], m["latest"] or "", *(f"{s} {v}" for s, v in
                                                           m["stages"].items()),
                           "deprecated" if m["deprecated"] else "", *map(str, tags)]).lower()
        active = sum(1 for v in m["versions"] if not v["deregistered"])
        latest = (_a(here, version_page(m["name"], m["latest"]), esc(m["latest"]))
                  if m["latest"] else '<span class="muted">-</span>')
        change = (f"{_time(last['date'])}<br><span class=\"muted\">{esc(_event_text(last))}"
                  f"</span>" if last else '<span class="muted">not tagged yet</span>')
        stages = _badges(list(m["stages"]), here, m["name"], m["stages"]) or "-"
        rows.append(
            f'<tr data-search="{esc(search)}"><td>'
            f'{_a(here, model_page(m["name"]), esc(m["name"]))}</td><td>{latest}</td>'
            f'<td>{stages}</td><td class="num">{active}</td><td>{change}</td>'
            f'<td>{_status(m)}</td></tr>')
    versions = sum(len(m["versions"]) for m in models)
    table = (
        '<div class="filter" id="filter-box" hidden><input type="search" id="filter" '
        'placeholder="Filter by name, version, stage or tag" aria-label="Filter models" '
        'autocomplete="off"><span id="shown" class="muted" aria-live="polite"></span></div>'
        '<div class="scroll"><table id="models"><thead><tr><th>model</th><th>latest</th>'
        '<th>stages</th><th class="num">versions</th><th>last change</th><th>status</th></tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table></div>'
        '<p id="no-match" class="note" hidden>No model matches the filter.</p>'
        if models else '<p class="note">No model is registered yet: <code>registry register '
                       'NAME PATH</code> adds the first.</p>')
    recent = "".join(
        f'<li class="{esc(e["event"])}">{_time(e["date"])}'
        f'{_a(here, model_page(e["name"]), esc(e["name"]))}: {esc(_event_text(e))} '
        f'<span class="muted">by {esc(e["tagger"])}</span></li>' for e in site["events"][:10])
    body = (f"<h1>{esc(site['title'])}</h1>"
            f'<p class="lead">{len(models)} model{"s" if len(models) != 1 else ""}, '
            f"{versions} registered version{'s' if versions != 1 else ''}, "
            f"{len(site['events'])} event{'s' if len(site['events']) != 1 else ''}. "
            f"Stages in promotion order: {esc(', '.join(site['stages']) or '-')}.</p>"
            f"{table}"
            + (f'<h2>Recent events</h2><ol class="timeline">{recent}</ol>' if recent else ""))
    return _shell(site, here, site["title"], [("Models", None)], body, script=True)


def render_model(site: dict, m: dict) -> str:
    name = m["name"]
    here = model_page(name)
    metrics = m["metric_names"][:KEY_METRICS]
    head_front = (m["card"] or {}).get("front") or {}
    rows = []
    for v in m["versions"]:
        status = ('<span class="badge deregistered">deregistered</span>' if v["deregistered"]
                  else "")
        cells = "".join(f'<td class="num">{esc(_format(v["metrics"].get(k)))}</td>'
                        for k in metrics)
        rows.append(
            f'<tr><td>{_a(here, version_page(name, v["version"]), esc(v["version"]))}</td>'
            f'<td>{_time(v["date"])}</td><td>{esc(v["who"])}</td>'
            f'<td>{_badges(v["stages"])}{status}</td>'
            f'<td class="num">{esc(_size(v["artifact"].get("size")))}</td>{cells}</tr>')
    head_cells = "".join(f'<th class="num">{esc(k)}</th>' for k in metrics)
    versions = (f'<div class="scroll"><table id="versions"><thead><tr><th>version</th>'
                f'<th>registered</th><th>by</th><th>stages</th><th class="num">size</th>'
                f'{head_cells}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
                if rows else '<p class="note">No version is registered yet.</p>')

    charts = []
    ordered = sorted(m["versions"], key=lambda v: semver_key(v["version"]))
    for index, metric in enumerate(m["metric_names"]):
        points = [(v["version"], _number(v["metrics"].get(metric)), not v["deregistered"])
                  for v in ordered]
        points = [p for p in points if p[1] is not None]
        if not points:
            continue
        direction = ("lower is better" if reports.LOWER_IS_BETTER.search(metric)
                     else "higher is better")
        charts.append(f'<figure class="chart"><figcaption>{esc(metric)} '
                      f'<span>({direction})</span></figcaption>'
                      f'{chart(metric, points, f"chart-{index}")}</figure>')
    chart_html = (f'<div class="charts">{"".join(charts)}</div>' if charts else
                  '<p class="note">No version records metrics in its card\'s model-index: '
                  'register with <code>--metrics metrics.json</code>.</p>')

    timeline = "".join(
        f'<li class="{esc(e["event"])}">{_time(e["date"])}<strong>{esc(_event_text(e))}'
        f'</strong> <span class="muted">by {esc(e["tagger"])} · tag <code>{esc(e["tag"])}'
        f'</code></span>' + (f'<div class="message">{esc(e["message"])}</div>'
                             if e["message"] else "") + "</li>" for e in m["events"])
    latest = (_a(here, version_page(name, m["latest"]), esc(m["latest"])) if m["latest"]
              else "none")
    facts = [("latest", latest),
             ("stages", _badges(list(m["stages"]), here, name, m["stages"]) or "none"),
             ("versions", f"{sum(not v['deregistered'] for v in m['versions'])} active, "
                          f"{sum(v['deregistered'] for v in m['versions'])} deregistered"),
             ("status", _status(m))]
    for key in ("owner", "license"):
        if head_front.get(key):
            facts.append((key, esc(head_front[key])))
    purpose = _block(head_front, "eu_ai_act").get("intended_purpose")
    body = (f"<h1>{esc(name)}</h1>"
            + (f'<p class="lead">{esc(purpose)}</p>' if purpose else "")
            + '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
            + "</dl>"
            f'<section id="versions-section"><h2>Versions</h2>{versions}</section>'
            f'<section id="metrics"><h2>Metrics across versions</h2>{chart_html}</section>'
            f'<section id="timeline"><h2>Timeline</h2>'
            + (f'<ol class="timeline">{timeline}</ol>' if timeline else
               '<p class="note">No registry tag yet.</p>') + "</section>"
            '<section id="card"><h2>Model card</h2>'
            + (f'<p class="note">The card {esc(m["card_source"])}.</p>' if m["card_source"]
               else "") + f"{_card_html(m['card'])}</section>")
    return _shell(site, here, f"{name} · {site['title']}",
                  [("Models", "index.html"), (name, None)], body)


def render_version(site: dict, m: dict, v: dict) -> str:
    name, version = m["name"], v["version"]
    here = version_page(name, version)
    art = v["artifact"]
    ref = f"{name}@{version}"
    out_file = posixpath.basename(art.get("path") or "model") or "model"
    url = site["origin"] or "<git URL of this registry>"
    if v["active"]:
        fetch = (f'<pre><code>registry get {esc(ref)} -o {esc(out_file)}\n'
                 f'registry get {esc(ref)} --repo {esc(url)} -o {esc(out_file)}\n'
                 f'dvc artifacts get {esc(url)} {esc(name)} --rev {esc(version)}</code></pre>'
                 '<p class="note"><code>registry get</code> checks the md5 recorded here '
                 'before it writes the file.</p>')
    else:
        why = "the model is deprecated" if m["deprecated"] else "it was deregistered"
        fetch = (f'<p class="note">This version does not resolve: {why}. Its bytes stay in '
                 f'the DVC remote; <code>registry history {esc(name)}</code> shows what '
                 'happened.</p>')
    badges = _badges(v["stages"]) + (
        '<span class="badge deregistered">deregistered</span>' if v["deregistered"] else "") + (
        '<span class="badge deprecated">model deprecated</span>' if m["deprecated"] else "")
    facts = [("tag", f"<code>{esc(v['tag'])}</code>"),
             ("commit", f"<code>{esc(v['commit'])}</code>"),
             ("registered", f"{_time(v['date'])} by {esc(v['who'])}"),
             ("message", f'<span class="message">{esc(v["message"])}</span>'),
             ("artifact", f"<code>{esc(art.get('path'))}</code>"),
             ("size", esc(_size(art.get("size"))) + (f" in {esc(art['nfiles'])} files"
                                                     if art.get("nfiles") else "")),
             ("md5", f"<code>{esc(art.get('md5'))}</code>"),
             ("sha256", f"<code>{esc(art.get('sha256'))}</code>")]
    facts_html = "".join(f"<tr><th scope=\"row\">{k}</th><td>{val}</td></tr>"
                         for k, val in facts)
    metric_rows = "".join(f'<tr><td>{esc(k)}</td><td class="num">{esc(_format(val))}</td></tr>'
                          for k, val in v["metrics"].items())
    metrics_html = (f'<table><thead><tr><th>metric (model-index)</th><th class="num">value'
                    f'</th></tr></thead><tbody>{metric_rows}</tbody></table>' if metric_rows
                    else '<p class="note">No metrics recorded.</p>')

    known = {x["version"] for x in m["versions"]}

    def version_link(other):
        if other in known:
            return _a(here, version_page(name, other), esc(other))
        return esc(other) if other else "none (first version)"

    followers = [x["version"] for x in m["versions"] if x["previous"] == version]
    front = (v["card"] or {}).get("front") or {}
    lineage_rows = [("previous version", version_link(v["previous"])),
                    ("followed by", ", ".join(version_link(x) for x in reversed(followers))
                     or "none yet"),
                    ("data sets", esc(", ".join(map(str, front.get("datasets") or []))
                                      or "not recorded")),
                    ("base model", esc(front.get("base_model") or "none"))]
    if v["lineage"]:
        for key, value in _flatten(v["lineage"], "training"):
            lineage_rows.append((esc(key), f"<code>{esc(value)}</code>"))
    else:
        lineage_rows.append(("training lineage", "not recorded"))
    lineage = "".join(f"<tr><th scope=\"row\">{k}</th><td>{val}</td></tr>"
                      for k, val in lineage_rows)
    stage_rows = "".join(
        f"<tr><td>{_time(e['date'])}</td><td>{esc(e['stage'])}</td>"
        f"<td>{'assigned' if e['action'] == ASSIGN else 'unassigned'}</td>"
        f"<td><code>{esc(e['tag'])}</code></td><td>{esc(e['who'])}</td></tr>"
        for e in v["stage_events"])
    stages = (f'<table><thead><tr><th>date</th><th>stage</th><th>event</th><th>tag</th>'
              f'<th>by</th></tr></thead><tbody>{stage_rows}</tbody></table>' if stage_rows
              else '<p class="note">Never promoted.</p>')
    if v["doc"] is not None:
        doc = re.sub(r"<(/?)h([1-6])>", lambda x: f"<{x[1]}h{min(6, int(x[2]) + 2)}>",
                     v["doc"])
        doc_html = (f'<p class="note">What <code>registry doc {esc(ref)}</code> prints, '
                    f'organised by Annex IV of Regulation (EU) 2024/1689.</p>'
                    f'<div class="doc">{doc}</div>')
    else:
        doc_html = f'<p class="note">Technical documentation {esc(v["doc_note"])}.</p>'
    body = (f"<h1>{esc(name)} {esc(version)}</h1><p>{badges}</p>"
            f'<section id="fetch"><h2>Fetch this version</h2>{fetch}</section>'
            f'<section id="registration"><h2>Registration</h2><table><tbody>{facts_html}'
            f'</tbody></table></section>'
            f'<section id="metrics"><h2>Metrics</h2>{metrics_html}</section>'
            f'<section id="lineage"><h2>Lineage</h2><table><tbody>{lineage}</tbody></table>'
            f'<h3>Stages this version has held</h3>{stages}</section>'
            f'<section id="card"><h2>Model card</h2>{_card_html(v["card"])}</section>'
            f'<section id="doc"><h2>Technical documentation</h2>{doc_html}</section>')
    return _shell(site, here, f"{name} {version} · {site['title']}",
                  [("Models", "index.html"), (name, model_page(name)), (version, None)], body)


def render(site: dict) -> dict[str, str]:
    """Every page of the site, by its path relative to the site's root."""
    pages = {"index.html": render_index(site)}
    for m in site["models"]:
        pages[model_page(m["name"])] = render_model(site, m)
        for v in m["versions"]:
            pages[version_page(m["name"], v["version"])] = render_version(site, m, v)
    return pages


# ==================================================================== writing


def build(reg, out_dir: str) -> dict:
    """Write the site to `out_dir` (made, or replaced if an earlier `registry site` wrote it)."""
    target = os.path.abspath(out_dir)
    if os.path.isfile(target):
        raise InputError(f"{out_dir} is a file: choose a folder for the site")
    if os.path.isdir(target) and os.listdir(target) and not os.path.exists(
            os.path.join(target, MARKER)):
        raise InputError(f"{out_dir} is not empty and was not written by `registry site`: "
                         "choose an empty or new folder")
    site = collect(reg)
    pages = render(site)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".registry-site-", dir=parent)
    try:
        for rel, text in pages.items():
            path = os.path.join(tmp, *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(tmp, MARKER), "w", encoding="utf-8") as f:
            f.write("Written by `registry site`; it replaces this folder on its next run.\n")
        os.chmod(tmp, 0o755)
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"output": target, "pages": len(pages),
            "models": [m["name"] for m in site["models"]],
            "index": os.path.join(target, "index.html")}
