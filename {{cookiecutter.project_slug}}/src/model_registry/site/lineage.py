"""The geometry of a version's lineage graph: data, stages and the model, left to right.

Nodes come from the card's `registry.lineage` (the stage that made the model, its
dependencies, the upstream stages and theirs); each node sits in the column of its depth (the
longest chain of edges that reaches it), so sources are on the left and the model on the
right. Only numbers and plain text are computed here: `_lineage.html.j2` draws them, escaped.
"""

from __future__ import annotations

NODE_W, NODE_H = 176, 32
COL_W, ROW_H = 224, 46  # a column per depth, a row per node within it
PAD = 8
MAX_LABEL = 24  # characters drawn in a node; the full text is in its tooltip


def _text(value) -> str:
    return "" if value is None else str(value)


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else "…" + text[-(MAX_LABEL - 1):]


def _web(url) -> str | None:
    """A link only to an http(s) address: a card's text never becomes any other URL."""
    url = _text(url)
    return url if url.lower().startswith(("https://", "http://")) else None


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def graph(lineage: dict, model: str) -> dict | None:
    """The laid-out graph of a version's lineage, or None when no stage is recorded (no
    lineage, parameters only, or a model made outside the pipeline)."""
    if not lineage.get("stage"):
        return None
    nodes: dict[tuple, dict] = {}
    edges: list[tuple[tuple, tuple]] = []

    def node(key: tuple, kind: str, label: str, tip: str, href: str | None = None) -> tuple:
        nodes.setdefault(key, {"kind": kind, "label": label, "tip": tip, "href": href})
        return key

    def data(dep: dict) -> tuple:
        path, md5 = _text(dep.get("path")), _text(dep.get("md5"))
        tip = f"{path}\nmd5 {md5}" if md5 else path
        if dep.get("repo"):
            tip += f"\nimported from {_text(dep['repo'])} at {_text(dep.get('rev_lock'))}"
        return node(("data", path, md5), "import" if dep.get("repo") else "data", path, tip,
                    _web(dep.get("repo")))

    def stage(name, cmd, deps, kind: str) -> tuple:
        name = _text(name)
        key = node(("stage", name), kind, name, f"stage {name}\n{_text(cmd)}".rstrip())
        for dep in _dicts(deps):
            edges.append((data(dep), key))
        return key

    made = stage(lineage["stage"], lineage.get("cmd"), lineage.get("deps"), "producer")
    edges.append((made, node(("model",), "model", model, f"{model}\nthe registered artifact")))
    for up in _dicts(lineage.get("upstream")):
        key = stage(up.get("stage"), up.get("cmd"), up.get("deps"), "stage")
        for out in _dicts(up.get("outs")):  # what it produced, where the card records it
            edges.append((key, data(out)))
    return _layout(nodes, list(dict.fromkeys(edges)))


def _layout(nodes: dict, edges: list[tuple]) -> dict:
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # longest path; bounded, so a cycle in a card cannot hang it
        moved = False
        for a, b in edges:
            if depth[b] < depth[a] + 1 and depth[a] + 1 < len(nodes):
                depth[b], moved = depth[a] + 1, True
        if not moved:
            break
    columns: dict[int, list] = {}
    for key in nodes:
        columns.setdefault(depth[key], []).append(key)
    place = {}
    for col, keys in enumerate(sorted(columns)):
        for row, key in enumerate(columns[keys]):
            place[key] = (PAD + col * COL_W, PAD + row * ROW_H)
    drawn = []
    for key, info in nodes.items():
        x, y = place[key]
        drawn.append({**info, "x": x, "y": y, "text_x": x + NODE_W / 2,
                      "text_y": y + NODE_H / 2 + 4, "short": _short(info["label"])})
    lines = []
    for a, b in edges:
        (ax, ay), (bx, by) = place[a], place[b]
        x1, y1, x2, y2 = ax + NODE_W, ay + NODE_H / 2, bx, by + NODE_H / 2
        mid = (x1 + x2) / 2
        lines.append(f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} "
                     f"{x2 - 4:.0f},{y2:.0f}")
    return {"nodes": drawn, "edges": lines, "node_w": NODE_W, "node_h": NODE_H,
            "width": 2 * PAD + (len(columns) - 1) * COL_W + NODE_W,
            "height": 2 * PAD + (max(map(len, columns.values())) - 1) * ROW_H + NODE_H}
