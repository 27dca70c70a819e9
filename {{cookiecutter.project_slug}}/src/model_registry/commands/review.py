"""Reviewing changes: `check` (cards valid and consistent), `diff` (what changed, as Markdown
for a pull request) and `doc` (the model-level part of a version's technical documentation,
by Annex IV)."""

from __future__ import annotations

import os

from .. import cards, reports, validation
from ..core import Registry
from ..errors import InputError, NotFoundError
from ..results import CheckReport, Diff, Documented, Version
from ..tags import ASSIGN, resolve_all, resolve_model
from ..units import iso_utc


def check(reg: Registry, base: str | None = None, remote: bool = False) -> CheckReport:
    """Cards valid for the profile and consistent with tags, pointers and dvc.yaml; with
    `remote`, their artifacts present in the DVC remote too."""
    cfg = reg.config
    models = reg.card_models()
    if base:
        changed, _ = reg.git.changed_files(base, ["models"])
        models = [m for m in models if any(f.startswith(f"models/{m}/") for f in changed)]
    events, _ = reg.git.tags()
    states = resolve_all(events)
    problems: list[cards.Problem] = []
    warnings: list[str] = []
    for name in models:
        problems += validation.card_problems(reg, name, cfg,
                                             states.get(name) or resolve_model(name, []))
        warnings += validation.card_warnings(reg, name)
    problems += validation.secrets_problems(reg)
    if remote:
        problems += validation.remote_problems(reg, models)
    return CheckReport(ok=not problems, checked=models, problems=problems, warnings=warnings)


def diff(reg: Registry, ref_a: str | None = None, ref_b: str | None = None,
         base: str | None = None) -> Diff:
    """What changed, as Markdown: between two versions, or in the work tree since `base`."""
    pairs = []
    if base:
        changed, merge_base = reg.git.changed_files(base, ["models"])
        names = sorted({m for m in reg.card_models() if any(
            f.startswith(f"models/{m}/") for f in changed)} | {
            f[len("models/"):-len("/" + cards.CARD_FILE)] for f in changed
            if f.endswith("/" + cards.CARD_FILE)})
        for name in names:
            pairs.append((name, reg.card_side(name, base, merge_base),
                          reg.card_side(name, "this change", None)))
    else:
        if not (ref_a and ref_b):
            raise InputError("give two refs (registry diff churn@v1.0.0 churn@v1.1.0) "
                             "or --base REV")
        (_, a), (_, b) = reg.locate(ref_a), reg.locate(ref_b)
        for name in dict.fromkeys([a.model, b.model]):
            pairs.append((name,
                          reg.card_side(name, a.version, a.commit) if a.model == name else None,
                          reg.card_side(name, b.version, b.commit) if b.model == name else None))
    blocks = [block for name, old, new in pairs for block in reports.diff_blocks(name, old, new)]
    markdown = reports.render_markdown(blocks) if blocks else "No model cards changed.\n"
    return Diff(models=[p[0] for p in pairs], markdown=markdown)


def doc_blocks(reg: Registry, ref: str, current: dict | None = None
               ) -> tuple[Version, list[tuple], list[str]]:
    """The version, the model-level part of its technical documentation as report blocks,
    and the Annex IV fields its card still lacks. `current` is the model's card at HEAD, when
    the caller has read it: serious incidents found after a version was tagged are recorded
    there."""
    state, version = reg.locate(ref)
    found = reg.describe(state, version)
    side = reg.card_side(version.model, version.version, version.commit)
    if side is None and reg.config.from_file:
        raise NotFoundError(f"{version.model} {version.version} has no card: nothing to "
                            "document")
    # Outside a registry (gto's repository, no registry.yaml) a version has no card: it is
    # documented from its tags and artifact, every card field missing.
    front = side.front if side else {}
    previous = (front.get("registry") or {}).get("previous_version")
    prev_state = state.find_version(previous) if previous else None
    changes = reports.diff_blocks(version.model, reg.card_side(
        version.model, previous, prev_state.commit), side) if prev_state else []
    stages = [[e.stage, "assigned" if e.action == ASSIGN else "unassigned", iso_utc(e.time),
               e.tag] for s in version.stage_events.values() for e in s]
    reg_event = version.registration
    signers = reg.config.allowed_signers
    signature = {"unsigned": "not signed", "good": f"signed, verified against {signers}",
                 "bad": f"signed, NOT verified: the key is not in {signers}"
                 }[reg.signature(reg_event)]
    missing = [str(p) for p in cards.validate(front, "eu-ai-act-high-risk",
                                              cards.card_path(version.model))]
    artifact = (front.get("registry") or {}).get("artifact") or (vars(found.artifact) if found.artifact else {})
    if current is None:
        head = reg.git.head()
        try:
            at_head = reg.card_side(version.model, "HEAD", head) if head else None
        except InputError:  # a card that does not parse at HEAD adds nothing to an old version
            at_head = None
        current = at_head.front if at_head else {}
    blocks = reports.technical_doc({
        "name": version.model, "version": version.version, "tag": reg_event.tag,
        "commit": version.commit, "tagger": f"{reg_event.tagger} {reg_event.tagger_email}",
        "date": iso_utc(reg_event.time), "signature": signature,
        "stages": sorted(stages, key=lambda r: r[2]), "front": front, "previous": previous,
        "changes": changes, "missing": missing, "artifact": artifact,
        "incidents": cards.incidents_of(version.version, front, current)})
    return found, blocks, missing


def doc(reg: Registry, ref: str, fmt: str = "md", output: str | None = None) -> Documented:
    """The model-level part of one version's technical documentation (Annex IV), in Markdown
    or HTML; written to the file `output` too, when given."""
    if fmt not in ("md", "html"):
        raise InputError(f"unknown format {fmt!r}: use md or html")
    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise InputError(f"folder of {output} does not exist: create it first")
    found, blocks, missing = doc_blocks(reg, ref)
    title = f"{found.name} {found.version}"
    if fmt == "md":
        text = reports.render_markdown(blocks)
    else:
        from ..site import render
        text = render.doc_page(blocks, f"Technical documentation: {title} (model-level part)")
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    return Documented(**vars(found), format=fmt, missing=missing, text=text)
