"""`import mlflow`: an MLflow model registry brought into this one, so that gto, DVC and every
command read what came across as their own.

Each MLflow version, oldest first, is registered through the normal path (see registration:
the `models:/NAME/N` folder tracked by DVC, the card, the commit, the annotated tag), dated when
MLflow made it and naming who made it. Aliases and the legacy stages Staging and Production
become stage tags; an Archived version is deregistered. What an earlier import brought is read
back from the cards (`registry.source`: model and version) and from the trailer on the tags it
wrote for stages, so a re-run writes only what changed in MLflow since.

Everything is read and checked before the first write. A failure part-way leaves each version
imported so far complete and tagged, and a re-run finishes the job; with --push, the artifacts
go to the DVC remote before branch and tags go to origin, in one atomic push.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import unicodedata
from dataclasses import dataclass, field

from .. import cards, config, mlflow_source, publish, registration, storage, yamlio
from ..core import ORIGIN, Registry, read_text
from ..errors import InputError
from ..results import Imported, ImportedModel, ImportStep
from ..tags import (ASSIGN, DEREGISTER, MAX_NAME, REGISTER, UNASSIGN, ModelState, VersionState,
                    check_name, check_version, deregister_tag, is_valid_name)
from ..units import iso_utc

SOURCE = "mlflow"
# The trailer on each stage or deregistration tag an import writes: the MLflow state it
# mirrors (`alias champion`, `stage Production`, `stage Archived`). The newest such tag of a
# stage is what the last import saw, so a re-run acts only on what MLflow changed since.
TRAILER = "MLflow-Import"
LEGACY_STAGES = ("Staging", "Production")
ARCHIVED = "Archived"
NO_HISTORY = "(MLflow keeps no history of its aliases and stages)"


@dataclass
class _Model:
    """One MLflow model's import, planned: its name here, what is here already, what to write."""

    mlflow: mlflow_source.MlflowModel
    name: str
    state: ModelState
    imported: dict[int, VersionState]  # MLflow version number -> the version here
    new: list[tuple[mlflow_source.MlflowVersion, str, bool]]  # version, here, from the tag
    version_tag: str | None = None  # --version-tag
    steps: list[ImportStep] = field(default_factory=list)  # the tags after registration
    notes: list[str] = field(default_factory=list)

    def registrations(self) -> list[ImportStep]:
        """The registrations, as a dry run shows them (no tag made yet)."""
        return [ImportStep(event=REGISTER, version=version, mlflow=f"version {mv.number}",
                           tag=None, date=iso_utc(mv.created), tagger=mv.user)
                for mv, version, _ in self.new]


def import_mlflow(reg: Registry, uri: str | None, models: list[str] | None = None,
                  renames: list[str] | None = None, version_tag: str | None = None,
                  dry_run: bool = False, push: bool = False, progress=None) -> Imported:
    """The MLflow registry at `uri` (default: MLFLOW_TRACKING_URI), or its `models`, brought
    here; `renames` ("OLD=NEW") name models here, `version_tag` is the MLflow version tag whose
    SemVer gives a version its number (else version N is vN.0.0). `progress` is called with a
    line for people as each version goes."""
    reg.writable()
    say = progress or (lambda line: None)
    chosen = _renames(renames or [])
    branch = publish.push_target(reg.git) if push and not dry_run else None
    if not dry_run:
        reg.git.identity_time()  # fail now, not after the first commit, if git has no identity
    source = mlflow_source.Source(uri)
    found = source.models(models)
    unknown = sorted(set(chosen) - {m.name for m in found})
    if unknown:
        raise InputError(f"--rename names {unknown[0]!r}, which is not among the MLflow models "
                         f"imported ({', '.join(repr(m.name) for m in found) or 'none'}): check "
                         "the name")
    names = _names(reg, found, chosen)
    planned = [_plan(reg, m, names[m.name], version_tag) for m in found]
    added, config_texts = _stages_to_add(reg, planned)
    result = Imported(source=SOURCE, uri=source.uri, dry_run=dry_run, stages_added=added,
                      pushed=False, models=[])
    if dry_run:
        result.models = [_summary(p, p.registrations() + p.steps) for p in planned]
        return result

    registered = [[_register(reg, source, p, mv, version, from_tag, say, n, len(p.new))
                   for n, (mv, version, from_tag) in enumerate(p.new, 1)] for p in planned]
    if added:
        for rel, text in config_texts.items():
            registration.write_text(os.path.join(reg.root, rel), text)
        reg.git.commit(list(config_texts), f"Add the stages {', '.join(added)}, which the "
                       "MLflow import assigns")
    for p, steps in zip(planned, registered):
        for step in p.steps:
            _write(reg, p, step)
        result.models.append(_summary(p, steps + p.steps))
    if push:
        result.pushed = _push(reg, [p.name for p in planned], branch, say)
    return result


# ------------------------------------------------------------ names


def _renames(pairs: list[str]) -> dict[str, str]:
    """--rename OLD=NEW, as {OLD: NEW}: the last '=' splits, as a name here has none."""
    chosen = {}
    for pair in pairs:
        old, sep, new = pair.rpartition("=")
        if not sep or not old:
            raise InputError(f"--rename {pair!r}: write OLD=NEW, e.g. --rename "
                             "'Fraud Detector=fraud-detector'")
        chosen[old] = check_name(new)
    return chosen


def _names(reg: Registry, found: list[mlflow_source.MlflowModel], chosen: dict[str, str]
           ) -> dict[str, str]:
    """Each MLflow model's name here: --rename's, else the one an earlier import gave it, else
    its own where that is a valid name, else a slug of it; two models may not share one."""
    earlier = _earlier_names(reg)
    names: dict[str, str] = {}
    for m in found:
        before = earlier.get(m.name)
        if m.name in chosen:
            name = chosen[m.name]
            if before not in (None, name):
                raise InputError(f"MLflow model {m.name!r} was imported as {before} before: "
                                 "drop its --rename (another name would copy its versions "
                                 "again)")
        elif before:
            name = before
        elif is_valid_name(m.name) and len(m.name) <= MAX_NAME and "//" not in m.name:
            name = m.name
        else:
            name = _slug(m.name)
        rename = f"--rename {shlex.quote(m.name + '=NEW')}"
        if not name or len(name) > MAX_NAME:
            raise InputError(f"MLflow model {m.name!r} gives no name usable here (letters, "
                             f"digits, '-' and '_', at most {MAX_NAME}): choose one with "
                             f"{rename}")
        clash = next((other for other, taken in names.items() if taken == name), None)
        if clash is not None:
            raise InputError(f"MLflow models {clash!r} and {m.name!r} would both be {name} "
                             f"here: name one of them with {rename}")
        names[m.name] = name
    return names


def _slug(text: str) -> str:
    """A name for `text` here: lower-case ASCII letters and digits, other runs as '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")


def _earlier_names(reg: Registry) -> dict[str, str]:
    """MLflow model name -> name here, as the cards in the work tree record earlier imports."""
    found = {}
    for name in reg.card_models():
        path = os.path.join(reg.root, cards.card_path(name))
        text = read_text(path)
        if SOURCE not in text:  # most cards: no YAML to parse
            continue
        source = _source(text, cards.card_path(name))
        if source:
            found[source["model"]] = name
    return found


def _source(text: str | None, where: str) -> dict | None:
    """A card's `registry.source` when it records an MLflow import; None for any other card,
    or one that does not read (a damaged card is reported by `check`, not here)."""
    if text is None:
        return None
    try:
        front, _ = cards.split(text, where)
    except InputError:
        return None
    block = front.get("registry")
    source = block.get("source") if isinstance(block, dict) else None
    if (isinstance(source, dict) and source.get("source") == SOURCE
            and isinstance(source.get("model"), str) and isinstance(source.get("version"), int)):
        return source
    return None


# ------------------------------------------------------------ the plan


def _plan(reg: Registry, m: mlflow_source.MlflowModel, name: str, version_tag: str | None
          ) -> _Model:
    """What importing `m` as `name` writes: refused, before anything is written, when `name`
    holds versions that did not come from `m`, or a version number is taken."""
    state = reg.model(name)
    imported, others = _imported(reg, state, m.name)
    if others and not imported:
        raise InputError(f"{name} is already in this registry and did not come from MLflow "
                         f"model {m.name!r}: import it under another name with --rename "
                         f"{shlex.quote(m.name + '=NEW')}")
    plan = _Model(m, name, state, imported, [], version_tag)
    taken = {v.version: v for v in state.versions if v.registration}
    for mv in m.versions:
        if mv.number in imported:
            continue
        if mv.status != mlflow_source.READY:
            plan.notes.append(f"version {mv.number} is {mv.status} in MLflow: left for a "
                              "later import")
            continue
        version, from_tag = _version(mv, version_tag, plan.notes)
        if version in taken:
            raise InputError(f"{name} {version} is already registered here ({taken[version].tag}"
                             f"), not from MLflow {m.name!r} version {mv.number}: choose its "
                             "number with a SemVer tag in MLflow and --version-tag, or import "
                             "the model under another name with --rename")
        if any(version == v for _, v, _ in plan.new):
            raise InputError(f"two versions of MLflow model {m.name!r} would both be {name} "
                             f"{version}: give them different SemVer tags ({version_tag})")
        plan.new.append((mv, version, from_tag))
    plan.steps = _stage_steps(plan)
    return plan


def _imported(reg: Registry, state: ModelState, mlflow_name: str
              ) -> tuple[dict[int, VersionState], bool]:
    """The versions here that came from MLflow model `mlflow_name`, by its version number (as
    their cards at their tagged commits record), and whether other versions are here too."""
    registered = [v for v in state.versions if v.registration]
    specs = [cards.card_at(v.commit, state.name) for v in registered]
    texts = reg.git.read_many(specs)
    imported: dict[int, VersionState] = {}
    for v, spec in zip(registered, specs):
        data = texts.get(spec)
        source = _source(data.decode("utf-8", errors="replace") if data else None, spec)
        if source and source["model"] == mlflow_name:
            held = imported.get(source["version"])
            if held is None or (v.active and not held.active):
                imported[source["version"]] = v
    return imported, len(imported) < len(registered)


def _version(mv: mlflow_source.MlflowVersion, version_tag: str | None, notes: list[str]
             ) -> tuple[str, bool]:
    """The version here of MLflow version N: the SemVer its tag `version_tag` holds, else
    vN.0.0 (with a note saying why, when a tag was asked for)."""
    plain = f"v{mv.number}.0.0"
    if not version_tag:
        return plain, False
    value = (mv.tags.get(version_tag) or "").strip()
    if not value:
        notes.append(f"version {mv.number} has no tag {version_tag}: imported as {plain}")
        return plain, False
    try:
        return check_version(value if value.startswith("v") else f"v{value}"), True
    except InputError:
        notes.append(f"version {mv.number}'s tag {version_tag}={value!r} is not SemVer: "
                     f"imported as {plain}")
        return plain, False


def _stage_steps(plan: _Model) -> list[ImportStep]:
    """The deregistrations and stage tags that bring this registry to MLflow's state, less
    what the last import already mirrored: MLflow keeps no history of either, so only a change
    since then (an alias moved or removed, a version archived) is acted on."""
    m, state = plan.mlflow, plan.state
    here = {n: v.version for n, v in plan.imported.items()}
    here.update({mv.number: version for mv, version, _ in plan.new})
    archived = {mv.number for mv in m.versions if mv.stage == ARCHIVED}
    steps = []
    for mv in m.versions:
        old = plan.imported.get(mv.number)
        if mv.number in archived and mv.number in here and (old is None or old.active):
            steps.append(ImportStep(event=DEREGISTER, version=here[mv.number],
                                    mlflow=f"stage {ARCHIVED}", tag=None))
        elif old is not None and not old.active and mv.number not in archived and (
                _mirrors(old.deregistration.message if old.deregistration else "")):
            plan.notes.append(f"version {mv.number} is no longer {ARCHIVED} in MLflow, but "
                              f"{plan.name} {old.version} stays deregistered here")
    wanted = _wanted(m, plan.notes)
    last = _last_mirrored(state)
    for stage, (number, why) in wanted.items():
        version = here.get(number)
        if version is None:
            plan.notes.append(f"{why} is on version {number}, which is not imported: "
                              f"{stage} not assigned")
            continue
        if number in archived:
            plan.notes.append(f"{why} is on version {number}, which is {ARCHIVED}: {stage} "
                              "not assigned")
            continue
        action, held, _ = last.get(stage, (None, None, None))
        holder = state.stages.get(stage)
        if (action == ASSIGN and held == version) or (holder and holder.version == version):
            continue
        steps.append(ImportStep(event=ASSIGN, version=version, mlflow=why, tag=None,
                                stage=stage))
    leaving = {s.version for s in steps if s.event == DEREGISTER}  # their stages go with them
    for stage, (action, held, why) in last.items():
        holder = state.stages.get(stage)
        if (action == ASSIGN and stage not in wanted and holder is not None
                and holder.version == held and held not in leaving):
            steps.append(ImportStep(event=UNASSIGN, version=held, mlflow=why, tag=None,
                                    stage=stage))
    return steps


def _wanted(m: mlflow_source.MlflowModel, notes: list[str]) -> dict[str, tuple[int, str]]:
    """Stage here -> (MLflow version number, what names it there) for MLflow's current state:
    a legacy stage's newest version (MLflow lets several share one), then each alias, which
    wins where both give one stage."""
    wanted: dict[str, tuple[int, str]] = {}
    for mv in m.versions:
        if mv.stage in LEGACY_STAGES:
            wanted[mv.stage.lower()] = (mv.number, f"stage {mv.stage}")
    for alias, number in sorted(m.aliases.items()):
        stage = alias if is_valid_name(alias) and len(alias) <= MAX_NAME else _slug(alias)
        if not stage or len(stage) > MAX_NAME:
            notes.append(f"alias {alias!r} gives no stage name usable here: not assigned")
            continue
        if stage in wanted:
            notes.append(f"alias {alias} and {wanted[stage][1]} both give the stage {stage}: "
                         "the alias holds it")
        wanted[stage] = (number, f"alias {alias}")
    return wanted


def _last_mirrored(state: ModelState) -> dict[str, tuple[str, str | None, str]]:
    """Stage -> (assign or unassign, version, what it mirrored) of the newest stage tag an
    import wrote for it."""
    versions = {v.commit: v.version for v in state.versions if v.registration}
    last = {}
    for event in state.events:  # oldest first
        why = _mirrors(event.message) if event.action in (ASSIGN, UNASSIGN) else None
        if why:
            last[event.stage] = (event.action, versions.get(event.commit), why)
    return last


def _mirrors(message: str) -> str | None:
    """What in MLflow a tag an import wrote mirrors (its trailer), or None for other tags."""
    for line in message.rpartition("\n\n")[2].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == TRAILER:
            return value.strip()
    return None


def _stages_to_add(reg: Registry, planned: list[_Model]) -> tuple[list[str], dict[str, str]]:
    """The stages the import assigns that registry.yaml lacks, and the new text of
    registry.yaml and .gto with them added (refused now if either cannot be edited)."""
    have = reg.config.stages or []
    added = list(dict.fromkeys(s.stage for p in planned for s in p.steps
                               if s.event == ASSIGN and s.stage not in have))
    if not added:
        return [], {}
    texts = {}
    for rel in (config.CONFIG_FILE, config.GTO_FILE):
        path = os.path.join(reg.root, rel)
        if not os.path.exists(path):
            continue
        if reg.git.run("diff", "--quiet", "HEAD", "--", rel, check=False).returncode:
            raise InputError(f"{rel} has uncommitted changes, and the import adds the stages "
                             f"{', '.join(added)} to it: commit or undo them first")
        text = read_text(path)
        doc = yamlio.load(text, rel)
        listed = doc.get("stages") if isinstance(doc, dict) else None
        if listed is None and rel == config.GTO_FILE:
            continue  # gto takes any stage then
        stages = list(dict.fromkeys([*(listed or []), *added]))
        new = _with_stages(text, stages)
        edited = yamlio.load(new, rel) if new else None
        if not isinstance(edited, dict) or edited.get("stages") != stages:
            raise InputError(f"cannot add the stages {', '.join(added)} to {rel}: add them to "
                             f"its `stages:` by hand (and to {config.GTO_FILE}), commit, and "
                             "run the import again")
        texts[rel] = new
    return added, texts


def _with_stages(text: str, stages: list[str]) -> str | None:
    """`text` with its top-level `stages:` list (flow or block style) replaced by `stages`,
    every other line kept; None when it has no such key on a line of its own."""
    pattern = re.compile(r"^stages:[^\n]*(?:\n(?:[ \t]*-[^\n]*|[ \t]+#[^\n]*))*", re.M)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda _: "stages: " + json.dumps(stages), text, count=1)


# ------------------------------------------------------------ writing


def _register(reg: Registry, source: mlflow_source.Source, plan: _Model,
              mv: mlflow_source.MlflowVersion, version: str, from_tag: bool, say, n: int,
              total: int) -> ImportStep:
    """One MLflow version registered here, tagged when and by whom MLflow says it was made:
    its run read for the card's lineage, its folder downloaded, then the normal path."""
    m, name = plan.mlflow, plan.name
    say(f"{name}: {n}/{total} MLflow {m.name!r} version {mv.number} as {version}")
    run = source.run(mv.run_id) if mv.run_id else None
    if mv.run_id and run is None:
        plan.notes.append(f"version {mv.number}: its run {mv.run_id} is gone from MLflow, so "
                          "no lineage or metrics were recorded")
    user = mv.user or (run.user if run else None)
    imported = {"source": SOURCE, "uri": source.uri, "model": m.name, "version": mv.number,
                "run_id": mv.run_id, "created": iso_utc(mv.created), "user": user,
                "description": mv.description, "tags": mv.tags,
                "model_description": m.description, "model_tags": m.tags,
                "version_tag": plan.version_tag if from_tag else None}
    imported = {k: v for k, v in imported.items() if v not in (None, {}, "")}
    message = f"Import {name} {version} from MLflow model {m.name!r} version {mv.number}"
    state = reg.model(name)
    with source.files(m.name, mv.number) as folder:
        path = registration.artifact_source(reg, name, f"models/{name}", folder)
        planned = registration.make_plan(reg, state, path, version, None,
                                         (run.metrics or None) if run else None)
        planned.run, planned.imported = run, imported
        commit, _, digest = registration.commit_version(reg, planned, False, message)
        # MLflow knows users by an id (an email address where it is one): gto refuses an
        # empty email, so the id is both name and email
        tagger = (user, user) if user else None
        tag = registration.tag(reg, state, planned, commit, digest, message, at=mv.created,
                               tagger=tagger)
    return ImportStep(event=REGISTER, version=version, mlflow=f"version {mv.number}", tag=tag,
                      date=iso_utc(mv.created), tagger=user)


def _write(reg: Registry, plan: _Model, step: ImportStep) -> None:
    """The deregistration or stage tag of `step`, by the importer, now; its message says what
    it mirrors, as it stood on the import's day, and carries the trailer re-runs read."""
    state = reg.model(plan.name)
    target = next(v for v in state.versions if v.version == step.version and v.registration)
    day = iso_utc(reg.git.identity_time()[0])[:10]
    model = f"MLflow model {plan.mlflow.name!r}"
    if step.event == DEREGISTER:
        text = f"Deregister {plan.name} {step.version}: {model} has it {ARCHIVED}"
    elif step.event == ASSIGN:
        text = (f"Promote {plan.name} {step.version} to {step.stage}: {model} has it as "
                f"{step.mlflow}")
    else:
        text = (f"Demote {plan.name} {step.version} from {step.stage}: {model} no longer has it "
                f"as {step.mlflow}")
    message = (f"{text}, as it stood when imported on {day} {NO_HISTORY}\n\n"
               f"{TRAILER}: {step.mlflow}")
    if step.event == DEREGISTER:
        written = publish.write_tag(reg, state, deregister_tag(plan.name, step.version),
                                    target.commit, DEREGISTER, message, False, False,
                                    version=step.version)
    else:
        written = publish.stage_tag(reg, state, target, step.stage, step.event, message, False,
                                    False)
    step.tag = written.tag


def _summary(plan: _Model, steps: list[ImportStep]) -> ImportedModel:
    return ImportedModel(mlflow_name=plan.mlflow.name, name=plan.name, steps=steps,
                         present=len(plan.imported), notes=plan.notes)


def _push(reg: Registry, names: list[str], branch: str, say) -> bool:
    """What is here of the imported models and not on origin (this run's work, and any an
    earlier run left unpushed): artifacts to the DVC remote first, then the branch and the
    tags in one atomic push. False when origin had it all."""
    missing, pointers = [], []
    for name in names:
        on_origin = (reg.git.remote_tags(ORIGIN, f"refs/tags/{name}@*")
                     | reg.git.remote_tags(ORIGIN, f"refs/tags/{name}#*"))
        state = reg.model(name)
        missing += [e.tag for e in state.events if e.tag not in on_origin]
        pointers += [reg.pointer(v) for v in state.versions
                     if v.registration and v.registration.tag not in on_origin]
    if not missing:
        return False
    say(f"pushing {len(pointers)} artifact(s) to the DVC remote, then {len(missing)} tag(s) "
        f"to {ORIGIN}")
    storage.push(reg.root, pointers, reg.config.remote)
    publish.push_all(reg.git, branch, missing)
    return True
