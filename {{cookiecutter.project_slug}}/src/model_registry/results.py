"""What each command returns: typed results for scripts, and the JSON that `--json` prints.

A field marked `optional()` is left out of the JSON while it is None, so the JSON keeps the
shape it has always had (an artifact has `nfiles` only when it is a folder, a `check-ref` of a
deprecation has no `version`). `to_json` is the one place results become plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Optional


def optional(default=None):
    """A field left out of the JSON while it is None."""
    return field(default=default, metadata={"omit_none": True})


def to_json(value):
    """Results (and lists and dicts of them) as JSON-ready data, in field order."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


@dataclass
class Artifact:
    """A version's artifact as its pointer (and, once hashed, its card) records it."""

    path: str
    md5: str
    sha256: Optional[str] = optional()
    size: Optional[int] = None
    nfiles: Optional[int] = optional()


@dataclass
class Version:
    """`resolve`: which version a ref names, where it is, and where its bytes and card are."""

    name: str
    version: str
    tag: str
    commit: str
    stage: Optional[str]
    stages: list
    registered_at: str
    registered_by: str
    artifact: Artifact
    card: str


@dataclass
class Shown(Version):
    """`show`: the version and its card's text at the tagged commit."""

    text: str = ""


@dataclass
class Fetched(Version):
    """`get`: the version, where its bytes were written, and what they were verified by."""

    output: str = ""
    sha256: str = ""
    verified_by: str = ""


@dataclass
class Documented(Version):
    """`doc`: the version's technical documentation and the Annex IV fields its card lacks."""

    format: str = "md"
    missing: list = field(default_factory=list)
    text: str = ""


@dataclass
class Registered:
    """`register`: the new version (tag None with --no-tag), and whether it reached origin."""

    name: str
    version: str
    previous_version: Optional[str]
    commit: str
    tag: Optional[str]
    pushed: bool
    artifact: Artifact
    card: str
    resumed: Optional[bool] = optional()


@dataclass
class TagWritten:
    """`promote`, `demote`, `deregister`, `deprecate`: the tag made (None if nothing changed)."""

    name: str
    version: Optional[str]
    tag: Optional[str]
    commit: str
    pushed: bool
    event: Optional[str] = optional()
    stage: Optional[str] = optional()
    changed: Optional[bool] = optional()
    attempts: Optional[int] = optional()


@dataclass
class ModelSummary:
    """One row of `list`."""

    name: str
    latest: Optional[str]
    stages: dict
    versions: list
    deprecated: bool


@dataclass
class HistoryEvent:
    """One row of `history`: a tag, what it did, who made it and when."""

    tag: str
    name: str
    event: str
    version: Optional[str]
    stage: Optional[str]
    commit: str
    tagger: str
    tagger_email: str
    date: str
    message: str


@dataclass
class CheckReport:
    """`check`: the cards checked and every problem found (each a cards.Problem as a dict)."""

    ok: bool
    checked: list
    problems: list


@dataclass
class CheckedRef:
    """`check-ref`: what a tag did, in gto check-ref's fields."""

    artifact: str
    created_at: str
    author: str
    author_email: str
    message: str
    commit_hexsha: str
    tag: str
    version: Optional[str] = optional()
    stage: Optional[str] = optional()
    event: str = ""


@dataclass
class Released:
    """`release`: the registration tags made on `commit`."""

    commit: str
    tags: list
    pushed: bool


@dataclass
class Match:
    """One row of `which`: a registered version whose artifact has the hash asked for."""

    name: str
    version: str
    tag: str
    commit: str
    card: str
    md5: Optional[str]
    sha256: Optional[str]
    status: str
    stages: list


@dataclass
class VersionCheck:
    """One version's part of `verify`."""

    name: str
    version: str
    tag: str
    signature: str
    ok: bool
    problems: list


@dataclass
class Verification:
    """`verify`: every version checked, and whether all passed."""

    ok: bool
    versions: list


@dataclass
class Diff:
    """`diff`: the models compared and what changed, as Markdown for a review."""

    models: list
    markdown: str


@dataclass
class Site:
    """`site`: where the catalogue was written."""

    output: str
    pages: int
    models: list
    index: str
