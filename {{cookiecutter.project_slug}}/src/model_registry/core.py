"""An open registry, read-only: git, registry.yaml, refs resolved to versions, each version's
pointer, card and signature. Every command builds on this, and nothing here changes the
repository or its git folder: reading tags may pack loose ones and fill the read cache
(gitrepo.py, readcache.py), the exceptions the template's docs/architecture.md lists.

Modules only some commands need (tempfile) are imported where they are used: `resolve` should
cost little more than starting Python and running git.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

from . import cards, config, storage, yamlio
from .errors import InputError, NotFoundError, RegistryError
from .gitrepo import Git
from .results import Artifact, Version
from .tags import (ASSIGN, REGISTER, UNASSIGN, Event, ModelState, VersionState, check_name,
                   parse_ref, resolve_model)
from .units import iso_utc

DVC_YAML = "dvc.yaml"
ORIGIN = "origin"


class Registry:
    """A registry repository: a git work tree (or a clone without one) with registry.yaml,
    dvc.yaml and models/."""

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

    # ------------------------------------------------------------ refs to versions

    def model(self, name: str) -> ModelState:
        check_name(name)
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

    def pointer(self, version: VersionState) -> storage.Pointer:
        """The DVC pointer of a version, read from git at its commit."""
        with self.git.reader() as read:  # dvc.yaml, then the pointer it names: one git process
            entry_path = self.artifact_entry(version.model, version.commit, read)
            data = read(version.commit, entry_path + ".dvc") if entry_path else None
        if entry_path is not None and not inside(entry_path, f"models/{version.model}"):
            raise InputError(f"{DVC_YAML} at {version.commit[:12]} puts the artifact of "
                             f"{version.model} at {entry_path!r}, outside models/"
                             f"{version.model}/: refusing it; fix {DVC_YAML}")
        if entry_path is None:
            raise RegistryError(f"{version.model} {version.version} has no entry in {DVC_YAML} "
                                f"at {version.commit[:12]}: the registry is damaged; run "
                                "`registry check`")
        if data is None:
            raise RegistryError(f"{entry_path}.dvc is missing at {version.commit[:12]}: the "
                                "registry is damaged; run `registry check`")
        pointer = storage.read_pointer(data, f"{entry_path}.dvc")
        if pointer.path != os.path.basename(entry_path):
            raise InputError(f"{entry_path}.dvc at {version.commit[:12]} points at "
                             f"{pointer.path!r}, not at {os.path.basename(entry_path)!r}: "
                             "refusing it; re-create the pointer with dvc add")
        pointer.path = entry_path
        return pointer

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
        with `read` (default: Git.read)."""
        if rev is None:
            path = os.path.join(self.root, DVC_YAML)
            data = read_bytes(path) if os.path.exists(path) else None
        else:
            data = (read or self.git.read)(rev, DVC_YAML)
        doc = yamlio.load(data, DVC_YAML) if data else None
        entry = ((doc or {}).get("artifacts") or {}).get(model) if isinstance(doc, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        return path if isinstance(path, str) else None

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
        """What `resolve` answers for a version."""
        pointer = self.pointer(version)
        reg = version.registration
        return Version(
            name=version.model, version=version.version, tag=version.tag,
            commit=version.commit, stage=stage, stages=state.stages_of(version),
            registered_at=iso_utc(reg.time), registered_by=reg.tagger,
            artifact=Artifact(pointer.path, pointer.md5, size=pointer.size,
                              nfiles=pointer.nfiles),
            card=cards.card_path(version.model))


@contextmanager
def cloned(url: str):
    """A registry at `url` opened from a temporary clone without a work tree, removed after."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="registry-clone-") as tmp:
        proc = subprocess.run(["git", "clone", "--quiet", "--no-checkout", url, tmp],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise RegistryError(f"could not clone {url} ({reason}): check the URL and your "
                                "access to it")
        yield Registry(Git(tmp))


# ------------------------------------------------------------ small file helpers


def inside(path: str, folder: str) -> bool:
    """Whether a repository-relative path stays inside `folder` (no '..', not absolute)."""
    norm = os.path.normpath(path).replace(os.sep, "/")
    return not os.path.isabs(path) and norm.startswith(folder + "/")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid UTF-8: save it as UTF-8") from None
