"""DVC's undocumented API, as the helper uses it: each entry listed at the top of
model_registry/storage/dvc.py, exercised on a throwaway DVC repository. DVC may change any of
them in any release; a failure here names the entry that changed, so an upgrade that breaks
the helper is found here, not in a user's `register` or `get`."""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from model_registry.gitrepo import Git
from model_registry.storage import dvc as storage_dvc
from model_registry.storage.remote import Cache
from support import SRC, git


@contextmanager
def relied_on(api: str):
    """Any failure inside, an assertion included, reported as DVC having changed `api`."""
    try:
        yield
    except Exception as exc:
        pytest.fail(f"DVC changed `{api}`, which model_registry/storage/dvc.py relies on: "
                    f"{type(exc).__name__}: {exc}", pytrace=True)


def run_dvc(cwd: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed: {proc.stderr}"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def set_remote(root: Path, url: Path) -> None:
    """Make `url` the default remote, in .dvc/config as `dvc remote add -d` writes it."""
    (root / ".dvc" / "config").write_text(
        f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {url}\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A git repository with DVC initialised, committed."""
    root = tmp_path_factory.mktemp("dvc-template") / "repo"
    root.mkdir()
    git(root, "init", "-q")
    run_dvc(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "DVC")
    return root


@pytest.fixture
def repo(template, tmp_path) -> Path:
    """A copy of the template for one test, whose committed default remote is the folder
    `remote` beside it."""
    root = tmp_path / "repo"
    shutil.copytree(template, root, symlinks=True)
    (tmp_path / "remote").mkdir()
    set_remote(root, tmp_path / "remote")
    git(root, "commit", "-q", "-am", "a local remote")
    return root


def pointer_md5(pointer: Path) -> str:
    return yaml.safe_load(pointer.read_text())["outs"][0]["md5"]


def test_every_entry_in_the_list_has_a_test():
    listed = re.findall(r"^- `([^`]+)`", storage_dvc.__doc__, re.MULTILINE)
    source = Path(__file__).read_text()
    untested = [api for api in listed if f"relied_on({api!r})" not in source
                and f'relied_on("{api}")' not in source]
    assert listed and not untested, f"entries of storage/dvc.py with no test: {untested}"


def test_repo_at_a_commit_sees_the_remote_configured_there(repo, tmp_path):
    commit = git(repo, "rev-parse", "HEAD")
    (tmp_path / "elsewhere").mkdir()
    set_remote(repo, tmp_path / "elsewhere")  # not committed
    with relied_on("Repo(root, rev=...)"):
        for rev, folder in ((commit, "remote"), (None, "elsewhere")):
            stores = storage_dvc.RepoStores(str(repo), rev, None, "pull", 2)
            try:
                assert Path(stores.remote_folder).parts[:-2] == (tmp_path / folder).parts
            finally:
                stores.close()


def test_add_takes_the_md5_saved_in_dvc_state_without_hashing(repo):
    model = repo / "model.bin"
    model.write_bytes(b"the bytes")
    claimed = md5(b"bytes the helper hashed")  # not the file's: only DVC's state says it

    def fill(cached: str) -> None:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        shutil.copyfile(model, cached)

    with relied_on('repo.state.save(path, repo.fs, HashInfo("md5", md5))'):
        storage_dvc.track(str(repo), "model.bin", claimed, fill)
        assert pointer_md5(repo / "model.bin.dvc") == claimed, "DVC hashed the file again"


def test_add_without_relink_leaves_the_work_tree_file_and_cache_entry_alone(repo):
    data = os.urandom(1 << 16)
    model = repo / "model.bin"
    model.write_bytes(data)
    entry = repo / ".dvc" / "cache" / "files" / "md5" / md5(data)[:2] / md5(data)[2:]
    entry.parent.mkdir(parents=True)
    entry.write_bytes(data)
    entry.chmod(0o444)
    before = (model.stat().st_ino, entry.stat().st_ino)
    with relied_on("repo.add(target, relink=False)"):
        storage_dvc.track(str(repo), "model.bin", md5(data), lambda cached: None)
        assert pointer_md5(repo / "model.bin.dvc") == md5(data)
        assert (model.stat().st_ino, entry.stat().st_ino) == before, "DVC replaced a copy"
        assert model.read_bytes() == data and not model.is_symlink()


def test_the_cache_layout_is_the_one_the_botocore_path_assumes(repo):
    from dvc.repo import Repo

    oid = md5(b"layout")
    with relied_on("repo.cache.local.oid_to_path(md5)"), Repo(str(repo)) as dvc_repo:
        assert dvc_repo.cache.local.path
        assert dvc_repo.cache.local.oid_to_path(oid) == Cache(
            str(repo / ".dvc" / "cache")).oid_to_path(oid)


def test_the_remote_object_store_lays_objects_out_as_dvc_push_does(repo, tmp_path):
    oid = md5(b"layout")
    with relied_on("repo.cloud.get_remote_odb(name, command=...)"):
        stores = storage_dvc.RepoStores(str(repo), None, "storage", "push", 2)
        try:
            odb = stores.remote.odb
            objects = tmp_path / "remote" / "files" / "md5"
            assert odb.fs.protocol == "local" and Path(odb.path) == objects
            assert Path(odb.oid_to_path(oid)) == objects / oid[:2] / oid[2:]
        finally:
            stores.close()


def test_the_object_store_sizes_reads_uploads_and_deletes_objects(repo, tmp_path):
    data = os.urandom(3 << 16)
    source = tmp_path / "object"
    source.write_bytes(data)
    oid, advanced = md5(data), []
    with relied_on("odb.fs"):
        stores = storage_dvc.RepoStores(str(repo), None, None, "push", 2)
        try:
            remote = stores.remote
            assert remote.size(oid) is None
            remote.upload(str(source), oid, 1 << 16, advanced.append)
            assert sum(advanced) in (0, len(data)), "the callback counted other than bytes"
            assert remote.size(oid) == len(data)
            assert remote.read(oid, 10, 1000) == data[10:1000]
            remote.delete(oid)
            assert remote.size(oid) is None
        finally:
            stores.close()


def test_s3fs_takes_the_upload_concurrency_and_part_size(repo):
    pytest.importorskip("dvc_s3", reason="an S3 remote needs dvc-s3, which this registry lacks")
    run_dvc(repo, "remote", "add", "s3", "s3://bucket/prefix")
    run_dvc(repo, "remote", "modify", "s3", "sse", "AES256")  # an option botocore's path lacks
    with relied_on("odb.fs.fs.max_concurrency"):
        stores = storage_dvc.RepoStores(str(repo), None, "s3", "push", 2)
        try:
            fs = stores.remote.odb.fs.fs
            assert hasattr(fs, "max_concurrency")
            taken = inspect.signature(fs._put_file).parameters
            assert {"max_concurrency", "chunksize"} <= set(taken), sorted(taken)
        finally:
            stores.close()


def test_config_reads_the_committed_level_through_a_stand_in(repo, tmp_path):
    with open(repo / ".dvc" / "config", "a") as config:
        config.write("[cache]\n    dir = ../committed-cache\n")
    git(repo, "commit", "-q", "-am", "a cache folder, relative to .dvc")
    commit = git(repo, "rev-parse", "HEAD")
    set_remote(repo, tmp_path / "elsewhere")  # not committed
    (repo / ".dvc" / "config.local").write_text(
        f"['remote \"backup\"']\n    url = {tmp_path / 'backup'}\n")
    with relied_on("Config(dvc_dir, local_dvc_dir=..., fs=...)"):
        conf = storage_dvc.config(str(repo), str(repo / ".dvc"), commit, Git(str(repo)).read)
        assert conf["core"]["remote"] == "storage"
        assert Path(conf["remote"]["storage"]["url"]) == tmp_path / "remote"
        assert Path(conf["remote"]["backup"]["url"]) == tmp_path / "backup"
        assert Path(conf["cache"]["dir"]) == repo / "committed-cache"
        assert "local" not in conf["cache"]
        work_tree = storage_dvc.config(str(repo), str(repo / ".dvc"))
        assert Path(work_tree["remote"]["storage"]["url"]) == tmp_path / "elsewhere"


def test_dvc_tells_an_unreadable_configuration_apart(repo, tmp_path):
    (repo / ".dvc" / "config").write_text("[core\n")
    git(repo, "commit", "-q", "-am", "a broken DVC config")
    commit = git(repo, "rev-parse", "HEAD")
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    with relied_on("ConfigError, NotDvcRepoError"):
        with pytest.raises(Exception) as broken:
            storage_dvc.config(str(repo), str(repo / ".dvc"), commit, Git(str(repo)).read)
        assert storage_dvc.unreadable(broken.value), broken.value
        with pytest.raises(Exception) as missing:
            storage_dvc.RepoStores(str(plain), None, None, "pull", 2)
        assert storage_dvc.unreadable(missing.value), missing.value
        assert not storage_dvc.unreadable(OSError("the network is down"))


def test_get_url_reads_a_path_and_a_remote_alias(repo, tmp_path):
    """An artifact whose dvc.yaml path is outside the repository: a path, or `remote://NAME/`
    resolved through the DVC config committed at the version."""
    source = tmp_path / "remote" / "shared" / "model.bin"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"bytes outside the repository")
    commit = git(repo, "rev-parse", "HEAD")
    with relied_on("Repo.get_url(url, out=, config=)"):
        conf = storage_dvc.config(str(repo), None, commit, Git(str(repo)).read)
        for url, out in ((str(source), tmp_path / "by-path"),
                         ("remote://storage/shared/model.bin", tmp_path / "by-alias")):
            storage_dvc.get_url(url, str(out), conf)
            assert out.read_bytes() == source.read_bytes()


def test_reflink_copies_or_raises_oserror(tmp_path):
    source, copy = tmp_path / "source", tmp_path / "copy"
    source.write_bytes(os.urandom(1 << 16))
    with relied_on("reflink(src, dst)"):
        try:
            storage_dvc.reflink(str(source), str(copy))
        except OSError:
            return  # this filesystem shares no blocks: the helper copies instead
        assert copy.read_bytes() == source.read_bytes()


def test_the_dvc_logger_silences_dvc_progress_bars():
    from dvc.progress import Tqdm

    logger = logging.getLogger("dvc")
    level = logger.level
    master, slave = os.openpty()
    try:
        with open(slave, "w") as terminal, relied_on('logging.getLogger("dvc")'):
            logger.setLevel(logging.INFO)
            with Tqdm(total=1, file=terminal) as shown:
                assert not shown.disable, "DVC's bar is off on a terminal with its logger on"
            storage_dvc.quiet(False)
            with Tqdm(total=1, file=terminal) as quiet:
                assert quiet.disable, "DVC's bar shows with its logger at CRITICAL"
    finally:
        logger.setLevel(level)
        os.close(master)


QUIET_ADD = """
import sys
from model_registry import storage

storage.show_progress(False)
storage.add(sys.argv[1], "data")
"""


def test_dvc_says_nothing_while_tracking_when_progress_is_off(repo):
    """Importing DVC sets its loggers up at INFO; quietened after that, DVC prints nothing
    on stdout, where --json output goes, nor on stderr."""
    (repo / "data").mkdir()
    (repo / "data" / "a.txt").write_text("a")
    proc = subprocess.run([sys.executable, "-c", QUIET_ADD, str(repo)], cwd=repo, text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    with relied_on('logging.getLogger("dvc")'):
        assert proc.returncode == 0, proc.stderr
        assert (proc.stdout, proc.stderr) == ("", ""), "DVC printed while quietened"
        assert (repo / "data.dvc").is_file()


def test_what_add_imports_can_be_imported_ahead():
    with relied_on("ADD_IMPORTS"):
        storage_dvc.import_for_add()
        assert set(storage_dvc.ADD_IMPORTS) <= set(sys.modules)
