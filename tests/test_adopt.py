"""Adopting an existing GTO + DVC repository: the template baked into it in place.

The repository is built the way a gto user builds one: `dvc add` for one model and a plain git
commit for another, `dvc.yaml`'s `artifacts:`, a `.gto` with its stages, versions and stages
from `gto register` and `gto assign`, pushed to a bare origin and a local DVC remote. Then the
documented command bakes the template into it:

    cookiecutter --overwrite-if-exists --skip-if-file-exists TEMPLATE -o PARENT project_slug=NAME

and the tests hold it to its promises: nothing of the repository changes (files, index, HEAD,
tags), the helper answers as gto does over the whole earlier history, a version registered
and promoted after adoption is read by gto, and a second bake changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import TEMPLATE, git, registry

BIN = Path(sys.executable).parent
SLUG = "acme-models"
BASE_TIME = 1_700_000_000
GTO_FILE = "stages: [dev, shadow, prod]\n"
DVC_YAML = """\
# Models of the Acme team, for gto and `dvc artifacts get`.
artifacts:
  churn:
    path: models/churn.pkl
    type: model
    desc: churn prediction
  iris:
    path: models/iris.pkl
    type: model
"""
# A file the template also ships (copied without rendering, which --skip-if-file-exists does
# not spare): the repository's own must survive.
OWN_CONFTEST = "# the training code's own fixtures\n"
EXPECTED_STAGES = ["dev", "shadow", "prod", "staging"]  # .gto's, then the answers' new ones


def tool(name: str, *args: str, cwd) -> str:
    """Run gto or dvc from this venv. A failure is a broken fixture, so it raises."""
    proc = subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def gto(repo: Path, *args: str, when: int) -> None:
    """Run a gto command that makes a tag, then date that tag `when` seconds after BASE_TIME.

    gto stamps its tags with the clock (its git backend ignores GIT_COMMITTER_DATE), and
    events in one second are ordered by tie-breaks; the tag is made again, the same but for
    its date, so the history has one order.
    """
    before = set(git(repo, "tag").splitlines())
    tool("gto", *args, cwd=repo)
    [tag] = set(git(repo, "tag").splitlines()) - before
    target = git(repo, "rev-parse", f"{tag}^{{commit}}")
    message = git(repo, "tag", "--list", "--format=%(contents)", tag)
    git(repo, "tag", "--force", "--annotate", "--message", message, tag, target,
        env={"GIT_COMMITTER_DATE": f"{BASE_TIME + when} +0000"})


def commit(repo: Path, message: str, when: int) -> None:
    stamp = f"{BASE_TIME + when} +0000"
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message,
        env={"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp})


def bake_into(repo: Path, *answers: str, skip: bool = True) -> subprocess.CompletedProcess:
    """The documented adoption command (`skip`: with --skip-if-file-exists), with a HOME of its
    own so no user config applies."""
    home = repo.parent / "cookiecutter-home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--overwrite-if-exists",
         *(["--skip-if-file-exists"] if skip else []), str(TEMPLATE), "-o", str(repo.parent),
         f"project_slug={repo.name}", *answers],
        capture_output=True, text=True, env={**os.environ, "HOME": str(home)})


def small_repo(folder: Path, contents: dict[str, str], tags: tuple[str, ...] = ()) -> Path:
    """A git repository with `contents` in one commit and annotated `tags` on it, one second
    apart, in that order."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet", "-b", "main")
    for name, text in contents.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    commit(folder, "Start", 0)
    for i, tag in enumerate(tags, 1):
        git(folder, "tag", "--annotate", "--message", tag, tag,
            env={"GIT_COMMITTER_DATE": f"{BASE_TIME + i} +0000"})
    return folder


def files(repo: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git/ with its bytes and mode."""
    found = {}
    for path in repo.rglob("*"):
        relative = path.relative_to(repo)
        if path.is_file() and relative.parts[0] != ".git":
            found[relative.as_posix()] = (path.read_bytes(), path.stat().st_mode)
    return found


def git_state(repo: Path) -> dict[str, str]:
    """What git holds: HEAD, every ref and the object it names, the index, the tree's status."""
    return {"head": git(repo, "rev-parse", "HEAD"),
            "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            "index": git(repo, "ls-files", "--stage"),
            "status": git(repo, "status", "--porcelain", "--untracked-files=all")}


def gto_json(repo: Path, *args: str):
    return json.loads(tool("gto", *args, "--json", cwd=repo))


def helper_json(repo: Path, *args: str):
    return json.loads(registry(repo, *args, "--json").stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The repository before and after adoption, and the bytes of each version."""
    root = tmp_path_factory.mktemp("adopt")
    repo, store, origin = root / SLUG, root / "dvc-store", root / "origin.git"
    git(root, "init", "--quiet", "-b", "main", str(repo))
    tool("dvc", "init", "--quiet", cwd=repo)
    tool("dvc", "remote", "add", "--default", "store", str(store), cwd=repo)
    (repo / ".gto").write_text(GTO_FILE)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "README.md").write_text("# Acme models\n\nTrained in this repository.\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "conftest.py").write_text(OWN_CONFTEST)
    models = repo / "models"
    models.mkdir()
    versions = {("churn", "v0.1.0"): os.urandom(3000), ("churn", "v0.2.0"): os.urandom(3500),
                ("iris", "v1.0.0"): os.urandom(1200)}
    (models / "churn.pkl").write_bytes(versions["churn", "v0.1.0"])
    tool("dvc", "add", "--quiet", "models/churn.pkl", cwd=repo)
    (models / "iris.pkl").write_bytes(versions["iris", "v1.0.0"])  # committed to git itself
    commit(repo, "Train churn and iris", 0)
    gto(repo, "register", "churn", "--version", "v0.1.0", when=10)
    gto(repo, "register", "iris", "--version", "v1.0.0", when=20)
    gto(repo, "assign", "churn", "--version", "v0.1.0", "--stage", "dev", when=30)
    (models / "churn.pkl").write_bytes(versions["churn", "v0.2.0"])
    tool("dvc", "add", "--quiet", "models/churn.pkl", cwd=repo)
    commit(repo, "Retrain churn", 40)
    gto(repo, "register", "churn", "--version", "v0.2.0", when=50)
    gto(repo, "assign", "churn", "--version", "v0.2.0", "--stage", "dev", when=60)
    gto(repo, "assign", "churn", "--version", "v0.1.0", "--stage", "prod", when=70)
    gto(repo, "assign", "iris", "--version", "v1.0.0", "--stage", "shadow", when=80)
    tool("dvc", "push", "--quiet", cwd=repo)
    git(root, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main", "--tags")

    before = files(repo), git_state(repo)
    baked = bake_into(repo, f"local_remote_path={root / 'unused-storage'}")
    return {"root": root, "repo": repo, "origin": origin, "versions": versions,
            "before": before, "baked": baked, "after": (files(repo), git_state(repo))}


# ------------------------------------------------------------------ the bake itself


def test_nothing_of_the_repository_changes(world):
    """Every file the repository had keeps its bytes and mode; HEAD, refs and index are
    untouched: the bake only adds files, and commits nothing."""
    assert world["baked"].returncode == 0, world["baked"].stderr
    (files_before, git_before), (files_after, git_after) = world["before"], world["after"]

    assert {path: files_after.get(path) for path in files_before} == files_before
    assert (world["repo"] / "tests" / "conftest.py").read_text() == OWN_CONFTEST
    assert {k: git_after[k] for k in ("head", "refs", "index")} == {
        k: git_before[k] for k in ("head", "refs", "index")}
    new = set(files_after) - set(files_before)
    assert {"registry.yaml", "src/model_registry/cli.py", "tests/test_tags.py"} <= new
    assert not any(path.startswith(".registry-adopt") or "__pycache__" in path for path in new)
    assert set(git_after["status"].splitlines()) == {f"?? {path}" for path in new}


def test_registry_yaml_takes_gto_stages_first(world):
    """registry.yaml lists .gto's stages in .gto's order, then the answered ones it lacks, and
    DVC's default remote (the repository's own .dvc/config was kept)."""
    config = yaml.safe_load((world["repo"] / "registry.yaml").read_text())

    assert config["stages"] == EXPECTED_STAGES
    assert config["remote"] is None
    assert "registry.yaml adds stages that .gto does not list (staging)" in world["baked"].stdout


def test_dvc_yaml_artifacts_are_kept(world):
    assert (world["repo"] / "dvc.yaml").read_text() == DVC_YAML
    assert set(yaml.safe_load(DVC_YAML)["artifacts"]) == {"churn", "iris"}


# ------------------------------------------------------------------ the earlier history


def test_list_matches_gto_show(world):
    repo = world["repo"]
    ours = {m["name"]: m for m in helper_json(repo, "list")}
    theirs = gto_json(repo, "show")

    assert set(ours) == set(theirs) == {"churn", "iris"}
    for name, model in theirs.items():
        assert ours[name]["latest"] == model["version"]
        assert ours[name]["stages"] == {s: v for s, v in model["stage"].items() if v}


def test_history_matches_gto_history(world):
    repo = world["repo"]
    ours = [(e["tag"], e["version"], e["stage"], e["commit"])
            for e in helper_json(repo, "history")]
    theirs = [(e["ref"], e["version"], e["stage"], e["commit"])
              for e in gto_json(repo, "history")]

    assert ours == theirs
    assert len(ours) == 7


@pytest.mark.parametrize("ref", ["churn@latest", "churn@v0.1.0", "churn#dev", "churn#prod",
                                 "iris@latest", "iris#shadow"])
def test_resolve_matches_gto(world, ref):
    repo = world["repo"]
    [theirs] = gto_json(repo, "show", ref)
    ours = helper_json(repo, "resolve", ref)

    assert (ours["version"], ours["commit"]) == (theirs["version"], theirs["commit_hexsha"])


@pytest.mark.parametrize("ref, version", [
    pytest.param("churn@v0.1.0", ("churn", "v0.1.0"), id="dvc-tracked-older"),
    pytest.param("churn#prod", ("churn", "v0.1.0"), id="dvc-tracked-stage"),
    pytest.param("iris#shadow", ("iris", "v1.0.0"), id="committed-to-git"),
])
def test_get_returns_each_earlier_version(world, tmp_path, ref, version):
    out = tmp_path / "got.pkl"
    registry(world["repo"], "get", ref, "-o", str(out))

    assert out.read_bytes() == world["versions"][version]


# ------------------------------------------------------------------ after adoption


@pytest.fixture(scope="module")
def committed(world):
    """The adoption committed with the commands the bake printed, as its user would."""
    repo = world["repo"]
    commands = [line.strip() for line in world["baked"].stdout.splitlines()
                if line.strip().startswith("git ")]
    assert len(commands) == 2
    for command in commands:
        subprocess.run(command, shell=True, cwd=repo, check=True, capture_output=True)
    return repo


def test_printed_commands_commit_exactly_what_was_added(world, committed):
    files_before, git_before = world["before"]
    added = set(world["after"][0]) - set(files_before)

    assert git(committed, "rev-parse", "HEAD~1") == git_before["head"]
    assert set(git(committed, "show", "--name-only", "--format=", "HEAD").splitlines()) == added
    assert git(committed, "status", "--porcelain") == ""


def test_register_and_promote_after_adoption_are_read_by_gto(world, committed, tmp_path):
    """A new version registered and promoted with the helper, pushed to origin: gto, in a fresh
    clone, sees it latest and in prod, and `dvc artifacts get` returns its bytes."""
    model = tmp_path / "churn-v0.3.0.pkl"
    model.write_bytes(os.urandom(4000))
    registry(committed, "register", "churn", str(model), "--version", "v0.3.0", "--push")
    # churn's artifact moves from models/churn.pkl to models/churn/: all of it is committed
    assert git(committed, "status", "--porcelain", "--untracked-files=no") == ""
    registry(committed, "promote", "churn", "v0.3.0", "prod", "--push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(world["origin"]), str(clone))

    churn = gto_json(clone, "show")["churn"]
    assert (churn["version"], churn["stage"]["prod"]) == ("v0.3.0", "v0.3.0")
    out = tmp_path / "dvc-got.pkl"
    tool("dvc", "artifacts", "get", str(world["origin"]), "churn", "--stage", "prod",
         "-o", str(out), cwd=tmp_path)
    assert out.read_bytes() == model.read_bytes()


def test_baking_again_changes_nothing(world, committed):
    repo = world["repo"]
    before = files(repo), git_state(repo)

    again = bake_into(repo, f"local_remote_path={world['root'] / 'unused-storage'}")

    assert again.returncode == 0, again.stderr
    assert (files(repo), git_state(repo)) == before
    assert "nothing was changed" in again.stdout


# ------------------------------------------------------------------ other repositories


def test_stages_from_the_tags_where_there_is_no_gto_file(tmp_path):
    """Without .gto, registry.yaml and the new .gto list the stages the tags use, in the order
    first used, then the answered ones."""
    repo = small_repo(tmp_path / "tagged", {"README.md": "# tagged\n"},
                      ("churn@v1.0.0", "churn#qa#1", "churn#prod#2", "churn#qa!#3"))

    assert bake_into(repo).returncode == 0
    for name in ("registry.yaml", ".gto"):
        assert yaml.safe_load((repo / name).read_text())["stages"] == [
            "qa", "prod", "dev", "staging"]
    assert yaml.safe_load((repo / "registry.yaml").read_text())["remote"] == "storage"


def test_without_skip_if_file_exists_nothing_is_overwritten_or_pruned(tmp_path):
    """Even without --skip-if-file-exists, and with ci=none pruning the template's CI files,
    the repository's own README, CI files and workflows keep their bytes."""
    own = {"README.md": "# own\n", ".gitlab-ci.yml": "test: {script: [make]}\n",
           ".github/workflows/release.yml": "on: push\n",
           ".github/workflows/train.yml": "on: schedule\n", "tests/support.py": "X = 1\n"}
    repo = small_repo(tmp_path / "own", own)
    before = files(repo)

    baked = bake_into(repo, "ci=none", skip=False)

    assert baked.returncode == 0, baked.stderr
    after = files(repo)
    assert {path: after[path] for path in before} == before
    assert {path for path in after if path.startswith(".github/")} == {
        ".github/workflows/release.yml", ".github/workflows/train.yml"}
    assert "zizmor.yml" not in after


def test_a_folder_without_git_is_refused(tmp_path):
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"weights")

    baked = bake_into(folder)

    assert baked.returncode != 0
    assert [line for line in baked.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {folder} already holds files but is not a git repository: run `git init` "
        "there first, or bake into a new folder"]
    assert files(folder) == {"model.pkl": (b"weights", (folder / "model.pkl").stat().st_mode)}


def test_an_interrupted_bake_is_not_baked_over(tmp_path):
    """What an interrupted bake saved is never overwritten by the next: it says where it is."""
    repo = small_repo(tmp_path / "stopped", {"README.md": "# stopped\n"})
    (repo / ".registry-adopt" / "files").mkdir(parents=True)
    before = files(repo)

    baked = bake_into(repo)

    assert baked.returncode != 0
    [line] = [line for line in baked.stderr.splitlines() if line.startswith("error:")]
    assert "stopped before it finished" in line and ".registry-adopt" in line
    assert files(repo) == before


def test_an_unreadable_gto_stops_the_bake_and_changes_nothing(tmp_path):
    repo = small_repo(tmp_path / "bad", {".gto": "stages: [dev, 'pro d']\n"})
    before = files(repo), git_state(repo)

    baked = bake_into(repo)

    assert baked.returncode != 0
    [line] = [line for line in baked.stderr.splitlines() if line.startswith("error:")]
    assert ".gto" in line and "pro d" in line
    assert (files(repo), git_state(repo)) == before
