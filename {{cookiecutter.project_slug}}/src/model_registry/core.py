"""An open registry, read-only: git, registry.yaml, refs resolved to versions, each version's
pointer, card and signature. Every command builds on this, and nothing here changes the
repository or its git folder: reading tags may pack loose ones and fill the read cache
(gitrepo.py, readcache.py), the exceptions the template's docs/architecture.md lists.

Modules only some commands need (tempfile) are imported where they are used: `resolve` should
cost little more than starting Python and running git.
"""

from __future__ import annotations

import os
import posixpath
from contextlib import contextmanager

from . import cards, config, storage, yamlio
from .errors import InputError, NotFoundError, RegistryError
from .gitrepo import Git, model_refspecs
from .results import Artifact, Version
from .tags import (ASSIGN, DIR_SEPARATOR, REGISTER, UNASSIGN, Event, ModelState, VersionState,
                   check_model, parse_ref, resolve_model, stages_seen)
from .units import iso_utc

DVC_YAML = "dvc.yaml"
ORIGIN = "origin"


class Registry:
    """A registry repository: a git work tree (or a clone without one) with registry.yaml,
    dvc.yaml and models/; or any git repository with gto's tags, read with the defaults (see
    config)."""

    def __init__(self, git: Git):
        self.git = git
        self.root = git.root
        self._config: config.Config | None = None

    @classmethod
    def open(cls, path: str = ".") -> "Registry":
        return cls(Git.discover(path))

    @property
    def config(self) -> config.Config:
        if self._config is None:
            here = os.path.exists(os.path.join(self.root, config.CONFIG_FILE))
            self._config = config.load(self.root, None if here else
                                       self.git.read("HEAD", config.CONFIG_FILE))
        return self._config

    def writable(self) -> None:
        """Refuse to write without registry.yaml (called before a writing command changes
        anything): its rules decide what may be written."""
        if not self.config.from_file:
            raise InputError(
                f"no {config.CONFIG_FILE} in {self.root}: reading works here, but writing needs "
                "a registry's rules; adopt this repository first (the template's README, "
                f"'Adopting an existing repository': cd {self.root} && cookiecutter "
                "--overwrite-if-exists --skip-if-file-exists TEMPLATE -o .. "
                f"project_slug={os.path.basename(self.root)})")

    def stages(self) -> list[str]:
        """The stages in their order: registry.yaml's; without it, those `.gto` lists, else
        those the tags use, in the order first used."""
        if self.config.stages is not None:
            return self.config.stages
        path = os.path.join(self.root, config.GTO_FILE)
        return stages_in_use(self.git, read_bytes(path) if os.path.exists(path) else
                             self.git.read("HEAD", config.GTO_FILE))[0]

    # ------------------------------------------------------------ refs to versions

    def model(self, name: str) -> ModelState:
        check_model(name)
        events, _ = self.git.tags(name)
        return resolve_model(name, events)

    def locate(self, ref: str) -> tuple[ModelState, VersionState]:
        """The model and the active version `ref` names; refuses unsigned tags where
        registry.yaml requires signatures."""
        wanted = parse_ref(ref)
        state = self.model(wanted.model)
        name = wanted.model
        if not state.events:
            raise NotFoundError(f"no model named {name!r} in this registry: "
                                "see `registry list` for the models there are")
        if state.deprecated:
            raise NotFoundError(f"model {name!r} is deprecated: register a new version to "
                                "revive it, or see `registry history` for its past")
        found = self._find(state, wanted, ref)
        if self.config.require_signed_tags:
            held = [e for e in found.stage_events.get(wanted.stage, []) if e.action == ASSIGN]
            self.require_signed([found.registration] + held[-1:])
        return state, found

    @staticmethod
    def _find(state: ModelState, wanted, ref: str) -> VersionState:
        name = state.name
        found: VersionState | None
        if wanted.tag:
            event = next((e for e in state.events if e.tag == wanted.tag), None)
            if event is None or event.action not in (REGISTER, ASSIGN, UNASSIGN):
                raise NotFoundError(f"tag {wanted.tag!r} does not name a version: use "
                                    f"{name}@vX.Y.Z or {name}#STAGE")
            found = next((v for v in state.active_versions if v.commit == event.commit and
                          (event.action != REGISTER or v.tag == event.tag)), None)
        elif wanted.version:
            found = state.find_version(wanted.version)
            if found is None:
                raise NotFoundError(f"{name} has no active version {wanted.version}: see "
                                    f"`registry history {name}`")
        elif wanted.stage:
            found = state.stages.get(wanted.stage)
            if found is None:
                raise NotFoundError(f"no version of {name} is in stage {wanted.stage!r}: "
                                    f"promote one with `registry promote {name} VERSION "
                                    f"{wanted.stage}`")
        else:
            found = state.latest
        if found is None:
            raise NotFoundError(f"{ref!r} names no active version: see `registry history {name}`")
        return found

    # ------------------------------------------------------------ signatures

    def signature(self, event: Event) -> str:
        """'good', 'bad' or 'unsigned': the tag's signature checked against allowed_signers.

        A clone without a work tree (`get --repo`) has the file only in git: it is checked
        against a copy in a temporary folder, never written into the repository."""
        if not event.signed:
            return "unsigned"
        rel = self.config.allowed_signers
        path = os.path.join(self.root, rel)
        if os.path.exists(path):
            return "good" if self.git.verify_tag(event.tag, path) else "bad"
        import tempfile
        with tempfile.TemporaryDirectory(prefix="registry-signers-") as folder:
            copy = os.path.join(folder, "allowed_signers")
            with open(copy, "wb") as f:
                f.write(self.git.read("HEAD", rel) or b"")
            return "good" if self.git.verify_tag(event.tag, copy) else "bad"

    def require_signed(self, events: list[Event]) -> None:
        for event in events:
            status = self.signature(event)
            if status != "good":
                signers = self.config.allowed_signers
                how = "not signed" if status == "unsigned" else f"signed by a key not in {signers}"
                raise RegistryError(f"tag {event.tag} is {how}, and registry.yaml requires signed "
                                    "tags: re-tag with --sign, or add the signer's key to "
                                    f"{signers} through a reviewed change")

    # ------------------------------------------------------------ pointers and cards

    def pointer(self, version: VersionState, required: bool = True) -> storage.Pointer | None:
        """Where a version's artifact is, as its dvc.yaml entry says at its commit: an output
        DVC tracks, files committed to git, or a URL (storage.locate finds it as DVC does).
        None, unless `required`, when dvc.yaml has no entry: gto registers any name."""
        label = f"{version.model} {version.version}"
        with self.git.reader() as read:  # dvc.yaml, then the files it leads to: one git process
            entry = self.artifact_entry(version.model, version.commit, read)
            if entry is None and not required:
                return None
            if entry is None:
                raise RegistryError(f"{label} has no entry in {dvc_yaml_of(version.model)[1]} "
                                    f"at {version.commit[:12]}: add it under `artifacts:` "
                                    "(its path), or run `registry check`")
            return storage.locate(entry, version.commit, read, self._files, label)

    def _files(self, rev: str, path: str) -> list[tuple[str, str, str]]:
        """The mode, object id and path of each file git holds at `path` in `rev`."""
        return [(mode, oid, name)
                for mode, _, oid, name in self.git.tree(rev, [path], recursive=True)]

    def work_tree_pointer(self, entry: str) -> storage.Pointer | None:
        """The pointer of the artifact at `entry` in the work tree, if it has one."""
        path = os.path.join(self.root, entry + ".dvc")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            pointer = storage.read_pointer(f.read(), entry + ".dvc")
        pointer.path = entry
        return pointer

    def artifact_entry(self, model: str, rev: str | None, read=None) -> str | None:
        """The artifact path dvc.yaml gives for `model` at `rev` (None: the work tree), read
        with `read` (default: Git.read). A model `dir:name` is `name` in dir/dvc.yaml, its
        path relative to dir/, as DVC reads it."""
        folder, rel, name = dvc_yaml_of(model)
        if folder == ".." or folder.startswith(("../", "/")):
            return None  # a dvc.yaml outside the repository is not this repository's
        if rev is None:
            path = os.path.join(self.root, rel)
            data = read_bytes(path) if os.path.exists(path) else None
        else:
            data = (read or self.git.read)(rev, rel)
        doc = yamlio.load(data, rel) if data else None
        entry = ((doc or {}).get("artifacts") or {}).get(name) if isinstance(doc, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            return None
        return path if not folder or storage.outside(path) else posixpath.join(folder, path)

    def card_models(self) -> list[str]:
        """Models with a card in the work tree (names may hold '/', so walk the folders)."""
        base = os.path.join(self.root, "models")
        found = []
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            if cards.CARD_FILE in files:
                found.append(os.path.relpath(folder, base).replace(os.sep, "/"))
        return found

    def card_side(self, name: str, label: str, rev: str | None) -> cards.CardSide | None:
        """A model's card and the artifact it records at `rev` (None: the work tree)."""
        rel = cards.card_path(name)
        if rev is None:
            full = os.path.join(self.root, rel)
            text = read_text(full) if os.path.exists(full) else None
        else:
            data = self.git.read(rev, rel)
            text = data.decode("utf-8", errors="replace") if data is not None else None
        if text is None:
            return None
        front, body = cards.split(text, f"{rel} at {rev[:12]}" if rev else rel)
        block = front.get("registry") if isinstance(front.get("registry"), dict) else {}
        artifact = block.get("artifact") if isinstance(block.get("artifact"), dict) else {}
        return cards.CardSide(label, block.get("version"), artifact.get("md5"),
                        artifact.get("sha256"), artifact.get("size"), front, body)

    def describe(self, state: ModelState, version: VersionState, stage: str | None = None
                 ) -> Version:
        """What `resolve` answers for a version; `artifact` None where dvc.yaml has no entry
        for it (gto still answers which version a ref names)."""
        pointer = self.pointer(version, required=False)
        reg = version.registration
        return Version(
            name=version.model, version=version.version, tag=version.tag,
            commit=version.commit, stage=stage, stages=state.stages_of(version),
            registered_at=iso_utc(reg.time), registered_by=reg.tagger,
            artifact=pointer and Artifact(pointer.path, pointer.md5, size=pointer.size,
                                          nfiles=pointer.nfiles),
            card=cards.card_path(version.model))


def stages_in_use(git: Git, gto_file: bytes | None) -> tuple[list[str], bool]:
    """A repository's stages where no registry.yaml lists them, and whether its `.gto` file
    (`gto_file`, its bytes) lists them: else they are those its tags use, in the order first
    used (gto then takes any stage name)."""
    listed = config.gto_stages(gto_file)
    return (listed, True) if listed is not None else (stages_seen(git.tags()[0]), False)


@contextmanager
def cloned(url: str, ref: str):
    """The registry at `url`, as much of it as `ref` needs, in a temporary folder removed
    after: the model's tags and the commits they tag (a shallow, partial fetch: see
    Git.fetch_part), then the files read at the version's commit and at HEAD (_prefetch).
    Its cost grows with the model, not with the registry."""
    import tempfile
    model = parse_ref(ref).model
    with tempfile.TemporaryDirectory(prefix="registry-clone-") as tmp:
        reg = Registry(Git.fetch_part(url, tmp, model_refspecs(model)))
        _prefetch(reg, ref)
        yield reg


def _prefetch(reg: Registry, ref: str) -> None:
    """Fetch in two round trips, not one per file as they are read, what resolving and
    fetching `ref` read from a partial clone: the rules at HEAD (registry.yaml, .gto,
    allowed_signers); at the version's commit dvc.yaml and dvc.lock (a `dir:name` model's
    in `dir/` too), DVC's config, and the model's card and pointers. DVC reads its config
    through a git library of its own, which fetches nothing on demand."""
    wanted = parse_ref(ref)
    try:
        version = Registry._find(reg.model(wanted.model), wanted, ref)
    except RegistryError:
        return  # locate says what is wrong
    card = cards.card_path(version.model)
    reg.git.prefetch({
        "HEAD": [config.CONFIG_FILE, config.GTO_FILE, config.Config.allowed_signers],
        version.commit: list(dict.fromkeys([DVC_YAML, dvc_yaml_of(version.model)[1], "dvc.lock",
                                            ".dvc/config", card,
                                            f"{posixpath.dirname(card)}/*.dvc"]))})


# ------------------------------------------------------------ small file helpers


def dvc_yaml_of(model: str) -> tuple[str, str, str]:
    """The folder whose dvc.yaml lists `model`, that dvc.yaml's path and the name there:
    `dir:name` is `name` in dir/dvc.yaml (`dir/dvc.yaml:name` too, as DVC reads it)."""
    folder, _, name = model.rpartition(DIR_SEPARATOR)
    folder = posixpath.normpath(folder) if folder else ""
    if posixpath.basename(folder) == DVC_YAML:
        folder = posixpath.dirname(folder)
    folder = "" if folder == "." else folder
    return folder, posixpath.join(folder, DVC_YAML) if folder else DVC_YAML, name


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid UTF-8: save it as UTF-8") from None
