"""How a version was made, read from its training repository for `register --from` and
`--params`: the repository's public URL and commit, and, where a dvc.lock is, the stage that
produced the artifact and the stages upstream of it.

dvc.lock is plain YAML that DVC writes (`schema: '2.0'`): it is read with the safe loader, so
recording lineage needs no DVC import. The artifact's stage is found by its md5 among the
stages' outputs, never by its name: a renamed or copied model still matches its run, and a
model no stage produced is recorded as made outside the pipeline rather than guessed.
"""

from __future__ import annotations

import os

from . import yamlio
from .errors import InputError
from .gitrepo import Git, public_url
from .units import flatten

MAX_UPSTREAM = 50  # upstream stages a card records; a bigger pipeline is cut, with a note
DEFAULT_PARAMS = "params.yaml"  # DVC's default params file: its keys are recorded bare
DVCLIVE_DIR = "dvclive"  # DVCLive's default folder: metrics.json (summary), params.yaml


class Training:
    """A training repository as found before registering: its commit and its dvc.lock."""

    def __init__(self, repo: str, commit: str, dirty: bool, stages: dict | None, folder: str):
        self.repo = repo
        self.commit = commit
        self.dirty = dirty
        self.stages = stages  # dvc.lock's stages, or None when the folder has no dvc.lock
        self.folder = folder

    def record(self, md5: str) -> dict:
        """The card's `registry.lineage` for the artifact whose DVC md5 is `md5`."""
        out = {"repo": self.repo, "commit": self.commit, "dirty": self.dirty}
        if self.stages is None:
            return out
        producer = _producer(self.stages, md5)
        if producer is None:
            out.update(stage=None, outside_pipeline=True)
            return out
        stage = self.stages[producer]
        out.update(stage=producer, cmd=_cmd(stage), params=_params(stage),
                   deps=[self._dep(d) for d in _entries(stage, "deps")])
        upstream, cut = self._upstream(producer)
        out["upstream"] = upstream
        if cut:
            out["upstream_truncated"] = (f"only the first {MAX_UPSTREAM} upstream stages are "
                                         "recorded; see dvc.lock at the commit for the rest")
        return out

    def dvclive(self, md5: str) -> tuple[str | None, dict]:
        """The run's DVCLive summary metrics file (None when absent) and the params it
        logged, as dotted keys. DVCLive's folder is the one an output of the stage that made
        the artifact holds, else of a stage that read the artifact (an evaluation); with no
        stage listing one, DVCLive's default folder when no other stage owns it."""
        folder = self._dvclive_folder(md5)
        if folder is None:
            return None, {}
        metrics = os.path.join(folder, "metrics.json")
        params = os.path.join(folder, "params.yaml")
        values = {}
        if os.path.isfile(params):
            with open(params, "rb") as f:
                loaded = yamlio.load(f.read(yamlio.MAX_BYTES + 1), params)
            values = flatten(loaded) if isinstance(loaded, dict) else {}
        return (metrics if os.path.isfile(metrics) else None), values

    def _dvclive_folder(self, md5: str) -> str | None:
        stages = self.stages or {}
        producer = _producer(stages, md5)
        readers = [n for n, st in stages.items()
                   if any(d.get("md5") == md5 for d in _entries(st, "deps"))]
        for name in ([producer] if producer else []) + readers:
            for out in _entries(stages[name], "outs"):
                path = os.path.join(self.folder, out["path"])
                if os.path.basename(out["path"]) == "metrics.json" and os.path.isfile(path):
                    return os.path.dirname(_as_locked(path, out, name))
                if os.path.isfile(os.path.join(path, "metrics.json")):
                    return _as_locked(path, out, name)
        owned = {os.path.normpath(o["path"]).split(os.sep)[0]
                 for st in stages.values() for o in _entries(st, "outs")}
        default = os.path.join(self.folder, DVCLIVE_DIR)
        return default if os.path.isdir(default) and DVCLIVE_DIR not in owned else None

    def _dep(self, entry: dict) -> dict:
        """A dependency by path and md5 (a folder by its `.dir` hash); one brought with
        `dvc import` also by its source repository and the revision DVC locked."""
        dep = {"path": entry["path"], "md5": entry.get("md5")}
        source = _imported(os.path.join(self.folder, entry["path"] + ".dvc"), entry.get("md5"))
        if source:
            dep.update(source)
        return dep

    def _upstream(self, producer: str) -> tuple[list[dict], bool]:
        """The stages that produced the producer's dependencies, then theirs, back to the
        sources; breadth first, each stage once, at most MAX_UPSTREAM. Each lists the outputs
        the chain read of it (`outs`), which are the graph's edges from it."""
        entries: dict[str, dict] = {}
        queue, cut = [producer], False
        while queue:
            for dep in _entries(self.stages[queue.pop(0)], "deps"):
                name = _producer(self.stages, dep.get("md5"))
                if name is None or name == producer:
                    continue
                if name not in entries:
                    if len(entries) == MAX_UPSTREAM:
                        cut = True
                        continue
                    stage = self.stages[name]
                    entries[name] = {"stage": name, "cmd": _cmd(stage),
                                     "deps": [self._dep(d) for d in _entries(stage, "deps")],
                                     **({"params": _params(stage)} if _params(stage) else {}),
                                     "outs": []}
                    queue.append(name)
                out = {"path": _out_path(self.stages[name], dep["md5"]), "md5": dep["md5"]}
                if out not in entries[name]["outs"]:
                    entries[name]["outs"].append(out)
        return list(entries.values()), cut


def training(folder: str, allow_dirty: bool) -> Training:
    """The training repository at `folder`, refused (before the registry changes) when it is
    not a git repository, has no commit, has tracked changes (unless `allow_dirty`), or has a
    dvc.lock that does not parse."""
    if not os.path.isdir(folder):
        raise InputError(f"--from {folder}: no such folder; give the training repository")
    git = Git(folder)
    top = git.run("rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise InputError(f"--from {folder} is not a git repository: give the folder of the "
                         "training code's clone")
    head = git.run("rev-parse", "--verify", "-q", "HEAD", check=False)
    if head.returncode != 0:
        raise InputError(f"--from {folder} has no commit yet: commit the training code and "
                         "register again")
    changed = git.run("status", "--porcelain", "--untracked-files=no").stdout.rstrip("\n")
    if changed and not allow_dirty:
        first = changed.splitlines()[0][3:]
        raise InputError(f"--from {folder} has uncommitted changes ({first}): commit them, or "
                         "pass --allow-dirty to record that the tree was dirty")
    return Training(_remote(git, top.stdout.strip()), head.stdout.strip(), bool(changed),
                    _lock_stages(os.path.join(folder, "dvc.lock")), folder)


def read_params(path: str) -> dict:
    """A params file (YAML or JSON, such as DVC's params.yaml) as dotted keys and values."""
    try:
        with open(path, "rb") as f:
            data = f.read(yamlio.MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read --params {path} ({exc.strerror}): give a YAML or JSON "
                         "file of parameters") from None
    values = yamlio.load(data, path)
    if not isinstance(values, dict) or not values:
        raise InputError(f"--params {path} must hold a mapping of parameters, e.g. "
                         "`train: {lr: 0.01}`")
    return flatten(values)


def data_hashes(recorded: dict | None) -> list[str]:
    """The md5 of every dependency a lineage records, the stage's and upstream's, once each."""
    recorded = recorded if isinstance(recorded, dict) else {}
    found: dict[str, None] = {}
    for stage in [recorded] + [u for u in recorded.get("upstream") or [] if isinstance(u, dict)]:
        for dep in stage.get("deps") or []:
            if isinstance(dep, dict) and isinstance(dep.get("md5"), str):
                found[dep["md5"]] = None
    return list(found)


def _as_locked(path: str, out: dict, stage: str) -> str:
    """`path`, refused when its bytes are not the run's: another run's metrics would be
    recorded as this one's."""
    from . import storage
    if storage.digest(path).md5 != out.get("md5"):
        raise InputError(f"{path} is not the output dvc.lock records for stage {stage!r}: run "
                         "`dvc checkout` (or `dvc repro` and commit) there, then register again")
    return path


def _remote(git: Git, top: str) -> str:
    """Where the training code can be found: origin's URL (else the first remote's) with
    credentials removed, or the clone's own folder when it has no remote."""
    remotes = git.run("remote").stdout.split()
    if not remotes:
        return top
    name = "origin" if "origin" in remotes else remotes[0]
    return public_url(git.run("remote", "get-url", name).stdout.strip())


def _lock_stages(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = yamlio.load(f.read(yamlio.MAX_BYTES + 1), path)
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, dict) or not all(isinstance(s, dict) for s in stages.values()):
        raise InputError(f"{path} has no `stages` mapping as DVC writes it: run `dvc repro` "
                         "there and commit dvc.lock")
    return stages


def _entries(stage: dict, key: str) -> list[dict]:
    return [e for e in stage.get(key) or [] if isinstance(e, dict) and "path" in e]


def _producer(stages: dict, md5: str | None) -> str | None:
    """The stage with an output of this md5."""
    if not md5:
        return None
    for name, stage in stages.items():
        if any(out.get("md5") == md5 for out in _entries(stage, "outs")):
            return name
    return None


def _out_path(stage: dict, md5: str) -> str | None:
    return next((o.get("path") for o in _entries(stage, "outs") if o.get("md5") == md5), None)


def _cmd(stage: dict) -> str | None:
    cmd = stage.get("cmd")
    return " && ".join(map(str, cmd)) if isinstance(cmd, list) else cmd


def _params(stage: dict) -> dict:
    """A stage's parameters as dotted keys: params.yaml's bare, another file's as FILE:key."""
    out = {}
    for file, values in (stage.get("params") or {}).items():
        for key, value in flatten(values).items():
            out[key if file == DEFAULT_PARAMS else f"{file}:{key}"] = value
    return out


def _imported(pointer: str, md5: str | None) -> dict | None:
    """The source of a `dvc import`: its `.dvc` file names the repository and the revision it
    was locked at, when its output is the dependency's md5."""
    if not md5 or not os.path.isfile(pointer):
        return None
    with open(pointer, "rb") as f:
        data = yamlio.load(f.read(yamlio.MAX_BYTES + 1), pointer)
    if not isinstance(data, dict):
        return None
    if not any(isinstance(o, dict) and o.get("md5") == md5 for o in data.get("outs") or []):
        return None
    for dep in data.get("deps") or []:
        repo = dep.get("repo") if isinstance(dep, dict) else None
        if isinstance(repo, dict) and repo.get("url"):
            return {"repo": public_url(repo["url"]), "rev_lock": repo.get("rev_lock")}
    return None
