"""Making tags and sending them to origin: tag times, `git push --atomic`, and what happens
when someone else took a tag or a stage counter first.

A push that fails removes the local tags it was sending, so nothing is left that origin does
not have and re-running the command completes the work.
"""

from __future__ import annotations

from .core import ORIGIN, Registry
from .errors import ConflictError, InputError, RegistryError
from .gitrepo import Git
from .results import TagWritten
from .tags import (ASSIGN, REGISTER, ModelState, VersionState, assign_tag, bump, counter_claim,
                   next_counter, parse_tag_name, unassign_tag)


def stamp(git: Git, state: ModelState, at: int | None = None) -> tuple[int, str]:
    """The tag time: now (or `at`, a Unix time in UTC: when an imported version was made
    where it came from), but always after the model's newest tag.

    Events are ordered by their one-second tag times; keeping each model's tags strictly
    increasing means gto and this helper never have to break a tie on what we write.
    """
    now, zone = git.identity_time()
    if at is not None:
        now, zone = at, "+0000"
    newest = max((e.time for e in state.events), default=0)
    return max(now, newest + 1), zone


def push_target(git: Git) -> str:
    """The branch to push, once origin is known to exist."""
    if ORIGIN not in git.remotes():
        raise InputError(f"no git remote named {ORIGIN}: add one with "
                         f"`git remote add {ORIGIN} URL` or drop --push")
    return git.branch()


def push(git: Git, refspecs: list[str], tag_name: str | None, cleanup: list[str] | None = None,
         made: str | None = None, claim: str | None = None) -> None:
    """git push --atomic; on failure the local tags are removed.

    `claim` (tags.counter_claim) is pushed too, on condition that origin lacks it, so two
    stage tags can never land with one counter.

    `made` is the commit this command made. If another change took the tag first, the
    branch moves back off that commit: it registers a version that now belongs to someone
    else, and keeping it would make the advised `git pull --rebase` stop on conflicts."""
    if claim:
        refspecs = refspecs + [f"refs/tags/{tag_name}:{claim}"]
    proc = git.push(ORIGIN, refspecs, absent=[claim] if claim else [])
    if proc.returncode == 0:
        return
    for tag in (cleanup or []) + ([tag_name] if tag_name else []):
        git.delete_tag(tag)
    if claim and git.remote_has(ORIGIN, claim):
        raise ConflictError(f"the counter of {tag_name} was taken on {ORIGIN} by another "
                            "change: run `git fetch --tags` and try again (local tag "
                            "removed)")
    if tag_name:
        there = git.remote_tag_commit(ORIGIN, tag_name)
        if there:
            raise _taken(git, tag_name, there, made)
    reason = (proc.stderr.strip().splitlines() or ["rejected"])[-1]
    raise RegistryError(f"git push to {ORIGIN} failed ({reason}): fix that (e.g. `git pull "
                        "--rebase`) and re-run the same command to finish"
                        + (" (local tag removed)" if tag_name else ""))


def push_all(git: Git, branch: str, tags: list[str]) -> None:
    """`branch` and `tags` to origin in one `git push --atomic`, each stage tag with the claim
    of its counter (see push). On failure the local tags stay: what they tag is complete here
    (an import's versions), and pushing them again is how a re-run finishes."""
    refspecs, claims = [f"HEAD:refs/heads/{branch}"], []
    for tag in tags:
        refspecs.append(f"refs/tags/{tag}")
        parsed = parse_tag_name(tag)
        if parsed and parsed.stage and parsed.counter is not None:
            claims.append(counter_claim(parsed.model, parsed.counter))
            refspecs.append(f"refs/tags/{tag}:{claims[-1]}")
    proc = git.push(ORIGIN, refspecs, absent=claims)
    if proc.returncode != 0:
        # --porcelain gives each refused ref a line `!<TAB>refspec<TAB>[rejected] (why)`
        refused = [line.split("\t") for line in proc.stdout.splitlines()
                   if line.startswith("!")]
        reason = (f"{refused[0][1].split(':')[-1]} {refused[0][2]}" if refused
                  and len(refused[0]) > 2 else
                  (proc.stderr.strip().splitlines() or ["rejected"])[-1])
        raise RegistryError(f"git push to {ORIGIN} failed ({reason}): what was imported is "
                            "complete here; fix that (e.g. `git pull --no-rebase`, which keeps "
                            "the tagged commits) and re-run with --push to finish")


def _taken(git: Git, tag_name: str, there: str, made: str | None) -> ConflictError:
    """The error for a tag that origin already has, after undoing this command's commit."""
    parsed = parse_tag_name(tag_name)
    retry = (f"register again with --version {bump(parsed.version, 'patch')} after "
             "`git pull --rebase`" if parsed.action == REGISTER
             else "run `git fetch --tags` and try again")
    undone = "local tag removed"
    if made and git.head() == made and git.undo_commit():
        undone = f"local tag and commit {made[:12]} removed"
    return ConflictError(f"{tag_name} already exists on {ORIGIN} at {there[:12]}: another "
                         f"change took it first; {retry} ({undone}; the artifact stays in the "
                         "DVC remote)")


def write_tag(reg: Registry, state: ModelState, tag_name: str, commit: str, action: str,
              message: str, push_it: bool, sign: bool, version: str | None = None,
              claim: str | None = None) -> TagWritten:
    """One annotated tag, pushed alone when asked."""
    when = stamp(reg.git, state)
    if push_it:
        push_target(reg.git)
    reg.git.create_tag(tag_name, commit, message, when, sign)
    if push_it:
        push(reg.git, [f"refs/tags/{tag_name}"], tag_name, claim=claim)
    return TagWritten(name=state.name, version=version, event=action, tag=tag_name,
                      commit=commit, pushed=push_it)


def stage_tag(reg: Registry, state: ModelState, target: VersionState, stage: str, action: str,
              message: str | None, push_it: bool, sign: bool) -> TagWritten:
    """A stage tag with the next counter. If another promotion took that counter on origin
    meanwhile, fetch its tags and try the next one, unless it moved this very stage, which is
    refused rather than silently overridden."""
    make = assign_tag if action == ASSIGN else unassign_tag
    verb, direction = ("Promote", "to") if action == ASSIGN else ("Demote", "from")
    default = f"{verb} {state.name} {target.version} {direction} {stage}"
    holder = state.stages.get(stage)
    lost = 0  # the counter last lost: its claim may outlive a tag deleted by hand
    for attempt in range(3):
        names = (n for n, _ in reg.git.tags(state.name)[1])
        counter = max(next_counter(state.name, names), lost + 1)
        tag_name = make(state.name, stage, counter)
        try:
            result = write_tag(reg, state, tag_name, target.commit, action, message or default,
                               push_it, sign, version=target.version,
                               claim=counter_claim(state.name, counter))
            break
        except ConflictError:
            lost = counter
            reg.git.fetch_tags(ORIGIN)
            state = reg.model(state.name)
            moved = state.stages.get(stage)
            if (moved and moved.version) != (holder and holder.version) or attempt == 2:
                raise ConflictError(f"{tag_name} was taken on {ORIGIN}, and {stage} of "
                                    f"{state.name} now holds "
                                    f"{moved.version if moved else 'no version'}: see "
                                    f"`registry history {state.name}`, then re-run if you "
                                    "still want this change") from None
    result.stage, result.changed, result.attempts = stage, True, attempt + 1
    return result
