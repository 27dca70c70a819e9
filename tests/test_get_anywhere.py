"""`registry get` fetches an artifact wherever dvc.yaml's `artifacts:` entry points, with the
bytes `dvc artifacts get` gives; where it cannot, one line that says why.

The repository is a gto user's, with no registry.yaml: git and DVC with a local remote folder,
`dvc.yaml` entries for a file `dvc add` tracks, a stage output in dvc.lock, files and a folder
committed to git (the folder holding a DVC-tracked file too), a file and a folder inside a
folder DVC tracks, artifacts in a subfolder's dvc.yaml (`sub:model`), a `dvc import-url
--no-download`, and paths outside the repository (an absolute path, a `remote://` alias, an S3
URL). Versions come from `gto register` and `gto assign`. Each is fetched from a clone, from
the origin's URL (`--repo`, a partial fetch) and through the Python API, and compared with
what the real `dvc artifacts get` writes, or, for the URLs it cannot read, `dvc get-url`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from support import bake_template, dvc, git, helper_env, registry

BIN = Path(sys.executable).parent
BASE_TIME = 1_700_000_000
MAKE = ("import os\nos.makedirs('build', exist_ok=True)\n"
        "open('build/staged.bin', 'wb').write(bytes(range(256)) * 40)\n")


class World(NamedTuple):
    helper: Path  # a baked registry: only its helper is used
    origin: Path
    clone: Path
    expected: dict  # ref -> the bytes (a file) or {relpath: bytes} (a folder)


def run(name: str, *args: str, cwd, env: dict | None = None,
        when: int | None = None) -> subprocess.CompletedProcess:
    """gto or dvc from this venv, its exit status kept; `when` (seconds after BASE_TIME) dates
    what it commits and tags."""
    extra = dict(env or {})
    if when is not None:
        extra["GIT_COMMITTER_DATE"] = extra["GIT_AUTHOR_DATE"] = f"{BASE_TIME + when} +0000"
    return subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **extra})


def tool(name: str, *args: str, cwd, when: int | None = None) -> str:
    proc = run(name, *args, cwd=cwd, when=when)
    assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def commit(repo: Path, message: str, when: int) -> None:
    stamp = f"{BASE_TIME + when} +0000"
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message,
        env={"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp})


def write(path: Path, data: bytes) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def contents(path: Path):
    """A file's bytes, or a folder's files as {relpath: bytes}; None when nothing is there."""
    if path.is_file():
        return path.read_bytes()
    if not path.is_dir():
        return None
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("anywhere")
    helper = bake_template(root / "helper")
    repo, store, outside = root / "repo", root / "dvc-storage", root / "outside"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    dvc(repo, "init", "--quiet")
    dvc(repo, "remote", "add", "-d", "storage", str(store))
    expected = {}

    # Tracked by DVC: `dvc add`, a stage's output, a folder and a file and folder inside it.
    expected["tracked"] = write(repo / "models" / "tracked.pkl", os.urandom(4000))
    dvc(repo, "add", "--quiet", "models/tracked.pkl")
    (repo / "make.py").write_text(MAKE)
    dvc(repo, "stage", "add", "--quiet", "-n", "make", "-d", "make.py", "-o", "build/staged.bin",
        f"{Path(sys.executable).name} make.py")
    dvc(repo, "repro", "--quiet")
    expected["staged"] = bytes(range(256)) * 40
    folder = {"a/w.bin": os.urandom(1500), "a/deeper/x.txt": b"x\n", "b.txt": b"b\n"}
    for rel, data in folder.items():
        write(repo / "data" / "set" / rel, data)
    dvc(repo, "add", "--quiet", "data/set")
    expected["infolder"] = folder["a/w.bin"]
    expected["insub"] = {"w.bin": folder["a/w.bin"], "deeper/x.txt": b"x\n"}

    # Committed to git: a file (two versions, later), a folder holding a DVC-tracked file.
    first_ingit = write(repo / "weights" / "ingit.bin", os.urandom(3000))
    bundle = {"config.json": b'{"layers": 3}\n', "nested/labels.txt": b"cat\ndog\n"}
    for rel, data in bundle.items():
        write(repo / "bundle" / rel, data)
    weights = write(repo / "bundle" / "weights.bin", os.urandom(2500))
    dvc(repo, "add", "--quiet", "bundle/weights.bin")
    # DVC's filesystem lists the folder as git holds it, the tracked file in place of its
    # .dvc file; the .gitignore `dvc add` wrote stays.
    expected["bundle"] = {**bundle, "weights.bin": weights,
                          ".gitignore": (repo / "bundle" / ".gitignore").read_bytes()}

    # A subfolder with a dvc.yaml of its own: gto names its artifacts `sub:NAME`.
    expected["sub:model"] = write(repo / "sub" / "model.pkl", os.urandom(1200))
    dvc(repo, "add", "--quiet", "sub/model.pkl")
    expected["sub:notes"] = write(repo / "sub" / "notes.md", b"# trained on set v2\n")
    (repo / "sub" / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": {
        "model": {"path": "model.pkl", "type": "model"}, "notes": {"path": "notes.md"}}}))

    # Outside the repository: an import DVC reads from its source, an absolute path, a path
    # in the DVC remote's folder named through its alias.
    expected["imported"] = write(outside / "source.bin", os.urandom(900))
    dvc(repo, "import-url", "--quiet", "--no-download", str(outside / "source.bin"),
        "imported.bin")
    expected["localurl"] = write(outside / "abs.bin", os.urandom(700))
    expected["alias"] = write(store / "shared" / "alias.bin", os.urandom(600))

    # What cannot be fetched: a file no one pushed, a path out of the repository, a path
    # nothing holds, a URL with nothing there, a folder a .dvcignore filters, a DVC 2 pointer.
    write(repo / "models" / "unpushed.bin", os.urandom(800))
    dvc(repo, "add", "--quiet", "models/unpushed.bin")
    legacy = os.urandom(500)  # as DVC 2 wrote pointers: no `hash: md5`, another layout
    legacy_md5 = hashlib.md5(legacy).hexdigest()
    (repo / "models" / "legacy.bin.dvc").write_text(yaml.safe_dump({"outs": [{
        "md5": legacy_md5, "size": len(legacy), "path": "legacy.bin"}]}))
    write(repo / "private" / "kept.txt", b"kept\n")
    write(repo / "private" / "scratch.tmp", b"scratch\n")
    (repo / "private" / ".dvcignore").write_text("*.tmp\n")

    artifacts = {
        "tracked": "models/tracked.pkl", "staged": "build/staged.bin",
        "infolder": "data/set/a/w.bin", "insub": "data/set/a", "ingit": "weights/ingit.bin",
        "bundle": "bundle", "imported": "imported.bin", "localurl": str(outside / "abs.bin"),
        "alias": "remote://storage/shared/alias.bin", "unpushed": "models/unpushed.bin",
        "escape": "../outside/abs.bin", "nothing": "missing/none.bin",
        "goneurl": str(outside / "gone.bin"), "hidden": "private",
        "legacy": "models/legacy.bin"}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(
        {**yaml.safe_load((repo / "dvc.yaml").read_text()),
         "artifacts": {name: {"path": path, "type": "model"} for name, path in
                       artifacts.items()}}, sort_keys=False))
    commit(repo, "models", 1)
    for n, name in enumerate([*artifacts, "sub:model", "sub:notes", "noentry"]):
        tool("gto", "register", name, cwd=repo, when=10 + n)
    expected["ingit@v0.0.1"] = expected["ingit#prod"] = first_ingit
    tool("gto", "assign", "ingit", "--version", "v0.0.1", "--stage", "prod", cwd=repo, when=50)
    expected["ingit"] = write(repo / "weights" / "ingit.bin", os.urandom(3100))
    commit(repo, "ingit retrained", 60)
    tool("gto", "register", "ingit", cwd=repo, when=61)

    dvc(repo, "push", "--quiet")
    unpushed = yaml.safe_load((repo / "models" / "unpushed.bin.dvc").read_text())["outs"][0]
    (store / "files" / "md5" / unpushed["md5"][:2] / unpushed["md5"][2:]).unlink()
    write(store / legacy_md5[:2] / legacy_md5[2:], legacy)  # where DVC 2 pushed it
    origin = root / "origin.git"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(origin, "config", "uploadpack.allowFilter", "true")
    git(repo, "push", "--quiet", str(origin), "main", "--tags")
    clone = root / "clone"
    git(root, "clone", "--quiet", str(origin), str(clone))
    return World(helper, origin, clone, expected)


def get_from_clone(world: World, ref: str, out: Path) -> subprocess.CompletedProcess:
    return registry(world.helper, "get", ref, "-o", str(out), cwd=world.clone, check=False)


def get_from_url(world: World, ref: str, out: Path) -> subprocess.CompletedProcess:
    """`get --repo`, from an origin that allows filters: a partial, shallow fetch."""
    return registry(world.helper, "get", ref, "--repo", f"file://{world.origin}", "-o",
                    str(out), cwd=out.parent, check=False)


def dvc_artifacts_get(world: World, ref: str, out: Path) -> subprocess.CompletedProcess:
    """The real `dvc artifacts get` from origin, for a ref in the helper's grammar."""
    name, _, version = ref.partition("@")
    name, _, stage = name.partition("#")
    args = ["--rev", version] if version else ["--stage", stage] if stage else []
    return run("dvc", "artifacts", "get", str(world.origin), name, *args, "-o", str(out),
               cwd=out.parent)


@pytest.mark.parametrize("ref", [
    "tracked", "staged", "infolder", "insub", "ingit@v0.0.1", "ingit#prod", "ingit", "bundle",
    "sub:model", "sub:notes", "imported"])
def test_get_writes_what_dvc_artifacts_get_writes(world, tmp_path, ref):
    theirs, ours, ours_url = tmp_path / "theirs", tmp_path / "ours", tmp_path / "ours-url"
    proc = dvc_artifacts_get(world, ref, theirs)
    assert proc.returncode == 0, proc.stderr
    for got, out in ((get_from_clone(world, ref, ours), ours),
                     (get_from_url(world, ref, ours_url), ours_url)):
        assert got.returncode == 0 and got.stderr == "", got.stderr
        assert got.stdout.startswith(f"wrote {ref.split('@')[0].split('#')[0]} ")
        assert contents(out) == contents(theirs) == world.expected[ref], ref
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours", "ours-url", "theirs"]


@pytest.mark.parametrize("name", ["localurl", "alias"])
def test_a_url_is_read_as_dvc_get_url_reads_it(world, tmp_path, name):
    """`dvc artifacts get` looks such a path up inside the repository, and fails; the helper
    reads it with DVC's `get-url`, through the DVC config committed at the version."""
    url = yaml.safe_load((world.clone / "dvc.yaml").read_text())["artifacts"][name]["path"]
    assert dvc_artifacts_get(world, name, tmp_path / "dvc-artifacts").returncode != 0
    tool("dvc", "get-url", url, str(tmp_path / "theirs"), cwd=world.clone)
    here = tmp_path / "here"
    here.mkdir()
    got = registry(world.helper, "get", name, "--repo", str(world.origin), cwd=here,
                   check=False)
    assert got.returncode == 0, got.stderr
    assert "not verified: nothing records a checksum of a URL's bytes" in got.stdout
    written = here / url.rsplit("/", 1)[1]  # no -o: the URL's own file name, here
    assert written.read_bytes() == (tmp_path / "theirs").read_bytes() == world.expected[name]


def test_the_python_api_gets_from_a_url_and_says_what_verified_the_bytes(world, tmp_path):
    script = ("import json, sys\nfrom model_registry import api\n"
              "got = api.get(sys.argv[1], sys.argv[2], repo=sys.argv[3])\n"
              "print(json.dumps(api.to_json(got)))\n")
    checked = {"tracked": "md5", "ingit@v0.0.1": "git", "bundle": "git and md5",
               "insub": "md5", "localurl": ""}
    for ref, by in checked.items():
        out = tmp_path / ref.replace("@", "-")
        proc = subprocess.run([sys.executable, "-c", script, ref, str(out),
                               f"file://{world.origin}"], capture_output=True, text=True,
                              cwd=tmp_path, env=helper_env(world.helper))
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        assert (got["verified_by"], got["output"]) == (by, str(out)), ref
        assert contents(out) == world.expected[ref], ref


@pytest.mark.parametrize("ref, status, says, dvc_fails", [
    ("escape", 2, "puts the artifact of escape v0.0.1 at '../outside/abs.bin', outside the "
     "repository: refusing it", True),
    ("nothing", 1, "nothing holds missing/none.bin at", True),
    ("noentry", 1, "noentry v0.0.1 has no entry in dvc.yaml at", True),
    ("unpushed", 1, "is not in the DVC remote: push it", True),
    ("goneurl", 1, "could not read", True),
    ("hidden", 2, "private/.dvcignore at", False),
    ("legacy", 1, "is DVC 2's, whose objects the helper does not read", False),
])
def test_what_cannot_be_fetched_is_refused_in_one_line(world, tmp_path, ref, status, says,
                                                       dvc_fails):
    assert (dvc_artifacts_get(world, ref, tmp_path / "dvc-got").returncode != 0) == dvc_fails
    out = tmp_path / "out"
    out.mkdir()
    for proc in (get_from_clone(world, ref, out / "got"), get_from_url(world, ref, out / "got")):
        assert proc.returncode == status, proc.stderr
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert says in proc.stderr
        assert list(out.iterdir()) == []  # nothing written, no staging left


def test_an_s3_url_is_read_with_the_credentials_of_the_environment(world, s3_server, tmp_path):
    """As `dvc get-url` reads it: s3fs, with AWS's variables (AWS_ENDPOINT_URL for SeaweedFS)."""
    bucket = s3_server.new_bucket()
    data = os.urandom(5000)
    s3_server.client().put_object(Bucket=bucket, Key="models/s3model.bin", Body=data)
    url = f"s3://{bucket}/models/s3model.bin"
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": {"s3model": {"path": url}}}))
    commit(repo, "an artifact in S3", 1)
    tool("gto", "register", "s3model", cwd=repo, when=2)
    env = {**s3_server.env, "AWS_ENDPOINT_URL": s3_server.endpoint}
    theirs = run("dvc", "get-url", url, str(tmp_path / "theirs"), cwd=tmp_path, env=env)
    assert theirs.returncode == 0, theirs.stderr
    got = registry(world.helper, "get", "s3model", "--repo", str(repo), "-o",
                   str(tmp_path / "ours"), cwd=tmp_path, env=env, check=False)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes() == data
    denied = registry(world.helper, "get", "s3model", "--repo", str(repo), "-o",
                      str(tmp_path / "denied"), cwd=tmp_path, check=False,
                      env={**env, "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert denied.returncode == 1 and denied.stderr.count("\n") == 1, denied.stderr
    assert denied.stderr.startswith(f"error: could not read {url}, where s3model v0.0.1 is")
    assert not (tmp_path / "denied").exists()
