"""Adding versions: `register` (artifact to DVC and the remote, card, commit, tag, push) and
`release` (tag the versions a merged pull request added).

Every input is checked before anything changes, and the writing keeps data safe: artifact to
the DVC remote first, commit and tag second, git push last; a failure part-way puts the work
tree back as it was (see registration, which `import` shares).
"""

from __future__ import annotations

from contextlib import nullcontext

from .. import cards, lineage, mlflow_run, publish, registration, storage, validation
from ..core import ORIGIN, Registry
from ..errors import InputError
from ..results import Artifact, Registered, Released
from ..tags import (ModelState, check_name, check_version, register_tag, resolve_all,
                    resolve_model)


def register(reg: Registry, name: str, path: str | None = None, *, version: str | None = None,
             bump_part: str | None = None, message: str | None = None,
             metrics: str | None = None, push: bool = False, sign: bool = False,
             tag: bool = True, from_dir: str | None = None, allow_dirty: bool = False,
             params: str | None = None, mlflow_run_id: str | None = None,
             mlflow_uri: str | None = None) -> Registered:
    reg.writable()
    check_name(name)
    if version and bump_part:
        raise InputError("give either --version or --bump, not both")
    if version:
        check_version(version)
    if mlflow_uri and not mlflow_run_id:
        raise InputError("--mlflow-uri goes with --mlflow-run RUN_ID: drop it, or name the run")
    run = mlflow_run.read(mlflow_run_id, mlflow_uri) if mlflow_run_id else None
    # with no PATH, the run's logged model, downloaded for the registration's length
    with run.model_folder() if run and path is None else nullcontext(path) as path:
        return _register(reg, name, path, version, bump_part, message, metrics, push, sign,
                         tag, from_dir, allow_dirty, params, run)


def _register(reg: Registry, name: str, path: str | None, version: str | None,
              bump_part: str | None, message: str | None, metrics: str | None, push: bool,
              sign: bool, tag: bool, from_dir: str | None, allow_dirty: bool,
              params: str | None, run: mlflow_run.Run | None) -> Registered:
    state = reg.model(name)
    source = registration.artifact_source(reg, name, f"models/{name}", path)
    # an explicit --metrics file wins over the run's: it is the file the person named
    metric_values = (registration.read_metrics(metrics) if metrics
                     else (run.metrics or None) if run else None)
    if allow_dirty and not from_dir:
        raise InputError("--allow-dirty goes with --from DIR: drop it, or name the training "
                         "repository")
    training = lineage.training(from_dir, allow_dirty) if from_dir else None
    param_values = lineage.read_params(params) if params else None
    if push and tag:
        resumed = _resume_push(reg, state, source, version, publish.push_target(reg.git))
        if resumed:
            return resumed
    plan = registration.make_plan(reg, state, source, version, bump_part, metric_values)
    plan.training, plan.params, plan.run = training, param_values, run
    reg.git.identity_time()  # fail now, not after the commit, if git has no identity
    branch = publish.push_target(reg.git) if push else None
    message = message or f"Register {name} {plan.version}"
    commit, before, digest = registration.commit_version(reg, plan, push, message)

    result = Registered(name=name, version=plan.version, previous_version=plan.previous,
                        commit=commit, tag=None, pushed=False,
                        artifact=Artifact(plan.dest, **digest.as_dict()), card=plan.card_rel)
    if tag:
        result.tag = registration.tag(reg, state, plan, commit, digest, message, sign)
    if push:
        publish.push(reg.git, [f"HEAD:refs/heads/{branch}"] + ([f"refs/tags/{result.tag}"]
                                                                if tag else []),
                     result.tag, made=commit if commit != before else None)
        result.pushed = True
    return result


def _resume_push(reg: Registry, state: ModelState, source: str, version: str | None,
                 branch: str) -> Registered | None:
    """Finish a registration that was tagged here but never reached origin (its push was
    interrupted): the same artifact registered again is pushed, not registered twice."""
    local = [v for v in state.versions if v.registration and v.version == (version or
                                                                          v.version)]
    if not local:
        return None
    on_origin = reg.git.remote_tags(ORIGIN, f"refs/tags/{state.name}@*")
    unpushed = [v for v in local if v.tag not in on_origin]
    md5 = storage.digest(source).md5 if unpushed else None
    for v in unpushed:
        pointer = reg.pointer(v)
        if pointer.md5 != md5:
            continue
        here = reg.work_tree_pointer(pointer.path)
        if here is None or here.md5 != md5:
            raise InputError(f"{v.tag} was never pushed; check out its commit "
                             f"({v.commit[:12]}) and re-run to push it")
        storage.push(reg.root, [pointer.path + ".dvc"], reg.config.remote)
        publish.push(reg.git, [f"HEAD:refs/heads/{branch}", f"refs/tags/{v.tag}"], v.tag)
        return Registered(name=state.name, version=v.version, previous_version=None,
                          commit=v.commit, tag=v.tag, pushed=True, resumed=True,
                          artifact=Artifact(pointer.path, pointer.md5, size=pointer.size),
                          card=cards.card_path(state.name))
    return None


def release(reg: Registry, push: bool = False, sign: bool = False) -> Released:
    """Tag every card version on this branch that has no registration tag yet.

    The pull-request flow: a reviewed card (from `register --no-tag`) merged to main is the
    registration, and this makes its tag. Re-running it adds nothing.
    """
    reg.writable()
    events, _ = reg.git.tags()
    head = reg.git.head()
    if push:
        publish.push_target(reg.git)
    states = resolve_all(events)
    pending = []
    for name in reg.card_models():
        side = reg.card_side(name, "HEAD", head)
        if side is None or not isinstance(side.version, str):
            continue
        state = states.get(name) or resolve_model(name, [])
        if any(v.version == side.version for v in state.versions):
            continue
        if reg.git.tag_exists(register_tag(name, side.version)):
            continue
        pending.append((name, side, state))
    problems = []
    for name, side, state in pending:
        problems += _release_problems(reg, name, side.version, state, head, push)
    if problems:
        raise InputError(f"{len(problems)} problem(s) stop the release; nothing was tagged: "
                         "fix them and run registry release again", details=problems)
    created = []
    for name, side, state in pending:
        created.append(registration.tag_version(
            reg, state, name, side.version, head, f"Register {name} {side.version}",
            (side.md5, side.sha256), (side.front.get("registry") or {}).get("lineage"), sign))
    if push and created:
        publish.push(reg.git, [f"refs/tags/{t}" for t in created], None, cleanup=created)
    return Released(commit=head, tags=created, pushed=bool(push and created))


def _release_problems(reg: Registry, name: str, version: str, state: ModelState, head: str,
                      remote: bool) -> list[str]:
    check = validation.card_problems(reg, name, reg.config, state)
    problems = [str(p) for p in check if not p.field.startswith("registry.version")]
    if remote and not problems:
        entry = reg.artifact_entry(name, head)
        pointer = storage.read_pointer(reg.git.read(head, entry + ".dvc") or b"",
                                       entry + ".dvc")
        pointer.path = entry
        for _, why in storage.remote_problems(reg.root, [pointer], reg.config.remote):
            problems.append(f"{entry} ({pointer.md5}) of {name} {version} is {why}: run "
                            "dvc push and try again")
    return problems
