"""A registry on a real S3 server (SeaweedFS on loopback), end to end, at scale, and safely.

One registry, baked with remote=s3 against its own bucket and pushed to a bare origin, the way
a team runs it: the registering machine keeps its keys in the git-ignored `.dvc/config.local`;
clones, deployment jobs and `get --repo` take them from AWS_* variables. The large tests
register a 1 GiB artifact and fetch it back, measuring the memory that takes. The fixtures are
session-wide, so tests of other modules that a worker runs in between never rebuild them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import baked_world, git
from support import on_terminal as terminal

# Every test here shares one registry and one server, so all of them belong in one xdist
# worker: `make test` uses --dist loadfile, which keeps a file together; the mark asks the
# same of --dist loadgroup.
pytestmark = pytest.mark.xdist_group("s3")

GIB = 1 << 30
RSS_LIMIT = 300 * 10**6


# ------------------------------------------------------------------ helpers


def aws_env(server=None, **override: str) -> dict[str, str]:
    """This process's environment with no AWS setting but the server's keys (if given):
    no shared config files, no instance metadata lookups, nothing but loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    nowhere = os.path.join(os.devnull, "aws")  # a path that cannot exist: no shared config
    env.update(AWS_CONFIG_FILE=nowhere, AWS_SHARED_CREDENTIALS_FILE=nowhere,
               AWS_EC2_METADATA_DISABLED="true")
    if server is not None:
        env.update(server.env)
    env.update(override)
    return env


def registry(repo: Path, *args: str, env: dict, cwd=None, check: bool = True
             ) -> subprocess.CompletedProcess:
    """The baked helper, run as a user would, with the given environment (off a terminal)."""
    proc = subprocess.run([sys.executable, "-m", "model_registry", *args], cwd=cwd or repo,
                          capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(Path(repo) / "src")})
    if check and proc.returncode != 0:
        raise AssertionError(f"registry {' '.join(args)} exited {proc.returncode}: "
                             f"{proc.stderr}{proc.stdout}")
    return proc


# Starts the helper and writes its peak resident memory to argv[1]. Linux carries a process's
# peak across exec into the new program's, and a child started by this test process begins as
# a copy of it: the helper would report the test worker's own peak (300 MB and more once the
# worker has imported MLflow for another module). Started from this small launcher instead,
# the helper's peak is its own.
LAUNCHER = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
sys.exit(status)
"""


def on_terminal(repo: Path, *args: str, env: dict, cwd=None) -> tuple[int, str, int]:
    """Run the helper with a pseudo-terminal for stdout and stderr.

    Returns its exit status, what the terminal showed, and its peak resident memory in bytes
    (the largest of the helper and the processes it waited for, as the kernel counts it).
    """
    peak_file = Path(repo).parent / f".peak-{os.getpid()}"
    status, shown = terminal([sys.executable, "-c", LAUNCHER, str(peak_file), sys.executable,
                              "-m", "model_registry", *args], cwd or repo,
                             {**env, "PYTHONPATH": str(Path(repo) / "src")})
    peak = int(peak_file.read_text())
    peak_file.unlink()
    return status, shown, peak


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            md5.update(chunk)
    return md5.hexdigest()


def same_tree(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def object_key(md5: str) -> str:
    """Where DVC keeps an object in the bucket, under the remote's prefix `dvc`."""
    return f"dvc/files/md5/{md5[:2]}/{md5[2:]}"


def clone(world, name: str) -> Path:
    target = world["root"] / name
    git(world["root"], "clone", "--quiet", str(world["origin"]), str(target))
    return target


# ------------------------------------------------------------------ the registry


@pytest.fixture(scope="session")
def world(s3_server, tmp_path_factory):
    """A remote=s3 registry with two versions of a file model and one folder model, a stage,
    all pushed; its origin; a fresh clone; and the bytes of every version."""
    root = tmp_path_factory.mktemp("s3")
    bucket = s3_server.new_bucket()
    _, repo, origin = baked_world(root, remote="s3", s3_url=f"s3://{bucket}/dvc",
                                  s3_endpoint_url=s3_server.endpoint)
    dvc = [sys.executable, "-m", "dvc", "remote", "modify", "--local", "storage"]
    for option, value in (("access_key_id", s3_server.access_key),
                          ("secret_access_key", s3_server.secret_key)):
        subprocess.run([*dvc, option, value], cwd=repo, check=True, capture_output=True)
    here = aws_env()  # the registering machine: keys only in .dvc/config.local

    files = {}
    for version, size in (("v1.0.0", 3000), ("v1.1.0", 5000)):
        files["churn", version] = root / f"churn-{version}.pkl"
        files["churn", version].write_bytes(os.urandom(size))
    folder = root / "fraud" / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"layers": 2}))
    (folder / "weights" / "layer0.bin").write_bytes(os.urandom(4096))
    files["fraud", "v0.1.0"] = folder

    for step in (("register", "churn", str(files["churn", "v1.0.0"]), "--version", "v1.0.0"),
                 ("register", "churn", str(files["churn", "v1.1.0"]), "--bump", "minor"),
                 ("register", "fraud", str(folder), "--version", "v0.1.0"),
                 ("promote", "churn", "v1.0.0", "prod")):
        registry(repo, *step, "--push", env=here)
    world = {"root": root, "repo": repo, "origin": origin, "bucket": bucket, "files": files,
             "server": s3_server, "here": here, "there": aws_env(s3_server)}
    world["clone"] = clone(world, "clone")
    return world


def test_keys_live_only_in_the_git_ignored_local_config(world):
    repo = world["repo"]
    assert git(repo, "check-ignore", ".dvc/config.local") == ".dvc/config.local"
    assert world["server"].secret_key in (repo / ".dvc" / "config.local").read_text()
    assert "endpointurl = " + world["server"].endpoint in (repo / ".dvc" / "config").read_text()
    assert json.loads(registry(repo, "check", "--json", env=world["here"]).stdout)["ok"]


@pytest.mark.parametrize("ref, version", [("churn@v1.0.0", "v1.0.0"), ("churn@v1.1.0", "v1.1.0"),
                                          ("churn#prod", "v1.0.0"), ("churn", "v1.1.0")])
def test_fresh_clone_gets_each_version_by_version_and_stage(world, tmp_path, ref, version):
    out = tmp_path / "model.pkl"
    registry(world["clone"], "get", ref, "-o", str(out), env=world["there"])
    assert out.read_bytes() == world["files"]["churn", version].read_bytes()


def test_folder_artifact_round_trips_through_the_bucket(world, tmp_path):
    registry(world["clone"], "get", "fraud@v0.1.0", "-o", str(tmp_path / "fraud"),
             env=world["there"])
    assert same_tree(world["files"]["fraud", "v0.1.0"], tmp_path / "fraud")


def test_get_from_the_origin_url_needs_no_clone(world, tmp_path):
    out = tmp_path / "prod.pkl"
    registry(world["repo"], "get", "churn#prod", "--repo", str(world["origin"]), "-o", str(out),
             env=world["there"], cwd=tmp_path)
    assert out.read_bytes() == world["files"]["churn", "v1.0.0"].read_bytes()


def test_get_without_credentials_fails_in_one_line(world, tmp_path):
    out = tmp_path / "model.pkl"
    proc = registry(clone(world, "clone-no-keys"), "get", "churn@v1.0.0", "-o", str(out),
                    check=False,
                    env=aws_env(AWS_ACCESS_KEY_ID="nobody", AWS_SECRET_ACCESS_KEY="wrong"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "credentials" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_bucket_holds_only_dvc_content_addressed_objects(world):
    """Every object is named by the md5 of its bytes (a folder's manifest by the md5 of the
    listing, with `.dir`), and every registered file and folder is there."""
    server, bucket = world["server"], world["bucket"]
    client = server.client()
    keys = server.keys(bucket)
    for key in keys:
        assert re.fullmatch(r"dvc/files/md5/[0-9a-f]{2}/[0-9a-f]{30}(\.dir)?", key), key
        if client.head_object(Bucket=bucket, Key=key)["ContentLength"] < (16 << 20):
            data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert object_key(hashlib.md5(data).hexdigest()) == key.removesuffix(".dir")
    files = world["files"]
    pointer = (world["repo"] / "models" / "fraud" / "model.dvc").read_text()
    manifest = re.search(r"md5: ([0-9a-f]{32}\.dir)", pointer).group(1)
    expected = {object_key(file_md5(files["churn", v])) for v in ("v1.0.0", "v1.1.0")}
    expected |= {object_key(file_md5(p)) for p in files["fraud", "v0.1.0"].rglob("*")
                 if p.is_file()}
    assert expected | {object_key(manifest)} <= set(keys)


def test_plain_dvc_finds_what_register_wrote_up_to_date(world, tmp_path):
    """register tracks and uploads through DVC's API, not its CLI: DVC itself sees the work
    tree, the cache and the bucket in step (nothing changed, nothing to push), and a fresh
    clone pulls every artifact with `dvc pull`."""
    def dvc(repo: Path, *args: str, env: dict) -> str:
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env,
                              check=True, capture_output=True, text=True).stdout

    repo = world["repo"]
    assert json.loads(dvc(repo, "status", "--json", env=world["here"])) == {}
    assert json.loads(dvc(repo, "status", "--cloud", "--json", env=world["here"])) == {}
    fresh = clone(world, "clone-dvc-pull")
    dvc(fresh, "pull", "--quiet", env=world["there"])
    files = world["files"]
    assert file_md5(fresh / "models" / "churn" / "churn-v1.1.0.pkl") == file_md5(
        files["churn", "v1.1.0"])
    assert same_tree(fresh / "models" / "fraud" / "model", files["fraud", "v0.1.0"])


def test_no_credential_in_any_tracked_file_or_pushed_object(world):
    secrets = (world["server"].secret_key, world["server"].access_key)
    origin = world["origin"]
    objects = git(origin, "cat-file", "--batch-all-objects", "--batch-check").splitlines()
    blobs = [line.split()[0] for line in objects if line.split()[1] in ("blob", "tag", "commit")]
    pushed = subprocess.run(["git", "cat-file", "--batch"], cwd=origin, capture_output=True,
                            input="\n".join(blobs).encode(), check=True).stdout
    assert not any(s.encode() in pushed for s in secrets)
    tracked = git(world["repo"], "ls-files").splitlines()
    assert ".dvc/config.local" not in tracked
    assert not any(s in (world["repo"] / f).read_text(errors="replace")
                   for f in tracked for s in secrets)


def test_check_remote_names_the_version_missing_from_the_bucket(world, tmp_path):
    """A version registered without --push has its bytes only in the local cache: check
    --remote, which CI runs, says which artifact and version the bucket lacks."""
    repo, here = world["repo"], world["here"]
    assert json.loads(registry(repo, "check", "--remote", "--json", env=here).stdout)["ok"]
    orphan = tmp_path / "orphan.bin"
    orphan.write_bytes(os.urandom(2048))
    registry(repo, "register", "orphan", str(orphan), "--version", "v2.0.0", env=here)
    proc = registry(repo, "check", "--remote", "--json", env=here, check=False)
    assert proc.returncode != 0
    problems = json.loads(proc.stdout)["problems"]
    assert len(problems) == 1, problems
    text = json.dumps(problems[0])
    assert "models/orphan/orphan.bin" in text and "v2.0.0" in text
    assert "not in the DVC remote" in text
    assert object_key(file_md5(orphan)) not in world["server"].keys(world["bucket"])


# ------------------------------------------------------------------ the two ways to S3


def imports_of(repo: Path, *args: str, env: dict, cwd=None) -> set[str]:
    """The modules a helper command imports (it must succeed), from `python -X importtime`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "model_registry", *args],
                          cwd=cwd or repo, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(Path(repo) / "src")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


def test_transfers_go_through_botocore_not_s3fs(world, tmp_path):
    """The world's remote has only options the helper maps to botocore (URL, endpoint, keys in
    config.local or AWS_* variables), so no command starts s3fs and its event loop."""
    out = tmp_path / "model.pkl"
    fetched = imports_of(world["clone"], "get", "churn@v1.1.0", "-o", str(out),
                         env=world["there"])
    assert out.read_bytes() == world["files"]["churn", "v1.1.0"].read_bytes()
    checked = imports_of(world["clone"], "check", "--remote", env=world["there"])
    assert "botocore.client" in fetched | checked
    assert not {"s3fs", "aiobotocore"} & (fetched | checked)


def test_an_option_the_helper_does_not_map_sends_transfers_through_dvc(world, tmp_path):
    """A remote option outside the botocore path's list hands the transfer to DVC (s3fs),
    which honours every option DVC has: the same bytes come back, nothing is dropped."""
    there = clone(world, "clone-dvc-path")
    subprocess.run([sys.executable, "-m", "dvc", "remote", "modify", "--local", "storage",
                    "jobs", "2"], cwd=there, check=True, capture_output=True)
    out = tmp_path / "fraud"
    modules = imports_of(there, "get", "fraud@v0.1.0", "-o", str(out), env=world["there"])
    assert "s3fs" in modules
    assert same_tree(world["files"]["fraud", "v0.1.0"], out)


UPLOAD = """
import sys
from model_registry import storage
from model_registry.errors import InputError

path, md5, changed = sys.argv[1:]
# What file_identity gave when the file was hashed: no longer its identity, if it changed.
hashed_as = (0, 0, 0) if changed == "yes" else storage.file_identity(path)
try:
    with storage.Uploader(".", None) as upload:
        upload.send(path, md5, hashed_as)
except InputError as exc:
    print(exc)
"""


@pytest.mark.parametrize("changed", [True, False])
def test_a_file_that_changed_during_its_upload_is_taken_back_out_of_the_bucket(world,
                                                                                 tmp_path,
                                                                                 changed):
    """register uploads a file by the md5 it hashed while it copies it in; if the file is not
    the one it hashed by the end of the upload, the object sent under that md5 may hold other
    bytes, so it is deleted and the registration fails. An unchanged file stays uploaded."""
    blob = tmp_path / "moving.bin"
    blob.write_bytes(os.urandom(1 << 20))
    md5 = file_md5(blob)
    proc = subprocess.run([sys.executable, "-c", UPLOAD, str(blob), md5,
                           "yes" if changed else "no"],
                          cwd=world["repo"], capture_output=True, text=True,
                          env={**world["here"], "PYTHONPATH": str(world["repo"] / "src")})
    assert proc.returncode == 0, proc.stderr
    said = f"{blob} changed while it was being uploaded: re-run" if changed else ""
    assert proc.stdout.strip() == said
    assert (object_key(md5) in world["server"].keys(world["bucket"])) is not changed


PARTS = """
import hashlib, json, sys
from dvc.config import Config
from model_registry import storage
from model_registry.storage import s3

path, oid = sys.argv[1:]
remote = s3.Remote(Config(".dvc", local_dvc_dir=".dvc")["remote"]["storage"], jobs=2)
sent = []

def record(request, **_):
    body = request.body  # bytes, or a stream botocore rewinds before it sends
    if hasattr(body, "read"):
        at, data = body.tell(), body.read()
        body.seek(at)
        body = data
    sent.append({**{k.lower(): v.decode() if isinstance(v, bytes) else v
                    for k, v in request.headers.items()},
                 "body sha256": hashlib.sha256(body).hexdigest()})

remote.client.meta.events.register("before-send.s3.UploadPart", record)
remote.upload(path, oid, storage.UPLOAD_PART, lambda n: None)
print(json.dumps(sent))
"""


@pytest.mark.parametrize("setting", [None, "when_supported"])
def test_each_part_is_checked_by_its_signed_sha256_and_a_crc32_only_when_asked(world,
                                                                             tmp_path,
                                                                             setting):
    """Each part goes with its sha256 signed (botocore signs it over http, and over https
    whenever no other checksum is sent), which S3 checks on arrival; the CRC32 botocore adds
    by default would be a second check of the same bytes, so it is left out, unless the
    user's AWS configuration asks for it."""
    blob = tmp_path / "two-parts.bin"
    data = os.urandom((8 << 20) + 1000)
    blob.write_bytes(data)
    md5 = hashlib.md5(data).hexdigest()
    env = {**world["here"], "PYTHONPATH": str(world["repo"] / "src"),
           **({"AWS_REQUEST_CHECKSUM_CALCULATION": setting} if setting else {})}
    proc = subprocess.run([sys.executable, "-c", PARTS, str(blob), md5], cwd=world["repo"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    sent = json.loads(proc.stdout)
    assert len(sent) == 2
    assert [p["x-amz-content-sha256"] for p in sent] == [p["body sha256"] for p in sent]
    crc = ["x-amz-checksum-crc32" in p for p in sent]
    assert crc == ([True, True] if setting else [False, False])
    stored = world["server"].client().get_object(Bucket=world["bucket"], Key=object_key(md5))
    assert stored["Body"].read() == data


# ------------------------------------------------------------------ damaged objects


@pytest.fixture(scope="session")
def fragile(world):
    """A file model and a folder model whose objects the tests damage (and then restore)."""
    repo, root = world["repo"], world["root"]
    blob = root / "fragile.bin"
    blob.write_bytes(os.urandom(3 << 20))
    folder = root / "fragile-dir" / "weights"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(os.urandom(1 << 20))
    (folder / "b.bin").write_bytes(os.urandom(1 << 20))
    registry(repo, "register", "fragile", str(blob), "--version", "v1.0.0", "--push",
             env=world["here"])
    registry(repo, "register", "fragile-dir", str(folder), "--version", "v1.0.0", "--push",
             env=world["here"])
    return {"fragile": (blob, object_key(file_md5(blob))),
            "fragile-dir": (folder, object_key(file_md5(folder / "b.bin")))}


def damage(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize("how", ["corrupted", "truncated"])
@pytest.mark.parametrize("model", ["fragile", "fragile-dir"])
def test_damaged_object_fails_the_checksum_and_leaves_the_output_alone(world, fragile,
                                                                      tmp_path, model, how):
    source, key = fragile[model]
    client, bucket = world["server"].client(), world["bucket"]
    good = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    target = clone(world, f"clone-{model}-{how}")
    out = tmp_path / "model"
    out.write_bytes(b"the model in service")
    client.put_object(Bucket=bucket, Key=key, Body=damage(good, how))
    try:
        proc = registry(target, "get", f"{model}@v1.0.0", "-o", str(out), "--force",
                        env=world["there"], check=False)
    finally:
        client.put_object(Bucket=bucket, Key=key, Body=good)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: checksum mismatch for {model} v1.0.0")
    assert out.read_bytes() == b"the model in service"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary left behind
    # The bad bytes were not cached: with the object repaired, the same clone gets it right.
    registry(target, "get", f"{model}@v1.0.0", "-o", str(out), "--force", env=world["there"])
    assert same_tree(source, out) if source.is_dir() else out.read_bytes() == source.read_bytes()


def test_second_get_of_a_folder_is_served_from_the_cache(world, fragile, tmp_path):
    target = clone(world, "clone-cached-folder")
    registry(target, "get", "fragile-dir@v1.0.0", "-o", str(tmp_path / "first"),
             env=world["there"])
    offline = aws_env(world["server"], AWS_SECRET_ACCESS_KEY="not-the-key")
    registry(target, "get", "fragile-dir@v1.0.0", "-o", str(tmp_path / "second"), env=offline)
    assert same_tree(fragile["fragile-dir"][0], tmp_path / "second")


# ------------------------------------------------------------------ 1 GiB


def write_random(path: Path, size: int) -> str:
    """`size` random bytes, written 4 MiB at a time; returns their md5."""
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        for _ in range(size // (4 << 20)):
            block = os.urandom(4 << 20)
            md5.update(block)
            f.write(block)
    return md5.hexdigest()


@pytest.fixture(scope="session")
def large(world):
    """A 1 GiB model registered with --push (off a terminal), and a fresh clone."""
    path = world["root"] / "large.bin"
    md5 = write_random(path, GIB)
    proc = registry(world["repo"], "register", "large", str(path), "--version", "v1.0.0",
                    "--push", env=world["here"])
    yield {"md5": md5, "clone": clone(world, "clone-large"), "register": proc}
    for leftover in (path, world["repo"] / "models" / "large" / "large.bin"):
        leftover.unlink(missing_ok=True)


def test_large_registration_off_a_terminal_is_quiet(world, large):
    assert large["register"].stderr == ""
    assert large["register"].stdout.startswith("registered large v1.0.0")


def test_large_artifact_streams_with_bounded_memory_then_comes_from_the_cache(world, large,
                                                                              tmp_path):
    """The first get downloads with flat memory and shows progress on a terminal; the second,
    with the keys wrong so only the local DVC cache can serve it, needs no download, and with
    --json prints nothing but JSON."""
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    status, shown, peak = on_terminal(large["clone"], "get", "large@v1.0.0", "-o", str(first),
                                      env=world["there"])
    assert status == 0, shown
    assert peak < RSS_LIMIT, f"registry get peaked at {peak / 1e6:.0f} MB"
    assert "fetching large v1.0.0:" in shown and "100% 1024 of 1024 MiB" in shown
    assert file_md5(first) == large["md5"]
    first.unlink()

    offline = aws_env(world["server"], AWS_SECRET_ACCESS_KEY="not-the-key")
    status, shown, _ = on_terminal(large["clone"], "get", "large@v1.0.0", "-o", str(second),
                                   "--json", env=offline)
    assert status == 0, shown
    # JSON only, no progress line (DVC's colorama may add an invisible colour reset on exit)
    assert "fetching" not in shown
    assert json.loads(shown.replace("\x1b[0m", ""))["artifact"]["md5"] == large["md5"]
    assert file_md5(second) == large["md5"]
    second.unlink()


def test_large_object_is_one_content_addressed_object_in_the_bucket(world, large):
    head = world["server"].client().head_object(Bucket=world["bucket"],
                                                Key=object_key(large["md5"]))
    assert head["ContentLength"] == GIB
