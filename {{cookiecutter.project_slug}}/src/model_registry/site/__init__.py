"""`registry site`: a static HTML catalogue of the registry, for a browser or a Pages host.

It reads what the other commands read (the tags, and the cards at tagged commits and at HEAD)
and writes plain files: an index of the models with a filter box; a page per model (versions,
stages, a timeline of events, a chart of each model-index metric across versions, the card);
and a page per version (its card, lineage, technical documentation, and how to fetch it).

collect.py gathers the data; render.py fills the Jinja2 templates in templates/, autoescaped;
md.py renders card Markdown with raw HTML off and links to http(s) URLs only; charts.py lays
out the SVG charts. Nothing is loaded from a network: static/'s style and the filter's script
are inlined, and each page's Content Security Policy allows exactly those (by hash) and nothing
else, should anything ever slip through.

This module stays light (its names load their modules when used), so `registry doc` renders
its HTML through render.py without gathering anything for a site.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..errors import InputError

MARKER = ".registry-site"  # marks a folder this command wrote, so it may replace it


def build(reg, out_dir: str) -> dict:
    """Write the site to `out_dir` (made, or replaced if an earlier `registry site` wrote it)."""
    from .collect import collect
    from .render import pages

    target = os.path.abspath(out_dir)
    if os.path.isfile(target):
        raise InputError(f"{out_dir} is a file: choose a folder for the site")
    if os.path.isdir(target) and os.listdir(target) and not os.path.exists(
            os.path.join(target, MARKER)):
        raise InputError(f"{out_dir} is not empty and was not written by `registry site`: "
                         "choose an empty or new folder")
    site = collect(reg)
    written = pages(site)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".registry-site-", dir=parent)
    try:
        for rel, text in written.items():
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
    return {"output": target, "pages": len(written),
            "models": [m["name"] for m in site["models"]],
            "index": os.path.join(target, "index.html")}


def __getattr__(name: str):
    """`public_url` and `markdown`, from the modules that define them, on first use."""
    if name == "public_url":
        from ..gitrepo import public_url
        return public_url
    if name == "markdown":
        from .md import markdown
        return markdown
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
