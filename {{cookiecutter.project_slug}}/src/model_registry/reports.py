"""Documents made from cards and git facts: the review diff and the technical documentation.

Both are built as a list of blocks (heading, paragraph, table, list, code), so the content is
written once: rendered here to Markdown (pull-request comments, CI job summaries), and to HTML
(auditors' archives, the site's version pages) by the templates of site/render.py, which escape
everything taken from a card.
"""

from __future__ import annotations

import difflib
import re

from . import cards
from .units import flatten, size

LOWER_IS_BETTER = re.compile(r"loss|error|mae|mse|rmse|mape|perplexity|latency|wer|cer", re.I)
_ANNEX_POINT = re.compile(r"Annex IV (\d)")
# A field outside Annex IV whose first provision is one of these is shown with the system's
# classification, quality management, conformity assessment and registration; any other, with
# record-keeping and transparency.
_OBLIGATIONS = re.compile(r"Art\. (6|17|43|49|50)\b|Annex VIII")
ANNEX_IV = {
    1: "General description of the AI system",
    2: "Elements of the AI system and its development",
    3: "Monitoring, functioning and control",
    4: "Appropriateness of the performance metrics",
    5: "Risk management system",
    6: "Changes through the lifecycle",
    7: "Harmonised standards applied",
    8: "EU declaration of conformity",
    9: "Post-market monitoring",
}


# ------------------------------------------------------------------ rendering


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple]) -> str:
    out = []
    for kind, *args in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + args[0])
        elif kind == "p":
            out.append(args[0])
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in args[0]) or "- (none)")
        elif kind == "table":
            header, rows = args
            lines = ["| " + " | ".join(map(_cell, header)) + " |",
                     "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "code":
            fence = "~~~~" if "```" in args[1] else "```"
            out.append(f"{fence}{args[0]}\n{args[1].rstrip()}\n{fence}")
    return "\n\n".join(out) + "\n"


# ------------------------------------------------------------------ review diff


def _short(value) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def metric_rows(old: dict, new: dict) -> list[list]:
    rows = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        change = ""
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            delta = b - a
            if delta:
                better = (delta < 0) == bool(LOWER_IS_BETTER.search(name))
                change = f"{delta:+.4g} {'▲' if delta > 0 else '▼'} {'better' if better else 'worse'}"
            else:
                change = "unchanged"
        rows.append([name, _short(a) if name in old else "-", _short(b) if name in new else "-",
                     change])
    return rows


def diff_blocks(name: str, old: cards.CardSide | None, new: cards.CardSide | None
                ) -> list[tuple]:
    """What changed in one model's card and artifact between two sides; None means absent."""
    if old is None and new is None:
        return []
    label_a = old.label if old else "(none)"
    label_b = new.label if new else "(removed)"
    blocks = [("h2", f"{name}: {label_a} → {label_b}")]
    rows = []
    for key, title in (("version", "version"), ("md5", "artifact md5"), ("size", "artifact size")):
        a = getattr(old, key) if old else None
        b = getattr(new, key) if new else None
        show = size if key == "size" else (lambda v: v or "-")
        rows.append([title, show(a), show(b), "" if a == b else "changed"])
    blocks.append(("table", ["", label_a, label_b, ""], rows))
    front_a, front_b = (old.front if old else {}), (new.front if new else {})
    metrics = metric_rows(cards.metrics_of(front_a), cards.metrics_of(front_b))
    if metrics:
        blocks += [("h3", "Metrics"), ("table", ["metric", label_a, label_b, "change"], metrics)]
    blocks += _lineage_diff(front_a, front_b, label_a, label_b)
    skip = ("registry", "model-index")
    fa = flatten({k: v for k, v in front_a.items() if k not in skip})
    fb = flatten({k: v for k, v in front_b.items() if k not in skip})
    changed = [f"`{k}`: {_short(fa.get(k))} → {_short(fb.get(k))}"
               for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    blocks += [("h3", "Changed fields"), ("list", changed)]
    body = list(difflib.unified_diff((old.body if old else "").splitlines(),
                                     (new.body if new else "").splitlines(),
                                     label_a, label_b, lineterm=""))
    blocks += [("h3", "Card text"),
               ("code", "diff", "\n".join(body)) if body else ("p", "No change to the card text.")]
    return blocks


def _lineage_diff(front_a: dict, front_b: dict, label_a: str, label_b: str) -> list[tuple]:
    """The parameters and the data (dependency md5s, the stage's and upstream's) each side's
    lineage records, when either side has one."""
    la, lb = _recorded_lineage(front_a), _recorded_lineage(front_b)
    if not (la or lb):
        return []
    pa, pb = la.get("params") or {}, lb.get("params") or {}
    params = [[k, _short(pa[k]) if k in pa else "-", _short(pb[k]) if k in pb else "-",
               "" if k in pa and k in pb and pa[k] == pb[k] else "changed"]
              for k in sorted(set(pa) | set(pb))]
    da, db = _dependency_md5s(la), _dependency_md5s(lb)
    data = [[path, da.get(path) or "-", db.get(path) or "-",
             "" if da.get(path) == db.get(path) else "changed"]
            for path in sorted(set(da) | set(db))]
    blocks = []
    if params:
        blocks += [("h3", "Parameters"), ("table", ["parameter", label_a, label_b, ""], params)]
    if data:
        blocks += [("h3", "Data"), ("table", ["dependency", label_a, label_b, ""], data)]
    return blocks


def _recorded_lineage(front: dict) -> dict:
    block = front.get("registry")
    found = block.get("lineage") if isinstance(block, dict) else None
    return found if isinstance(found, dict) else {}


def _dependency_md5s(lineage: dict) -> dict:
    """Path -> md5 of every dependency in a lineage, the stage's first, then upstream's."""
    out = {}
    for stage in [lineage] + [u for u in lineage.get("upstream") or [] if isinstance(u, dict)]:
        for dep in stage.get("deps") or []:
            if isinstance(dep, dict) and "path" in dep:
                out.setdefault(dep["path"], dep.get("md5"))
    return out


# ------------------------------------------------------------------ technical documentation


def _value(v) -> str:
    if v in (None, "", [], {}):
        return "MISSING"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def _lineage_blocks(lineage: dict) -> list[tuple]:
    """Point 2 from the lineage `register --from` recorded: the method (repository, commit,
    stage, command) under 2(a), the parameters under 2(b), the data with hashes under 2(d)."""
    if not lineage:
        return [("table", ["fact", "value"], [["training lineage", "not recorded"]])]
    if lineage.get("outside_pipeline"):
        stage = "none: made outside the DVC pipeline (no stage outputs this artifact)"
    else:
        stage = lineage.get("stage") or "not recorded"
    method = [["training repository", _value(lineage.get("repo"))],
              ["commit", _value(lineage.get("commit"))
               + (" (uncommitted changes)" if lineage.get("dirty") else "")],
              ["stage", stage]] if "commit" in lineage else [
        ["training lineage", "not recorded (only the parameters were given)"]]
    if lineage.get("cmd"):
        method.append(["command", lineage["cmd"]])
    method += [[f"upstream stage {u.get('stage')}", _value(u.get("cmd"))]
               for u in lineage.get("upstream") or []]
    if lineage.get("upstream_truncated"):
        method.append(["upstream stages", lineage["upstream_truncated"]])
    blocks = [("p", "Methods and steps of development (Annex IV 2(a)): how the artifact was "
                    "produced, as recorded at registration."),
              ("table", ["fact", "value"], method)]
    params = lineage.get("params") or {}
    blocks += [("p", "Parameters the model was trained with (Annex IV 2(b)):"),
               ("table", ["parameter", "value"],
                [[k, _value(v)] for k, v in params.items()] or [["not recorded", ""]])]
    deps = [(d, "") for d in lineage.get("deps") or []] + [
        (d, u.get("stage")) for u in lineage.get("upstream") or [] for d in u.get("deps") or []]
    blocks += [("p", "Data and code the training read, with their hashes (Annex IV 2(d)):"),
               ("table", ["path", "md5", "source", "read by"],
                [[d.get("path"), _value(d.get("md5")),
                  f"{d['repo']} at {d.get('rev_lock')}" if d.get("repo") else "this repository",
                  stage or _value(lineage.get("stage"))] for d, stage in deps]
                or [["not recorded", "", "", ""]])]
    return blocks


def technical_doc(info: dict) -> list[tuple]:
    """The model-level part of the technical documentation of one version, organised by
    Annex IV points 1 to 9.

    `info` holds the version's facts: name, version, tag, commit, tagger, date, signature,
    stages (list of [stage, event, date, tag]), front, previous (version or None), changes
    (diff blocks since the previous version), missing (list of problems), artifact, incidents
    (the serious incidents recorded for this version).
    """
    front = info["front"]
    eu = front.get("eu_ai_act") or {}
    fields = cards.schema()["properties"]["eu_ai_act"]["properties"]
    by_point: dict[int, list] = {n: [] for n in ANNEX_IV}
    owner = cards.schema()["properties"]["owner"]
    obligations = [["owner", owner["x-provision"], _value(front.get("owner"))]]
    other = []
    for field, spec in fields.items():
        if field == "serious_incidents":  # listed for this version in a section of its own
            continue
        provision = spec.get("x-provision", "")
        match = _ANNEX_POINT.search(provision)
        row = [field, provision, _value(eu.get(field))]
        if match:
            by_point[int(match[1])].append(row)
        else:
            (obligations if _OBLIGATIONS.match(provision) else other).append(row)
    art = info["artifact"]
    blocks = [
        ("h1", f"Technical documentation: {info['name']} {info['version']} (model-level part)"),
        ("p", f"Drawn from the model registry: tag {info['tag']} on commit {info['commit']}, "
              f"registered by {info['tagger']} on {info['date']}. Tag signature: "
              f"{info['signature']}. Structure follows Annex IV of Regulation (EU) 2024/1689."),
        ("p", "This is the model-level part of the technical documentation: what the registry "
              "records about this model version. Annex IV covers the whole AI system, which the "
              "provider documents beyond this model, and point 8 here gives a reference to the "
              "EU declaration of conformity, not the copy of it that Annex IV point 8 asks for."),
    ]
    for point, title in ANNEX_IV.items():
        blocks.append(("h2", f"{point}. {title} (Annex IV point {point})"))
        if point == 1:
            blocks.append(("table", ["fact", "value"], [
                ["model", info["name"]], ["version", info["version"]],
                ["previous version", info["previous"] or "none (first version)"],
                ["provider", _value(eu.get("provider"))],
                ["license", _value(front.get("license"))]]))
        if point == 2:
            lineage = (front.get("registry") or {}).get("lineage") or {}
            blocks.append(("table", ["fact", "value"], [
                ["data sets", _value(front.get("datasets"))],
                ["base model", _value(front.get("base_model")) if front.get("base_model") else "none"],
                ["library", _value(front.get("library_name"))]]))
            blocks += _lineage_blocks(lineage)
            metrics = cards.metrics_of(front)
            blocks.append(("table", ["metric (model-index)", "value"],
                           [[k, v] for k, v in metrics.items()] or [["MISSING", ""]]))
        if by_point[point]:
            blocks.append(("table", ["card field", "provision", "content"], by_point[point]))
        if point == 8:
            blocks.append(("p", "Annex IV point 8 asks for a copy of the EU declaration of "
                                "conformity referred to in Article 47: keep the copy with this "
                                "document; the card records where it is."))
        if point == 6:
            blocks.append(("p", "Stages this version has held:"))
            blocks.append(("table", ["stage", "event", "date", "tag"], info["stages"] or
                           [["-", "never promoted", "", ""]]))
            if info["previous"]:
                blocks.append(("p", f"Changes since {info['previous']}:"))
                blocks += [(k if k != "h2" else "h3", *a) for k, *a in info["changes"]]
            else:
                blocks.append(("p", "First version: no earlier version to compare with."))
    blocks.append(("h2", "Classification, quality management, conformity assessment and "
                         "registration (Art. 6, 17, 43, 49, 50)"))
    blocks.append(("table", ["card field", "provision", "content"], obligations))
    blocks.append(("h2", "Serious incidents (Art. 73)"))
    if info["incidents"]:
        blocks.append(("p", f"Serious incidents reported for {info['version']}, as recorded in "
                            "its card and in the card at HEAD:"))
        blocks.append(("table", ["reference", "date", "reported to", "summary"], [
            [_value(i.get("reference")), i.get("date") or "", i.get("reported_to") or "",
             i.get("summary") or ""] for i in info["incidents"]]))
    else:
        blocks.append(("p", f"None recorded for {info['version']}."))
    blocks.append(("h2", "Record-keeping and transparency (Art. 12, 13, 18, 19)"))
    blocks.append(("table", ["fact", "value"], [
        ["artifact", art.get("path")], ["md5", art.get("md5")], ["sha256", art.get("sha256")],
        ["size (bytes)", art.get("size")],
        ["find this version from a hash in a log", f"registry which {art.get('sha256')}"]]))
    if other:
        blocks.append(("table", ["card field", "provision", "content"], other))
    blocks.append(("h2", "Still missing"))
    blocks.append(("list", info["missing"]))
    return blocks
