"""End to end: the `registry` command on real git repositories and a real DVC remote directory.

Read-only checks share one registry built once per module (each `dvc` call costs most of a
second); tests that change a registry get their own. Dates are given through GIT_COMMITTER_DATE
so the order of events never depends on how fast the machine is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from support import git as run_git
from support import helper_env

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
CORE_COMMANDS = {"register", "promote", "demote", "deregister", "deprecate", "resolve", "get",
                 "list", "history", "show"}


class Clock:
    """Strictly increasing commit and tag dates, one minute apart."""

    def __init__(self, start: int = T0):
        self.now = start

    def __call__(self) -> dict:
        self.now += 60
        stamp = f"{self.now} +0000"
        return {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ok(proc) -> str:
    """The stdout of a command that must succeed; on failure, what it said."""
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def as_json(proc):
    return json.loads(ok(proc))


def one_error_line(proc, exit_code: int = 2) -> str:
    """The contract for failures: the exit status, one `error: ...` line, no traceback."""
    assert proc.returncode == exit_code, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


def front_matter(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, f"no front matter in:\n{text[:200]}"
    return yaml.safe_load(match[1])


def card_at(repo, rev: str, model: str) -> dict:
    return front_matter(repo.git("show", f"{rev}:models/{model}/card.md"))


def tree_bytes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def make_inputs(folder: Path) -> SimpleNamespace:
    """Artifacts as a training job leaves them, outside the registry."""
    folder.mkdir()
    v1 = folder / "v1" / "model.pkl"
    v2 = folder / "v2" / "model.pkl"
    for path, data in ((v1, b"churn weights 1\x00\xff\n"), (v2, b"churn weights 2\x00\xfe\n")):
        path.parent.mkdir()
        path.write_bytes(data)
    encoder = folder / "encoder"
    (encoder / "sub").mkdir(parents=True)
    (encoder / "vocab.txt").write_text("a\nb\nc\n")
    (encoder / "sub" / "weights.bin").write_bytes(bytes(range(256)))
    metrics = folder / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.93, "auc": {"macro": 0.91}}))
    return SimpleNamespace(v1=v1, v2=v2, encoder=encoder, metrics=metrics)


# ================================================================ one registry, read only


@pytest.fixture(scope="module")
def reg(tmp_path_factory, new_registry):
    """churn v1.0.0 (in the last stage) and v1.1.0 (--bump minor, --metrics); encoder v0.1.0,
    a directory; draft v0.0.1, committed with --no-tag. Tests must not change it."""
    base = tmp_path_factory.mktemp("shared")
    repo = new_registry(base)
    inputs = make_inputs(base / "inputs")
    stage = repo.stages[-1]
    clock = Clock()
    out = SimpleNamespace(repo=repo, inputs=inputs, stage=stage, dates={})

    out.v1 = as_json(repo.cli("register", "churn", str(inputs.v1), "--version", "v1.0.0",
                              "--json", env=clock()))
    out.dates["churn@v1.0.0"] = clock.now
    out.v2 = as_json(repo.cli("register", "churn", str(inputs.v2), "--bump", "minor",
                              "--metrics", str(inputs.metrics), "--json", env=clock()))
    out.dates["churn@v1.1.0"] = clock.now
    out.encoder = as_json(repo.cli("register", "encoder", str(inputs.encoder), "--version",
                                   "v0.1.0", "--json", env=clock()))
    out.dates["encoder@v0.1.0"] = clock.now
    out.head_before_draft = repo.git("rev-parse", "HEAD")
    out.draft = as_json(repo.cli("register", "draft", str(inputs.v1), "--no-tag", "--json",
                                 env=clock()))
    out.promoted = as_json(repo.cli("promote", "churn", "v1.0.0", stage, "--json", env=clock()))
    out.dates[out.promoted["tag"]] = clock.now
    return out


def test_register_puts_the_bytes_in_dvc_and_the_pointer_card_and_tag_in_git(reg):
    repo, data = reg.repo, reg.inputs.v2.read_bytes()
    assert reg.v2["version"] == "v1.1.0" and reg.v2["tag"] == "churn@v1.1.0"
    assert (repo.path / "models/churn/model.pkl").read_bytes() == data
    assert repo.git("status", "--porcelain") == ""

    # git holds the pointer and the card; the bytes themselves are DVC's, in its cache too
    assert repo.git("ls-files", "models/churn").splitlines() == [
        "models/churn/.gitignore", "models/churn/card.md", "models/churn/model.pkl.dvc"]
    pointer = yaml.safe_load((repo.path / "models/churn/model.pkl.dvc").read_text())
    md5 = hashlib.md5(data).hexdigest()
    assert pointer["outs"][0]["md5"] == md5
    cached = repo.path / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    assert cached.read_bytes() == data
    assert not cached.stat().st_mode & 0o222  # read-only, as DVC keeps its cache
    assert not list(repo.path.glob(".dvc/tmp/registry-*"))  # no copy left half-way

    dvc_yaml = yaml.safe_load(repo.git("show", "churn@v1.1.0:dvc.yaml"))
    assert dvc_yaml["artifacts"]["churn"]["path"] == "models/churn/model.pkl"
    assert dvc_yaml["artifacts"]["churn"]["type"] == "model"

    # the tag is annotated, on the commit that registered the version
    assert repo.git("cat-file", "-t", "churn@v1.1.0") == "tag"
    assert repo.git("rev-parse", "churn@v1.1.0^{commit}") == reg.v2["commit"]


def test_card_registry_block_records_the_artifact_and_previous_version(reg):
    """Auditors trust the card: its checksums must be those of the bytes registered."""
    for result, source, previous in ((reg.v1, reg.inputs.v1, None),
                                     (reg.v2, reg.inputs.v2, "v1.0.0")):
        data = source.read_bytes()
        block = card_at(reg.repo, result["tag"], "churn")["registry"]
        assert block["name"] == "churn"
        assert block["version"] == result["version"]
        assert block["previous_version"] == previous
        assert block["artifact"] == {
            "path": "models/churn/model.pkl", "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_metrics_file_lands_in_the_card_model_index(reg):
    card = card_at(reg.repo, "churn@v1.1.0", "churn")
    metrics = {m["type"]: m["value"] for entry in card["model-index"]
               for result in entry["results"] for m in result["metrics"]}
    assert metrics == {"accuracy": 0.93, "auc.macro": 0.91}
    assert "model-index" not in card_at(reg.repo, "churn@v1.0.0", "churn")


def test_directory_artifact_round_trips(reg, tmp_path):
    info = as_json(reg.repo.cli("resolve", "encoder", "--json"))
    assert info["artifact"]["path"] == "models/encoder/encoder"
    assert info["artifact"]["md5"].endswith(".dir")

    got = as_json(reg.repo.cli("get", "encoder@v0.1.0", "-o", str(tmp_path / "enc"), "--json"))
    assert tree_bytes(tmp_path / "enc") == tree_bytes(reg.inputs.encoder)
    assert got["verified_by"] == "md5"  # file by file, against the manifest's md5s


@pytest.mark.parametrize("ref, version", [
    ("churn", "v1.1.0"), ("churn@latest", "v1.1.0"), ("churn@greatest", "v1.1.0"),
    ("churn@v1.0.0", "v1.0.0"), ("churn@v1.1.0", "v1.1.0"), ("churn#STAGE", "v1.0.0"),
    ("churn#STAGE#N", "v1.0.0"),
])
def test_resolve_answers_every_ref_form(reg, ref, version):
    ref = ref.replace("#STAGE#N", "#" + reg.promoted["tag"].split("#", 1)[1])
    ref = ref.replace("#STAGE", "#" + reg.stage)
    info = as_json(reg.repo.cli("resolve", ref, "--json"))
    registered = reg.v1 if version == "v1.0.0" else reg.v2
    assert {"name", "version", "tag", "commit", "stage", "artifact", "card"} <= set(info)
    assert info["name"] == "churn"
    assert info["version"] == version
    assert info["tag"] == f"churn@{version}"
    assert info["commit"] == registered["commit"]
    assert info["artifact"]["path"] == "models/churn/model.pkl"
    assert info["artifact"]["md5"] == registered["artifact"]["md5"]
    assert info["card"] == "models/churn/card.md"
    assert info["registered_at"] == iso(reg.dates[info["tag"]])
    if ref == f"churn#{reg.stage}":
        assert info["stage"] == reg.stage


def test_resolve_prints_readable_text_without_json(reg):
    out = ok(reg.repo.cli("resolve", f"churn#{reg.stage}"))
    assert "v1.0.0" in out and reg.v1["commit"] in out


def test_get_by_version_and_by_stage_writes_the_registered_bytes(reg, tmp_path):
    for ref, source in (("churn@v1.1.0", reg.inputs.v2), (f"churn#{reg.stage}", reg.inputs.v1)):
        target = tmp_path / ref.replace("#", "_").replace("@", "_")
        got = as_json(reg.repo.cli("get", ref, "-o", str(target), "--json"))
        assert target.read_bytes() == source.read_bytes(), ref
        # checked against the sha256 its registration tag attests
        assert got["verified_by"] == "sha256"
        assert got["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert got["output"] == str(target)


def test_get_refuses_to_overwrite_without_force(reg, tmp_path):
    """A deployment must not clobber a file by accident; --force says it means to (and the
    latest version is what a bare NAME gets)."""
    target = tmp_path / "model.pkl"
    target.write_bytes(b"keep me")
    message = one_error_line(reg.repo.cli("get", "churn", "-o", str(target)))
    assert "--force" in message
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pkl"]  # no temporary left behind

    ok(reg.repo.cli("get", "churn", "-o", str(target), "--force"))
    assert target.read_bytes() == reg.inputs.v2.read_bytes()


def test_list_json_shows_latest_and_stages(reg):
    models = {m["name"]: m for m in as_json(reg.repo.cli("list", "--json"))}
    assert set(models) == {"churn", "encoder"}
    assert models["churn"]["latest"] == "v1.1.0"
    assert models["churn"]["stages"] == {reg.stage: "v1.0.0"}
    assert models["churn"]["deprecated"] is False
    assert models["encoder"]["latest"] == "v0.1.0"
    assert models["encoder"]["stages"] == {}

    text = ok(reg.repo.cli("list"))
    assert "churn" in text and "v1.1.0" in text and f"{reg.stage}=v1.0.0" in text


def test_a_reader_that_leaves_early_gets_no_traceback(reg):
    """`registry history --json | head -1`: the pipe's reader is gone before the output is
    written (here, from the start); the command has done its work, so it exits 0, quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "model_registry", "history", "--json"],
                              cwd=reg.repo.path, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env=helper_env())
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_history_json_is_the_event_log_newest_first(reg):
    events = as_json(reg.repo.cli("history", "churn", "--json"))
    assert [e["tag"] for e in events] == [reg.promoted["tag"], "churn@v1.1.0", "churn@v1.0.0"]
    assert [e["event"] for e in events] == ["assign", "register", "register"]
    for e in events:
        assert {"tag", "name", "event", "version", "stage", "commit", "tagger", "date",
                "message"} <= set(e)
        assert e["name"] == "churn"
        assert e["tagger"] == "Registry Tester"
        assert e["date"] == iso(reg.dates[e["tag"]])
        assert e["message"]
    assert events[0]["version"] == "v1.0.0" and events[0]["stage"] == reg.stage

    everything = as_json(reg.repo.cli("history", "--json"))
    assert [e["tag"] for e in everything] == [reg.promoted["tag"], "encoder@v0.1.0",
                                              "churn@v1.1.0", "churn@v1.0.0"]


def test_show_prints_the_card_of_that_version(reg):
    out = ok(reg.repo.cli("show", "churn@v1.0.0"))
    assert front_matter(out)["registry"]["version"] == "v1.0.0"
    assert "# churn" in out
    shown = as_json(reg.repo.cli("show", "churn", "--json"))
    assert front_matter(shown["text"])["registry"]["version"] == "v1.1.0"


def test_every_command_has_help(reg):
    """`registry X --help` is how people learn a command; none may crash."""
    proc = reg.repo.cli("no-such-command")
    assert proc.returncode == 2
    listed = re.search(r"choose from (.*?)\)", proc.stderr, re.S)
    assert listed, proc.stderr
    commands = {c.strip(" '\"\n") for c in listed[1].split(",")}
    assert CORE_COMMANDS <= commands

    assert "register" in ok(reg.repo.cli("--help"))
    failed = {}
    for command in sorted(commands):
        proc = reg.repo.cli(command, "--help")
        if proc.returncode != 0 or "usage:" not in proc.stdout:
            failed[command] = proc.returncode
    assert not failed, f"--help failed for {failed}"


@pytest.mark.parametrize("args", [
    pytest.param(["promote", "churn", "v1.0.0", "no-such-stage"], id="unknown-stage"),
    pytest.param(["register", "churn model", "{v1}"], id="name-with-space"),
    pytest.param(["register", "../churn", "{v1}"], id="name-with-dots"),
    pytest.param(["register", "churn:2", "{v1}"], id="name-with-colon"),
    pytest.param(["register", "churn", "{v1}", "--version", "1.0"], id="invalid-version"),
    pytest.param(["register", "churn", "{v1}", "--version", "v1.0.0"], id="version-taken"),
    pytest.param(["register", "churn", "{missing}"], id="nonexistent-artifact"),
    pytest.param(["register", "churn", "{v1}", "--metrics", "{missing}"], id="missing-metrics"),
    pytest.param(["promote", "churn", "v9.9.9", "{stage}"], id="promote-missing-version"),
    pytest.param(["deregister", "churn", "v9.9.9"], id="deregister-missing-version"),
    pytest.param(["resolve", "churn@v9.9.9"], id="resolve-missing-version"),
    pytest.param(["get", "churn@v9.9.9", "-o", "{out}"], id="get-missing-version"),
    pytest.param(["resolve", "churn@1.0.0"], id="malformed-ref"),
    pytest.param(["resolve", "ghost"], id="resolve-missing-model"),
    pytest.param(["get", "ghost", "-o", "{out}"], id="get-missing-model"),
    pytest.param(["promote", "ghost", "v1.0.0", "{stage}"], id="promote-missing-model"),
    pytest.param(["deprecate", "ghost"], id="deprecate-missing-model"),
    pytest.param(["resolve", "encoder#{stage}"], id="resolve-empty-stage"),
    pytest.param(["demote", "encoder", "{stage}"], id="demote-empty-stage"),
    pytest.param(["get", "churn", "-o", "{nofolder}"], id="get-into-missing-folder"),
])
def test_bad_input_is_one_error_line_exit_2_and_changes_nothing(reg, tmp_path, args):
    where = {"v1": str(reg.inputs.v1), "missing": str(tmp_path / "no-such-file.pkl"),
             "stage": reg.stage, "out": str(tmp_path / "out.pkl"),
             "nofolder": str(tmp_path / "no-such-folder" / "out.pkl")}
    before = reg.repo.state()
    one_error_line(reg.repo.cli(*(a.format(**where) for a in args)))
    assert reg.repo.state() == before
    assert list(tmp_path.iterdir()) == []


def test_no_tag_commits_the_version_but_leaves_it_unregistered(reg):
    """The pull-request flow: the version is reviewed first and tagged by `release` later."""
    repo = reg.repo
    assert reg.draft["tag"] is None and reg.draft["version"] == "v0.0.1"
    assert repo.git("rev-parse", f"{reg.draft['commit']}^") == reg.head_before_draft
    assert repo.git("tag", "--list", "draft*") == ""
    assert card_at(repo, reg.draft["commit"], "draft")["registry"]["version"] == "v0.0.1"
    assert "draft" in yaml.safe_load(repo.git("show", "HEAD:dvc.yaml"))["artifacts"]
    one_error_line(repo.cli("resolve", "draft"))
    assert "draft" not in {m["name"] for m in as_json(repo.cli("list", "--json"))}


def test_promotion_order_from_registry_yaml_is_enforced(reg):
    """A version may not skip the stages registry.yaml puts before another."""
    repo = reg.repo
    if len(repo.stages) < 2:
        pytest.skip("this registry has a single stage, so no promotion order")
    first, last = repo.stages[0], repo.stages[-1]
    config = repo.path / "registry.yaml"
    original = config.read_text()
    settings = yaml.safe_load(original)
    settings["promotion"] = {last: [first]}
    config.write_text(yaml.safe_dump(settings))
    try:
        before = repo.state()
        assert first in one_error_line(repo.cli("promote", "churn", "v1.1.0", last))
        assert repo.state() == before
    finally:
        config.write_text(original)


# ================================================================ registries of their own


@pytest.mark.parametrize("name", [
    pytest.param("churn\n", id="trailing-newline"),
    pytest.param("a" * 250, id="250-characters"),
])
def test_names_git_cannot_tag_are_refused_before_anything_is_written(registry_repo, tmp_path,
                                                                    name):
    """Refusing after the commit would leave a version in git that no tag ever names."""
    (tmp_path / "model.bin").write_bytes(b"w")
    before = registry_repo.state()
    one_error_line(registry_repo.cli("register", name, str(tmp_path / "model.bin")))
    assert registry_repo.state() == before


def test_lifecycle_promote_demote_deregister_deprecate(registry_repo, tmp_path):
    """What `resolve` answers after each step is what a deployment would ship."""
    repo, clock, stage = registry_repo, Clock(), registry_repo.stages[-1]
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"one")
    ok(repo.cli("register", "m", str(artifact), "--version", "v1.0.0", env=clock()))

    # a new version built in place: no PATH registers what is under models/m/ now
    (repo.path / "models/m/model.bin").write_bytes(b"two")
    ok(repo.cli("register", "m", "--version", "v2.0.0", env=clock()))
    assert card_at(repo, "m@v2.0.0", "m")["registry"]["artifact"]["md5"] == \
        hashlib.md5(b"two").hexdigest()

    def version(ref):
        proc = repo.cli("resolve", ref, "--json")
        if proc.returncode == 2:
            one_error_line(proc)
            return None
        return as_json(proc)["version"]

    assert (version("m"), version(f"m#{stage}")) == ("v2.0.0", None)

    ok(repo.cli("promote", "m", "v1.0.0", stage, env=clock()))
    assert version(f"m#{stage}") == "v1.0.0"
    assert repo.git("cat-file", "-t", f"m#{stage}#1") == "tag"

    ok(repo.cli("promote", "m", "v2.0.0", stage, env=clock()))
    assert version(f"m#{stage}") == "v2.0.0"
    assert as_json(repo.cli("list", "--json"))[0]["stages"] == {stage: "v2.0.0"}

    before = repo.state()  # promoting to the stage a version holds already is a no-op
    ok(repo.cli("promote", "m", "v2.0.0", stage, env=clock()))
    assert repo.state() == before

    ok(repo.cli("demote", "m", stage, env=clock()))
    assert repo.git("cat-file", "-t", f"m#{stage}!#3") == "tag"
    assert version(f"m#{stage}") == "v1.0.0"  # v1's assignment was never undone

    ok(repo.cli("demote", "m", stage, env=clock()))
    assert version(f"m#{stage}") is None
    one_error_line(repo.cli("demote", "m", stage, env=clock()))

    ok(repo.cli("deregister", "m", "v2.0.0", env=clock()))
    assert repo.git("cat-file", "-t", "m@v2.0.0!") == "tag"
    assert (version("m"), version("m@v2.0.0")) == ("v1.0.0", None)

    ok(repo.cli("deprecate", "m", env=clock()))
    assert repo.git("cat-file", "-t", "m@deprecated") == "tag"
    assert "deprecated" in one_error_line(repo.cli("resolve", "m"))
    listed = as_json(repo.cli("list", "--json"))[0]
    assert (listed["latest"], listed["deprecated"]) == (None, True)

    artifact.write_bytes(b"three")
    ok(repo.cli("register", "m", str(artifact), "--version", "v3.0.0", env=clock()))
    assert version("m") == "v3.0.0"

    events = [e["event"] for e in as_json(repo.cli("history", "m", "--json"))]
    assert events == ["register", "deprecate", "deregister", "unassign", "unassign", "assign",
                      "assign", "register", "register"]


def test_a_dvc_cache_on_another_filesystem_gets_the_registered_bytes(registry_repo, tmp_path):
    """register moves into the DVC cache the copy it made while hashing; a cache on another
    filesystem (a shared one, say), which a rename cannot reach, gets a copy instead."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second filesystem: /dev/shm")
    repo, data = registry_repo, os.urandom(100_000)
    (tmp_path / "model.bin").write_bytes(data)
    cache = Path(tempfile.mkdtemp(dir=shm, prefix="registry-test-cache-"))
    try:
        with open(repo.path / ".dvc" / "config.local", "a") as config:
            config.write(f"[cache]\n    dir = {cache}\n")
        ok(repo.cli("register", "m", str(tmp_path / "model.bin")))
        md5 = hashlib.md5(data).hexdigest()
        cached = cache / "files" / "md5" / md5[:2] / md5[2:]
        assert cached.read_bytes() == data and not cached.stat().st_mode & 0o222
        assert (repo.path / "models/m/model.bin").read_bytes() == data
        assert not list(repo.path.glob(".dvc/tmp/registry-*"))
    finally:
        shutil.rmtree(cache)


def test_artifacts_of_any_size_arrive_whole_in_the_work_tree_the_cache_and_get(registry_repo,
                                                                                tmp_path):
    """The copies the registry keeps are written in whole disk blocks around the page cache,
    the last part through it: sizes on either side of a block and of a 16 MiB part keep every
    byte, in the work tree and the cache after register, and in the output and the cache
    after a get that downloads."""
    repo = registry_repo
    sizes = [0, 4095, 4096, 4097, (16 << 20) + 4097]
    blobs = {f"s{size}": os.urandom(size) for size in sizes}
    for name, data in blobs.items():
        (tmp_path / name).write_bytes(data)
        ok(repo.cli("register", name, str(tmp_path / name), "--push"))
    cache = repo.path / ".dvc" / "cache" / "files" / "md5"
    for phase in ("register", "get"):
        for name, data in blobs.items():
            md5 = hashlib.md5(data).hexdigest()
            if phase == "get":
                ok(repo.cli("get", f"{name}@latest", "-o", str(tmp_path / f"{name}.out")))
                assert (tmp_path / f"{name}.out").read_bytes() == data, name
            else:
                assert (repo.path / "models" / name / name).read_bytes() == data, name
            assert (cache / md5[:2] / md5[2:]).read_bytes() == data, (phase, name)
        shutil.rmtree(repo.path / ".dvc" / "cache")


def test_push_sends_data_first_then_branch_and_tag_and_loses_races_cleanly(registry_repo,
                                                                          tmp_path):
    """After --push the bytes are in the DVC remote and the tags on origin; a push that finds
    its tag taken on origin fails, says so, and keeps no local tag that would fork history."""
    repo, stage = registry_repo, registry_repo.stages[-1]
    data = b"pushed weights\x00"
    (tmp_path / "model.bin").write_bytes(data)
    result = as_json(repo.cli("register", "m", str(tmp_path / "model.bin"), "--push", "--json"))
    assert result["pushed"] is True

    remote = repo.git("ls-remote", "origin")
    assert f"{result['commit']}\trefs/heads/main" in remote
    assert f"{result['commit']}\trefs/tags/m@v0.0.1^{{}}" in remote
    assert data in [p.read_bytes() for p in repo.storage.rglob("*") if p.is_file()]

    ok(repo.cli("promote", "m", "v0.0.1", stage, "--push"))
    assert f"refs/tags/m#{stage}#1" in repo.git("ls-remote", "--tags", "origin")

    # with no local copy left, get must download from the DVC remote
    shutil.rmtree(repo.path / ".dvc" / "cache")
    (repo.path / "models/m/model.bin").unlink()
    ok(repo.cli("get", f"m#{stage}", "-o", str(tmp_path / "fetched.bin")))
    assert (tmp_path / "fetched.bin").read_bytes() == data

    # someone else demotes first, from another clone, and takes the next tag name; its tag
    # is dated after the promotion (which the helper may stamp a second ahead of the clock)
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "--quiet", str(repo.origin), str(other))
    promoted = int(repo.git("for-each-ref", "--format=%(taggerdate:unix)",
                            f"refs/tags/m#{stage}#1").strip())
    run_git(other, "tag", "-a", "-m", "Demote elsewhere", f"m#{stage}!#2", "m@v0.0.1^{commit}",
            env={"GIT_COMMITTER_DATE": f"{promoted + 1} +0000"})
    run_git(other, "push", "--quiet", "origin", f"m#{stage}!#2")

    # the loser sees that the winner moved the same stage, and stops rather than override it
    message = one_error_line(repo.cli("demote", "m", stage, "--push"), exit_code=1)
    assert f"m#{stage}!#2 was taken on origin" in message and "holds no version" in message
    assert repo.git("tag", "--list", f"m#{stage}!*") == f"m#{stage}!#2"  # the winner's, fetched
