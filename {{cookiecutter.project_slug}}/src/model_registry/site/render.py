"""HTML from Jinja2 templates: the site's pages and `registry doc --format html`.

Autoescape is on for every template, so a value from a card, a tag or git prints as text. The
only HTML a template takes as it is comes from `md.markdown` (card bodies) and from the
package's own files (the inline style and script). Charts are drawn by a template from the
numbers `charts.py` computes, lineage graphs from those of `lineage.py`.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from importlib.resources import files
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .. import units
from ..tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN
from .charts import model_charts, number
from .lineage import graph as lineage_graph

KEY_METRICS = 4  # metric columns in a model's versions table


def model_page(name: str) -> str:
    return f"models/{name}/index.html"


def version_page(name: str, version: str) -> str:
    return f"models/{name}/{version}.html"


def _rel(target: str, here: str) -> str:
    """The link from page `here` to page `target`, relative, so the site works from any folder
    or host path."""
    return quote(posixpath.relpath(target, posixpath.dirname(here) or "."), safe="/")


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


def _search_text(model: dict) -> str:
    """What the index's filter matches a model by: name, versions, stages, status, tags."""
    front = (model["card"] or {}).get("front") or {}
    tags = front.get("tags") if isinstance(front.get("tags"), list) else []
    return " ".join([model["name"], model["latest"] or "",
                     *(f"{s} {v}" for s, v in model["stages"].items()),
                     "deprecated" if model["deprecated"] else "", *map(str, tags)]).lower()


def _fields(value, prefix: str = "") -> list[tuple[str, str]]:
    """A nested mapping as (dotted key, value as shown) rows; a list of plain values is one
    value, separated by commas."""
    return [(key, _leaf(leaf)) for key, leaf in
            units.flatten(value, prefix, index_lists=True).items()]


def _card_fields(front: dict) -> list[tuple[str, str]]:
    """A card's front matter as rows, less what the page shows otherwise (registry block,
    model-index metrics)."""
    return _fields({k: v for k, v in front.items() if k not in ("registry", "model-index")})


def _leaf(value) -> str:
    if isinstance(value, list):
        return ", ".join("null" if v is None else str(v) for v in value) or "[]"
    return "null" if value is None else str(value)


def _markdown(text: str, heading_offset: int) -> Markup:
    from .md import markdown  # here, so `registry doc` loads no Markdown parser
    return markdown(text, heading_offset)


def _metric(value) -> str:
    plotted = number(value)
    if plotted is not None:
        return f"{plotted:.4g}"
    return "-" if value is None else str(value)


# Templates are compiled on every run, and Jinja's optimizer costs more compile time than it
# saves in rendering a site's pages. None prints as nothing, as a missing card field should.
_ENV = Environment(loader=PackageLoader(__package__, "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True, optimized=False,
                   finalize=lambda value: "" if value is None else value)
_ENV.globals.update(model_page=model_page, version_page=version_page, ASSIGN=ASSIGN,
                    KEY_METRICS=KEY_METRICS)
_ENV.filters.update(rel=_rel, event_text=_event_text, search_text=_search_text, fields=_fields,
                    card_fields=_card_fields, metric=_metric, markdown=_markdown,
                    shown_date=units.shown_date, size=units.size,
                    basename=lambda path: posixpath.basename(str(path)),
                    lineage_graph=lineage_graph, param=_leaf)


def _static(name: str) -> tuple[Markup, str]:
    """A file of static/ to inline into a page, and its hash for the page's CSP."""
    text = (files(__package__) / "static" / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"  # the package's own file: no card text in it


def pages(site: dict) -> dict[str, str]:
    """Every page of the site, by its path relative to the site's root."""
    (css, css_hash), (js, js_hash) = _static("site.css"), _static("filter.js")
    shared = {"site": site, "css": css, "js": js,
              "csp": f"default-src 'none'; img-src data:; style-src {css_hash}; script-src "
                     f"{js_hash}; base-uri 'none'; form-action 'none'"}
    index, model, version = (_ENV.get_template(f"{name}.html.j2")
                             for name in ("index", "model", "version"))
    out = {"index.html": index.render(shared, here="index.html")}
    for m in site["models"]:
        here = model_page(m["name"])
        out[here] = model.render(shared, here=here, m=m, charts=model_charts(m))
        for v in m["versions"]:
            here = version_page(m["name"], v["version"])
            out[here] = version.render(shared, here=here, m=m, v=v)
    return out


def doc_page(blocks: list[tuple], title: str) -> str:
    """The standalone HTML of `registry doc --format html`: the blocks of
    `reports.technical_doc` as the version pages show them, in a bare page for archives."""
    return _ENV.get_template("doc.html.j2").render(blocks=blocks, title=title, offset=0)
