"""Bad input changes nothing: every command, fed what it must refuse, exits 2 with one line.

DESIGN.md: "Exit status ... 2 bad input or nothing found. Errors are one line on stderr,
`error: ...`, naming what to do next; never a traceback", and every operation checks all of its
input before it changes anything. Each case below runs one command against a shared registry
(one model, pushed, with a stage) and compares a snapshot taken before and after it: every ref
of the clone and of origin, `git status`, the bytes of every file around the registry (the work
tree, the DVC remote directory, the folder `-o` writes to, the folder next to the clone), so a
refused command that wrote anything anywhere is caught.

A few versions are made by hand with git plumbing, never by the helper, to stand for a hostile
or damaged history: a dvc.yaml entry or a `.dvc` pointer whose path leaves the repository, a
directory manifest that lists `../`, and a card with a YAML tag that would run code. `get` must
never write outside `-o` whatever they say. Last, `register NAME .` runs in a registry of its
own, kept tiny, since a registry copied into itself is what it must refuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from support import baked_world, git, registry

pytestmark = pytest.mark.xdist_group("bad-input")

CHURN_SIZE = 2000


# ---------------------------------------------------------------- the shared registry


@dataclass
class World:
    root: Path
    repo: Path
    origin: Path
    remote: Path
    out: Path
    churn_md5: str
    paths: dict


def _git(cwd, *args: str, env: dict | None = None, data: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def commit_beside(repo: Path, files: dict[str, bytes], message: str) -> str:
    """A commit on top of HEAD with `files` replaced, made with plumbing: the work tree, the
    index and every branch stay as they are (only the returned commit object is new)."""
    index = repo / ".git" / "hostile-index"
    env = {"GIT_INDEX_FILE": str(index)}
    _git(repo, "read-tree", "HEAD", env=env)
    for path, data in files.items():
        blob = _git(repo, "hash-object", "-w", "--stdin", data=data)
        _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = _git(repo, "write-tree", env=env)
    index.unlink()
    return _git(repo, "commit-tree", tree, "-p", "HEAD", "-m", message)


def pointer(md5: str, size: int, path: str) -> bytes:
    return yaml.safe_dump({"outs": [{"md5": md5, "size": size, "hash": "md5",
                                     "path": path}]}, sort_keys=False).encode()


def hand_made_version(world_repo: Path, name: str, entry_path: str, dvc_file: bytes,
                      card: bytes | None = None) -> str:
    """Tag NAME@v1.0.0 on a hand-made commit whose dvc.yaml puts NAME at `entry_path`."""
    dvc_yaml = yaml.safe_load((world_repo / "dvc.yaml").read_text())
    dvc_yaml["artifacts"][name] = {"path": entry_path, "type": "model"}
    inside = entry_path.startswith(f"models/{name}/")
    files = {"dvc.yaml": yaml.safe_dump(dvc_yaml).encode(),
             f"{entry_path}.dvc" if inside else f"models/{name}/model.pkl.dvc": dvc_file}
    if card is not None:
        files[f"models/{name}/card.md"] = card
    commit = commit_beside(world_repo, files, f"Register {name} v1.0.0")
    git(world_repo, "tag", "-a", "-m", f"Register {name} v1.0.0", f"{name}@v1.0.0", commit)
    return commit


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root, repo, origin = baked_world(tmp_path_factory.mktemp("bad-input"))

    inputs = root / "inputs"
    inputs.mkdir()
    churn = inputs / "churn.pkl"
    churn.write_bytes(os.urandom(CHURN_SIZE))
    churn_md5 = hashlib.md5(churn.read_bytes()).hexdigest()
    registry(repo, "register", "churn", str(churn), "--version", "v1.0.0", "--push")
    registry(repo, "promote", "churn", "v1.0.0", "dev", "--push")

    # Inputs the register cases refuse.
    (inputs / "link.pkl").symlink_to(churn)
    folder = inputs / "folder"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"weights")
    secret = inputs / "secret.txt"
    secret.write_text("not part of any artifact\n")
    (folder / "config.json").symlink_to(secret)
    (inputs / "card.md").write_text("---\nlicense: mit\n---\n")
    (inputs / "metrics.json").write_text('{"auc": "high"}')

    # Hand-made history: versions whose data tries to leave the repository or the output.
    hand_made_version(repo, "escape", "../../outside/model.pkl",
                      pointer(churn_md5, CHURN_SIZE, "model.pkl"))
    hand_made_version(repo, "sneaky", "models/sneaky/model.pkl",
                      pointer(churn_md5, CHURN_SIZE, "../../../../outside/model.pkl"))
    manifest = json.dumps([{"md5": churn_md5, "relpath": "../../outside/model.pkl"}]).encode()
    manifest_md5 = hashlib.md5(manifest).hexdigest()
    remote = root / "dvc-storage"
    stored = remote / "files" / "md5" / manifest_md5[:2] / (manifest_md5[2:] + ".dir")
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(manifest)
    hand_made_version(repo, "traversal", "models/traversal/model",
                      pointer(manifest_md5 + ".dir", CHURN_SIZE, "model"))
    evil_card = (b"---\nlicense: !!python/object/apply:os.system "
                 b"[\"touch " + str(root / "pwned").encode() + b"\"]\n---\n# evil\n")
    hand_made_version(repo, "evilcard", "models/evilcard/model.pkl",
                      pointer(churn_md5, CHURN_SIZE, "model.pkl"), card=evil_card)

    out = root / "out"
    out.mkdir()
    paths = {"file": str(churn), "link": str(inputs / "link.pkl"),
             "folder_with_link": str(folder), "missing": str(inputs / "no-such.pkl"),
             "inside": str(repo / "README.md"), "named_card": str(inputs / "card.md"),
             "metrics": str(inputs / "metrics.json"), "out": str(out),
             "long": "m" * 300, "churn_md5": churn_md5}
    return World(root, repo, origin, remote, out, churn_md5, paths)


# ---------------------------------------------------------------- snapshot and restore

_SKIP = {".git", "origin.git"}


def _files(top: Path, repo: Path) -> dict[str, str]:
    """sha256 (or link target) of every file under `top`; DVC's cache and tmp are DVC's own
    bookkeeping, not the registry's state, and are left out."""
    found = {}
    for folder, dirs, files in os.walk(top):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and
                         not (here == repo / ".dvc" and d in ("cache", "tmp")))
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            rel = str(path.relative_to(top))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def snapshot(world: World) -> dict:
    return {
        "refs": git(world.repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "origin": git(world.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
        "status": git(world.repo, "status", "--porcelain", "--ignored",
                      "--untracked-files=all"),
        "files": _files(world.root, world.repo),
        # the copies register makes as it hashes: in .dvc/tmp, but the registry's to remove
        "staged": sorted(p.name for p in world.repo.glob(".dvc/tmp/registry-*")),
    }


def restore(world: World, before: dict) -> None:
    """Put the shared registry back after a case that changed it (a bug), so the next case
    starts from the same state."""
    refs = dict(line.split() for line in before["refs"].splitlines())
    head = refs["refs/heads/main"]
    git(world.repo, "reset", "--quiet", "--hard", head)
    git(world.repo, "clean", "--quiet", "-fd")
    for line in git(world.repo, "for-each-ref", "--format=%(refname)", "refs/tags").split():
        if line not in refs:
            git(world.repo, "tag", "-d", line[len("refs/tags/"):])
    shutil.rmtree(world.out)
    world.out.mkdir()


# ---------------------------------------------------------------- the cases


def hostile_card(text: bytes) -> Callable[[World], None]:
    def setup(world: World) -> None:
        card = world.repo / "models" / "hostile" / "card.md"
        card.parent.mkdir(parents=True, exist_ok=True)
        card.write_bytes(text)
    return setup


def existing_output(world: World) -> None:
    (world.out / "model.pkl").write_bytes(b"keep me")


def existing_folder(world: World) -> None:
    (world.out / "work").mkdir()
    (world.out / "work" / "notes.txt").write_text("a day of work\n")


@dataclass
class Case:
    id: str
    args: tuple[str, ...]
    setup: Callable[[World], None] | None = None


def case(id: str, *args: str, setup=None) -> Case:
    return Case(id, args, setup)


CASES = [
    # register: names
    case("register-name-dotdot", "register", "..", "{file}"),
    case("register-name-path-escape", "register", "../evil", "{file}"),
    case("register-name-at", "register", "churn@v2", "{file}"),
    case("register-name-hash", "register", "churn#prod", "{file}"),
    case("register-name-colon", "register", "c:d", "{file}"),
    case("register-name-space", "register", "my model", "{file}"),
    case("register-name-unicode", "register", "modèle", "{file}"),
    case("register-name-leading-dash", "register", "--", "-churn", "{file}"),
    case("register-name-leading-dash-unquoted", "register", "-churn", "{file}"),
    case("register-name-300-chars", "register", "{long}", "{file}"),
    case("register-name-double-slash", "register", "team//churn", "{file}"),
    # register: versions
    case("register-version-1.0", "register", "churn", "{file}", "--version", "1.0"),
    case("register-version-v01.0.0", "register", "churn", "{file}", "--version", "v01.0.0"),
    case("register-version-V1.0.0", "register", "churn", "{file}", "--version", "V1.0.0"),
    case("register-version-taken", "register", "churn", "{file}", "--version", "v1.0.0"),
    case("register-bump-bad", "register", "churn", "{file}", "--bump", "huge"),
    # register: artifacts
    case("register-artifact-missing", "register", "churn", "{missing}"),
    case("register-artifact-symlink", "register", "churn", "{link}"),
    case("register-artifact-folder-with-symlink", "register", "bundle", "{folder_with_link}"),
    case("register-artifact-inside-repo", "register", "churn", "{inside}"),
    case("register-artifact-named-card", "register", "churn", "{named_card}"),
    case("register-metrics-not-numbers", "register", "churn", "{file}", "--metrics",
         "{metrics}"),
    # register: hostile card YAML in the work tree
    case("card-python-tag", "register", "hostile", "{file}", setup=hostile_card(
        b"---\nlicense: !!python/object/apply:os.system [\"touch pwned\"]\n---\n")),
    case("card-billion-laughs", "register", "hostile", "{file}", setup=hostile_card(
        b"---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n---\n")),
    case("card-front-matter-list", "register", "hostile", "{file}",
         setup=hostile_card(b"---\n- a\n- b\n---\n")),
    case("card-not-utf8", "register", "hostile", "{file}",
         setup=hostile_card(b"---\nlicense: \xff\xfe\n---\n")),
    case("card-too-big", "register", "hostile", "{file}",
         setup=hostile_card(b"---\nx: " + b"a" * (1 << 20) + b"\n---\n")),
    case("card-broken-yaml", "register", "hostile", "{file}",
         setup=hostile_card(b"---\nlicense: [unclosed\n---\n")),
    # promote
    case("promote-stage-not-in-registry-yaml", "promote", "churn", "v1.0.0", "qa"),
    case("promote-stage-path", "promote", "churn", "v1.0.0", "../prod"),
    case("promote-version-1.0", "promote", "churn", "1.0", "staging"),
    case("promote-missing-version", "promote", "churn", "v9.9.9", "staging"),
    case("promote-missing-model", "promote", "nosuch", "v1.0.0", "staging"),
    # demote
    case("demote-stage-not-in-registry-yaml", "demote", "churn", "qa"),
    case("demote-empty-stage", "demote", "churn", "prod"),
    case("demote-missing-model", "demote", "nosuch", "dev"),
    # deregister
    case("deregister-version-V1.0.0", "deregister", "churn", "V1.0.0"),
    case("deregister-missing-version", "deregister", "churn", "v9.9.9"),
    case("deregister-missing-model", "deregister", "nosuch", "v1.0.0"),
    # deprecate
    case("deprecate-missing-model", "deprecate", "nosuch"),
    case("deprecate-name-space", "deprecate", "bad name"),
    # resolve
    case("resolve-missing-model", "resolve", "nosuch"),
    case("resolve-missing-version", "resolve", "churn@v9.9.9"),
    case("resolve-empty-stage", "resolve", "churn#prod"),
    case("resolve-stage-not-in-registry-yaml", "resolve", "churn#qa"),
    case("resolve-version-1.0", "resolve", "churn@1.0"),
    # get
    case("get-missing-model", "get", "nosuch", "-o", "{out}/model.pkl"),
    case("get-missing-version", "get", "churn@v9.9.9", "-o", "{out}/model.pkl"),
    case("get-output-folder-missing", "get", "churn", "-o", "{out}/no/such/model.pkl"),
    case("get-output-exists", "get", "churn", "-o", "{out}/model.pkl", setup=existing_output),
    case("get-force-onto-a-folder", "get", "churn", "-o", "{out}/work", "--force",
         setup=existing_folder),
    case("get-dvc-yaml-path-escapes", "get", "escape", "-o", "{out}/model.pkl"),
    case("get-dvc-file-path-escapes", "get", "sneaky", "-o", "{out}/model.pkl"),
    # show
    case("show-version-V1.0.0", "show", "churn@V1.0.0"),
    case("show-missing-model", "show", "nosuch"),
    # history
    case("history-name-dotdot", "history", "../churn"),
    case("history-missing-model", "history", "nosuch"),
    # check-ref
    case("check-ref-not-a-tag", "check-ref", "churn"),
    case("check-ref-missing-version", "check-ref", "churn@v9.9.9"),
    case("check-ref-missing-model", "check-ref", "nosuch#prod#1"),
    # which
    case("which-not-a-hash", "which", "zzzz"),
    case("which-unknown-md5", "which", "0" * 32),
    case("which-missing-file", "which", "{missing}"),
    # diff
    case("diff-one-ref", "diff", "churn@v1.0.0"),
    case("diff-missing-model", "diff", "churn@v1.0.0", "nosuch@v1.0.0"),
    case("diff-base-unknown", "diff", "--base", "no-such-rev"),
    # doc
    case("doc-missing-model", "doc", "nosuch"),
    case("doc-version-v01.0.0", "doc", "churn@v01.0.0"),
    case("doc-output-folder-missing", "doc", "churn", "-o", "{out}/no/such/doc.md"),
    case("doc-hostile-card", "doc", "evilcard"),
    # verify
    case("verify-missing-model", "verify", "nosuch"),
    case("verify-missing-version", "verify", "churn@v9.9.9"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(world, case):
    args = [a.format(**world.paths) for a in case.args]
    if case.setup:
        case.setup(world)
    before = snapshot(world)
    try:
        proc = registry(world.repo, *args, check=False)
        after = snapshot(world)
    finally:
        restore(world, before)
    shown = f"registry {' '.join(args)[:200]}: exit {proc.returncode}\n{proc.stderr[:2000]}"
    assert proc.returncode == 2, shown
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), shown
    assert all(line.startswith("  ") for line in lines[1:]), shown
    assert "Traceback" not in proc.stderr, shown
    assert after == before, shown
    assert not (world.root / "pwned").exists()


def test_the_table_covers_every_command_and_enough_cases():
    commands = {c.args[0] for c in CASES}
    assert commands >= {"register", "promote", "demote", "deregister", "deprecate", "resolve",
                        "get", "show", "history", "check-ref", "which", "diff", "doc", "verify"}
    assert len(CASES) >= 30


# ---------------------------------------------------------------- get never writes outside -o


@pytest.mark.parametrize("ref, refusal", [
    ("escape", "outside the repository: refusing it"),
    ("sneaky", None),  # refused or written to -o only (see get-dvc-file-path-escapes)
    ("traversal", "lists '../../outside/model.pkl', a path outside the artifact"),
])
def test_get_never_writes_outside_the_output(world, ref, refusal):
    """Whatever a version's dvc.yaml entry, `.dvc` pointer or directory manifest says, `get`
    writes the output it was given and nothing else, or refuses and writes nothing."""
    before = snapshot(world)
    try:
        proc = registry(world.repo, "get", ref, "-o", str(world.out / "got"), check=False)
        after = snapshot(world)
        got = world.out / "got"
        written = hashlib.md5(got.read_bytes()).hexdigest() if got.is_file() else got.exists()
    finally:
        restore(world, before)
    assert not (world.root / "outside").exists()
    assert not (world.root.parent / "outside").exists()
    changed = {k for k in set(before["files"]) | set(after["files"])
               if before["files"].get(k) != after["files"].get(k)}
    if refusal or proc.returncode:
        assert proc.returncode in (1, 2) and proc.stderr.startswith("error: "), proc.stderr
        assert refusal is None or refusal in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and changed == set(), changed
    else:
        assert changed == {"out/got"} and written == world.churn_md5


def test_register_refuses_an_artifact_that_holds_the_registry(world, tmp_path):
    """Run in a registry with an almost empty .git, so the bug, if present, stays small."""
    small = tmp_path / "small"
    small.mkdir()
    git(small, "init", "--quiet", "--template=", "-b", "main")
    shutil.copy(world.repo / "registry.yaml", small / "registry.yaml")
    git(small, "add", "registry.yaml")
    git(small, "commit", "--quiet", "-m", "registry")
    proc = subprocess.run([sys.executable, "-m", "model_registry", "register", "whole", "."],
                          cwd=small, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(world.repo / "src")})
    leftovers = sorted(str(p.relative_to(small)) for p in small.iterdir() if p.name != ".git")
    assert proc.returncode == 2, proc.stderr[-300:]
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert leftovers == ["registry.yaml"]
