"""Audits: `verify` (signatures, hashes, bytes in the remote), `check-ref` (what a pushed tag
did, for CI) and `which` (the versions behind a hash seen in production)."""

from __future__ import annotations

import os
import re

from .. import cards, lineage, storage, validation
from ..core import Registry
from ..errors import InputError, NotFoundError, RegistryError
from ..readcache import ReadCache, hashes_in, tags_key
from ..results import CheckedRef, Match, Verification, VersionCheck, to_json
from ..tags import (ASSIGN, CREATE, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, Event,
                    VersionState, attested_data, parse_tag_name, resolve_all, split_hashes)
from ..units import iso_local

# gto's names for the events, which `check-ref --json` reports as gto does.
GTO_EVENTS = {REGISTER: "registration", DEREGISTER: "deregistration", ASSIGN: "assignment",
              UNASSIGN: "unassignment", DEPRECATE: "deprecation"}


def verify(reg: Registry, ref: str | None = None, remote: bool = True) -> Verification:
    """Signatures, hashes and remote presence of one version, or of every active one."""
    if ref:
        targets = [reg.locate(ref)]
    else:
        events, _ = reg.git.tags()
        targets = [(st, v) for st in resolve_all(events).values() for v in st.active_versions]
    require = reg.config.require_signed_tags
    results, failures = [], 0
    for _, version in targets:
        problems = validation.version_problems(reg, version, remote, read=remote)
        registration = version.registration
        signature = reg.signature(registration)
        if signature == "bad" or (require and signature != "good"):
            problems.append(f"signature {signature}" + ("; registry.yaml requires signed "
                                                        "tags" if require else ""))
        failures += bool(problems)
        results.append(VersionCheck(name=version.model, version=version.version,
                                    tag=registration.tag, signature=signature,
                                    ok=not problems, problems=problems))
    verification = Verification(ok=not failures, versions=results)
    if failures:
        raise RegistryError(f"{failures} of {len(results)} version(s) failed verification",
                            details=[f"{r.tag}: {p}" for r in results for p in r.problems],
                            data=to_json(verification))
    return verification


def check_ref(reg: Registry, ref: str, remote: bool = False) -> CheckedRef:
    """What a pushed tag did, in gto check-ref's fields, after checking that version's card
    and artifact at the tagged commit (for CI on tag push)."""
    tag = ref[len("refs/tags/"):] if ref.startswith("refs/tags/") else ref
    parsed = parse_tag_name(tag)
    if parsed is None or parsed.action == CREATE:
        raise InputError(f"{ref!r} is not a registry tag: expected NAME@vX.Y.Z, "
                         "NAME#STAGE#N and the like")
    state = reg.model(parsed.model)
    event = next((e for e in state.events if e.tag == tag), None)
    if event is None:
        raise NotFoundError(f"no annotated tag {tag!r} here: fetch tags (git fetch --tags) "
                            "and check the name")
    if event.action in (ASSIGN, UNASSIGN):
        # The version resolution gave this stage event to, not merely the first on its commit.
        version = next((v for v in state.versions if v.registration and
                        event in v.stage_events.get(event.stage, ())), None)
    else:
        version = next((v for v in state.versions
                        if v.registration and v.version == event.version), None)
    checked = CheckedRef(
        artifact=event.model, created_at=iso_local(event.time, event.zone), author=event.tagger,
        author_email=event.tagger_email, message=event.message, commit_hexsha=event.commit,
        tag=event.tag, stage=event.stage or None, event=GTO_EVENTS[event.action],
        version=None if event.action == DEPRECATE else
        (version.version if version else event.version))
    if reg.config.require_signed_tags:
        reg.require_signed([event] + ([version.registration] if version and
                                      version.registration is not event else []))
    if event.action in (REGISTER, ASSIGN):
        if version is None:
            raise NotFoundError(f"{tag} points at a commit with no registered version: "
                                "promote registered versions only")
        problems = validation.version_problems(reg, version, remote)
        if problems:
            raise InputError(f"{version.model} {version.version} at {version.commit[:12]} "
                             f"is not valid ({len(problems)} problem(s)): fix the card or "
                             "push the artifact, then re-tag", details=problems,
                             data=to_json(checked))
    return checked


def which(reg: Registry, hash_or_file: str) -> list[Match]:
    """Every registered version, of any model, whose artifact has this md5 or sha256, and
    every one trained on it: a dependency its lineage records (a folder by its `.dir` hash).

    For post-market monitoring: a log line that carries an artifact hash maps back to the
    version, even one since deregistered or whose model is deprecated; a flawed data set
    maps to the versions it fed. The hashes in every registered version's card are kept in
    the read cache by tag object id; when a tag is new to it, every registration tag is
    read, the hashes its message attests are taken (the artifact's and its lineage's data:
    see tags.with_hashes), and one `git cat-file --batch` pass reads
    the cards of the others. The few cards that hold the hash are then read and parsed, and
    their models resolved from their own tags. A version without a card (one gto registered)
    is known by the md5 DVC records for its artifact.
    """
    wanted = _wanted_hashes(hash_or_file)
    stems = {h.split(".")[0] for h in wanted}
    cache = reg.git.cache()
    listed = reg.git.tag_ids()
    digest = tags_key(listed)
    blobs = {}
    if cache.cards_key != digest:  # a tag changed: read the registrations it lacks
        keys = _card_keys(listed)
        registrations, _ = reg.git.tags(listed=[(n, o) for n, o in listed if n in keys])
        blobs = _read_card_hashes(reg, cache, registrations, keys, stems, digest)
    # The cache now holds every tag: only those with a hit are named, and their models read.
    hits = {k for k, found in cache.cards.items() if stems.intersection(found)}
    ids = {k.partition(":")[0] for k in hits}
    keys = _card_keys([(n, o) for n, o in listed if o in ids])
    candidates = [n for n, k in keys.items() if k in hits]
    models = sorted({parse_tag_name(n).model for n in candidates})
    events = reg.git.tags(models)[0] if models else []
    registered = {e.tag: e for e in events if e.action == REGISTER}
    chosen = [registered[n] for n in candidates if n in registered]
    states = resolve_all([e for e in events if e.model in {c.model for c in chosen}])
    spec = {e.tag: cards.card_at(e.commit, e.model) for e in chosen}
    blobs = {**blobs, **reg.git.read_many([s for s in spec.values() if s not in blobs])}
    found = []
    for e in chosen:
        blob = blobs.get(spec[e.tag])
        block = _card_registry(blob, e.model)
        artifact = block.get("artifact") if isinstance(block.get("artifact"), dict) else {}
        if blob is None:
            artifact = {"md5": _pointer_md5(reg, e)}
        if wanted & {artifact.get("md5"), artifact.get("sha256")}:
            match = "artifact"
        elif stems.intersection(h.split(".")[0] for h in lineage.data_hashes(
                block.get("lineage"))):
            match = "training data"
        else:
            continue
        state = states[e.model]
        version = next(v for v in state.versions if v.registration is e)
        status = ("deprecated" if state.deprecated else
                  "active" if version.active else "deregistered")
        found.append(Match(name=e.model, version=e.version, tag=e.tag, commit=e.commit,
                           card=cards.card_path(e.model) if blob else None,
                           md5=artifact.get("md5"),
                           sha256=artifact.get("sha256"), status=status,
                           stages=state.stages_of(version), match=match))
    if not found:
        raise NotFoundError("no registered version has an artifact or training data with hash "
                            f"{', '.join(sorted(wanted))}", data=[])
    return found


def _wanted_hashes(hash_or_file: str) -> set[str]:
    if os.path.exists(hash_or_file):
        digest = storage.digest(hash_or_file)
        return {digest.md5, digest.sha256}
    if re.fullmatch(r"[0-9a-f]{32}(\.dir)?|[0-9a-f]{64}", hash_or_file.lower()):
        return {hash_or_file.lower()}
    raise InputError(f"{hash_or_file!r} is neither a file nor an md5/sha256 hash: give "
                     "32 or 64 hex digits, or the path of an artifact or a data file")


def _pointer_md5(reg: Registry, registration: Event) -> str | None:
    """The md5 DVC records at its commit for the artifact of a version without a card, or
    None (no dvc.yaml entry, or an artifact DVC does not track)."""
    version = VersionState(registration.model, registration.version, registration.commit, 0,
                           registration=registration)
    try:
        return reg.pointer(version).md5
    except RegistryError:
        return None


def _card_registry(blob: bytes | None, model: str) -> dict:
    """The registry block of a card's front matter; {} for a card that cannot be read."""
    if not blob:
        return {}
    try:
        front, _ = cards.split(blob.decode("utf-8"), cards.card_path(model))
    except (InputError, UnicodeDecodeError):
        return {}
    block = front.get("registry")
    return block if isinstance(block, dict) else {}


def _card_keys(ids: list[tuple[str, str]]) -> dict[str, str]:
    """Registration tag name -> "TAG_ID:CARD_PATH", the key of its card in the read cache."""
    keys = {}
    for name, tag_id in ids:
        parsed = parse_tag_name(name) if "@v" in name else None  # cheap test first: 100k tags
        if parsed and parsed.action == REGISTER:
            keys[name] = f"{tag_id}:{cards.card_path(parsed.model)}"
    return keys


def _read_card_hashes(reg: Registry, cache: ReadCache, events: list[Event],
                      keys: dict[str, str], stems: set[str], digest: str
                      ) -> dict[str, bytes | None]:
    """Put the hashes of every registered version into the read cache, under the tags'
    `digest` (dropping those of tags gone since): those its tag's message attests, else the
    hex runs of its card, reading in one `git cat-file --batch` pass the cards it lacks and
    the cards it knows to hold one of `stems`; returns the blobs read."""
    seen, found, wanted = cache.cards, {}, []
    for e in events:
        if e.action != REGISTER:
            continue
        key = keys[e.tag]
        known = seen.get(key)
        if known is None:
            hashes = split_hashes(e.message)[1]
            if hashes:
                known = [hashes["md5"].split(".")[0], hashes["sha256"],
                         *(h.split(".")[0] for h in attested_data(e.message))]
        if known is None or stems.intersection(known):
            wanted.append(e)
        if known is not None:
            found[key] = known
    # Newest first: git finds each card through its commit's trees, which a pack stores
    # as deltas of their neighbours in history; asked in that order, cat-file's delta
    # cache rebuilds each tree from the last instead of from scratch (about 6x faster).
    wanted.sort(key=lambda e: e.order, reverse=True)
    specs = [cards.card_at(e.commit, e.model) for e in wanted]
    blobs = reg.git.read_many(specs)
    for e, spec in zip(wanted, specs):
        if keys[e.tag] not in found:
            md5 = _pointer_md5(reg, e) if blobs[spec] is None else None
            found[keys[e.tag]] = [md5.split(".")[0]] if md5 else hashes_in(blobs[spec])
    for key in keys.values():
        found.setdefault(key, [])  # not an annotated tag
    cache.set_cards(digest, found)
    cache.save()
    return blobs
