"""The rules a model version must keep, checked the same way by `check` (a pull request),
`release` (before tagging), `check-ref` (a pushed tag) and `verify` (an audit): its card valid
for the profile and consistent with dvc.yaml, its pointer and its tag; its bytes in the remote.
"""

from __future__ import annotations

import os

from . import cards, config, credentials, storage
from .core import DVC_YAML, Registry, read_text
from .errors import InputError, RegistryError
from .tags import ModelState, VersionState, semver_key, split_hashes


def card_problems(reg: Registry, name: str, cfg: config.Config, state: ModelState
                  ) -> list[cards.Problem]:
    """What is wrong with a model's card in the work tree: the schema under the profile,
    credentials in it, its agreement with dvc.yaml and the pointer, and its version against
    the versions already tagged."""
    rel = cards.card_path(name)
    try:
        side = reg.card_side(name, "work tree", None)
    except InputError as exc:
        return [cards.Problem(rel, "", "", str(exc))]
    front = side.front
    problems = cards.validate(front, cfg.card_profile, rel)
    problems += [cards.Problem(rel, "", "", f"holds what looks like {what}: remove it and "
                               "rotate the credential") for what in
                 credentials.credentials_in(read_text(os.path.join(reg.root, rel)))]
    block = front.get("registry") if isinstance(front.get("registry"), dict) else {}
    art = block.get("artifact") if isinstance(block.get("artifact"), dict) else {}

    def problem(field, message):
        problems.append(cards.problem(rel, field.split("."), message))

    if block.get("name") not in (None, name):
        problem("registry.name", f"says {block.get('name')!r} but the card is in "
                f"models/{name}/: move the card or fix the name")
    entry = reg.artifact_entry(name, None)
    if entry is None:
        problem("registry.artifact.path", f"{DVC_YAML} has no artifact entry for {name}: "
                "run `registry register`")
    elif art.get("path") != entry:
        problem("registry.artifact.path", f"is {art.get('path')!r} but {DVC_YAML} says "
                f"{entry!r}: run `registry register` to refresh the card")
    else:
        pointer = reg.work_tree_pointer(entry)
        if pointer is None:
            problem("registry.artifact.path", f"{entry}.dvc is missing: run `registry "
                    "register` or `dvc add`")
        elif (pointer.md5, pointer.size) != (art.get("md5"), art.get("size")):
            problem("registry.artifact.md5", f"card says {art.get('md5')} "
                    f"({art.get('size')} bytes) but {entry}.dvc says {pointer.md5} "
                    f"({pointer.size} bytes): register the artifact as a new version")
    version = block.get("version")
    if not isinstance(version, str) or any(p.field.startswith("registry.version")
                                           for p in problems):
        return problems
    for field, message in _version_problems(reg, name, state, version, block, art):
        problem(field, message)
    return problems


def card_warnings(reg: Registry, name: str) -> list[str]:
    """What a model's card in the work tree should change but may keep for now: a field that
    still validates but is retired. A card that does not read has its problem instead."""
    try:
        side = reg.card_side(name, "work tree", None)
    except InputError:
        return []
    warning = cards.risk_level_warning(side.front, cards.card_path(name)) if side else None
    return [warning] if warning else []


def _version_problems(reg: Registry, name: str, state: ModelState, version: str, block: dict,
                      art: dict) -> list[tuple[str, str]]:
    """A card's version against the model's tags: new and above the latest, or the same
    artifact as the version it names; its previous version one that exists."""
    found = []
    tagged = next((v for v in state.versions if v.version == version and v.registration), None)
    if tagged:
        then = reg.card_side(name, version, tagged.commit)
        if then and (then.md5, then.size) != (art.get("md5"), art.get("size")):
            found.append(("registry.version", f"{version} is already registered (tag "
                          f"{tagged.tag}) with another artifact: register this one as a new "
                          "version (--bump)"))
    elif state.active_versions:
        latest = state.active_versions[0].version
        if semver_key(version) <= semver_key(latest):
            found.append(("registry.version", f"{version} is not above the latest registered "
                          f"version {latest}: choose a higher version"))
    previous = block.get("previous_version")
    known = {v.version for v in state.versions if v.registration}
    if previous and previous not in known:
        found.append(("registry.previous_version", f"{previous} is not a registered version "
                      f"of {name}: it must name the version this one follows"))
    return found


def version_problems(reg: Registry, version: VersionState, remote: bool, read: bool = False
                     ) -> list[str]:
    """Problems with a registered version as committed: its card and its artifact (with
    `remote`, whether the DVC remote holds it; with `read` too, whether its bytes match).
    Outside a registry (no registry.yaml: a repository gto manages), a version needs no card,
    and one without is checked on its artifact alone."""
    rel = cards.card_path(version.model)
    try:
        side = reg.card_side(version.model, version.version, version.commit)
        pointer = reg.pointer(version)
    except RegistryError as exc:
        return [str(exc)]
    if side is None:
        if reg.config.from_file:
            return [f"{rel} is missing at {version.commit[:12]}"]
        return _remote_problems(reg, version, pointer, remote, read)
    problems = [str(p) for p in cards.validate(side.front, reg.config.card_profile, rel)]
    if side.version != version.version:
        problems.append(f"{rel}: registry.version says {side.version} but the tag says "
                        f"{version.version}")
    if (side.md5, side.size) != (pointer.md5, pointer.size):
        problems.append(f"{rel}: registry.artifact.md5 {side.md5} does not match "
                        f"{pointer.path}.dvc ({pointer.md5})")
    attested = split_hashes(version.registration.message)[1]
    if attested and attested != {"md5": side.md5, "sha256": side.sha256}:
        problems.append(f"tag {version.tag} gives the artifact md5 {attested['md5']} and "
                        f"sha256 {attested['sha256']}, but {rel} gives {side.md5} and "
                        f"{side.sha256}: the tag does not describe this version; "
                        "deregister it and register again")
    return problems + _remote_problems(reg, version, pointer, remote, read)


def _remote_problems(reg: Registry, version: VersionState, pointer, remote: bool, read: bool
                     ) -> list[str]:
    """With `remote`, whether the DVC remote holds the version's artifact (with `read`, whether
    its bytes match)."""
    if not remote:
        return []
    return [f"{pointer.path} ({pointer.md5}) of {version.model} {version.version} is {why}: "
            "push it with dvc push from a clone whose cache holds a good copy"
            for _, why in storage.remote_problems(reg.root, [pointer], reg.config.remote, read)]


def remote_problems(reg: Registry, models: list[str]) -> list[cards.Problem]:
    """The work tree's artifacts of `models` that the DVC remote lacks."""
    pointers, labels = [], {}
    for name in models:
        entry = reg.artifact_entry(name, None)
        pointer = reg.work_tree_pointer(entry) if entry else None
        if pointer is None:
            continue
        pointers.append(pointer)
        try:  # name the version too: it is what a reviewer or a deployer asks for
            version = getattr(reg.card_side(name, "work tree", None), "version", None)
        except InputError:
            version = None
        labels[entry] = f"{name} {version}" if version else name
    return [cards.Problem(f"{p.path}.dvc", "", "Art. 18",
                          f"the artifact of {labels[p.path]} ({p.md5}) is {why}: push it "
                          "with `dvc push` (or register with --push)")
            for p, why in storage.remote_problems(reg.root, pointers, reg.config.remote)]


def secrets_problems(reg: Registry) -> list[cards.Problem]:
    """Credentials written into .dvc/config, which git publishes."""
    path = os.path.join(reg.root, ".dvc", "config")
    if not os.path.exists(path):
        return []
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            key = line.split("=", 1)[0].strip().lower()
            if "=" in line and key in credentials.SECRET_KEYS:
                found.append(cards.Problem(".dvc/config", f"line {number}", "",
                                           f"holds the credential {key!r}: move it to "
                                           ".dvc/config.local (git-ignored) or the environment"))
    return found
