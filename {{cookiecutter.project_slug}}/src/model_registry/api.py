"""The registry as a Python library: every command as a function with a typed result.

    from model_registry import api

    api.get("churn#prod", "model.pkl")                          # in a clone of the registry
    api.get("churn#prod", "model.pkl", repo="https://git.example.com/ml/registry.git")
    found = api.resolve("churn@v1.4.0")
    print(found.version, found.commit, found.artifact.md5)

Each function works on the registry that holds `path` (default: the current folder), or, for
the read commands that take it, on the registry at `repo` (a git URL) without a clone of your
own. Failures raise model_registry.errors.RegistryError (InputError for bad input, exit
status 2 on the command line; NotFoundError when nothing matches), with a message that says
what to do. The results are dataclasses from model_registry.results; `to_json` turns any of
them into the data `registry ... --json` prints.

Command modules are imported by the function that needs them: a script that only resolves
should not pay for the code that registers.
"""

from __future__ import annotations

from contextlib import contextmanager

from .core import Registry, cloned
from .results import (CheckedRef, CheckReport, Diff, Documented, Fetched, HistoryEvent, Imported,
                      Lineage, Match, ModelSummary, Registered, Released, Shown, Site, TagWritten,
                      Verification, Version, to_json)

__all__ = ["resolve", "get", "show", "list_models", "history", "lineage", "register",
           "release", "import_mlflow", "promote", "demote", "deregister", "deprecate", "check",
           "check_ref", "diff", "doc", "verify", "which", "site", "to_json", "Registry"]


@contextmanager
def _opened(path: str, repo: str | None, ref: str):
    if repo:
        with cloned(repo, ref) as reg:
            yield reg
    else:
        yield Registry.open(path)


# ------------------------------------------------------------ reading


def resolve(ref: str, *, repo: str | None = None, path: str = ".") -> Version:
    """Which version `ref` names (`churn`, `churn@v1.4.0`, `churn#prod`, a full tag)."""
    from .commands import query
    with _opened(path, repo, ref) as reg:
        return query.resolve(reg, ref)


def get(ref: str, output: str | None = None, *, repo: str | None = None, force: bool = False,
        path: str = ".") -> Fetched:
    """The artifact of `ref` written to `output` (default: its own file name, here), once
    its checksum matches; `force` replaces an existing output."""
    from .commands import get as fetching
    if repo:
        return fetching.get_from_url(repo, ref, output, force)
    return fetching.get(Registry.open(path), ref, output, force)


def show(ref: str, *, path: str = ".") -> Shown:
    from .commands import query
    return query.show(Registry.open(path), ref)


def list_models(*, path: str = ".") -> list[ModelSummary]:
    from .commands import query
    return query.list_models(Registry.open(path))


def history(name: str | None = None, *, path: str = ".") -> list[HistoryEvent]:
    from .commands import query
    return query.history(Registry.open(path), name)


def lineage(ref: str, *, path: str = ".") -> Lineage:
    """How `ref`'s version was made (training repository, commit, stage, parameters, data),
    as `register --from` or `--params` recorded it in its card."""
    from .commands import lineage as lineages
    return lineages.lineage(Registry.open(path), ref)


# ------------------------------------------------------------ writing


def register(name: str, artifact: str | None = None, *, version: str | None = None,
             bump: str | None = None, message: str | None = None, metrics: str | None = None,
             push: bool = False, sign: bool = False, tag: bool = True,
             from_dir: str | None = None, allow_dirty: bool = False, params: str | None = None,
             mlflow_run: str | None = None, mlflow_uri: str | None = None,
             path: str = ".") -> Registered:
    """A new version of `name` from the file or folder `artifact`: `version` (vX.Y.Z) or the
    latest bumped by `bump` (major, minor, patch; default patch). `from_dir`, the training
    repository, and `params`, a YAML or JSON file of hyperparameters, fill the card's lineage;
    a training repository with uncommitted changes is refused unless `allow_dirty`.
    `mlflow_run`, a run id on the tracking server `mlflow_uri` (default: MLFLOW_TRACKING_URI),
    adds the run's parameters, metrics and provenance; with no `artifact`, its logged model is
    registered (needs the `mlflow` extra)."""
    from .commands import register as registering
    return registering.register(Registry.open(path), name, artifact, version=version,
                                bump_part=bump, message=message, metrics=metrics, push=push,
                                sign=sign, tag=tag, from_dir=from_dir, allow_dirty=allow_dirty,
                                params=params, mlflow_run_id=mlflow_run,
                                mlflow_uri=mlflow_uri)


def release(*, push: bool = False, sign: bool = False, path: str = ".") -> Released:
    from .commands import register as registering
    return registering.release(Registry.open(path), push=push, sign=sign)


def import_mlflow(uri: str | None = None, *, models: list[str] | None = None,
                  rename: list[str] | None = None, version_tag: str | None = None,
                  dry_run: bool = False, push: bool = False, progress=None,
                  path: str = ".") -> Imported:
    """The MLflow model registry at `uri` (default: MLFLOW_TRACKING_URI), or only its
    `models`, brought into this registry: each version registered (oldest first, dated when
    MLflow made it), aliases and legacy stages as stage tags, Archived versions deregistered;
    a re-run adds only what changed. `rename` holds "OLD=NEW" names; `version_tag` the MLflow
    version tag whose SemVer numbers a version (else version N is vN.0.0); `dry_run` writes
    nothing; `progress` is called with a line per version. Needs the `mlflow` extra."""
    from .commands import mlflow_import
    return mlflow_import.import_mlflow(Registry.open(path), uri, models, rename, version_tag,
                                       dry_run, push, progress)


def promote(name: str, version: str, stage: str, *, message: str | None = None,
            push: bool = False, sign: bool = False, path: str = ".") -> TagWritten:
    from .commands import lifecycle
    return lifecycle.promote(Registry.open(path), name, version, stage, message=message,
                             push=push, sign=sign)


def demote(name: str, stage: str, *, message: str | None = None, push: bool = False,
           sign: bool = False, path: str = ".") -> TagWritten:
    from .commands import lifecycle
    return lifecycle.demote(Registry.open(path), name, stage, message=message, push=push,
                            sign=sign)


def deregister(name: str, version: str, *, message: str | None = None, push: bool = False,
               sign: bool = False, path: str = ".") -> TagWritten:
    from .commands import lifecycle
    return lifecycle.deregister(Registry.open(path), name, version, message=message, push=push,
                                sign=sign)


def deprecate(name: str, *, message: str | None = None, push: bool = False, sign: bool = False,
              path: str = ".") -> TagWritten:
    from .commands import lifecycle
    return lifecycle.deprecate(Registry.open(path), name, message=message, push=push,
                               sign=sign)


# ------------------------------------------------------------ review and audit


def check(*, base: str | None = None, remote: bool = False, path: str = ".") -> CheckReport:
    """Every card checked; the report lists the problems (it does not raise for them)."""
    from .commands import review
    return review.check(Registry.open(path), base, remote=remote)


def diff(ref_a: str | None = None, ref_b: str | None = None, *, base: str | None = None,
         path: str = ".") -> Diff:
    from .commands import review
    return review.diff(Registry.open(path), ref_a, ref_b, base=base)


def doc(ref: str, fmt: str = "md", *, output: str | None = None, path: str = ".") -> Documented:
    """The model-level part of the technical documentation of `ref` (fmt "md" or "html"), also
    written to `output`."""
    from .commands import review
    return review.doc(Registry.open(path), ref, fmt, output)


def check_ref(tag: str, *, remote: bool = False, path: str = ".") -> CheckedRef:
    from .commands import audit
    return audit.check_ref(Registry.open(path), tag, remote=remote)


def verify(ref: str | None = None, *, path: str = ".") -> Verification:
    """One version (or every active one, with no ref): raises if any fails."""
    from .commands import audit
    return audit.verify(Registry.open(path), ref)


def which(hash_or_file: str, *, path: str = ".") -> list[Match]:
    from .commands import audit
    return audit.which(Registry.open(path), hash_or_file)


def site(output: str, *, path: str = ".") -> Site:
    """The static HTML catalogue of the registry, written to the folder `output`."""
    from . import site as catalogue
    return Site(**catalogue.build(Registry.open(path), output))
