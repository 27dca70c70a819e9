"""The tag grammar (GTO's) and how a set of tags resolves to versions and stages.

This module is the single source of truth for both. It is pure: it parses names and orders
events, and never runs git, so it is cheap to import on the read path and easy to test.

Resolution follows `gto show` with its defaults, including its tie-breaks, so that the helper,
`gto` and `dvc artifacts get` give one answer on any registry:
- events are ordered by tagger time, ties by tag name (the order gto indexes them in);
- a version is active while it has a registration and no deregistration at least as new;
- latest is the highest SemVer among active versions;
- a stage belongs to the active version whose newest assignment to it is the newest not undone
  (on equal times, the version registered first);
- a model is deprecated while a deprecation is strictly newer than all its other events.
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from operator import attrgetter

from .errors import InputError

NAME_PATTERN = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
# gto's artifacts may sit in a folder: named `dir:name`, written into tags as `dir=name`. The
# helper reads them and answers with the name as gto shows it; it writes only plain names.
DIRNAME_PATTERN = r"[a-zA-Z0-9\-_./]+"
DIR_SEPARATOR, DIR_SEPARATOR_IN_TAG = ":", "="
SEMVER_PATTERN = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
VERSION_PATTERN = "v" + SEMVER_PATTERN
MAX_NAME = 128

REGISTER = "register"
DEREGISTER = "deregister"
ASSIGN = "assign"
UNASSIGN = "unassign"
DEPRECATE = "deprecate"
CREATE = "create"

_NAME_RE = re.compile(f"^{NAME_PATTERN}$")
_MODEL_RE = re.compile(f"^(?:{DIRNAME_PATTERN}{DIR_SEPARATOR})?{NAME_PATTERN}$")
_VERSION_RE = re.compile(f"^{VERSION_PATTERN}$")
_TAG_RE = re.compile(
    rf"^(?P<name>(?:{DIRNAME_PATTERN}{DIR_SEPARATOR_IN_TAG})?{NAME_PATTERN})"
    rf"(?:(?:#(?P<stage>{NAME_PATTERN})|@(?P<version>{VERSION_PATTERN}))(?P<undo>!?)"
    r"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[0-9]+))?$"
)
_NAME_HINT = (
    "use letters, digits, '-', '_' and '/', starting and ending with a letter or digit"
)


# ---------------------------------------------------------------- names and versions


def is_valid_name(value: str) -> bool:
    """A name the helper writes: a model's (plain, no folder) or a stage's."""
    return bool(_NAME_RE.fullmatch(value))


def is_model_name(value: str) -> bool:
    """A model name as gto reads it: a plain name, or `dir:name` for one in a folder."""
    return bool(_MODEL_RE.fullmatch(value))


def tag_prefix(model: str) -> str:
    """How a model's name starts its tags: `dir:name` becomes `dir=name`, as gto writes it."""
    return model.replace(DIR_SEPARATOR, DIR_SEPARATOR_IN_TAG)


def check_model(value: str) -> str:
    """A model name to read: any name gto reads, `dir:name` included."""
    if not is_model_name(value):
        raise InputError(f"invalid model name {value!r}: {_NAME_HINT}, optionally after a "
                         "folder and ':' (dir:name)")
    return value


def check_name(value: str, what: str = "model name") -> str:
    """A name the helper is to write into a tag or a path."""
    if what == "model name" and is_model_name(value) and DIR_SEPARATOR in value:
        raise InputError(f"{value!r} names a model in a folder, which the helper reads but "
                         "does not write: manage it with gto, or register it under a plain name")
    if not is_valid_name(value) or "//" in value:
        raise InputError(f"invalid {what} {value!r}: {_NAME_HINT}")
    if len(value) > MAX_NAME:
        raise InputError(f"{what} is {len(value)} characters long: keep it to {MAX_NAME} "
                         "(git stores each tag as a file, and file names are limited)")
    return value


def check_version(value: str) -> str:
    if not _VERSION_RE.fullmatch(value):
        raise InputError(
            f"invalid version {value!r}: use SemVer with a lower-case 'v', e.g. v1.4.0"
        )
    return value


@lru_cache(maxsize=None)
def semver_key(version: str) -> tuple:
    """Precedence key of SemVer 2.0.0 (build metadata ignored, prereleases lower).

    Cached: a large registry holds tens of thousands of versions, most numbers repeated
    across models.
    """
    match = _VERSION_RE.fullmatch(version)
    if not match:
        raise InputError(f"invalid version {version!r}: use SemVer, e.g. v1.4.0")
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, ids)


def bump(version: str | None, part: str) -> str:
    """The next version after `version` (None: the model has none yet)."""
    if version is None:
        return {"major": "v1.0.0", "minor": "v0.1.0", "patch": "v0.0.1"}[part]
    major, minor, patch = semver_key(version)[:3]
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


# ---------------------------------------------------------------- tag names


class TagName(namedtuple("TagName", "model action version stage counter",
                         defaults=(None, None, None))):
    """What a tag name says: its model, action, and version, stage or counter.

    A named tuple rather than a dataclass: reading a large registry parses every tag name,
    and a tuple is several times cheaper to make.
    """

    __slots__ = ()


def parse_tag_name(tag: str) -> TagName | None:
    """The meaning of a tag name, or None for a tag that is not the registry's."""
    fields = _tag_fields(tag)
    return TagName._make(fields) if fields else None


def _tag_fields(tag: str) -> tuple | None:
    """parse_tag_name's fields as a plain tuple (make_event's, cheaper to build)."""
    match = _TAG_RE.fullmatch(tag)
    if not match:
        return None
    name, stage, version, undo, special, counter = match.group(
        "name", "stage", "version", "undo", "special", "counter")
    if version:
        action = DEREGISTER if undo else REGISTER
    elif stage:
        action = UNASSIGN if undo else ASSIGN
    else:
        action = DEPRECATE if special == "deprecated" else CREATE
    if DIR_SEPARATOR_IN_TAG in name:
        name = name.replace(DIR_SEPARATOR_IN_TAG, DIR_SEPARATOR)
    return name, action, version, stage, int(counter) if counter else None


def register_tag(model: str, version: str) -> str:
    return f"{model}@{version}"


def deregister_tag(model: str, version: str) -> str:
    return f"{model}@{version}!"


def assign_tag(model: str, stage: str, counter: int) -> str:
    return f"{model}#{stage}#{counter}"


def unassign_tag(model: str, stage: str, counter: int) -> str:
    return f"{model}#{stage}!#{counter}"


def deprecate_tag(model: str) -> str:
    return f"{model}@deprecated"


def next_counter(model: str, tag_names) -> int:
    """Stage tags carry a per-model counter: one more than the highest in use (as gto does)."""
    highest = 0
    for name in tag_names:
        parsed = parse_tag_name(name)
        if parsed and parsed.model == model and parsed.counter:
            highest = max(highest, parsed.counter)
    return highest + 1


def counter_claim(model: str, counter: int) -> str:
    """The ref a push creates beside a stage tag to claim its counter on origin.

    Tags for different stages have different names, so git alone would accept two promotions
    that took the same counter at once; this ref is the same for both, and a push that
    expects it absent fails for the second. '#' cannot occur in a model name, so one model's
    claims never collide with another's (namespaced names included).
    """
    return f"refs/registry/counters/{model}#{counter}"


# ---------------------------------------------------------------- registration messages

# A registration tag's message ends with its artifact's hashes as git trailers: the tag (and
# its signature) then attests the bytes, not only the commit, and `which` can find a version
# from tag objects alone, without reading each version's card through its commit's trees.
MD5_TRAILER = "Artifact-MD5"
SHA256_TRAILER = "Artifact-SHA256"
# The md5 of each data set its lineage records, so `which` finds versions by training data from
# tag objects alone too.
DATA_TRAILER = "Training-Data-MD5"


def with_hashes(message: str, md5: str | None, sha256: str | None, data=()) -> str:
    """A registration tag's message: `message`, then the artifact's hashes and the `data`
    hashes as trailers (none if an artifact hash is unknown: a card from a pull request may
    leave them to `registry check`)."""
    if not (isinstance(md5, str) and isinstance(sha256, str)):
        return message
    lines = [f"{MD5_TRAILER}: {md5}", f"{SHA256_TRAILER}: {sha256}",
             *(f"{DATA_TRAILER}: {h}" for h in data)]
    return message.rstrip() + "\n\n" + "\n".join(lines)


def attested_data(message: str) -> list[str]:
    """The data hashes a registration tag's trailers attest."""
    prefix = f"{DATA_TRAILER}: "
    return [line[len(prefix):].strip() for line in message.rpartition("\n\n")[2].splitlines()
            if line.startswith(prefix)]


def split_hashes(message: str) -> tuple[str, dict[str, str] | None]:
    """A registration tag's message without its hash trailers, and the {"md5", "sha256"}
    they give (None for a message without them: tags made before trailers, or by other
    tools, whose cards say)."""
    if f"{MD5_TRAILER}: " not in message:
        return message, None
    text, _, trailers = message.rpartition("\n\n")
    found = {}
    for line in trailers.splitlines():
        key, _, value = line.partition(": ")
        if key == MD5_TRAILER:
            found["md5"] = value.strip()
        elif key == SHA256_TRAILER:
            found["sha256"] = value.strip()
    return (text.rstrip(), found) if len(found) == 2 else (message, None)


# ---------------------------------------------------------------- refs


@dataclass(frozen=True)
class Ref:
    """What a user asked for: a model plus at most one of version, stage or tag."""

    model: str
    version: str | None = None
    stage: str | None = None
    tag: str | None = None

    @property
    def latest(self) -> bool:
        return not (self.version or self.stage or self.tag)


def parse_ref(ref: str) -> Ref:
    """`NAME`, `NAME@latest`, `NAME@greatest`, `NAME@vX.Y.Z`, `NAME#STAGE` or a full tag.

    NAME may be `dir:name`; a full tag may name such a model either way (`dir:name@v1.0.0!`
    or `dir=name@v1.0.0!`, as the tag is written). A tag without a counter that registers a
    version or assigns a stage means that version or stage, as gto reads it.
    """
    if is_model_name(ref):
        return Ref(ref)
    tag = tag_prefix(ref)
    parsed = parse_tag_name(tag)
    if parsed and parsed.action != CREATE:
        if parsed.counter is None and parsed.action == REGISTER:
            return Ref(parsed.model, version=parsed.version)
        if parsed.counter is None and parsed.action == ASSIGN:
            return Ref(parsed.model, stage=parsed.stage)
        return Ref(parsed.model, tag=tag)
    model, _, rest = ref.partition("@")
    if rest in ("latest", "greatest") and is_model_name(model):
        return Ref(model)
    raise InputError(f"invalid ref {ref!r}: use NAME, NAME@latest, NAME@v1.2.3, NAME#STAGE or a "
                     "full tag (NAME may be dir:name)")


# ---------------------------------------------------------------- events and resolution


@dataclass
class Event:
    """One annotated registry tag, as git reports it."""

    tag: str
    model: str
    action: str
    commit: str
    time: int
    tagger: str = ""
    tagger_email: str = ""
    message: str = ""
    version: str | None = None
    stage: str | None = None
    counter: int | None = None
    commit_time: int = 0  # the tagged commit's time; read only for models with a deprecation
    signed: bool = False
    zone: str = "+0000"
    tag_id: str = ""  # the tag object's id, which keys the read cache (see readcache)

    @property
    def order(self) -> tuple:
        return _ORDER(self)


_ORDER = attrgetter("time", "tag")  # Event.order; sorts use it directly (no call per event)


def make_event(tag: str, commit: str, time: int, tagger: str = "", tagger_email: str = "",
               message: str = "", signed: bool = False, zone: str = "+0000",
               tag_id: str = "") -> Event | None:
    """An Event for a registry tag name, or None for any other tag. Its arguments are passed
    on by position: it runs once per tag, 100k times in a large registry."""
    fields = _tag_fields(tag)
    if fields is None:
        return None
    model, action, version, stage, counter = fields
    return Event(tag, model, action, commit, time, tagger, tagger_email, message, version,
                 stage, counter, 0, signed, zone, tag_id)


@dataclass
class VersionState:
    model: str
    version: str
    commit: str
    index: int
    registration: Event | None = None
    deregistration: Event | None = None
    stage_events: dict[str, list[Event]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        if self.registration is None:
            return False
        return self.deregistration is None or self.deregistration.time < self.registration.time

    @property
    def tag(self) -> str | None:
        return self.registration.tag if self.registration else None

    def stage_assigned_at(self, stage: str) -> int | None:
        """When `stage` was last assigned to this version, or None if it does not hold it."""
        assigned = undone = None
        for e in self.stage_events.get(stage, ()):
            if e.action == ASSIGN:
                assigned = e.time if assigned is None else max(assigned, e.time)
            else:
                undone = e.time if undone is None else max(undone, e.time)
        if assigned is None or (undone is not None and undone >= assigned):
            return None
        return assigned


@dataclass
class ModelState:
    name: str
    versions: list[VersionState]
    stages: dict[str, VersionState]
    deprecated: bool
    events: list[Event]

    @cached_property
    def active_versions(self) -> list[VersionState]:
        """Active versions, highest first (computed once: a state is not changed once made)."""
        return sorted((v for v in self.versions if v.active),
                      key=lambda v: (semver_key(v.version), v.index), reverse=True)

    @property
    def latest(self) -> VersionState | None:
        active = self.active_versions
        return active[0] if active and not self.deprecated else None

    def find_version(self, version: str) -> VersionState | None:
        if self.deprecated:
            return None
        for v in self.active_versions:
            if v.version == version:
                return v
        return None

    def stages_of(self, version: VersionState) -> list[str]:
        return sorted(s for s, v in self.stages.items() if v is version)


def resolve_model(name: str, events: list[Event]) -> ModelState:
    """The state of one model from its annotated tags (any order; others are ignored)."""
    mine = sorted((e for e in events if e.model == name and e.action != CREATE),
                  key=_ORDER)
    versions: dict[tuple[str, str], VersionState] = {}
    staged, deprecations = [], []
    for e in mine:
        if e.action in (REGISTER, DEREGISTER):
            key = (e.version, e.commit)
            v = versions.get(key)
            if v is None:
                v = versions[key] = VersionState(name, e.version, e.commit, len(versions))
            if e.action == REGISTER:
                v.registration = e
            else:
                v.deregistration = e
        elif e.action in (ASSIGN, UNASSIGN):
            staged.append(e)
        elif e.action == DEPRECATE:
            deprecations.append(e.time)

    registered_at: dict[str, VersionState] = {}
    for v in versions.values():
        if v.registration:
            other = registered_at.get(v.commit)
            if other is None or semver_key(v.version) > semver_key(other.version):
                registered_at[v.commit] = v
    for e in staged:
        if e.commit in registered_at:
            registered_at[e.commit].stage_events.setdefault(e.stage, []).append(e)

    stages: dict[str, VersionState] = {}
    best: dict[str, tuple] = {}
    for v in versions.values():
        if not v.active:
            continue
        for stage in v.stage_events:
            when = v.stage_assigned_at(stage)
            if when is None:
                continue
            key = (when, -v.registration.time, -v.index)
            if stage not in best or key > best[stage]:
                best[stage], stages[stage] = key, v

    deprecated = False
    if deprecations:
        others = [e.time for e in mine if e.action != DEPRECATE]
        others += [e.commit_time for e in mine if e.action in (REGISTER, DEREGISTER)]
        deprecated = max(deprecations) > max(others, default=-1)
    if deprecated:
        stages = {}
    return ModelState(name, list(versions.values()), stages, deprecated, mine)


def model_names(events: list[Event]) -> list[str]:
    return sorted({e.model for e in events if e.action != CREATE})


def stages_seen(events: list[Event]) -> list[str]:
    """The stages the tags assign or unassign, in the order they were first used: the stages
    of a repository whose configuration lists none."""
    staged = sorted((e for e in events if e.action in (ASSIGN, UNASSIGN)), key=_ORDER)
    return list(dict.fromkeys(e.stage for e in staged))


def resolve_all(events: list[Event]) -> dict[str, ModelState]:
    """Every model's state, by name in order, reading the events once.

    resolve_model scans all the events it is given, so calling it per model on a registry's
    whole event list costs models x events; grouping first keeps it linear.
    """
    grouped: dict[str, list[Event]] = {}
    for e in events:
        grouped.setdefault(e.model, []).append(e)
    return {name: resolve_model(name, grouped[name]) for name in model_names(events)}
