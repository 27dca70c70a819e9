"""Races and faults: no lost version, no dangling tag, no tag on origin without its bytes.

DESIGN.md, "Ordering that keeps data safe": artifact to the DVC remote first, tag to git second;
a push that loses a race fails clearly and removes the local tag; retrieval renames into place
only after the checksum matches. Each test here breaks something for real and then checks
origin, the clone and the DVC remote:

- races: two clones of one origin, one of them held inside its `git push` by a pre-push hook
  (a FIFO it waits on) while the other registers or promotes, then let go;
- crashes: a pre-push or pre-commit hook that `kill -9`s the registry process (the hook's
  parent is git, whose parent is the registry), then the same command run again;
- outages: origin's URL or the DVC remote's URL pointed at a path that cannot exist, and an S3
  remote with the wrong keys;
- damage: objects in the DVC remote or the local cache flipped or truncated (a damaged cache
  copy alone is dropped and downloaded again, verified; with the remote copy damaged too, `get`
  fails on the checksum and leaves `-o` as it was); a registration tag whose sha256 trailer
  names other bytes than the object its md5 names.

Each test gets its own origin (a bare copy of one seeded per module) and its own copy of the
DVC remote directory, so no test sees another's damage. Clones point at their remote through
the git-ignored `.dvc/config.local`, as a user's machine would.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support import bake_template, baked_world, git, helper_env, registry, with_origin

pytestmark = pytest.mark.xdist_group("faults")

WAIT = 120  # seconds a test waits for a process it started before calling it stuck
NOWHERE = "/dev/null/registry"  # a path no process can create, even as root


# ---------------------------------------------------------------- running the helper


def run(repo, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`registry ARGS` in `repo`, as a user would run it; never raises on failure."""
    return registry(repo, *map(str, args), env=env, check=False)


def ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def one_error_line(proc, code: int = 1) -> str:
    """The failure contract: exit status `code`, one `error: ...` line, no traceback."""
    assert proc.returncode == code, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def who(name: str) -> dict:
    return {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": f"{name.lower()}@example.com"}


# ---------------------------------------------------------------- hooks


def install_hook(clone: Path, name: str, script: str) -> Path:
    hook = clone / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)
    return hook


# The hook's parent is the git command the registry started; that git's parent is the registry.
KILL_THE_REGISTRY = """\
registry=$(awk '{print $4}' /proc/$PPID/stat)
if tr '\\0' ' ' < /proc/$registry/cmdline | grep -q model_registry; then
    kill -9 "$registry"
fi
exit 1
"""


def must_exist_before_push(path: Path) -> str:
    """A pre-push hook that refuses the push unless the artifact is already in the remote."""
    return (f'[ -f "{path}" ] || {{ echo "tag pushed before its artifact" >&2; exit 1; }}\n')


@contextmanager
def held_in_push(clone: Path, *args: str, env: dict | None = None):
    """Start `registry ARGS` in `clone` and hold it inside its first `git push`, after its
    artifact is uploaded and its tag made, until the block ends; yields the process."""
    gate = clone.parent / f"{clone.name}-gate"
    gate.mkdir()
    os.mkfifo(gate / "reached")
    os.mkfifo(gate / "release")
    install_hook(clone, "pre-push", f'rm -f "$0"\nprintf x > "{gate}/reached"\n'
                                    f'cat "{gate}/release" > /dev/null\n')
    reached = os.open(gate / "reached", os.O_RDONLY | os.O_NONBLOCK)
    proc = subprocess.Popen([sys.executable, "-m", "model_registry", *map(str, args)],
                            cwd=clone, env=helper_env(clone, env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for _ in range(WAIT * 2):  # wait for the hook, or for the process to end first
            if select.select([reached], [], [], 0.5)[0]:
                break
            if proc.poll() is not None:
                raise AssertionError(f"registry {' '.join(map(str, args))} ended before its "
                                     f"push: {proc.communicate()[1]}")
        else:
            raise AssertionError(f"registry {' '.join(map(str, args))} never reached its push")
        yield proc
        os.close(os.open(gate / "release", os.O_WRONLY))  # the hook is waiting to read it
    except BaseException:
        if proc.poll() is None:  # stop it, its git and its hook: the group it leads
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        os.close(reached)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=WAIT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ---------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """An origin with churn v1.0.0 and v1.1.0 (files) and fraud v0.1.0 (a folder), and a DVC
    remote holding their bytes."""
    baked = baked_world(tmp_path_factory.mktemp("faults-seed"))
    root, repo, origin = baked
    files = {"churn@v1.0.0": root / "v1" / "churn.pkl",
             "churn@v1.1.0": root / "v2" / "churn.pkl"}
    for path in files.values():
        path.parent.mkdir()
        path.write_bytes(os.urandom(3000))
    folder = root / "fraud" / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 2}')
    (folder / "weights" / "layer0.bin").write_bytes(os.urandom(2048))
    files["fraud@v0.1.0"] = folder
    for tag, path in files.items():
        name, version = tag.split("@")
        ok(run(repo, "register", name, path, "--version", version))
    # What `--push` would have uploaded, without a `dvc push` per version: a local DVC 3
    # remote keeps objects exactly as the cache does (files/md5/XX/REST).
    shutil.copytree(repo / ".dvc" / "cache", root / "dvc-storage", dirs_exist_ok=True)
    baked.push()
    return {"origin": origin, "remote": root / "dvc-storage", "files": files}


@dataclass
class World:
    root: Path
    origin: Path
    remote: Path
    files: dict

    def clone(self, name: str, remote: str | Path | None = None) -> Path:
        path = self.root / name
        git(self.root, "clone", "--quiet", str(self.origin), str(path))
        self.point_remote(path, remote or self.remote)
        return path

    @staticmethod
    def point_remote(clone: Path, url) -> None:
        (clone / ".dvc" / "config.local").write_text(f"['remote \"storage\"']\n    url = {url}\n")

    def new_file(self, name: str, size: int = 2500) -> Path:
        path = self.root / name
        path.write_bytes(os.urandom(size))
        return path

    def object(self, md5_: str) -> Path:
        return self.remote / "files" / "md5" / md5_[:2] / md5_[2:]

    def objects(self) -> set[str]:
        base = self.remote / "files" / "md5"
        return {p.parent.name + p.name for p in base.glob("*/*")}

    def origin_tags(self) -> dict[str, str]:
        """Tag -> commit on origin."""
        out = git(self.origin, "for-each-ref", "refs/tags",
                  "--format=%(refname:strip=2) %(*objectname)")
        return dict(line.split() for line in out.splitlines())

    def origin_refs(self) -> str:
        return git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)")

    def assert_every_origin_version_has_its_bytes(self) -> None:
        """The promise: no tag on origin names a version whose artifact the remote lacks."""
        have = self.objects()
        for tag, commit in self.origin_tags().items():
            if "@v" not in tag or tag.endswith("!"):
                continue
            name = tag.split("@")[0]
            entry = yaml.safe_load(git(self.origin, "show", f"{commit}:dvc.yaml"))
            path = entry["artifacts"][name]["path"]
            pointer = yaml.safe_load(git(self.origin, "show", f"{commit}:{path}.dvc"))
            oid = pointer["outs"][0]["md5"]
            needed = [oid]
            if oid.endswith(".dir"):  # a folder: its manifest, then every file it lists
                assert oid in have, f"{tag} is on origin but its manifest is not in the remote"
                needed = [e["md5"] for e in json.loads(self.object(oid).read_text())]
            assert set(needed) <= have, f"{tag} is on origin but its bytes are not in the remote"


@pytest.fixture
def world(seed, tmp_path) -> World:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(seed["origin"]), str(origin))
    remote = tmp_path / "remote"
    shutil.copytree(seed["remote"], remote)
    return World(tmp_path, origin, remote, seed["files"])


def local_state(clone: Path) -> tuple[str, str]:
    """Refs and work tree of a clone (DVC's own cache and tmp folders left out)."""
    status = [line for line in git(clone, "status", "--porcelain", "--ignored",
                                   "--untracked-files=all").splitlines()
              if not line.startswith("!! .dvc/")]
    return git(clone, "for-each-ref", "--format=%(refname) %(objectname)"), "\n".join(status)


# ---------------------------------------------------------------- races


def test_two_clones_register_the_same_version_at_once(world):
    a, b = world.clone("a"), world.clone("b")
    start = git(b, "rev-parse", "HEAD")
    mine, theirs = world.new_file("a.pkl"), world.new_file("b.pkl")
    with held_in_push(b, "register", "race", theirs, "--version", "v1.0.0", "--push") as late:
        # b has uploaded its artifact and tagged locally, and is inside `git push` now.
        assert md5(theirs) in world.objects()
        assert git(b, "tag", "-l", "race@*") == "race@v1.0.0"
        ok(run(a, "register", "race", mine, "--version", "v1.0.0", "--push"))
    lost = finish(late)
    won = git(a, "rev-parse", "HEAD")

    line = one_error_line(lost, 1)
    assert f"race@v1.0.0 already exists on origin at {won[:12]}" in line
    assert "--version v1.0.1" in line and "(local tag and commit " in line
    assert git(b, "tag", "-l", "race@*") == ""
    assert git(b, "rev-parse", "HEAD") == start  # its commit is undone: a pull fast-forwards
    assert world.origin_tags()["race@v1.0.0"] == won
    assert git(world.origin, "rev-parse", "main") == won
    assert {md5(mine), md5(theirs)} <= world.objects()  # both artifacts stay in the remote
    world.assert_every_origin_version_has_its_bytes()

    git(b, "fetch", "--quiet", "--tags", "origin")
    seen = [json.loads(ok(run(c, "resolve", "race", "--json"))) for c in (a, b)]
    assert seen[0] == seen[1] and seen[0]["commit"] == won
    assert seen[0]["artifact"]["md5"] == md5(mine)
    ok(run(b, "get", "race", "-o", world.root / "got.pkl"))
    assert (world.root / "got.pkl").read_bytes() == mine.read_bytes()


def test_the_loser_of_a_register_race_can_follow_its_advice(world):
    late = world.clone("late")
    # A clone made before churn v1.1.0 reached origin: it registers its own v1.1.0.
    git(late, "reset", "--quiet", "--hard", "churn@v1.0.0")
    git(late, "tag", "-d", "churn@v1.1.0", "fraud@v0.1.0")
    mine = world.root / "mine" / "churn.pkl"
    mine.parent.mkdir()
    mine.write_bytes(os.urandom(2000))
    line = one_error_line(run(late, "register", "churn", mine, "--version", "v1.1.0",
                              "--push"), 1)
    assert "register again with --version v1.1.1 after `git pull --rebase`" in line
    pulled = subprocess.run(["git", "pull", "--quiet", "--rebase", "origin", "main"], cwd=late,
                            capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    ok(run(late, "register", "churn", mine, "--version", "v1.1.1", "--push"))
    world.assert_every_origin_version_has_its_bytes()


def _promote_two_stages_at_once(world):
    """b promotes v1.1.0 to dev while a promotes v1.0.0 to staging: both take counter 1."""
    a, b = world.clone("a"), world.clone("b")
    with held_in_push(b, "promote", "churn", "v1.1.0", "dev", "--push", "--json",
                      env=who("Bob")) as late:
        ok(run(a, "promote", "churn", "v1.0.0", "staging", "--push", "--json",
               env=who("Alice")))
    return a, b, json.loads(ok(finish(late)))


def test_two_promotions_at_once_to_two_stages_both_land_and_history_shows_both(world):
    a, b, _ = _promote_two_stages_at_once(world)
    commits = {v: git(a, "rev-parse", f"churn@{v}^{{commit}}") for v in ("v1.0.0", "v1.1.0")}
    stage_tags = {t: c for t, c in world.origin_tags().items() if "#" in t}
    assert sorted(stage_tags.values()) == sorted(commits.values())  # nothing overwritten
    for clone in (a, b):
        git(clone, "fetch", "--quiet", "--tags", "origin")
        history = json.loads(ok(run(clone, "history", "churn", "--json")))
        assert {(e["stage"], e["version"], e["tagger"]) for e in history[:2]} == {
            ("dev", "v1.1.0", "Bob"), ("staging", "v1.0.0", "Alice")}
        listed = json.loads(ok(run(clone, "list", "--json")))
        assert [m["stages"] for m in listed if m["name"] == "churn"] == [
            {"dev": "v1.1.0", "staging": "v1.0.0"}]


def test_two_promotions_at_once_never_share_a_counter(world):
    _, _, late = _promote_two_stages_at_once(world)
    counters = [t.rsplit("#", 1)[1] for t in world.origin_tags() if "#" in t]
    assert sorted(counters) == ["1", "2"] and late["attempts"] == 2


def test_a_counter_claimed_by_a_tag_deleted_by_hand_is_stepped_over(world):
    clone = world.clone("c")
    ok(run(clone, "promote", "churn", "v1.0.0", "dev", "--push"))
    git(clone, "push", "--quiet", "origin", ":refs/tags/churn#dev#1")
    git(clone, "tag", "-d", "churn#dev#1")
    assert "refs/registry/counters/churn#1" in world.origin_refs()  # the claim outlives it
    again = json.loads(ok(run(clone, "promote", "churn", "v1.0.0", "dev", "--push", "--json",
                              "--message", "Promote churn v1.0.0 to dev again")))
    assert (again["tag"], again["attempts"]) == ("churn#dev#2", 2)
    assert [t for t in world.origin_tags() if "#" in t] == ["churn#dev#2"]


def test_promotion_that_lost_its_counter_retries_if_its_stage_is_as_it_was(world):
    """The other side promoted and demoted the same stage meanwhile: the stage is as this
    promotion found it, so it takes the next free counter rather than failing."""
    a, b = world.clone("a"), world.clone("b")
    with held_in_push(b, "promote", "churn", "v1.1.0", "staging", "--push", "--json") as late:
        ok(run(a, "promote", "churn", "v1.0.0", "staging", "--push"))
        ok(run(a, "demote", "churn", "staging", "--push"))
    result = json.loads(ok(finish(late)))
    assert (result["tag"], result["attempts"]) == ("churn#staging#3", 2)
    assert sorted(t for t in world.origin_tags() if "#" in t) == [
        "churn#staging!#2", "churn#staging#1", "churn#staging#3"]
    git(a, "fetch", "--quiet", "--tags", "origin")
    assert json.loads(ok(run(a, "resolve", "churn#staging", "--json")))["version"] == "v1.1.0"
    assert [e["tag"] for e in json.loads(ok(run(a, "history", "churn", "--json")))[:3]] == [
        "churn#staging#3", "churn#staging!#2", "churn#staging#1"]


def test_two_promotions_of_one_stage_at_once_the_loser_refuses(world):
    a, b = world.clone("a"), world.clone("b")
    with held_in_push(b, "promote", "churn", "v1.1.0", "prod", "--push", env=who("Bob")) as late:
        ok(run(a, "promote", "churn", "v1.0.0", "prod", "--push", env=who("Alice")))
    line = one_error_line(finish(late), 1)
    assert "churn#prod#1 was taken on origin, and prod of churn now holds v1.0.0" in line
    assert "registry history churn" in line
    v100 = git(a, "rev-parse", "churn@v1.0.0^{commit}")
    assert {t: c for t, c in world.origin_tags().items() if "#" in t} == {"churn#prod#1": v100}
    # b now knows what happened: origin's tag, not its own, and the history says who.
    assert json.loads(ok(run(b, "resolve", "churn#prod", "--json")))["version"] == "v1.0.0"
    [latest, *_] = json.loads(ok(run(b, "history", "churn", "--json")))
    assert (latest["tag"], latest["tagger"]) == ("churn#prod#1", "Alice")


# ---------------------------------------------------------------- interrupted pushes


def test_killed_after_tagging_before_the_git_push_then_rerun_pushes(world):
    clone = world.clone("c")
    artifact = world.new_file("crash.pkl")
    hook = install_hook(clone, "pre-push", KILL_THE_REGISTRY)
    args = ("register", "crash", artifact, "--version", "v1.0.0", "--push")
    assert run(clone, *args).returncode == -9
    assert "crash@v1.0.0" not in world.origin_tags()  # no tag on origin
    assert md5(artifact) in world.objects()  # the artifact went first
    commit = git(clone, "rev-parse", "crash@v1.0.0^{commit}")
    world.assert_every_origin_version_has_its_bytes()

    hook.unlink()
    install_hook(clone, "pre-push", must_exist_before_push(world.object(md5(artifact))))
    again = json.loads(ok(run(clone, *args, "--json")))
    assert (again["tag"], again["commit"], again["pushed"], again.get("resumed")) == (
        "crash@v1.0.0", commit, True, True)
    assert world.origin_tags()["crash@v1.0.0"] == commit
    assert git(world.origin, "rev-parse", "main") == commit
    world.assert_every_origin_version_has_its_bytes()


def test_killed_after_the_upload_before_the_commit_then_rerun_completes(world):
    clone = world.clone("c")
    start = git(clone, "rev-parse", "HEAD")
    before = world.origin_refs()
    artifact = world.new_file("crash.pkl")
    hook = install_hook(clone, "pre-commit", KILL_THE_REGISTRY)
    args = ("register", "crash", artifact, "--version", "v1.0.0", "--push")
    assert run(clone, *args).returncode == -9
    assert world.origin_refs() == before
    assert git(clone, "rev-parse", "HEAD") == start and git(clone, "tag", "-l", "crash*") == ""
    assert md5(artifact) in world.objects()

    hook.unlink()
    data = json.loads(ok(run(clone, *args, "--json")))
    assert world.origin_tags()["crash@v1.0.0"] == data["commit"]
    assert git(clone, "rev-list", "--count", f"{start}..HEAD") == "1"
    assert git(clone, "status", "--porcelain") == ""
    world.assert_every_origin_version_has_its_bytes()


def test_origin_unreachable_at_push_leaves_no_tag_and_rerun_completes(world):
    clone = world.clone("c")
    start = git(clone, "rev-parse", "HEAD")
    before = world.origin_refs()
    artifact = world.new_file("offline.pkl")
    git(clone, "remote", "set-url", "origin", f"{NOWHERE}/origin.git")
    args = ("register", "offline", artifact, "--version", "v1.0.0", "--push")
    line = one_error_line(run(clone, *args), 1)
    assert line.startswith("error: git push to origin failed (")
    assert "re-run the same command to finish (local tag removed)" in line
    assert git(clone, "tag", "-l", "offline*") == ""
    made = git(clone, "rev-parse", "HEAD")
    assert made != start and md5(artifact) in world.objects()
    promote = one_error_line(run(clone, "promote", "churn", "v1.0.0", "prod", "--push"), 1)
    assert "(local tag removed)" in promote and git(clone, "tag", "-l", "churn#*") == ""
    assert world.origin_refs() == before

    git(clone, "remote", "set-url", "origin", str(world.origin))
    data = json.loads(ok(run(clone, *args, "--json")))
    assert (data["commit"], data["tag"]) == (made, "offline@v1.0.0")
    assert world.origin_tags()["offline@v1.0.0"] == made
    assert git(clone, "log", "--format=%s").splitlines().count(
        "Register offline v1.0.0") == 1
    assert json.loads(ok(run(clone, "promote", "churn", "v1.0.0", "prod", "--push",
                             "--json")))["tag"] == "churn#prod#1"
    world.assert_every_origin_version_has_its_bytes()


# ---------------------------------------------------------------- the DVC remote down


def test_dvc_remote_down_at_register_changes_nothing_then_rerun_uploads_then_tags(world):
    clone = world.clone("c", remote=NOWHERE)
    before, origin_before = local_state(clone), world.origin_refs()
    artifact = world.new_file("down.pkl")
    args = ("register", "down", artifact, "--version", "v1.0.0", "--push")
    line = one_error_line(run(clone, *args), 1)
    assert line.startswith("error: could not upload to DVC remote storage (")
    assert "check that the remote is reachable and its credentials are set, then re-run" in line
    assert local_state(clone) == before
    assert world.origin_refs() == origin_before
    assert md5(artifact) not in world.objects()

    world.point_remote(clone, world.remote)
    install_hook(clone, "pre-push", must_exist_before_push(world.object(md5(artifact))))
    data = json.loads(ok(run(clone, *args, "--json")))
    assert world.origin_tags()["down@v1.0.0"] == data["commit"]
    world.assert_every_origin_version_has_its_bytes()


@pytest.mark.parametrize("args", [
    ("get", "churn", "-o", "{out}", "--force"),
    ("check", "--remote"),
    ("verify", "churn@v1.1.0"),
], ids=["get", "check-remote", "verify"])
def test_dvc_remote_down_at_read_fails_in_one_line(world, args):
    clone = world.clone("c", remote=NOWHERE)
    out = world.root / "model.pkl"
    out.write_bytes(b"keep me")
    before = local_state(clone)
    proc = run(clone, *(str(a).format(out=out) for a in args))
    assert out.read_bytes() == b"keep me"
    assert local_state(clone) == before
    line = one_error_line(proc, 1)
    assert "remote" in line and "reach" in line, line
    assert "storage" in line or NOWHERE in line, line


@pytest.mark.xdist_group("s3")  # beside the other S3 tests, which start the same server
def test_wrong_s3_credentials_at_register_change_nothing(s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    repo = bake_template(tmp_path, remote="s3", s3_url=f"s3://{bucket}/dvc",
                         s3_endpoint_url=s3_server.endpoint)
    origin = with_origin(repo, tmp_path)
    (repo / ".dvc" / "config.local").write_text(
        "['remote \"storage\"']\n"
        f"    access_key_id = {s3_server.access_key}\n"
        "    secret_access_key = not-the-secret-key\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    nowhere = os.path.join(os.devnull, "aws")
    env.update(AWS_CONFIG_FILE=nowhere, AWS_SHARED_CREDENTIALS_FILE=nowhere,
               AWS_EC2_METADATA_DISABLED="true")
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(os.urandom(1000))
    before, origin_before = local_state(repo), git(origin, "for-each-ref")
    proc = subprocess.run([sys.executable, "-m", "model_registry", "register", "churn",
                           str(artifact), "--push"], cwd=repo, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(repo / "src")})
    line = one_error_line(proc, 1)
    assert line.startswith("error: could not upload to DVC remote storage (")
    assert "credentials" in line and "not-the-secret-key" not in line
    assert local_state(repo) == before and git(origin, "for-each-ref") == origin_before
    assert s3_server.keys(bucket) == []


# ---------------------------------------------------------------- damaged objects


def _damage(path: Path, how: str) -> None:
    os.chmod(path, 0o644)
    data = path.read_bytes()
    path.write_bytes({"flipped": bytes([data[0] ^ 0xFF]) + data[1:],
                      "truncated": data[: len(data) // 2]}[how])


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".registry"))


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_damaged_object_in_the_remote_fails_the_checksum_and_leaves_the_output(world, how):
    clone = world.clone("c")
    oid = md5(world.files["churn@v1.0.0"])
    _damage(world.object(oid), how)
    out = world.root / "model.pkl"
    out.write_bytes(b"keep me")
    line = one_error_line(run(clone, "get", "churn@v1.0.0", "-o", out, "--force"), 1)
    assert line.startswith("error: checksum mismatch for churn v1.0.0") and oid in line
    assert out.read_bytes() == b"keep me" and _leftovers(world.root) == []
    assert not (clone / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]).exists()


@pytest.mark.parametrize("part", ["file", "manifest"])
def test_damaged_folder_artifact_fails_and_writes_no_folder(world, part):
    clone = world.clone("c")
    pointer = yaml.safe_load(git(clone, "show", "fraud@v0.1.0:models/fraud/model.dvc"))
    manifest_id = pointer["outs"][0]["md5"]
    weights = md5(world.files["fraud@v0.1.0"] / "weights" / "layer0.bin")
    _damage(world.object(weights if part == "file" else manifest_id), "flipped")
    out = world.root / "fraud-model"
    proc = run(clone, "get", "fraud@v0.1.0", "-o", out)
    line = one_error_line(proc, 1)
    assert "checksum mismatch for fraud v0.1.0" in line
    assert ("weights/layer0.bin" in line) if part == "file" else True
    assert not out.exists() and _leftovers(world.root) == []


def _retag(clone: Path, tag: str, message: str) -> None:
    """Re-make an annotated registration tag with another message, as a hand or a tool might."""
    commit = git(clone, "rev-parse", f"{tag}^{{commit}}")
    git(clone, "tag", "--force", "--annotate", tag, commit, "--message", message)


def test_a_tag_attesting_other_bytes_fails_get_though_the_md5_matches(world):
    # get checks a file against the sha256 its registration tag attests: bytes that match
    # the pointer's md5 but not the tag's sha256 are not the version the tag describes.
    clone = world.clone("c")
    tag = "churn@v1.0.0"
    message = git(clone, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    attested = message.split("Artifact-SHA256: ")[1].split()[0]
    other = hashlib.sha256(b"other bytes").hexdigest()
    _retag(clone, tag, message.replace(attested, other))
    out = world.root / "model.pkl"
    out.write_bytes(b"keep me")
    line = one_error_line(run(clone, "get", tag, "-o", out, "--force"), 1)
    assert line.startswith("error: checksum mismatch for churn v1.0.0") and other in line
    assert out.read_bytes() == b"keep me" and _leftovers(world.root) == []
    oid = md5(world.files[tag])
    assert not (clone / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]).exists()
    # as the error says, verify tells a wrong tag from a damaged copy
    proc = run(clone, "verify", tag)
    assert proc.returncode == 1
    assert "the tag does not describe this version" in proc.stdout + proc.stderr


@pytest.mark.parametrize("damaged", [False, True])
def test_a_tag_without_hash_trailers_is_checked_by_md5(world, damaged):
    # Tags made by gto, or before the trailers, attest no sha256: the pointer's md5 decides.
    clone = world.clone("c")
    tag = "churn@v1.0.0"
    _retag(clone, tag, "Registering artifact churn version v1.0.0")
    oid = md5(world.files[tag])
    if damaged:
        _damage(world.object(oid), "flipped")
    out = world.root / "model.pkl"
    proc = run(clone, "get", tag, "-o", out)
    if damaged:
        line = one_error_line(proc, 1)
        assert line.startswith("error: checksum mismatch for churn v1.0.0")
        assert f"expected md5 {oid}" in line and not out.exists()
    else:
        ok(proc)
        assert out.read_bytes() == world.files[tag].read_bytes()


def test_damaged_cache_copy_is_replaced_by_a_verified_download(world):
    clone = world.clone("c")
    oid = md5(world.files["churn@v1.0.0"])
    cached = clone / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the model")
    out = world.root / "model.pkl"
    ok(run(clone, "get", "churn@v1.0.0", "-o", out))
    assert out.read_bytes() == world.files["churn@v1.0.0"].read_bytes()
    assert md5(cached) == oid  # the cache holds good bytes again


def test_damaged_cache_and_remote_fail_the_checksum(world):
    clone = world.clone("c")
    oid = md5(world.files["churn@v1.0.0"])
    cached = clone / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]
    cached.parent.mkdir(parents=True)
    shutil.copyfile(world.object(oid), cached)
    _damage(cached, "truncated")
    _damage(world.object(oid), "flipped")
    out = world.root / "model.pkl"
    out.write_bytes(b"keep me")
    line = one_error_line(run(clone, "get", "churn@v1.0.0", "-o", out, "--force"), 1)
    assert line.startswith("error: checksum mismatch for churn v1.0.0")
    assert out.read_bytes() == b"keep me" and _leftovers(world.root) == []
    assert not cached.exists() or md5(cached) == oid  # never a bad copy kept as good
