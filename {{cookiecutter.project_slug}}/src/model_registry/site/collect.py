"""What the site's pages show, as plain data read from git through the registry.

Nothing here formats HTML: the templates do, and they escape every value gathered here.
"""

from __future__ import annotations

import os

from .. import cards
from ..commands import query, review
from ..errors import InputError, RegistryError
from ..gitrepo import public_url
from ..tags import semver_key, split_hashes
from ..units import iso_utc


def _card(blob: bytes | None, source: str) -> dict | None:
    """A card's front matter and body; a card that does not parse keeps its text and error."""
    if blob is None:
        return None
    text = blob.decode("utf-8", errors="replace")
    try:
        front, body = cards.split(text, source)
    except InputError as exc:
        return {"front": {}, "body": "", "error": str(exc), "text": text}
    return {"front": front, "body": body, "error": None, "text": text}


def _block(front: dict, key: str) -> dict:
    """A mapping field of a card, or {} when it is missing or not a mapping."""
    value = front.get(key)
    return value if isinstance(value, dict) else {}


def _title(git, head: str | None) -> str | None:
    """The registry README's first heading, if it has one."""
    readme = git.read(head, "README.md") if head else None
    if readme:
        first = readme.decode("utf-8", errors="replace").lstrip().split("\n", 1)[0]
        if first.startswith("# "):
            return first[2:].strip()
    return None


def _models_at(git, head: str | None) -> list[str]:
    """The models with a card at HEAD, tagged or not (a pull request's new model shows too)."""
    if not head:
        return []
    files = git.run("ls-tree", "-r", "--name-only", head, "--", "models",
                    check=False).stdout.splitlines()
    suffix = "/" + cards.CARD_FILE
    return [f[len("models/"):-len(suffix)] for f in files
            if f.startswith("models/") and f.endswith(suffix)]


def _read_cards(git, head: str | None, states: dict) -> dict:
    """Every card a page shows (each registered version's, and each model's at HEAD), read
    from git in one go."""
    specs = []
    for name, state in states.items():
        specs += [cards.card_at(v.commit, name) for v in state.versions if v.registration]
        if head:
            specs.append(cards.card_at(head, name))
    return git.read_many(list(dict.fromkeys(specs)))


def collect(reg) -> dict:
    """Everything the pages show, as plain data, read from git through the registry."""
    git = reg.git
    head = git.head()
    listing = {m.name: vars(m) for m in query.list_models(reg)}
    history = [vars(e) for e in query.history(reg)]
    try:  # registry.yaml's, .gto's, or as the tags use them
        stage_order = list(reg.stages())
    except RegistryError:  # a registry.yaml or .gto that does not read: the pages still can
        stage_order = []
    names = sorted(set(listing) | set(_models_at(git, head)))
    states = {name: reg.model(name) for name in names}
    blobs = _read_cards(git, head, states)
    origin = None
    if "origin" in git.remotes():
        origin = public_url(git.run("remote", "get-url", "origin", check=False).stdout.strip())

    def order(stages) -> list[str]:
        return sorted(stages, key=lambda s: (stage_order.index(s) if s in stage_order
                                             else len(stage_order), s))

    models = []
    for name in names:
        state = states[name]
        listed = listing.get(name) or {"latest": None, "stages": {}, "deprecated": False}
        head_card = _card(blobs.get(cards.card_at(head, name)) if head else None,
                          f"{cards.card_path(name)} at HEAD")
        current = head_card["front"] if head_card else {}
        versions = [_version(reg, name, state, v, blobs, order, current)
                    for v in _shown_versions(state)]
        if head_card is not None:
            card, card_source = head_card, f"at HEAD (commit {head[:12]})"
        elif versions:
            card, card_source = versions[0]["card"], f"of {versions[0]['version']}"
        else:
            card, card_source = None, None
        metric_names: list[str] = []
        for info in versions:
            metric_names += [m for m in info["metrics"] if m not in metric_names]
        param_keys: list[str] = []
        for info in versions:
            param_keys += [k for k in info["params"] if k not in param_keys]
        models.append({
            "name": name, "latest": listed["latest"],
            "stages": {s: listed["stages"][s] for s in order(listed["stages"])},
            "deprecated": listed["deprecated"], "registered": bool(state.events),
            "versions": versions, "events": [e for e in history if e["name"] == name],
            "card": card, "card_source": card_source, "metric_names": metric_names,
            "param_keys": param_keys,
        })
    return {"title": _title(git, head) or os.path.basename(reg.root.rstrip("/"))
            or "Model registry",
            "head": head, "origin": origin, "stages": stage_order, "models": models,
            "events": history}


def _shown_versions(state) -> list:
    """One entry per version number, newest SemVer first: an active registration over a
    deregistered one, and the latest of several."""
    chosen: dict[str, object] = {}
    for v in sorted((v for v in state.versions if v.registration),
                    key=lambda v: (v.active, v.registration.time), reverse=True):
        chosen.setdefault(v.version, v)
    return sorted(chosen.values(), key=lambda v: semver_key(v.version), reverse=True)


def _version(reg, name: str, state, v, blobs: dict, order, current: dict) -> dict:
    """One version's page data: registration, card, artifact, lineage, stages, serious
    incidents (from its card and `current`, the model's card at HEAD), documentation."""
    card = _card(blobs.get(cards.card_at(v.commit, name)), f"{cards.card_path(name)} at {v.tag}")
    front = card["front"] if card else {}
    registry = _block(front, "registry")
    stage_events = sorted((e for events in v.stage_events.values() for e in events),
                          key=lambda e: e.order)
    info = {
        "version": v.version, "tag": v.tag, "commit": v.commit,
        "date": iso_utc(v.registration.time), "who": v.registration.tagger,
        "message": split_hashes(v.registration.message)[0],
        "active": v.active and not state.deprecated,
        "deregistered": not v.active, "stages": order(state.stages_of(v)),
        "card": card, "artifact": _block(registry, "artifact"),
        "previous": registry.get("previous_version"),
        "lineage": _block(registry, "lineage"),
        "params": _block(_block(registry, "lineage"), "params"),
        "metrics": cards.metrics_of(front) if card else {},
        "stage_events": [{"date": iso_utc(e.time), "stage": e.stage, "action": e.action,
                          "tag": e.tag, "who": e.tagger} for e in stage_events],
        "incidents": cards.incidents_of(v.version, front, current),
        "doc": None, "doc_note": None,
    }
    if info["active"]:
        try:
            info["doc"] = review.doc_blocks(reg, f"{name}@{v.version}", current)[1]
        except RegistryError as exc:
            info["doc_note"] = f"not available: {exc}"
    elif state.deprecated:
        info["doc_note"] = ("not available while the model is deprecated: "
                            f"`registry doc` refuses {name}")
    else:
        info["doc_note"] = "not available for a deregistered version"
    return info
