"""What each command returns: typed results for scripts, and the JSON that `--json` prints.

A field marked `optional()` is left out of the JSON while it is None, so the JSON keeps the
shape it has always had (an artifact has `nfiles` only when it is a folder, a `check-ref` of a
deprecation has no `version`). `to_json` is the one place results become plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass


class _Result:
    """The base of every result type: one repr and one equality for all of them, so defining a
    type generates only its __init__. With dataclass's own repr and eq, defining these types
    took 4.4 ms of every `registry` start (8% of a `resolve`); with these, 2.6 ms."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and all(
            getattr(self, f.name) == getattr(other, f.name) for f in fields(self))

    __hash__ = None  # mutable, as dataclass's own eq makes it


_result = dataclass(repr=False, eq=False)


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


@_result
class Artifact(_Result):
    """A version's artifact as its pointer (and, once hashed, its card) records it."""

    path: str
    md5: str
    sha256: str | None = optional()
    size: int | None = None
    nfiles: int | None = optional()


@_result
class Version(_Result):
    """`resolve`: which version a ref names, where it is, and where its bytes and card are."""

    name: str
    version: str
    tag: str
    commit: str
    stage: str | None
    stages: list
    registered_at: str
    registered_by: str
    artifact: Artifact | None  # None where dvc.yaml has no entry for the model
    card: str | None  # `show`: None where the version has no card (one gto registered)


@_result
class Shown(Version):
    """`show`: the version and its card's text at the tagged commit."""

    text: str = ""


@_result
class Fetched(Version):
    """`get`: the version, where its bytes were written, and what they were verified by."""

    output: str = ""
    sha256: str = ""
    verified_by: str = ""


@_result
class Documented(Version):
    """`doc`: the version's technical documentation and the Annex IV fields its card lacks."""

    format: str = "md"
    missing: list = field(default_factory=list)
    text: str = ""


@_result
class Lineage(Version):
    """`lineage`: how a version was made, as its card at the tagged commit records it
    (`recorded` False and the rest empty when it records nothing)."""

    recorded: bool = False
    repo: str | None = None
    training_commit: str | None = None
    dirty: bool | None = None
    training_stage: str | None = None
    outside_pipeline: bool = False
    cmd: str | None = None
    params: dict = field(default_factory=dict)
    deps: list = field(default_factory=list)
    upstream: list = field(default_factory=list)
    upstream_truncated: str | None = optional()
    run: dict | None = optional()  # an MLflow run: uri, experiment, run_id, start, end, commit


@_result
class Registered(_Result):
    """`register`: the new version (tag None with --no-tag), and whether it reached origin."""

    name: str
    version: str
    previous_version: str | None
    commit: str
    tag: str | None
    pushed: bool
    artifact: Artifact
    card: str
    resumed: bool | None = optional()


@_result
class TagWritten(_Result):
    """`promote`, `demote`, `deregister`, `deprecate`: the tag made (None if nothing changed)."""

    name: str
    version: str | None
    tag: str | None
    commit: str
    pushed: bool
    event: str | None = optional()
    stage: str | None = optional()
    changed: bool | None = optional()
    attempts: int | None = optional()


@_result
class ModelSummary(_Result):
    """One row of `list`."""

    name: str
    latest: str | None
    stages: dict
    versions: list
    deprecated: bool


@_result
class HistoryEvent(_Result):
    """One row of `history`: a tag, what it did, who made it and when."""

    tag: str
    name: str
    event: str
    version: str | None
    stage: str | None
    commit: str
    tagger: str
    tagger_email: str
    date: str
    message: str


@_result
class CheckReport(_Result):
    """`check`: the cards checked, every problem found (each a cards.Problem as a dict), and
    warnings: what a card should change but may keep for now (they do not make `ok` false)."""

    ok: bool
    checked: list
    problems: list
    warnings: list = field(default_factory=list)


@_result
class CheckedRef(_Result):
    """`check-ref`: what a tag did, in gto check-ref's fields."""

    artifact: str
    created_at: str
    author: str
    author_email: str
    message: str
    commit_hexsha: str
    tag: str
    version: str | None = optional()
    stage: str | None = optional()
    event: str = ""


@_result
class Released(_Result):
    """`release`: the registration tags made on `commit`."""

    commit: str
    tags: list
    pushed: bool


@_result
class Match(_Result):
    """One row of `which`: a registered version whose artifact has the hash asked for
    (`match` "artifact"), or that was trained on it ("training data")."""

    name: str
    version: str
    tag: str
    commit: str
    card: str | None  # None: the version has no card (one gto registered)
    md5: str | None
    sha256: str | None
    status: str
    stages: list
    match: str


@_result
class VersionCheck(_Result):
    """One version's part of `verify`."""

    name: str
    version: str
    tag: str
    signature: str
    ok: bool
    problems: list


@_result
class Verification(_Result):
    """`verify`: every version checked, and whether all passed."""

    ok: bool
    versions: list


@_result
class Diff(_Result):
    """`diff`: the models compared and what changed, as Markdown for a review."""

    models: list
    markdown: str


@_result
class Site(_Result):
    """`site`: where the catalogue was written."""

    output: str
    pages: int
    models: list
    index: str


@_result
class ImportStep(_Result):
    """One tag an import wrote (in a dry run: would write), and what in MLflow it mirrors:
    `version 3`, `alias champion`, `stage Production`, `stage Archived`."""

    event: str
    version: str
    mlflow: str
    tag: str | None
    stage: str | None = optional()
    date: str | None = optional()  # a registration's: when MLflow made the version
    tagger: str | None = optional()  # a registration's: who made it there, where known


@_result
class ImportedModel(_Result):
    """One MLflow model's part of an import: its name here, the tags written, how many of its
    versions were here already, and what was left out and why."""

    mlflow_name: str
    name: str
    steps: list
    present: int
    notes: list = field(default_factory=list)


@_result
class Imported(_Result):
    """`import mlflow`: the models read from the server, the stages added to registry.yaml,
    and whether it all reached origin (nothing is written in a dry run)."""

    source: str
    uri: str
    dry_run: bool
    models: list
    stages_added: list
    pushed: bool
