"""The helper's tag resolution against the real gto, on random and hand-written tag histories.

DESIGN.md promises that the helper answers what `gto show` answers on any registry, with gto's
defaults and tie-breaks, on the whole of gto's tag grammar. Rather than restating gto's rules,
these tests build real git repositories with small, messy tag histories (same-second tags,
undone stages and versions, deprecations, lightweight and foreign tags, models in folders
tagged `dir=name`, counters on any kind of tag, any stage name gto accepts) and ask both
sides, model by model:

- `gto show` (the registry table): is the model listed (deprecated ones are not), its latest
  version, and the version in each stage;
- `gto show NAME --vs -1`: every active version, highest first, with every stage it holds;
- for the hand-written histories also `gto show NAME@latest`, `NAME#STAGE` and `NAME@VERSION`,
  which the helper answers through the refs its commands take, in a repository without
  registry.yaml (its defaults, as for any gto repository).

Where gto itself raises (an `x@created` tag anywhere; a stage tag on a commit that carries two
versions of the model), the helper must still answer without an exception.

Left out on purpose: a stage tag on a commit with no annotated registration of the model.
gto then invents a version named by the commit hash, lists it once per such tag, and an
unassignment there does not undo the assignment; the helper ignores such stage tags, and the
registries it writes never have them. Also, gto's Python call `find_versions_in_stage` orders
candidates by SemVer, not by time, so it can differ from `gto show NAME#STAGE` (timestamp
order, the CLI default); the helper follows `gto show`, which is what users and CI see.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gto.api
import pytest
from gto.exceptions import ArtifactNotFound, ManyVersions
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from support import IDENTITY, TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.project_slug}}" / "src"))
from model_registry.core import Registry  # noqa: E402
from model_registry.errors import NotFoundError  # noqa: E402
from model_registry.gitrepo import Git  # noqa: E402
from model_registry.tags import (  # noqa: E402
    ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, model_names, parse_tag_name,
    resolve_model, tag_prefix,
)

BASE_TIME = 1_700_000_000
# gto names a model in a folder `dir:name` and tags it `dir=name`; `a/b.c` is a folder too.
MODELS = ("churn", "team/churn", "x", "dir:churn", "a/b.c:x-1")
# Close together on purpose: prereleases, numeric vs textual identifiers, build metadata.
VERSIONS = (
    "v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-rc.2", "v1.0.0-rc.10", "v1.0.0",
    "v1.0.0+build.7", "v1.1.0-rc.1+exp.sha.5114f85",
)
# Tags that are not the registry's, though some come close (gto ignores them all).
FOREIGN = ("release-1.0", "v2", "churn@v1", "churn@1.0.0", "churn@V1.0.0", "churn@latest",
           "churn@v1.0.0!!", "x@tag", "GTO-tag", "a=b", "dir=churn", "dir=churn@v1",
           "a=b=churn@v1.0.0", "=churn@v1.0.0", "dir=churn#prod#", "churn@v1.0.0#x")
ZONES = ("+0000", "+0200", "-0700")


# ---------------------------------------------------------------- histories and their repos


@dataclass(frozen=True)
class Tag:
    """One tag: its name, the commit it points at (an index), and its tagger time.

    `time` is seconds after BASE_TIME; None makes a lightweight tag (no tagger, no time).
    """

    name: str
    commit: int = 0
    time: int | None = 0
    zone: str = "+0000"

    def __repr__(self) -> str:
        when = "lightweight" if self.time is None else f"t={self.time}{self.zone}"
        return f"Tag({self.name!r} -> c{self.commit}, {when})"


@dataclass(frozen=True)
class History:
    """A chain of commits (their committer times, seconds after BASE_TIME) and tags on them."""

    commits: tuple[int, ...]
    tags: tuple[Tag, ...]

    def gto_crash(self) -> type[Exception] | None:
        """What gto raises on this history (on any query), or None if it should answer."""
        if any(re.search(r"@created(#\d+)?$", t.name) for t in self.tags):
            return KeyError  # gto's parser gives `@created` tags no action, even lightweight ones
        versions_at: dict[tuple[str, int], set[str]] = {}
        for t in self.annotated():
            parsed = parse_tag_name(t.name)
            if parsed and parsed.action in (REGISTER, DEREGISTER):
                versions_at.setdefault((parsed.model, t.commit), set()).add(parsed.version)
        for t in self.annotated():
            parsed = parse_tag_name(t.name)
            if (parsed and parsed.action in (ASSIGN, UNASSIGN)
                    and len(versions_at.get((parsed.model, t.commit), ())) > 1):
                return ManyVersions  # which version does this stage tag mean?
        return None

    def annotated(self) -> list[Tag]:
        return [t for t in self.tags if t.time is not None]

    def refs(self) -> list[str]:
        """The refs a user could ask of this history: each model's latest, and each stage
        and version its tags name, in the form gto's and the helper's commands take."""
        named = [p for p in map(parse_tag_name, (t.name for t in self.tags)) if p]
        refs = [f"{model}@latest" for model in MODELS]
        refs += [f"{p.model}#{p.stage}" for p in named if p.stage]
        refs += [f"{p.model}@{p.version}" for p in named if p.version]
        return list(dict.fromkeys(refs))


def build_repo(history: History, root: Path) -> list[str]:
    """Write the history into a new repository at `root`; returns the commits' hashes.

    One `git fast-import` writes every commit and tag, with exact committer and tagger times
    (the objects are the ones `git commit` and `git tag -a` would make), so no test waits.
    """
    who = f"{IDENTITY['GIT_COMMITTER_NAME']} <{IDENTITY['GIT_COMMITTER_EMAIL']}>"

    def data(text: str) -> str:
        return f"data {len(text.encode())}\n{text}\n"

    stream = []
    for i, when in enumerate(history.commits):
        stamp = f"{who} {BASE_TIME + when} +0000"
        stream.append(f"commit refs/heads/main\nmark :{i + 1}\nauthor {stamp}\n"
                      f"committer {stamp}\n{data(f'commit {i}')}")
    for t in history.tags:
        if t.time is None:
            stream.append(f"reset refs/tags/{t.name}\nfrom :{t.commit + 1}\n")
        else:
            stream.append(f"tag {t.name}\nfrom :{t.commit + 1}\n"
                          f"tagger {who} {BASE_TIME + t.time} {t.zone}\n{data(t.name)}")
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input="".join(stream),
                   text=True, check=True, capture_output=True)
    subprocess.run(["git", "reset", "--quiet", "--hard", "main"], cwd=root, check=True)
    out = subprocess.run(["git", "rev-list", "--reverse", "main"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


# ---------------------------------------------------------------- the two sides


@dataclass
class Answer:
    """What one side says about one model, as `gto show` would print it.

    Versions are written `VERSION@cN` (N: the commit's index in the history), so a failure
    reads at a glance. `versions` is `gto show NAME --vs -1`: every active version, highest
    first, with every stage it holds; ties that the latest and the stage winners hide show
    up there.
    """

    listed: bool = False  # a row in the registry table: known and not deprecated
    latest: str | None = None
    stages: dict[str, str] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)  # "v1.0.0@c0 #prod #staging"


def helper_answers(root: Path, models: list[str], commits: list[str]) -> dict[str, Answer]:
    """The helper's answer, read both ways its commands read tags: one model's, or all."""
    where = {sha: f"c{i}" for i, sha in enumerate(commits)}
    git = Git(str(root))
    every_event, _ = git.tags()
    listed = {m for m in model_names(every_event) if not resolve_model(m, every_event).deprecated}

    def answer(state) -> Answer:
        def at(v) -> str:
            return f"{v.version}@{where[v.commit]}"

        held = [at(v) + "".join(f" #{s}" for s in sorted(v.stage_events)
                                if v.stage_assigned_at(s) is not None)
                for v in state.active_versions]
        return Answer(listed=state.name in listed,
                      latest=at(state.latest) if state.latest else None,
                      stages={s: at(v) for s, v in state.stages.items()},
                      versions=[] if state.deprecated else held)

    answers = {}
    for model in models:
        events, _ = git.tags(model)
        answers[model] = answer(resolve_model(model, events))
        assert answer(resolve_model(model, every_event)) == answers[model], (
            f"{model}: reading every tag and reading the model's tags disagree")
    return answers


def helper_shows(root: Path, refs: list[str], commits: list[str]) -> dict[str, str | None]:
    """The version (`VERSION@cN`) each ref names to the helper's commands, as they find it:
    through the registry they open, here a repository without registry.yaml."""
    where = {sha: f"c{i}" for i, sha in enumerate(commits)}
    reg = Registry(Git(str(root)))
    found = {}
    for ref in refs:
        try:
            version = reg.locate(ref)[1]
        except NotFoundError:
            found[ref] = None
        else:
            found[ref] = f"{version.version}@{where[version.commit]}"
    return found


def gto_shows(root: Path, refs: list[str], commits: list[str]) -> dict[str, str | None]:
    """The version (`VERSION@cN`) `gto show REF` gives for each ref, or None."""
    where = {sha: f"c{i}" for i, sha in enumerate(commits)}
    found = {}
    for ref in refs:
        try:
            rows = gto.api.show(str(root), ref)
        except ArtifactNotFound:
            rows = []
        assert len(rows) <= 1, f"gto shows several versions for {ref}"
        found[ref] = f"{rows[0]['version']}@{where[rows[0]['commit_hexsha']]}" if rows else None
    return found


def gto_answers(root: Path, models: list[str], commits: list[str],
                shortcuts: bool = False) -> dict[str, Answer]:
    """gto's answer through its API: the registry table `gto show` and `gto show NAME`.

    With `shortcuts`, also asks `gto show NAME@latest` and `gto show NAME#STAGE` and requires
    the same answer (gto filters the same version list for them); they are slow, as each call
    rereads the whole registry, so only the hand-written histories ask them.
    """
    where = {sha: f"c{i}" for i, sha in enumerate(commits)}
    repo = str(root)
    table = gto.api.show(repo)  # a row per active model: latest, and a column per stage in use
    answers = {}
    for model in models:
        # a model that is not in the table (deprecated, or never seen) shows no versions
        rows = gto.api.show(repo, model, versions_per_stage=-1) if model in table else []
        commit_of = {row["version"]: where[row["commit_hexsha"]] for row in rows}
        answer = Answer(listed=model in table, versions=[
            f"{row['version']}@{commit_of[row['version']]}"
            + "".join(f" #{s}" for s in sorted(vstage["stage"] for vstage in row["stages"]))
            for row in rows])
        if answer.listed:
            latest, stages = table[model]["version"], table[model]["stage"]
            answer.latest = latest and f"{latest}@{commit_of[latest]}"
            answer.stages = {s: f"{v}@{commit_of[v]}" for s, v in stages.items() if v}
        if shortcuts:
            stages = list(table.get(model, {}).get("stage", {}))
            shown = gto_shows(root, [f"{model}@latest"] + [f"{model}#{s}" for s in stages],
                              commits)
            assert shown.pop(f"{model}@latest") == answer.latest, f"gto: {model}@latest vs table"
            assert shown == {f"{model}#{s}": answer.stages.get(s) for s in stages}, (
                f"gto: {model}'s stages vs table")
        answers[model] = answer
    return answers


def check(history: History, shortcuts: bool = False) -> dict[str, Answer]:
    """Build the history, ask both sides, and require the same answers; returns them."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        commits = build_repo(history, root)
        models = list(MODELS)  # models a history never names must resolve to nothing on both sides
        mine = helper_answers(root, models, commits)
        crash = history.gto_crash()
        if crash:
            with pytest.raises(crash):
                gto_answers(root, models, commits, shortcuts)
            return mine
        theirs = gto_answers(root, models, commits, shortcuts)
        assert mine == theirs, f"helper (left) and gto (right) disagree on {history}"
        if shortcuts:
            refs = history.refs()
            assert helper_shows(root, refs, commits) == gto_shows(root, refs, commits), (
                f"helper (left) and gto (right) resolve refs differently on {history}")
    return mine


# ---------------------------------------------------------------- random histories

TIMES = st.integers(min_value=0, max_value=3)  # a narrow range: same-second tags are common
# Any stage name gto accepts (its name grammar; git refuses `//` in a tag), beside a few
# common ones, prod most, so that stages compete.
ANY_STAGE = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_/-]{0,8}[a-zA-Z0-9])?", fullmatch=True
                          ).filter(lambda stage: "//" not in stage)
STAGE = st.sampled_from(("prod", "prod", "staging", "ml/dev")) | ANY_STAGE
# How often each kind of tag is drawn, relative to the others.
WEIGHTS = {"register": 4, "deregister": 2, "assign": 8, "unassign": 2, "deprecate": 2,
           "lightweight": 1, "foreign": 1}
KINDS = st.sampled_from([kind for kind, weight in WEIGHTS.items() for _ in range(weight)])


@st.composite
def histories(draw) -> History:
    """A few commits and up to 15 tags, each drawn so that it makes sense after the others.

    A new version gets a commit of its own (in a few histories, any commit). Undo tags undo
    something: a deregistration sits on the commit of a registration (annotated or
    lightweight), an unassignment on an assigned commit and stage, both often in the same
    second as what they undo. Stage tags sit on a commit with an annotated registration of the
    model: gto would invent an unnamed version for any other commit, which the helper does not
    model. Counters go up per model, as gto writes them; now and then a registration,
    deregistration or deprecation carries one too, and a stage tag none (`gto --simple`).
    Models in folders are tagged `dir=name`. A step whose prerequisite is missing registers a
    version instead.
    """
    commits = draw(st.lists(TIMES, min_size=1, max_size=3))
    models = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True))
    tags: list[Tag] = []
    counters = {m: 0 for m in models}

    def taken(name: str) -> bool:
        return any(t.name == name for t in tags)

    def counted(model: str, name: str) -> str:
        counters[model] += 1
        return f"{name}#{counters[model]}"

    def rarely() -> bool:
        return draw(st.integers(min_value=1, max_value=10)) == 7

    def any_commit() -> int:
        return draw(st.integers(min_value=0, max_value=len(commits) - 1))

    def parsed_tags(model: str, *actions: str, annotated_only: bool = False):
        for t in tags:
            parsed = parse_tag_name(t.name)
            if (parsed and parsed.model == model and parsed.action in actions
                    and not (annotated_only and t.time is None)):
                yield parsed, t

    def same_second_as(earlier: list[Tag]) -> int:
        """Often the second of an earlier tag (the one undone, say), to make ties."""
        return draw(st.sampled_from([t.time for t in earlier if t.time is not None] or [0])
                    | TIMES)

    crowded = rarely()  # versions may share a commit: gto cannot tell which a stage tag means
    opening = draw(st.integers(min_value=1, max_value=4))  # versions first, for stages to share
    for step in range(opening + draw(st.integers(min_value=4, max_value=11))):
        kind = "register" if step < opening else draw(KINDS)
        model = draw(st.sampled_from([models[0], *models]))  # the first model is the busiest
        name, commit, time = None, None, draw(TIMES)
        prefix = tag_prefix(model)  # `dir:churn` is tagged `dir=churn`
        registered = {(p.version, t.commit): t for p, t in parsed_tags(model, REGISTER)}
        stageable = sorted({t.commit for _, t in parsed_tags(model, REGISTER,
                                                                annotated_only=True)})
        assigned = {(t.commit, p.stage): t
                    for p, t in parsed_tags(model, ASSIGN, annotated_only=True)}
        if kind in ("deregister", "assign", "unassign") and not (registered and stageable):
            kind = "register"
        if kind == "register":
            commit_of = dict(registered.keys())  # version -> commit
            undone = {p.version for p, _ in parsed_tags(model, DEREGISTER)}
            version = draw(st.sampled_from(VERSIONS))
            name = f"{prefix}@{version}"
            if version in commit_of and version in undone:  # again, as `gto register --force`
                name, commit = counted(model, name), commit_of[version]
            elif version in commit_of:  # gto refuses a version that is registered already
                name = None
            else:
                if rarely():  # as gto writes it without --simple
                    name = counted(model, name)
                free = [c for c in range(len(commits)) if c not in commit_of.values()]
                if not (free or crowded):
                    commits.append(draw(TIMES))
                    free = [len(commits) - 1]
                commit = any_commit() if crowded else draw(st.sampled_from(free))
        elif kind == "deregister":
            version, commit = draw(st.sampled_from(sorted(registered)))
            name = f"{prefix}@{version}!"
            name = counted(model, name) if taken(name) or rarely() else name
            time = same_second_as([registered[version, commit]])
        elif kind == "assign":
            in_use = sorted({s for _, s in assigned}) or ["prod"]  # often: move a stage
            commit = draw(st.sampled_from(stageable))
            stage = draw(st.sampled_from(in_use) | STAGE)
            name = f"{prefix}#{stage}"
            name = name if rarely() and not taken(name) else counted(model, name)
            time = same_second_as([t for (_, s), t in assigned.items() if s == stage])
        elif kind == "unassign":
            pairs = sorted(assigned) or [(c, "prod") for c in stageable]  # forced, as gto -f
            commit, stage = draw(st.sampled_from(pairs))
            name = f"{prefix}#{stage}!"
            name = name if rarely() and not taken(name) else counted(model, name)
            time = same_second_as([assigned[commit, stage]] if assigned else [])
        elif kind == "deprecate":
            name = f"{prefix}@deprecated"
            name = counted(model, name) if taken(name) or rarely() else name
            time = same_second_as([t for _, t in parsed_tags(model, REGISTER, ASSIGN)])
        elif kind == "lightweight":
            time = None
            name = draw(st.sampled_from([
                f"{prefix}@{draw(st.sampled_from(VERSIONS))}",
                counted(model, f"{prefix}#{draw(STAGE)}"),
                counted(model, f"{prefix}@deprecated"),
            ]))
        elif kind == "foreign":
            name, time = draw(st.sampled_from(FOREIGN)), draw(st.none() | TIMES)
        if name and not taken(name):
            zone = draw(st.sampled_from(ZONES)) if time is not None else "+0000"
            tags.append(Tag(name, any_commit() if commit is None else commit, time, zone))
    if rarely():  # a tag that breaks gto altogether
        tags.append(Tag(f"{tag_prefix(models[0])}@created", any_commit(),
                        draw(st.none() | TIMES)))
    return History(tuple(commits), tuple(tags))


# Histories known to be tricky: run first by the property test, and one by one below with the
# answer written out, so a failure names the rule that broke.
SAME_SECOND_ASSIGN_AND_UNASSIGN = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 0),
    Tag("churn#prod#1", 1, 1),
    Tag("churn#prod#2", 0, 2), Tag("churn#prod!#3", 0, 2),  # same second: the undo wins
))
SAME_SECOND_REGISTER_AND_DEREGISTER = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0),
    Tag("churn@v1.1.0", 1, 2), Tag("churn@v1.1.0!", 1, 2),  # same second: the undo wins
))
REREGISTERED_AFTER_DEREGISTRATION = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 0),
    Tag("churn@v1.1.0!", 1, 1), Tag("churn@v1.1.0#1", 1, 2),
))
STAGE_MOVED_BACK = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 0),
    Tag("churn#prod#1", 0, 1), Tag("churn#prod#2", 1, 2), Tag("churn#prod#3", 0, 3),
))
PRERELEASE_ORDER = History((0, 0, 0, 0), (
    Tag("churn@v1.0.0-rc.10", 0, 0), Tag("churn@v1.0.0-rc.2", 1, 1),
    Tag("churn@v1.0.0-alpha.1", 2, 2), Tag("churn@v0.9.0+build.99", 3, 3),
))
DEREGISTERED_STAGE_HOLDER = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 0),
    Tag("churn#prod#1", 0, 1), Tag("churn#prod#2", 1, 2),
    Tag("churn@v1.1.0!", 1, 3),  # prod falls back to v1.0.0's assignment
))
SAME_SECOND_STAGE_TWO_VERSIONS = History((0, 0), (
    Tag("churn@v1.0.0", 0, 1), Tag("churn@v1.1.0", 1, 0),
    Tag("churn#prod#1", 0, 2), Tag("churn#prod#2", 1, 2),  # tie: the version registered first
))
SAME_SECOND_STAGE_SAME_SECOND_REGISTRATIONS = History((0, 0), (
    Tag("churn@v1.1.0", 0, 1), Tag("churn@v1.0.0", 1, 1),
    Tag("churn#prod#1", 1, 2), Tag("churn#prod#2", 0, 2),  # tie again: tag-name order decides
))
EQUAL_PRECEDENCE_VERSIONS = History((0, 0), (
    Tag("churn@v1.0.0", 0, 1), Tag("churn@v1.0.0+build.7", 1, 0),  # build metadata: a tie
))
DEPRECATED = History((0,), (Tag("churn@v1.0.0", 0, 1), Tag("churn@deprecated", 0, 2)))
DEPRECATED_THEN_REREGISTERED = History((0, 0), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn#prod#1", 0, 1),
    Tag("churn@deprecated", 0, 2), Tag("churn@v1.1.0", 1, 3),
))
DEPRECATED_IN_THE_SAME_SECOND = History((0,), (
    Tag("churn@v1.0.0", 0, 2), Tag("churn@deprecated", 0, 2),  # a tie keeps the model alive
))
COMMIT_NEWER_THAN_DEPRECATION = History((0, 3), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 1), Tag("churn@deprecated", 0, 2),
))
MESSY_TAGS = History((0, 1), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v2.0.0", 1, None), Tag("churn#prod#1", 0, 1),
    Tag("churn#prod#2", 1, None), Tag("churn@deprecated", 1, None), Tag("release-1.0", 1, 2),
    Tag("v2", 1, None), Tag("churn@v1", 1, 3), Tag("dir=churn@v9.0.0", 1, 3),
))
CREATED_TAG = History((0, 0), (  # gto has no action for `@created`, even on a lightweight tag
    Tag("churn@v1.0.0", 0, 0), Tag("churn#prod#1", 0, 1), Tag("x@created", 1, None),
))
TWO_VERSIONS_ON_A_STAGED_COMMIT = History((0,), (  # which version does churn#prod#1 mean?
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 0, 1), Tag("churn#prod#1", 0, 2),
))
TRICKY = {  # history -> what both sides must answer for churn
    "same-second assign and unassign": (SAME_SECOND_ASSIGN_AND_UNASSIGN, Answer(
        True, "v1.1.0@c1", {"prod": "v1.1.0@c1"}, ["v1.1.0@c1 #prod", "v1.0.0@c0"])),
    "same-second register and deregister": (SAME_SECOND_REGISTER_AND_DEREGISTER, Answer(
        True, "v1.0.0@c0", {}, ["v1.0.0@c0"])),
    "re-registered after deregistration": (REREGISTERED_AFTER_DEREGISTRATION, Answer(
        True, "v1.1.0@c1", {}, ["v1.1.0@c1", "v1.0.0@c0"])),
    "stage moved back": (STAGE_MOVED_BACK, Answer(
        True, "v1.1.0@c1", {"prod": "v1.0.0@c0"}, ["v1.1.0@c1 #prod", "v1.0.0@c0 #prod"])),
    "prerelease order": (PRERELEASE_ORDER, Answer(True, "v1.0.0-rc.10@c0", {}, [
        "v1.0.0-rc.10@c0", "v1.0.0-rc.2@c1", "v1.0.0-alpha.1@c2", "v0.9.0+build.99@c3"])),
    "deregistered stage holder": (DEREGISTERED_STAGE_HOLDER, Answer(
        True, "v1.0.0@c0", {"prod": "v1.0.0@c0"}, ["v1.0.0@c0 #prod"])),
    "same-second stage, two versions": (SAME_SECOND_STAGE_TWO_VERSIONS, Answer(
        True, "v1.1.0@c1", {"prod": "v1.1.0@c1"}, ["v1.1.0@c1 #prod", "v1.0.0@c0 #prod"])),
    "same-second stage and registrations": (SAME_SECOND_STAGE_SAME_SECOND_REGISTRATIONS, Answer(
        True, "v1.1.0@c0", {"prod": "v1.0.0@c1"}, ["v1.1.0@c0 #prod", "v1.0.0@c1 #prod"])),
    "equal precedence": (EQUAL_PRECEDENCE_VERSIONS, Answer(
        True, "v1.0.0@c0", {}, ["v1.0.0@c0", "v1.0.0+build.7@c1"])),
    "deprecated": (DEPRECATED, Answer(False, None, {}, [])),
    "deprecated, then re-registered": (DEPRECATED_THEN_REREGISTERED, Answer(
        True, "v1.1.0@c1", {"prod": "v1.0.0@c0"}, ["v1.1.0@c1", "v1.0.0@c0 #prod"])),
    "deprecated in the same second": (DEPRECATED_IN_THE_SAME_SECOND, Answer(
        True, "v1.0.0@c0", {}, ["v1.0.0@c0"])),
    "commit newer than deprecation": (COMMIT_NEWER_THAN_DEPRECATION, Answer(
        True, "v1.1.0@c1", {}, ["v1.1.0@c1", "v1.0.0@c0"])),
    "lightweight and foreign tags": (MESSY_TAGS, Answer(
        True, "v1.0.0@c0", {"prod": "v1.0.0@c0"}, ["v1.0.0@c0 #prod"])),
}
# The rest of gto's grammar, each form at least once: what both sides must answer per model.
MODELS_IN_FOLDERS = History((0, 0), (
    Tag("dir=churn@v1.0.0", 0, 0), Tag("churn@v2.0.0", 1, 0), Tag("dir=churn#prod#1", 0, 1),
    Tag("a/b.c=x-1@v3.0.0", 1, 1), Tag("dir=churn@v1.1.0", 1, 2),
    Tag("a/b.c=x-1#prod#1", 1, 2), Tag("dir=churn@deprecated", 0, None),
))
COUNTERS_ON_EVERY_KIND = History((0, 0), (
    Tag("churn@v1.0.0#1", 0, 0), Tag("churn@v1.1.0#2", 1, 1), Tag("churn#prod#3", 1, 2),
    Tag("churn@v1.1.0!#4", 1, 3),  # deregistered: prod no longer holds a version
    Tag("churn#prod#5", 0, 4), Tag("churn#prod!#6", 0, 5), Tag("churn#dev#7", 0, 5),
    Tag("x@v1.0.0", 0, 0), Tag("x@deprecated#1", 0, 1),
))
TAGS_WITHOUT_COUNTERS = History((0, 0), (  # `gto assign --simple`
    Tag("churn@v1.0.0", 0, 0), Tag("churn@v1.1.0", 1, 0), Tag("churn#prod", 1, 1),
    Tag("churn#prod!", 1, 2), Tag("churn#staging", 0, 2),
))
ANY_STAGE_NAME = History((0,), (
    Tag("churn@v1.0.0", 0, 0), Tag("churn#Prod_1#1", 0, 1), Tag("churn#ml/eu-west/2#2", 0, 1),
    Tag("churn#7#3", 0, 2), Tag("churn#a-b_c/D#4", 0, 2),
))
IGNORED_TAGS = History((0, 0), (
    Tag("x@v1.0.0", 0, 0), Tag("x@tag", 1, 1), Tag("GTO-tag", 1, 1), Tag("a=b", 1, 1),
    Tag("a=b=x@v2.0.0", 1, 2), Tag("=x@v3.0.0", 1, 2), Tag("x@v4.0.0#x", 1, 2),
    Tag("dir=x", 1, 2), Tag("x#prod#", 1, 3),
))
GRAMMAR = {  # history -> {model: what both sides must answer}
    "models in folders": (MODELS_IN_FOLDERS, {
        "dir:churn": Answer(True, "v1.1.0@c1", {"prod": "v1.0.0@c0"},
                            ["v1.1.0@c1", "v1.0.0@c0 #prod"]),
        "a/b.c:x-1": Answer(True, "v3.0.0@c1", {"prod": "v3.0.0@c1"}, ["v3.0.0@c1 #prod"]),
        "churn": Answer(True, "v2.0.0@c1", {}, ["v2.0.0@c1"])}),
    "counters on every kind of tag": (COUNTERS_ON_EVERY_KIND, {
        "churn": Answer(True, "v1.0.0@c0", {"dev": "v1.0.0@c0"}, ["v1.0.0@c0 #dev"]),
        "x": Answer(False, None, {}, [])}),
    "tags without counters": (TAGS_WITHOUT_COUNTERS, {
        "churn": Answer(True, "v1.1.0@c1", {"staging": "v1.0.0@c0"},
                        ["v1.1.0@c1", "v1.0.0@c0 #staging"])}),
    "any stage name": (ANY_STAGE_NAME, {
        "churn": Answer(True, "v1.0.0@c0", dict.fromkeys(
            ["Prod_1", "ml/eu-west/2", "7", "a-b_c/D"], "v1.0.0@c0"),
            ["v1.0.0@c0 #7 #Prod_1 #a-b_c/D #ml/eu-west/2"])}),
    "ignored tags": (IGNORED_TAGS, {
        "x": Answer(True, "v1.0.0@c0", {}, ["v1.0.0@c0"])}),
}
GTO_RAISES = {  # history -> what the helper must answer for churn
    "created tag": (CREATED_TAG, Answer(
        True, "v1.0.0@c0", {"prod": "v1.0.0@c0"}, ["v1.0.0@c0 #prod"])),
    "two versions on a staged commit": (TWO_VERSIONS_ON_A_STAGED_COMMIT, Answer(
        True, "v1.1.0@c0", {"prod": "v1.1.0@c0"}, ["v1.1.0@c0 #prod", "v1.0.0@c0"])),
}


def with_tricky_examples(test):
    """Run the hand-written histories first, before the random ones."""
    for history, _ in [*TRICKY.values(), *GRAMMAR.values(), *GTO_RAISES.values()]:
        test = example(history)(test)
    return test


def situations(history: History) -> list[str]:
    """The tricky situations a history has, for `pytest --hypothesis-show-statistics`."""
    parsed = [(parse_tag_name(t.name), t) for t in history.annotated()]
    parsed = [(p, t) for p, t in parsed if p]
    found = set()
    for p, t in parsed:
        for q, u in parsed:
            if p.model != q.model or t.time != u.time or t is u:
                continue
            if (p.action, q.action) == (REGISTER, DEREGISTER) and p.version == q.version:
                found.add("deregistration in the second of its registration")
            if ((p.action, q.action) == (ASSIGN, UNASSIGN) and p.stage == q.stage
                    and t.commit == u.commit):
                found.add("unassignment in the second of its assignment")
            if (p.action, q.action) == (ASSIGN, ASSIGN) and p.stage == q.stage and (
                    t.commit != u.commit):
                found.add("one stage assigned to two versions in one second")
        if p.action == DEPRECATE:
            found.add("deprecation")
    for t in history.tags:
        p = parse_tag_name(t.name)
        if p is None:
            found.add("a tag gto ignores")
            continue
        if ":" in p.model:
            found.add("a model in a folder")
        if p.counter is not None and p.action in (REGISTER, DEREGISTER, DEPRECATE):
            found.add("a counter on a registration, deregistration or deprecation")
        if p.stage and p.counter is None:
            found.add("a stage tag without a counter")
        if p.stage and p.stage not in ("prod", "staging", "ml/dev"):
            found.add("a stage of any name")
    return sorted(found)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@with_tricky_examples
@given(histories())
def test_helper_answers_as_gto_show_does(history):
    """Any tag history: the helper's versions, latest, stages and deprecation are gto's."""
    crash = history.gto_crash()
    event(f"gto raises {crash.__name__}" if crash else "gto answers")
    for situation in situations(history):
        event(situation)
    check(history)


# ---------------------------------------------------------------- hand-written histories


@pytest.mark.parametrize("history, expected", TRICKY.values(), ids=TRICKY.keys())
def test_tricky_history(history, expected):
    """Each tricky history, with the answer written out: helper, gto and this table agree."""
    assert check(history, shortcuts=True)["churn"] == expected


@pytest.mark.parametrize("history, expected", GRAMMAR.values(), ids=GRAMMAR.keys())
def test_every_form_of_gto_tag(history, expected):
    """Each form of gto's tag grammar, with the answers written out: helper, gto and this
    table agree, also on the refs (`dir:churn@v1.0.0`, `churn#ml/eu-west/2`, ...)."""
    answers = check(history, shortcuts=True)
    assert {model: answers[model] for model in expected} == expected


@pytest.mark.parametrize("history, expected", GTO_RAISES.values(), ids=GTO_RAISES.keys())
def test_helper_answers_where_gto_raises(history, expected):
    """Histories that break gto do not break the helper (gto's error is checked in `check`)."""
    assert history.gto_crash()
    assert check(history, shortcuts=True)["churn"] == expected
