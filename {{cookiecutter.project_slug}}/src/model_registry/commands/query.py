"""Reading the registry: `resolve`, `show`, `list`, `history`."""

from __future__ import annotations

from ..core import Registry
from ..errors import NotFoundError
from ..readcache import tags_key
from ..results import HistoryEvent, ModelSummary, Shown, Version
from ..tags import (ASSIGN, CREATE, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, check_model,
                    parse_ref, resolve_all, split_hashes)
from ..units import iso_utc


def resolve(reg: Registry, ref: str) -> Version:
    state, version = reg.locate(ref)
    return reg.describe(state, version, parse_ref(ref).stage)


def show(reg: Registry, ref: str) -> Shown:
    """The version and its card as committed at its tag; a version without a card (one gto
    registered, say) is shown with `card` None and no text."""
    state, version = reg.locate(ref)
    found = reg.describe(state, version, parse_ref(ref).stage)
    data = reg.git.read(version.commit, found.card)
    if data is None:
        return Shown(**{**vars(found), "card": None}, text="")
    return Shown(**vars(found), text=data.decode("utf-8", errors="replace"))


def list_models(reg: Registry) -> list[ModelSummary]:
    """Every model's latest version and stages; kept in the read cache for as long as no
    tag changes (see readcache)."""
    cache = reg.git.cache()
    listed = reg.git.tag_ids()
    key = tags_key(listed)
    if cache.list is not None and cache.list_key == key:
        return [ModelSummary(**m) for m in cache.list]
    events, _ = reg.git.tags(listed=listed)
    models = []
    for name, state in resolve_all(events).items():
        latest = state.latest
        models.append(ModelSummary(
            name=name, latest=latest.version if latest else None,
            stages={s: v.version for s, v in sorted(state.stages.items())},
            versions=[v.version for v in state.active_versions],
            deprecated=state.deprecated))
    cache.set_list(key, [vars(m) for m in models])
    cache.save()
    return models


# `gto history` orders events of one second by kind, in this order (oldest first), so a
# registration and the assignment gto made in the same second list as gto lists them.
_HISTORY_RANK = {CREATE: 0, DEPRECATE: 1, REGISTER: 2, DEREGISTER: 3, ASSIGN: 4, UNASSIGN: 5}


def history(reg: Registry, name: str | None = None) -> list[HistoryEvent]:
    """Every event (of one model, or of all), newest first; a stage event names the version
    registered at its commit, a deprecation none, as `gto history` does."""
    if name:
        check_model(name)
    events, _ = reg.git.tags(name)
    if name and not any(e.model == name for e in events):
        raise NotFoundError(f"no model named {name!r} in this registry: see `registry list`")
    rows = []
    for state in resolve_all(events).values():
        at_commit = {v.commit: v.version for v in state.versions if v.registration}
        for e in state.events:
            rows.append(((e.time, _HISTORY_RANK[e.action], e.tag), HistoryEvent(
                tag=e.tag, name=e.model, event=e.action,
                version=e.version or (at_commit.get(e.commit) if e.stage else None),
                stage=e.stage, commit=e.commit,
                tagger=e.tagger, tagger_email=e.tagger_email, date=iso_utc(e.time),
                message=split_hashes(e.message)[0])))
    rows.sort(key=lambda row: row[0], reverse=True)
    return [row[1] for row in rows]
