"""One version's registration, shared by `register` and `import`: the artifact hashed, tracked
by DVC and placed under models/NAME/, the card filled, dvc.yaml's entry, the commit, and the
annotated registration tag.

Every input is checked before anything changes; a failure part-way puts the work tree back as
it was (see _rollback).
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from . import cards, lineage, mlflow_run, publish, storage, yamlio
from .core import DVC_YAML, Registry, read_bytes, read_text
from .errors import InputError, RegistryError
from .gitrepo import Git
from .tags import ModelState, bump, register_tag, with_hashes
from .units import flatten

_RESERVED = {cards.CARD_FILE, ".gitignore"}


@dataclass
class Plan:
    """What a registration will write, settled before anything is written."""

    name: str
    version: str
    previous: str | None
    source: str
    dest: str
    card_text: str
    front: dict  # the card's front matter before this registration
    first_card: bool
    metrics: dict | None
    training: lineage.Training | None = None  # --from: the training repository, read
    params: dict | None = None  # --params: the file's values, as dotted keys
    recorded: dict | None = None  # the lineage written into the card, for the tag's trailers
    run: mlflow_run.Run | None = None  # --mlflow-run: the run, read from its tracking server
    imported: dict | None = None  # an imported version: where it came from (registry.source)

    @property
    def card_rel(self) -> str:
        return cards.card_path(self.name)


def make_plan(reg: Registry, state: ModelState, source: str, version: str | None,
               bump_part: str | None, metrics: dict | None) -> Plan:
    """The version number (given, or the latest bumped) and the card to start from."""
    name = state.name
    previous = state.active_versions[0] if state.active_versions else None
    version = version or bump(previous.version if previous else None, bump_part or "patch")
    taken = [v for v in state.versions if v.version == version]
    if taken or reg.git.tag_exists(register_tag(name, version)):
        where = f" at {taken[0].commit[:12]}" if taken else ""
        raise InputError(f"{name} {version} is already registered{where}: pick another "
                         "version or use --bump")
    card_file = os.path.join(reg.root, cards.card_path(name))
    first_card = not os.path.exists(card_file)
    card_text = (cards.new_card(name, reg.config.defaults, reg.config.card_profile)
                 if first_card else read_text(card_file))
    front, _ = cards.split(card_text, cards.card_path(name))
    return Plan(name, version, previous.version if previous else None, source,
                f"models/{name}/{os.path.basename(source.rstrip('/'))}", card_text, front,
                first_card, metrics)


def commit_version(reg: Registry, plan: Plan, push: bool, message: str
                   ) -> tuple[str, str | None, storage.Digest]:
    """Hash and track the artifact, upload it when pushing, fill the card and dvc.yaml, and
    commit; returns the commit, HEAD before it, and the artifact's digest. A failure puts
    back every file it touched.

    A file is uploaded by its md5 from where it is, while DVC tracks it (the remote is
    opened while it is hashed); a folder, which DVC hashes again (the two must agree), is
    pushed after. A file's copies, the work tree's (unless it is there already) and the
    DVC cache's, are made while it is hashed, before the upload, with which copying
    gigabytes would compete for the CPU and memory."""
    source, dest, root = plan.source, plan.dest, reg.root
    is_file = os.path.isfile(source)
    upload = storage.Uploader(root, reg.config.remote) if push and is_file else None
    if upload is None:
        storage.preload()
    copying = os.path.abspath(source) != os.path.abspath(os.path.join(root, dest))
    names = (["cache"] + (["work tree"] if copying else [])) if is_file else []
    identity = storage.file_identity(source)
    with upload or nullcontext(), storage.copying(root, source, names) as copies:
        digest = storage.digest(source)
        new_text = _filled_card(reg, plan, digest)
        old_entry = reg.artifact_entry(plan.name, None)
        touched = [plan.card_rel, DVC_YAML, f"models/{plan.name}/.gitignore", dest + ".dvc"]
        if old_entry and old_entry != dest:  # `dvc remove` also edits its folder's .gitignore
            touched += [old_entry + ".dvc", os.path.join(os.path.dirname(old_entry), ".gitignore")]
        with _rollback(reg.git, touched, dest if copying else None):
            if upload:
                upload.send(source, digest.md5, identity)
            if old_entry and old_entry != dest and os.path.exists(
                    os.path.join(root, old_entry + ".dvc")):
                storage.remove(root, old_entry + ".dvc")
            made = copies.result()
            _place(root, source, dest, made.get("work tree"))
            # A file unchanged since it was hashed and copied (DVC's own test: inode, size,
            # mtime) needs no second hashing; its copies are of the bytes hashed.
            unchanged = identity is not None and storage.file_identity(source) == identity
            storage.add(root, dest, digest if unchanged else None, made.get("cache"))
            if digest.md5 != reg.work_tree_pointer(dest).md5:
                raise RegistryError(f"{source} changed while it was being registered: re-run")
            write_text(os.path.join(root, plan.card_rel), new_text)
            _set_dvc_entry(root, plan.name, dest, plan.front)
            if upload:
                upload.wait()
            elif push:
                storage.push(root, [dest + ".dvc"], reg.config.remote)
            before = reg.git.head()
            return reg.git.commit(touched, message), before, digest


def _filled_card(reg: Registry, plan: Plan, digest: storage.Digest) -> str:
    """The card's new text: its registry block, and model-index from the metrics; refused,
    before anything is written, if the profile finds it incomplete."""
    front = plan.front
    live_metrics, live_params = (plan.training.dvclive(digest.md5) if plan.training
                                 else (None, {}))
    recorded = _lineage(plan, digest.md5, live_params)
    plan.recorded = recorded
    changes = {"registry": {
        "name": plan.name,
        "version": plan.version,
        "previous_version": plan.previous,
        "artifact": {"path": plan.dest, **digest.as_dict()},
        **({"lineage": recorded} if recorded else {}),
        **({"source": plan.imported} if plan.imported else {}),
    }}
    metrics = plan.metrics
    if metrics is None and live_metrics:
        # DVCLive's own bookkeeping, not a measure of the model
        metrics = {k: v for k, v in read_metrics(live_metrics).items() if k != "step"} or None
    if metrics is not None:
        changes["model-index"] = cards.model_index(front, plan.name, metrics)
    elif plan.imported and front.get("model-index"):
        # the card came forward from the version before, whose measures these are not
        changes["model-index"] = None
    new_text = cards.update(plan.card_text, plan.card_rel, changes)
    _refuse_incomplete(os.path.join(reg.root, plan.card_rel), plan.card_text, new_text,
                       plan.card_rel, reg.config.card_profile, plan.first_card)
    return new_text


def _lineage(plan: Plan, md5: str, live_params: dict) -> dict:
    """This registration's lineage: what --from, --mlflow-run and --params give, and nothing
    else (a card's earlier lineage describes an earlier artifact). The params DVCLive logged
    join the stage's, then an MLflow run's; a --params file's values win over all: it is the
    file the person named."""
    recorded = plan.training.record(md5) if plan.training else {}
    if plan.run:
        recorded["run"] = plan.run.record
    for extra in (live_params, plan.run.params if plan.run else None, plan.params):
        if extra:
            recorded["params"] = {**(recorded.get("params") or {}), **extra}
    return recorded


def tag(reg: Registry, state: ModelState, plan: Plan, commit: str, digest: storage.Digest,
        message: str, sign: bool = False, at: int | None = None,
        tagger: tuple[str, str] | None = None) -> str:
    """The registration tag of `plan`'s version on `commit`. `at` and `tagger` (name, email)
    date it and name who made the version, where that was not here and now (an imported
    version)."""
    return tag_version(reg, state, plan.name, plan.version, commit, message,
                       (digest.md5, digest.sha256), plan.recorded, sign, at, tagger)


def tag_version(reg: Registry, state: ModelState, name: str, version: str, commit: str,
                message: str, hashes: tuple[str, str], recorded: dict | None,
                sign: bool = False, at: int | None = None,
                tagger: tuple[str, str] | None = None) -> str:
    """A registration tag, as `register`, `release` and `import` write it: the message ends
    with the artifact's hashes (md5, sha256) and those of the training data its lineage
    `recorded`, and it is stamped after the model's newest tag."""
    tag_name = register_tag(name, version)
    reg.git.create_tag(tag_name, commit,
                       with_hashes(message, *hashes, lineage.data_hashes(recorded)),
                       publish.stamp(reg.git, state, at), sign, tagger)
    return tag_name


def _refuse_incomplete(card_file: str, card_text: str, new_text: str, card_rel: str,
                       profile: str, first_card: bool) -> None:
    """Stop before anything is written when the card misses what the profile requires; on a
    model's first registration, leave the skeleton for the person to fill."""
    problems = cards.validate(cards.split(new_text, card_rel)[0], profile, card_rel)
    if not problems:
        return
    if first_card:
        write_text(card_file, card_text)
    raise InputError(
        f"{card_rel} is not complete for the {profile} profile ({len(problems)} problem(s)): "
        "fill in the fields listed, then register again"
        + (" (the card skeleton was written for you)" if first_card else ""),
        details=[str(p) for p in problems])


# ------------------------------------------------------------ the artifact and the work tree


def artifact_source(reg: Registry, name: str, model_dir: str, path: str | None) -> str:
    """The file or folder to register, refused when it is a link, missing, the registry
    itself, elsewhere in the registry, or named like a file the registry keeps."""
    if path is None:
        entry = reg.artifact_entry(name, None)
        if entry is None or not os.path.exists(os.path.join(reg.root, entry)):
            raise InputError(f"no artifact given for {name}: pass the file or directory to "
                             "register, e.g. `registry register NAME model.pkl`")
        return os.path.join(reg.root, entry)
    if os.path.islink(path):
        raise InputError(f"{path} is a symbolic link: register the file it points to")
    if not os.path.exists(path):
        raise InputError(f"{path} does not exist: pass the model file or directory")
    real = os.path.realpath(path)
    root = os.path.realpath(reg.root)
    if os.path.commonpath([real, root]) == real:
        raise InputError(f"{path} holds the registry itself: register a model file or a "
                         "folder outside the repository")
    if os.path.isdir(real):
        for folder, dirs, files in os.walk(real):
            links = [n for n in dirs + files if os.path.islink(os.path.join(folder, n))]
            if links:
                raise InputError(f"{os.path.join(folder, links[0])} is a symbolic link: "
                                 "copy the files it points to into the folder instead")
    inside = os.path.realpath(os.path.join(reg.root, model_dir))
    if real.startswith(root + os.sep) and not (real == inside or
                                               real.startswith(inside + os.sep)):
        raise InputError(f"{path} is inside the registry but not under {model_dir}/: move it "
                         "out of the repository or into that folder")
    base = os.path.basename(real)
    if base in _RESERVED or base.endswith(".dvc"):
        raise InputError(f"an artifact may not be named {base!r}: rename it")
    return real


def _place(root: str, source: str, dest: str, copy: str | None = None) -> None:
    """Put the artifact into models/NAME/: `copy`, a file's copy made beforehand, or else a
    copy of the folder made now under a temporary name, moved into place."""
    import shutil
    target = os.path.join(root, dest)
    if os.path.abspath(source) == os.path.abspath(target):
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if copy is None:
        copy = target + ".registry-tmp"
        _remove(copy)
        shutil.copytree(source, copy, symlinks=False)
    _remove(target)
    shutil.move(copy, target)


def _set_dvc_entry(root: str, name: str, dest: str, front: dict) -> None:
    """The model's `artifacts:` entry in dvc.yaml, for gto and `dvc artifacts get`."""
    path = os.path.join(root, DVC_YAML)
    doc = yamlio.load(read_bytes(path), DVC_YAML) if os.path.exists(path) else None
    doc = doc if isinstance(doc, dict) else {}
    artifacts = doc.get("artifacts") or {}
    entry = {"path": dest, "type": "model"}
    description = (front.get("eu_ai_act") or {}).get("intended_purpose")
    if description:
        entry["desc"] = str(description)
    if front.get("tags"):
        entry["labels"] = [str(t) for t in front["tags"]]
    artifacts[name] = entry
    doc["artifacts"] = dict(sorted(artifacts.items()))
    write_text(path, yamlio.dump(doc))


def read_metrics(path: str) -> dict[str, float]:
    """A JSON file of metrics, nested objects flattened to dotted names."""
    import math
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics from {path} ({exc}): give a JSON object of "
                         'name: number, e.g. {"accuracy": 0.93}') from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path} must hold a JSON object of metrics, e.g. {{\"accuracy\": 0.93}}")
    # An empty object holds no metric: it is skipped, not refused.
    flat = {key: value for key, value in flatten(data).items() if value != {}}
    for key, value in flat.items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value)):
            raise InputError(f"metric {key!r} in {path} is not a finite number: fix the file")
    return flat


def write_text(path: str, text: str) -> None:
    """Write a small text file whole: a temporary sibling renamed into place."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".registry-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _remove(path: str) -> None:
    import shutil
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


@contextmanager
def _rollback(git: Git, files: list[str], artifact: str | None):
    """Undo the block's changes if it fails: `files` (small, text) and the index entries are put
    back, and `artifact` (the copy being registered) is replaced by what was there before.

    On success the previous artifact is deleted by a process of its own, which the caller
    does not wait for: freeing a large file's blocks can wait a second on the disk (longer
    where the filesystem discards freed blocks), and nothing after the block needs it gone.
    """
    saved = {}
    for rel in files:
        full = os.path.join(git.root, rel)
        saved[full] = read_bytes(full) if os.path.isfile(full) else None
    target = os.path.join(git.root, artifact) if artifact else None
    backup = target + ".registry-old" if target else None
    if target and os.path.lexists(target):
        _remove(backup)
        os.replace(target, backup)
    try:
        yield
    except BaseException:
        git.run("reset", "--quiet", "--", *files, check=False)
        for full, data in saved.items():
            if data is None:
                _remove(full)
            else:
                with open(full, "wb") as f:
                    f.write(data)
        if target:
            _remove(target)
            if os.path.lexists(backup):
                os.replace(backup, target)
        raise
    if backup and os.path.lexists(backup):
        _remove_later(backup)


def _remove_later(path: str) -> None:
    """Delete `path` (a file or a folder) in the background. It is first moved into a folder
    of its own, so the next registration can take the backup name at once and the process
    only ever removes a folder; should the process not start, it is deleted here."""
    import sys
    import tempfile

    doomed = tempfile.mkdtemp(prefix=".registry-old-", dir=os.path.dirname(path))
    os.replace(path, os.path.join(doomed, os.path.basename(path)))
    try:
        subprocess.Popen([sys.executable, "-I", "-S", "-c",
                          "import shutil, sys; shutil.rmtree(sys.argv[1])", doomed],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        _remove(doomed)
