"""What the registry does: each operation takes plain arguments and returns plain data.

The CLI prints these results; CI scripts and tests call them directly. Every operation checks
all of its input before it changes anything, and writes in the order that keeps data safe:
artifact to the DVC remote first, commit and tag second, git push last.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta, timezone

# Modules only some commands need (reports, shutil, tempfile, math) are imported where they are
# used: every command pays for what is imported here, and `resolve` should cost little more
# than starting Python and running git.
from . import cards, config, storage, yamlio
from .readcache import hashes_in, tags_key
from .errors import ConflictError, InputError, NotFoundError, RegistryError
from .gitrepo import Git
from .tags import (ASSIGN, CREATE, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, Event, ModelState,
                   VersionState, assign_tag, bump, check_name, check_version, counter_claim,
                   deprecate_tag, deregister_tag, next_counter, parse_ref, parse_tag_name,
                   register_tag, resolve_all, resolve_model, semver_key, split_hashes,
                   unassign_tag, with_hashes)

DVC_YAML = "dvc.yaml"
ORIGIN = "origin"
_RESERVED = {cards.CARD_FILE, ".gitignore"}


# gto's names for the events, which `check-ref --json` reports as gto does.
GTO_EVENTS = {REGISTER: "registration", DEREGISTER: "deregistration", ASSIGN: "assignment",
              UNASSIGN: "unassignment", DEPRECATE: "deprecation"}


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def _local_iso(event: Event) -> str:
    """The tag's time in the tagger's own zone, as gto prints it."""
    sign = -1 if event.zone.startswith("-") else 1
    hours, minutes = int(event.zone[-4:-2]), int(event.zone[-2:])
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime.fromtimestamp(event.time, zone).isoformat()


class Registry:
    """A registry repository: a git work tree with registry.yaml, dvc.yaml and models/."""

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

    # ================================================================ reading

    def model(self, name: str) -> ModelState:
        check_name(name)
        events, _ = self.git.tags(name)
        return resolve_model(name, events)

    def _locate(self, ref: str) -> tuple[ModelState, VersionState]:
        wanted = parse_ref(ref)
        state = self.model(wanted.model)
        name = wanted.model
        if not state.events:
            raise NotFoundError(f"no model named {name!r} in this registry: "
                                "see `registry list` for the models there are")
        if state.deprecated:
            raise NotFoundError(f"model {name!r} is deprecated: register a new version to "
                                "revive it, or see `registry history` for its past")
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
        if self.config.require_signed_tags:
            held = [e for e in found.stage_events.get(wanted.stage, []) if e.action == ASSIGN]
            self._require_signed([found.registration] + held[-1:])
        return state, found

    def signature(self, event: Event) -> str:
        """'good', 'bad' or 'unsigned': the tag's signature checked against allowed_signers."""
        if not event.signed:
            return "unsigned"
        rel = self.config.allowed_signers
        path = os.path.join(self.root, rel)
        if not os.path.exists(path):
            path = os.path.join(self.git.out("rev-parse", "--absolute-git-dir"),
                                "registry-allowed-signers")
            with open(path, "wb") as f:
                f.write(self.git.read("HEAD", rel) or b"")
        return "good" if self.git.verify_tag(event.tag, path) else "bad"

    def _require_signed(self, events: list[Event]) -> None:
        for event in events:
            status = self.signature(event)
            if status != "good":
                signers = self.config.allowed_signers
                how = "not signed" if status == "unsigned" else f"signed by a key not in {signers}"
                raise RegistryError(f"tag {event.tag} is {how}, and registry.yaml requires signed "
                                    "tags: re-tag with --sign, or add the signer's key to "
                                    f"{signers} through a reviewed change")

    def _artifact(self, version: VersionState) -> storage.Pointer:
        """The DVC pointer of a version, read from git at its commit."""
        with self.git.reader() as read:  # dvc.yaml, then the pointer it names: one git process
            entry_path = self._artifact_entry(version.model, version.commit, read)
            data = read(version.commit, entry_path + ".dvc") if entry_path else None
        if entry_path is not None and not _inside(entry_path, f"models/{version.model}"):
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

    def _artifact_entry(self, model: str, rev: str | None, read=None) -> str | None:
        """The artifact path dvc.yaml gives for `model` at `rev` (None: the work tree), read
        with `read` (default: Git.read)."""
        if rev is None:
            path = os.path.join(self.root, DVC_YAML)
            data = open(path, "rb").read() if os.path.exists(path) else None
        else:
            data = (read or self.git.read)(rev, DVC_YAML)
        doc = yamlio.load(data, DVC_YAML) if data else None
        entry = ((doc or {}).get("artifacts") or {}).get(model) if isinstance(doc, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        return path if isinstance(path, str) else None

    def _describe(self, state: ModelState, version: VersionState, stage: str | None = None,
                  ) -> dict:
        pointer = self._artifact(version)
        artifact = {"path": pointer.path, "md5": pointer.md5, "size": pointer.size}
        if pointer.nfiles is not None:
            artifact["nfiles"] = pointer.nfiles
        reg = version.registration
        return {
            "name": version.model,
            "version": version.version,
            "tag": version.tag,
            "commit": version.commit,
            "stage": stage,
            "stages": state.stages_of(version),
            "registered_at": _iso(reg.time),
            "registered_by": reg.tagger,
            "artifact": artifact,
            "card": cards.card_path(version.model),
        }

    def resolve(self, ref: str) -> dict:
        state, version = self._locate(ref)
        return self._describe(state, version, parse_ref(ref).stage)

    def show(self, ref: str) -> dict:
        state, version = self._locate(ref)
        result = self._describe(state, version, parse_ref(ref).stage)
        data = self.git.read(version.commit, result["card"])
        if data is None:
            raise NotFoundError(f"{version.model} {version.version} has no card: add "
                                f"{result['card']} and register a new version")
        result["text"] = data.decode("utf-8", errors="replace")
        return result

    def list(self) -> list[dict]:
        """Every model's latest version and stages; kept in the read cache for as long as no
        tag changes (see readcache)."""
        cache = self.git.cache()
        listed = self.git.tag_ids()
        key = tags_key(listed)
        if cache.list is not None and cache.list_key == key:
            return cache.list
        events, _ = self.git.tags(listed=listed)
        models = []
        for name, state in resolve_all(events).items():
            latest = state.latest
            models.append({
                "name": name,
                "latest": latest.version if latest else None,
                "stages": {s: v.version for s, v in sorted(state.stages.items())},
                "versions": [v.version for v in state.active_versions],
                "deprecated": state.deprecated,
            })
        cache.set_list(key, models)
        cache.save()
        return models

    def history(self, name: str | None = None) -> list[dict]:
        if name:
            check_name(name)
        events, _ = self.git.tags(name)
        if name and not any(e.model == name for e in events):
            raise NotFoundError(f"no model named {name!r} in this registry: see `registry list`")
        rows = []
        for state in resolve_all(events).values():
            at_commit = {v.commit: v.version for v in state.versions if v.registration}
            for e in state.events:
                rows.append({
                    "tag": e.tag, "name": e.model, "event": e.action,
                    "version": e.version or at_commit.get(e.commit), "stage": e.stage,
                    "commit": e.commit, "tagger": e.tagger, "tagger_email": e.tagger_email,
                    "date": _iso(e.time), "message": split_hashes(e.message)[0],
                    "_order": e.order,
                })
        rows.sort(key=lambda r: r.pop("_order"), reverse=True)
        return rows

    # ================================================================ review and audit

    def card_models(self) -> list[str]:
        """Models with a card in the work tree (names may hold '/', so walk the folders)."""
        base = os.path.join(self.root, "models")
        found = []
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            if cards.CARD_FILE in files:
                found.append(os.path.relpath(folder, base).replace(os.sep, "/"))
        return found

    def _card_side(self, name: str, label: str, rev: str | None) -> dict | None:
        """One side of a comparison: a model's card and artifact at `rev` (None: work tree)."""
        rel = cards.card_path(name)
        if rev is None:
            full = os.path.join(self.root, rel)
            text = _read_text(full) if os.path.exists(full) else None
        else:
            data = self.git.read(rev, rel)
            text = data.decode("utf-8", errors="replace") if data is not None else None
        if text is None:
            return None
        front, body = cards.split(text, f"{rel} at {rev[:12]}" if rev else rel)
        block = front.get("registry") if isinstance(front.get("registry"), dict) else {}
        artifact = block.get("artifact") if isinstance(block.get("artifact"), dict) else {}
        return {"label": label, "version": block.get("version"), "md5": artifact.get("md5"),
                "sha256": artifact.get("sha256"), "size": artifact.get("size"), "front": front,
                "body": body}

    def check(self, base: str | None = None, remote: bool = False) -> dict:
        """Cards valid for the profile and consistent with tags, pointers and dvc.yaml; with
        `remote`, their artifacts present in the DVC remote too."""
        cfg = self.config
        models = self.card_models()
        if base:
            changed, _ = self.git.changed_files(base, ["models"])
            models = [m for m in models if any(f.startswith(f"models/{m}/") for f in changed)]
        events, _ = self.git.tags()
        states = resolve_all(events)
        problems: list[cards.Problem] = []
        for name in models:
            problems += self._check_card(name, cfg, states.get(name) or resolve_model(name, []))
        problems += self._check_secrets()
        if remote:
            problems += self._check_remote(models)
        return {"ok": not problems, "checked": models,
                "problems": [p.as_dict() for p in problems]}

    def _check_card(self, name: str, cfg: config.Config, state: ModelState
                    ) -> list[cards.Problem]:
        rel = cards.card_path(name)
        try:
            side = self._card_side(name, "work tree", None)
        except InputError as exc:
            return [cards.Problem(rel, "", "", str(exc))]
        front = side["front"]
        problems = cards.validate(front, cfg.card_profile, rel)
        problems += [cards.Problem(rel, "", "", f"holds what looks like {what}: remove it and "
                                   "rotate the credential") for what in
                     storage.credentials_in(_read_text(os.path.join(self.root, rel)))]
        block = front.get("registry") if isinstance(front.get("registry"), dict) else {}
        version = block.get("version")

        def problem(field, message):
            problems.append(cards.problem(rel, field.split("."), message))

        if block.get("name") not in (None, name):
            problem("registry.name", f"says {block.get('name')!r} but the card is in "
                    f"models/{name}/: move the card or fix the name")
        entry = self._artifact_entry(name, None)
        art = block.get("artifact") if isinstance(block.get("artifact"), dict) else {}
        if entry is None:
            problem("registry.artifact.path", f"{DVC_YAML} has no artifact entry for {name}: "
                    "run `registry register`")
        elif art.get("path") != entry:
            problem("registry.artifact.path", f"is {art.get('path')!r} but {DVC_YAML} says "
                    f"{entry!r}: run `registry register` to refresh the card")
        else:
            pointer_file = os.path.join(self.root, entry + ".dvc")
            if not os.path.exists(pointer_file):
                problem("registry.artifact.path", f"{entry}.dvc is missing: run `registry "
                        "register` or `dvc add`")
            else:
                pointer = storage.read_pointer(open(pointer_file, "rb").read(), entry + ".dvc")
                if (pointer.md5, pointer.size) != (art.get("md5"), art.get("size")):
                    problem("registry.artifact.md5", f"card says {art.get('md5')} "
                            f"({art.get('size')} bytes) but {entry}.dvc says {pointer.md5} "
                            f"({pointer.size} bytes): register the artifact as a new version")
        if not isinstance(version, str) or problems and any(
                p.field.startswith("registry.version") for p in problems):
            return problems
        tagged = next((v for v in state.versions if v.version == version and v.registration),
                      None)
        if tagged:
            then = self._card_side(name, version, tagged.commit)
            if then and (then["md5"], then["size"]) != (art.get("md5"), art.get("size")):
                problem("registry.version", f"{version} is already registered (tag "
                        f"{tagged.tag}) with another artifact: register this one as a new "
                        "version (--bump)")
        elif state.active_versions:
            latest = state.active_versions[0].version
            if semver_key(version) <= semver_key(latest):
                problem("registry.version", f"{version} is not above the latest registered "
                        f"version {latest}: choose a higher version")
        previous = block.get("previous_version")
        known = {v.version for v in state.versions if v.registration}
        if previous and previous not in known:
            problem("registry.previous_version", f"{previous} is not a registered version of "
                    f"{name}: it must name the version this one follows")
        return problems

    def _check_remote(self, models: list[str]) -> list[cards.Problem]:
        pointers, labels = [], {}
        for name in models:
            entry = self._artifact_entry(name, None)
            path = os.path.join(self.root, f"{entry}.dvc") if entry else None
            if path and os.path.exists(path):
                pointer = storage.read_pointer(open(path, "rb").read(), f"{entry}.dvc")
                pointer.path = entry
                pointers.append(pointer)
                try:  # name the version too: it is what a reviewer or a deployer asks for
                    version = (self._card_side(name, "work tree", None) or {}).get("version")
                except InputError:
                    version = None
                labels[entry] = f"{name} {version}" if version else name
        return [cards.Problem(f"{p.path}.dvc", "", "Art. 18",
                              f"the artifact of {labels[p.path]} ({p.md5}) is {why}: push it "
                              "with `dvc push` (or register with --push)")
                for p, why in storage.remote_problems(self.root, pointers, self.config.remote)]

    def _check_secrets(self) -> list[cards.Problem]:
        path = os.path.join(self.root, ".dvc", "config")
        if not os.path.exists(path):
            return []
        found = []
        for number, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            key = line.split("=", 1)[0].strip().lower()
            if "=" in line and key in storage.SECRET_KEYS:
                found.append(cards.Problem(".dvc/config", f"line {number}", "",
                                           f"holds the credential {key!r}: move it to "
                                           ".dvc/config.local (git-ignored) or the environment"))
        return found

    def diff(self, ref_a: str | None = None, ref_b: str | None = None,
             base: str | None = None) -> dict:
        """What changed, as Markdown: between two versions, or in the work tree since `base`."""
        pairs = []
        if base:
            changed, merge_base = self.git.changed_files(base, ["models"])
            names = sorted({m for m in self.card_models() if any(
                f.startswith(f"models/{m}/") for f in changed)} | {
                f[len("models/"):-len("/" + cards.CARD_FILE)] for f in changed
                if f.endswith("/" + cards.CARD_FILE)})
            for name in names:
                pairs.append((name, self._card_side(name, base, merge_base),
                              self._card_side(name, "this change", None)))
        else:
            if not (ref_a and ref_b):
                raise InputError("give two refs (registry diff churn@v1.0.0 churn@v1.1.0) "
                                 "or --base REV")
            (_, a), (_, b) = self._locate(ref_a), self._locate(ref_b)
            for name in dict.fromkeys([a.model, b.model]):
                pairs.append((name, self._card_side(name, a.version, a.commit)
                              if a.model == name else None,
                              self._card_side(name, b.version, b.commit)
                              if b.model == name else None))
        from . import reports
        blocks = [block for name, old, new in pairs for block in reports.diff_blocks(name, old,
                                                                                       new)]
        markdown = reports.render_markdown(blocks) if blocks else "No model cards changed.\n"
        return {"models": [p[0] for p in pairs], "markdown": markdown}

    def doc(self, ref: str, fmt: str = "md") -> dict:
        """The technical documentation of one version (Annex IV), in Markdown or HTML."""
        from . import reports
        if fmt not in ("md", "html"):
            raise InputError(f"unknown format {fmt!r}: use md or html")
        state, version = self._locate(ref)
        info = self._describe(state, version)
        side = self._card_side(version.model, version.version, version.commit)
        if side is None:
            raise NotFoundError(f"{version.model} {version.version} has no card: nothing to "
                                "document")
        front = side["front"]
        previous = (front.get("registry") or {}).get("previous_version")
        prev_state = state.find_version(previous) if previous else None
        changes = reports.diff_blocks(version.model, self._card_side(
            version.model, previous, prev_state.commit), side) if prev_state else []
        stages = [[e.stage, "assigned" if e.action == ASSIGN else "unassigned", _iso(e.time),
                   e.tag] for s in version.stage_events.values() for e in s]
        reg = version.registration
        signature = {"unsigned": "not signed", "good": "signed, verified against "
                     f"{self.config.allowed_signers}", "bad": "signed, NOT verified: the key "
                     f"is not in {self.config.allowed_signers}"}[self.signature(reg)]
        missing = [str(p) for p in cards.validate(front, "eu-ai-act-high-risk",
                                                  cards.card_path(version.model))]
        blocks = reports.technical_doc({
            "name": version.model, "version": version.version, "tag": reg.tag,
            "commit": version.commit, "tagger": f"{reg.tagger} {reg.tagger_email}",
            "date": _iso(reg.time), "signature": signature, "stages": sorted(stages,
                                                                             key=lambda r: r[2]),
            "front": front, "previous": previous, "changes": changes, "missing": missing,
            "artifact": (front.get("registry") or {}).get("artifact") or info["artifact"]})
        title = f"{version.model} {version.version}"
        text = (reports.render_markdown(blocks) if fmt == "md"
                else reports.render_html(blocks, f"Technical documentation: {title}"))
        return {**info, "format": fmt, "missing": missing, "text": text}

    def check_ref(self, ref: str, remote: bool = False) -> dict:
        """What a pushed tag did, in gto check-ref's fields, after checking that version's card
        and artifact at the tagged commit (for CI on tag push)."""
        tag = ref[len("refs/tags/"):] if ref.startswith("refs/tags/") else ref
        parsed = parse_tag_name(tag)
        if parsed is None or parsed.action == CREATE:
            raise InputError(f"{ref!r} is not a registry tag: expected NAME@vX.Y.Z, "
                             "NAME#STAGE#N and the like")
        state = self.model(parsed.model)
        event = next((e for e in state.events if e.tag == tag), None)
        if event is None:
            raise NotFoundError(f"no annotated tag {tag!r} here: fetch tags (git fetch --tags) "
                                "and check the name")
        data = {"artifact": event.model, "created_at": _local_iso(event),
                "author": event.tagger, "author_email": event.tagger_email,
                "message": event.message, "commit_hexsha": event.commit, "tag": event.tag}
        if event.action in (ASSIGN, UNASSIGN):
            # The version resolution gave this stage event to, not merely the first on its commit.
            version = next((v for v in state.versions if v.registration and
                            event in v.stage_events.get(event.stage, ())), None)
        else:
            version = next((v for v in state.versions
                            if v.registration and v.version == event.version), None)
        if event.action != DEPRECATE:
            data["version"] = version.version if version else event.version
        if event.stage:
            data["stage"] = event.stage
        data["event"] = GTO_EVENTS[event.action]
        if self.config.require_signed_tags:
            self._require_signed([event] + ([version.registration] if version and
                                            version.registration is not event else []))
        if event.action in (REGISTER, ASSIGN):
            if version is None:
                raise NotFoundError(f"{tag} points at a commit with no registered version: "
                                    "promote registered versions only")
            problems = self._check_version(version, remote)
            if problems:
                raise InputError(f"{version.model} {version.version} at {version.commit[:12]} "
                                 f"is not valid ({len(problems)} problem(s)): fix the card or "
                                 "push the artifact, then re-tag", details=problems, data=data)
        return data

    def _check_version(self, version: VersionState, remote: bool, read: bool = False
                       ) -> list[str]:
        """Problems with a registered version as committed: its card and its artifact (with
        `remote`, whether the DVC remote holds it; with `read` too, whether its bytes match)."""
        rel = cards.card_path(version.model)
        try:
            side = self._card_side(version.model, version.version, version.commit)
            pointer = self._artifact(version)
        except RegistryError as exc:
            return [str(exc)]
        if side is None:
            return [f"{rel} is missing at {version.commit[:12]}"]
        problems = [str(p) for p in cards.validate(side["front"], self.config.card_profile,
                                                   rel)]
        if side["version"] != version.version:
            problems.append(f"{rel}: registry.version says {side['version']} but the tag says "
                            f"{version.version}")
        if (side["md5"], side["size"]) != (pointer.md5, pointer.size):
            problems.append(f"{rel}: registry.artifact.md5 {side['md5']} does not match "
                            f"{pointer.path}.dvc ({pointer.md5})")
        attested = split_hashes(version.registration.message)[1]
        if attested and attested != {"md5": side["md5"], "sha256": side["sha256"]}:
            problems.append(f"tag {version.tag} gives the artifact md5 {attested['md5']} and "
                            f"sha256 {attested['sha256']}, but {rel} gives {side['md5']} and "
                            f"{side['sha256']}: the tag does not describe this version; "
                            "deregister it and register again")
        if remote:
            for _, why in storage.remote_problems(self.root, [pointer], self.config.remote, read):
                problems.append(f"{pointer.path} ({pointer.md5}) of {version.model} "
                                f"{version.version} is {why}: push it with dvc push from a clone "
                                "whose cache holds a good copy")
        return problems

    def which(self, hash_or_file: str) -> list[dict]:
        """Every registered version, of any model, whose artifact has this md5 or sha256.

        For post-market monitoring: a log line that carries an artifact hash maps back to the
        version, even one since deregistered or whose model is deprecated. The hashes in every
        registered version's card are kept in the read cache by tag object id; when a tag is
        new to it, every registration tag is read, the hashes its message attests are taken
        (see tags.with_hashes), and one `git cat-file --batch` pass reads the cards of the
        others. The few cards that hold the hash are then read and parsed, and their models
        resolved from their own tags.
        """
        if os.path.exists(hash_or_file):
            digest = storage.digest(hash_or_file)
            wanted = {digest.md5, digest.sha256}
        elif re.fullmatch(r"[0-9a-f]{32}(\.dir)?|[0-9a-f]{64}", hash_or_file.lower()):
            wanted = {hash_or_file.lower()}
        else:
            raise InputError(f"{hash_or_file!r} is neither a file nor an md5/sha256 hash: give "
                             "32 or 64 hex digits, or the path of an artifact")
        stems = {h.split(".")[0] for h in wanted}
        cache = self.git.cache()
        listed = self.git.tag_ids()
        digest = tags_key(listed)
        blobs = {}
        if cache.cards_key != digest:  # a tag changed: read the registrations it lacks
            keys = _card_keys(listed)
            registrations, _ = self.git.tags(listed=[(n, o) for n, o in listed if n in keys])
            blobs = self._read_card_hashes(cache, registrations, keys, stems, digest)
        # The cache now holds every tag: only those with a hit are named, and their models read.
        hits = {k for k, found in cache.cards.items() if stems.intersection(found)}
        ids = {k.partition(":")[0] for k in hits}
        keys = _card_keys([(n, o) for n, o in listed if o in ids])
        candidates = [n for n, k in keys.items() if k in hits]
        models = sorted({parse_tag_name(n).model for n in candidates})
        events = self.git.tags(models)[0] if models else []
        registered = {e.tag: e for e in events if e.action == REGISTER}
        chosen = [registered[n] for n in candidates if n in registered]
        states = resolve_all([e for e in events if e.model in {c.model for c in chosen}])
        spec = {e.tag: cards.card_at(e.commit, e.model) for e in chosen}
        blobs = {**blobs, **self.git.read_many([s for s in spec.values() if s not in blobs])}
        found = []
        for e in chosen:
            blob = blobs.get(spec[e.tag])
            if not blob:
                continue
            try:
                front, _ = cards.split(blob.decode("utf-8"), cards.card_path(e.model))
            except (InputError, UnicodeDecodeError):
                continue
            artifact = ((front.get("registry") or {}).get("artifact") or {})
            if not wanted & {artifact.get("md5"), artifact.get("sha256")}:
                continue
            state = states[e.model]
            version = next(v for v in state.versions if v.registration is e)
            status = ("deprecated" if state.deprecated else
                      "active" if version.active else "deregistered")
            found.append({"name": e.model, "version": e.version, "tag": e.tag,
                          "commit": e.commit, "card": cards.card_path(e.model),
                          "md5": artifact.get("md5"), "sha256": artifact.get("sha256"),
                          "status": status, "stages": state.stages_of(version)})
        if not found:
            raise NotFoundError(f"no registered version has an artifact with hash "
                                f"{', '.join(sorted(wanted))}", data=[])
        return found

    def _read_card_hashes(self, cache, events: list[Event], keys: dict[str, str],
                          stems: set[str], digest: str) -> dict[str, bytes | None]:
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
                    known = [hashes["md5"].split(".")[0], hashes["sha256"]]
            if known is None or stems.intersection(known):
                wanted.append(e)
            if known is not None:
                found[key] = known
        # Newest first: git finds each card through its commit's trees, which a pack stores
        # as deltas of their neighbours in history; asked in that order, cat-file's delta
        # cache rebuilds each tree from the last instead of from scratch (about 6x faster).
        wanted.sort(key=lambda e: e.order, reverse=True)
        specs = [cards.card_at(e.commit, e.model) for e in wanted]
        blobs = self.git.read_many(specs)
        for e, spec in zip(wanted, specs):
            if keys[e.tag] not in found:
                found[keys[e.tag]] = hashes_in(blobs[spec])
        for key in keys.values():
            found.setdefault(key, [])  # not an annotated tag
        cache.set_cards(digest, found)
        cache.save()
        return blobs

    def release(self, push: bool = False, sign: bool = False) -> dict:
        """Tag every card version on this branch that has no registration tag yet.

        The pull-request flow: a reviewed card (from `register --no-tag`) merged to main is the
        registration, and this makes its tag. Re-running it adds nothing.
        """
        events, _ = self.git.tags()
        head = self.git.head()
        if push:
            self._check_push_target()
        states = resolve_all(events)
        pending = []
        for name in self.card_models():
            side = self._card_side(name, "HEAD", head)
            if side is None or not isinstance(side["version"], str):
                continue
            state = states.get(name) or resolve_model(name, [])
            if any(v.version == side["version"] for v in state.versions):
                continue
            if self.git.tag_exists(register_tag(name, side["version"])):
                continue
            pending.append((name, side, state))
        problems = []
        for name, side, state in pending:
            problems += self._check_release(name, side["version"], state, head, push)
        if problems:
            raise InputError(f"{len(problems)} problem(s) stop the release; nothing was tagged: "
                             "fix them and run registry release again", details=problems)
        created = []
        for name, side, state in pending:
            tag_name = register_tag(name, side["version"])
            self.git.create_tag(tag_name, head,
                                with_hashes(f"Register {name} {side['version']}", side["md5"],
                                            side["sha256"]),
                                self._stamp(state), sign)
            created.append(tag_name)
        if push and created:
            self._push([f"refs/tags/{t}" for t in created], None, cleanup=created)
        return {"commit": head, "tags": created, "pushed": bool(push and created)}

    def _check_release(self, name, version, state, head, remote) -> list[str]:
        check = self._check_card(name, self.config, state)
        problems = [str(p) for p in check if not p.field.startswith("registry.version")]
        if remote and not problems:
            entry = self._artifact_entry(name, head)
            pointer = storage.read_pointer(self.git.read(head, entry + ".dvc") or b"",
                                           entry + ".dvc")
            pointer.path = entry
            for _, why in storage.remote_problems(self.root, [pointer], self.config.remote):
                problems.append(f"{entry} ({pointer.md5}) of {name} {version} is {why}: run "
                                "dvc push and try again")
        return problems

    def verify(self, ref: str | None = None, remote: bool = True) -> dict:
        """Signatures, hashes and remote presence of one version, or of every active one."""
        if ref:
            state, version = self._locate(ref)
            targets = [(state, version)]
        else:
            events, _ = self.git.tags()
            targets = [(st, v) for st in resolve_all(events).values()
                       for v in st.active_versions]
        require = self.config.require_signed_tags
        results, failures = [], 0
        for state, version in targets:
            problems = self._check_version(version, remote, read=remote)
            reg = version.registration
            signature = self.signature(reg)
            if signature == "bad" or (require and signature != "good"):
                problems.append(f"signature {signature}" + ("; registry.yaml requires signed "
                                                            "tags" if require else ""))
            failures += bool(problems)
            results.append({"name": version.model, "version": version.version, "tag": reg.tag,
                            "signature": signature, "ok": not problems, "problems": problems})
        data = {"ok": not failures, "versions": results}
        if failures:
            raise RegistryError(f"{failures} of {len(results)} version(s) failed verification",
                                details=[f"{r['tag']}: {p}" for r in results for p in
                                         r["problems"]], data=data)
        return data

    # ================================================================ retrieval

    def get(self, ref: str, output: str | None = None, force: bool = False) -> dict:
        state, version = self._locate(ref)
        info = self._describe(state, version, parse_ref(ref).stage)
        pointer = self._artifact(version)
        dest = output or os.path.basename(pointer.path)
        _check_output(dest, force, pointer.is_dir)
        # A file is checked against the sha256 its registration tag attests for this md5
        # (storage.fetch says why); a folder, or a version whose tag attests none, by md5.
        attested = split_hashes(version.registration.message)[1]
        sha256 = (attested["sha256"] if attested and attested["md5"] == pointer.md5
                  and not pointer.is_dir else None)
        got = storage.fetch(self.root, version.commit, pointer, dest, force,
                            f"{version.model} {version.version}", sha256)
        info.update(output=os.path.abspath(dest), sha256=got.sha256,
                    verified_by="sha256" if sha256 else "md5")
        return info

    # ================================================================ writing

    def register(self, name: str, path: str | None = None, *, version: str | None = None,
                 bump_part: str | None = None, message: str | None = None,
                 metrics: str | None = None, push: bool = False, sign: bool = False,
                 tag: bool = True) -> dict:
        check_name(name)
        if version and bump_part:
            raise InputError("give either --version or --bump, not both")
        if version:
            check_version(version)
        cfg = self.config
        state = self.model(name)
        model_dir = f"models/{name}"
        source = self._artifact_source(name, model_dir, path)
        dest = f"{model_dir}/{os.path.basename(source.rstrip('/'))}"
        metric_values = _read_metrics(metrics) if metrics else None
        if push and tag:
            resumed = self._resume_push(state, source, version, self._check_push_target())
            if resumed:
                return resumed
        previous = state.active_versions[0] if state.active_versions else None
        version = version or bump(previous.version if previous else None, bump_part or "patch")
        taken = [v for v in state.versions if v.version == version]
        if taken or self.git.tag_exists(register_tag(name, version)):
            where = f" at {taken[0].commit[:12]}" if taken else ""
            raise InputError(f"{name} {version} is already registered{where}: pick another "
                             "version or use --bump")
        card_rel = cards.card_path(name)
        card_file = os.path.join(self.root, card_rel)
        first_card = not os.path.exists(card_file)
        card_text = (cards.new_card(name, cfg.defaults, cfg.card_profile) if first_card
                     else _read_text(card_file))
        front, _ = cards.split(card_text, card_rel)
        self.git.identity_time()  # fail now, not after the commit, if git has no identity
        branch = self._check_push_target() if push else None

        # A file is uploaded by its md5 from where it is, while DVC tracks it (the remote is
        # opened while it is hashed); a folder, which DVC hashes again (the two must agree), is
        # pushed after. A file's copies, the work tree's (unless it is there already) and the
        # DVC cache's, are made while it is hashed, before the upload, with which copying
        # gigabytes would compete for the CPU and memory.
        is_file = os.path.isfile(source)
        upload = storage.Uploader(self.root, cfg.remote) if push and is_file else None
        if upload is None:
            storage.preload()
        copying = os.path.abspath(source) != os.path.abspath(os.path.join(self.root, dest))
        names = (["cache"] + (["work tree"] if copying else [])) if is_file else []
        identity = storage.file_identity(source)
        with upload or nullcontext(), storage.copying(self.root, source, names) as copies:
            digest = storage.digest(source)
            old_block = (front.get("registry") if isinstance(front.get("registry"), dict)
                         else {})
            changes = {"registry": {
                "name": name,
                "version": version,
                "previous_version": previous.version if previous else None,
                "artifact": {"path": dest, **digest.as_dict()},
                **({"lineage": old_block["lineage"]} if "lineage" in old_block else {}),
            }}
            if metric_values is not None:
                changes["model-index"] = cards.model_index(front, name, metric_values)
            new_text = cards.update(card_text, card_rel, changes)
            problems = cards.validate(cards.split(new_text, card_rel)[0], cfg.card_profile,
                                      card_rel)
            if problems:
                if first_card:
                    _write_text(card_file, card_text)
                raise InputError(
                    f"{card_rel} is not complete for the {cfg.card_profile} profile "
                    f"({len(problems)} problem(s)): fill in the fields listed, then register "
                    "again" + (" (the card skeleton was written for you)" if first_card else ""),
                    details=[str(p) for p in problems])

            old_entry = self._artifact_entry(name, None)
            touched = [card_rel, DVC_YAML, f"{model_dir}/.gitignore", dest + ".dvc"]
            if old_entry and old_entry != dest:
                touched.append(old_entry + ".dvc")
            with _rollback(self.git, touched, dest if copying else None):
                if upload:
                    upload.send(source, digest.md5, identity)
                if old_entry and old_entry != dest and os.path.exists(
                        os.path.join(self.root, old_entry + ".dvc")):
                    storage.remove(self.root, old_entry + ".dvc")
                made = copies.result()
                self._place(source, dest, made.get("work tree"))
                # A file unchanged since it was hashed and copied (DVC's own test: inode, size,
                # mtime) needs no second hashing; its copies are of the bytes hashed.
                unchanged = identity is not None and storage.file_identity(source) == identity
                storage.add(self.root, dest, digest if unchanged else None, made.get("cache"))
                pointer = storage.read_pointer(
                    open(os.path.join(self.root, dest + ".dvc"), "rb").read(), dest + ".dvc")
                if digest.md5 != pointer.md5:
                    raise RegistryError(f"{source} changed while it was being registered: "
                                        "re-run")
                _write_text(card_file, new_text)
                self._set_dvc_entry(name, dest, front)
                if upload:
                    upload.wait()
                elif push:
                    storage.push(self.root, [dest + ".dvc"], cfg.remote)
                before = self.git.head()
                commit = self.git.commit(touched, message or f"Register {name} {version}")

        tag_name = register_tag(name, version)
        block = changes["registry"]
        result = {"name": name, "version": version, "previous_version": block["previous_version"],
                  "commit": commit, "tag": None, "pushed": False, "artifact": block["artifact"],
                  "card": cards.card_path(name)}
        if tag:
            self.git.create_tag(tag_name, commit,
                                with_hashes(message or f"Register {name} {version}",
                                            block["artifact"]["md5"],
                                            block["artifact"]["sha256"]),
                                self._stamp(state), sign)
            result["tag"] = tag_name
        if push:
            self._push([f"HEAD:refs/heads/{branch}"] + ([f"refs/tags/{tag_name}"] if tag else []),
                       tag_name if tag else None, made=commit if commit != before else None)
            result["pushed"] = True
        return result

    def _resume_push(self, state: ModelState, source: str, version: str | None,
                     branch: str) -> dict | None:
        """Finish a registration that was tagged here but never reached origin (its push was
        interrupted): the same artifact registered again is pushed, not registered twice."""
        local = [v for v in state.versions if v.registration and v.version == (version or
                                                                              v.version)]
        if not local:
            return None
        on_origin = self.git.remote_tags(ORIGIN, f"refs/tags/{state.name}@*")
        unpushed = [v for v in local if v.tag not in on_origin]
        md5 = storage.digest(source).md5 if unpushed else None
        for v in unpushed:
            pointer = self._artifact(v)
            if pointer.md5 != md5:
                continue
            work_tree = os.path.join(self.root, pointer.path + ".dvc")
            if not os.path.exists(work_tree) or storage.read_pointer(
                    open(work_tree, "rb").read(), pointer.path).md5 != md5:
                raise InputError(f"{v.tag} was never pushed; check out its commit "
                                 f"({v.commit[:12]}) and re-run to push it")
            storage.push(self.root, [pointer.path + ".dvc"], self.config.remote)
            self._push([f"HEAD:refs/heads/{branch}", f"refs/tags/{v.tag}"], v.tag)
            return {"name": state.name, "version": v.version, "previous_version": None,
                    "commit": v.commit, "tag": v.tag, "pushed": True, "resumed": True,
                    "artifact": {"path": pointer.path, "md5": pointer.md5,
                                 "size": pointer.size}, "card": cards.card_path(state.name)}
        return None

    def promote(self, name: str, version: str, stage: str, *, message: str | None = None,
                push: bool = False, sign: bool = False) -> dict:
        check_name(name)
        check_version(version)
        self.config.check_stage(stage)
        state, target = self._locate(f"{name}@{version}")
        held = state.stages_of(target)
        if stage in held:
            return {"name": name, "version": version, "stage": stage, "tag": None,
                    "commit": target.commit, "pushed": False, "changed": False}
        required = self.config.promotion.get(stage) or []
        if required and not set(required) & set(held):
            raise InputError(f"{name} {version} must be in {' or '.join(required)} before "
                             f"{stage}: promote it there first")
        return self._stage_tag(state, target, stage, ASSIGN, message, push, sign)

    def demote(self, name: str, stage: str, *, message: str | None = None, push: bool = False,
               sign: bool = False) -> dict:
        check_name(name)
        check_name(stage, "stage")
        state = self.model(name)
        target = state.stages.get(stage)
        if target is None:
            raise NotFoundError(f"no version of {name} is in stage {stage!r}: nothing to demote")
        return self._stage_tag(state, target, stage, UNASSIGN, message, push, sign)

    def deregister(self, name: str, version: str, *, message: str | None = None,
                   push: bool = False, sign: bool = False) -> dict:
        check_name(name)
        check_version(version)
        state, target = self._locate(f"{name}@{version}")
        tag_name = deregister_tag(name, version)
        return self._write_tag(state, tag_name, target.commit, DEREGISTER,
                               message or f"Deregister {name} {version}", push, sign,
                               version=version)

    def deprecate(self, name: str, *, message: str | None = None, push: bool = False,
                  sign: bool = False) -> dict:
        check_name(name)
        state = self.model(name)
        if not state.events:
            raise NotFoundError(f"no model named {name!r} in this registry: see `registry list`")
        if state.deprecated:
            raise InputError(f"{name} is already deprecated: nothing to do")
        names = [n for n, _ in self.git.tags(name)[1]]
        tag_name = deprecate_tag(name)
        if tag_name in names:
            tag_name = f"{tag_name}#{next_counter(name, names)}"
        head = self.git.head()
        return self._write_tag(state, tag_name, head, DEPRECATE,
                               message or f"Deprecate {name}", push, sign)

    # ---------------------------------------------------------------- writing helpers

    def _stage_tag(self, state, target, stage, action, message, push, sign) -> dict:
        """Make a stage tag with the next counter. If another promotion took that counter on
        origin meanwhile, fetch its tags and try the next one, unless it moved this very
        stage, which is refused rather than silently overridden."""
        make = assign_tag if action == ASSIGN else unassign_tag
        verb = "Promote" if action == ASSIGN else "Demote"
        direction = "to" if action == ASSIGN else "from"
        default = f"{verb} {state.name} {target.version} {direction} {stage}"
        holder = state.stages.get(stage)
        lost = 0  # the counter last lost: its claim may outlive a tag deleted by hand
        for attempt in range(3):
            names = (n for n, _ in self.git.tags(state.name)[1])
            counter = max(next_counter(state.name, names), lost + 1)
            tag_name = make(state.name, stage, counter)
            try:
                result = self._write_tag(state, tag_name, target.commit, action,
                                         message or default, push, sign, version=target.version,
                                         claim=counter_claim(state.name, counter))
                break
            except ConflictError:
                lost = counter
                self.git.fetch_tags(ORIGIN)
                state = self.model(state.name)
                moved = state.stages.get(stage)
                if (moved and moved.version) != (holder and holder.version) or attempt == 2:
                    raise ConflictError(f"{tag_name} was taken on {ORIGIN}, and {stage} of "
                                        f"{state.name} now holds "
                                        f"{moved.version if moved else 'no version'}: see "
                                        f"`registry history {state.name}`, then re-run if you "
                                        "still want this change") from None
        result.update(stage=stage, changed=True, attempts=attempt + 1)
        return result

    def _write_tag(self, state, tag_name, commit, action, message, push, sign,
                   version=None, claim=None) -> dict:
        when = self._stamp(state)
        if push:
            self._check_push_target()
        self.git.create_tag(tag_name, commit, message, when, sign)
        if push:
            self._push([f"refs/tags/{tag_name}"], tag_name, claim=claim)
        return {"name": state.name, "version": version, "event": action, "tag": tag_name,
                "commit": commit, "pushed": push}

    def _stamp(self, state: ModelState) -> tuple[int, str]:
        """The tag time: now, but always after the model's newest tag.

        Events are ordered by their one-second tag times; keeping each model's tags strictly
        increasing means gto and this helper never have to break a tie on what we write.
        """
        now, zone = self.git.identity_time()
        newest = max((e.time for e in state.events), default=0)
        return max(now, newest + 1), zone

    def _check_push_target(self) -> str:
        if ORIGIN not in self.git.remotes():
            raise InputError(f"no git remote named {ORIGIN}: add one with "
                             f"`git remote add {ORIGIN} URL` or drop --push")
        return self.git.branch()

    def _push(self, refspecs: list[str], tag_name: str | None,
              cleanup: list[str] | None = None, made: str | None = None,
              claim: str | None = None) -> None:
        """git push --atomic; on failure the local tags are removed, so nothing is left that
        origin does not have, and re-running the command completes the work.

        `claim` (tags.counter_claim) is pushed too, on condition that origin lacks it, so two
        stage tags can never land with one counter.

        `made` is the commit this command made. If another change took the tag first, the
        branch moves back off that commit: it registers a version that now belongs to someone
        else, and keeping it would make the advised `git pull --rebase` stop on conflicts."""
        if claim:
            refspecs = refspecs + [f"refs/tags/{tag_name}:{claim}"]
        proc = self.git.push(ORIGIN, refspecs, absent=[claim] if claim else [])
        if proc.returncode == 0:
            return
        for tag in (cleanup or []) + ([tag_name] if tag_name else []):
            self.git.delete_tag(tag)
        if claim and self.git.remote_has(ORIGIN, claim):
            raise ConflictError(f"the counter of {tag_name} was taken on {ORIGIN} by another "
                                "change: run `git fetch --tags` and try again (local tag "
                                "removed)")
        if tag_name:
            there = self.git.remote_tag_commit(ORIGIN, tag_name)
            if there:
                parsed = parse_tag_name(tag_name)
                retry = (f"register again with --version {bump(parsed.version, 'patch')} after "
                         "`git pull --rebase`" if parsed.action == REGISTER
                         else "run `git fetch --tags` and try again")
                undone = "local tag removed"
                if made and self.git.head() == made and self.git.undo_commit():
                    undone = f"local tag and commit {made[:12]} removed"
                raise ConflictError(f"{tag_name} already exists on {ORIGIN} at {there[:12]}: "
                                    f"another change took it first; {retry} ({undone}; the "
                                    "artifact stays in the DVC remote)")
        reason = (proc.stderr.strip().splitlines() or ["rejected"])[-1]
        raise RegistryError(f"git push to {ORIGIN} failed ({reason}): fix that (e.g. `git pull "
                            "--rebase`) and re-run the same command to finish"
                            + (" (local tag removed)" if tag_name else ""))

    def _artifact_source(self, name: str, model_dir: str, path: str | None) -> str:
        if path is None:
            entry = self._artifact_entry(name, None)
            if entry is None or not os.path.exists(os.path.join(self.root, entry)):
                raise InputError(f"no artifact given for {name}: pass the file or directory to "
                                 "register, e.g. `registry register NAME model.pkl`")
            return os.path.join(self.root, entry)
        if os.path.islink(path):
            raise InputError(f"{path} is a symbolic link: register the file it points to")
        if not os.path.exists(path):
            raise InputError(f"{path} does not exist: pass the model file or directory")
        real = os.path.realpath(path)
        root = os.path.realpath(self.root)
        if os.path.commonpath([real, root]) == real:
            raise InputError(f"{path} holds the registry itself: register a model file or a "
                             "folder outside the repository")
        if os.path.isdir(real):
            for folder, dirs, files in os.walk(real):
                links = [n for n in dirs + files if os.path.islink(os.path.join(folder, n))]
                if links:
                    raise InputError(f"{os.path.join(folder, links[0])} is a symbolic link: "
                                     "copy the files it points to into the folder instead")
        inside = os.path.realpath(os.path.join(self.root, model_dir))
        if real.startswith(os.path.realpath(self.root) + os.sep) and not (
                real == inside or real.startswith(inside + os.sep)):
            raise InputError(f"{path} is inside the registry but not under {model_dir}/: move it "
                             "out of the repository or into that folder")
        base = os.path.basename(real)
        if base in _RESERVED or base.endswith(".dvc"):
            raise InputError(f"an artifact may not be named {base!r}: rename it")
        return real

    def _place(self, source: str, dest: str, copy: str | None = None) -> None:
        """Put the artifact into models/NAME/: `copy`, a file's copy made beforehand, or else a
        copy of the folder made now under a temporary name, moved into place."""
        import shutil
        target = os.path.join(self.root, dest)
        if os.path.abspath(source) == os.path.abspath(target):
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if copy is None:
            copy = target + ".registry-tmp"
            _remove(copy)
            shutil.copytree(source, copy, symlinks=False)
        _remove(target)
        shutil.move(copy, target)

    def _set_dvc_entry(self, name: str, dest: str, front: dict) -> None:
        path = os.path.join(self.root, DVC_YAML)
        doc = yamlio.load(open(path, "rb").read(), DVC_YAML) if os.path.exists(path) else None
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
        _write_text(path, yamlio.dump(doc))


# ==================================================================== retrieval without a clone


def get_from_url(url: str, ref: str, output: str | None = None, force: bool = False) -> dict:
    """`registry get --repo URL`: resolve and fetch from a registry you have not cloned."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="registry-clone-") as tmp:
        proc = subprocess.run(["git", "clone", "--quiet", "--no-checkout", url, tmp],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise RegistryError(f"could not clone {url} ({reason}): check the URL and your "
                                "access to it")
        return Registry(Git(tmp)).get(ref, output or None, force)


# ==================================================================== small helpers


def _card_keys(ids: list[tuple[str, str]]) -> dict[str, str]:
    """Registration tag name -> "TAG_ID:CARD_PATH", the key of its card in the read cache."""
    keys = {}
    for name, tag_id in ids:
        parsed = parse_tag_name(name) if "@v" in name else None  # cheap test first: 100k tags
        if parsed and parsed.action == REGISTER:
            keys[name] = f"{tag_id}:{cards.card_path(parsed.model)}"
    return keys


def _inside(path: str, folder: str) -> bool:
    """Whether a repository-relative path stays inside `folder` (no '..', not absolute)."""
    norm = os.path.normpath(path).replace(os.sep, "/")
    return not os.path.isabs(path) and norm.startswith(folder + "/")


def _check_output(dest: str, force: bool, is_dir: bool) -> None:
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InputError(f"folder {parent} does not exist: create it or choose another -o")
    if os.path.lexists(dest) and not force:
        raise InputError(f"{dest} exists: pass --force to overwrite it")
    if os.path.isdir(dest) and not os.path.islink(dest) and not is_dir:
        raise InputError(f"{dest} is a folder and the artifact is a file: give a file path "
                         "with -o (--force never replaces a folder with a file)")
    if is_dir and os.path.abspath(os.getcwd()).startswith(os.path.abspath(dest)):
        raise InputError(f"{dest} holds the current folder: choose another -o")


def _read_metrics(path: str) -> dict[str, float]:
    import math
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read metrics from {path} ({exc}): give a JSON object of "
                         'name: number, e.g. {"accuracy": 0.93}') from None
    flat: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and \
                math.isfinite(value):
            flat[prefix] = value
        else:
            raise InputError(f"metric {prefix!r} in {path} is not a finite number: fix the file")

    if not isinstance(data, dict) or not data:
        raise InputError(f"{path} must hold a JSON object of metrics, e.g. {{\"accuracy\": 0.93}}")
    walk("", data)
    return flat


def _read_text(path: str) -> str:
    try:
        return open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid UTF-8: save it as UTF-8") from None


def _write_text(path: str, text: str) -> None:
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
        saved[full] = open(full, "rb").read() if os.path.isfile(full) else None
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
