"""Everything the helper asks of DVC, in one place: the only module that imports dvc,
dvc_data or dvc_objects, and only inside the functions that need them, so resolving a
version never pays for DVC.

DVC documents `dvc.api` and its command line; the helper also relies on the following, which
DVC does not document and may change in any release. tests/test_dvc_private_api.py exercises
each one on a throwaway DVC repository, and a failure there names the entry that changed:

- `Repo(root, rev=...)`: `dvc.repo.Repo` on the work tree or at a commit, closed after use
- `repo.add(target, relink=False)`: tracks a file whose cache entry is already in place,
  leaving the work-tree file as it is
- `repo.state.save(path, repo.fs, HashInfo("md5", md5))`, with
  `dvc_data.hashfile.hash_info.HashInfo`: `repo.add` then takes that md5 without hashing
- `repo.cache.local.oid_to_path(md5)`: DVC 3's cache layout,
  `<cache>/files/md5/<2 hex>/<30 hex>`, which the botocore path assumes too; and
  `repo.cache.local.path`, set where there is a cache
- `repo.cloud.get_remote_odb(name, command=...)`: the remote's object store, with `odb.path`,
  `odb.fs.protocol` and `odb.oid_to_path(oid)`, the `files/md5/` layout `dvc push` writes
  (and `s3.Remote` writes too)
- `odb.fs`: `size(path)` (FileNotFoundError when absent), `cat_file(path, start=, end=)`,
  `put_file(src, dst, callback=)` with an fsspec `Callback`, `remove(path)`
- `odb.fs.fs.max_concurrency`: the fsspec filesystem under DVC's; s3fs's takes
  `max_concurrency` and `chunksize` for a multipart upload
- `Config(dvc_dir, local_dvc_dir=..., fs=...)`: `dvc.config.Config` reading its repository
  level through a stand-in filesystem (`Committed`: `open`, `abspath`, `join`), merged into
  `core.remote`, `remote.<name>`, `cache.dir` and `cache.local`
- `ConfigError, NotDvcRepoError`: from `dvc.config` and `dvc.exceptions`, telling a
  configuration DVC cannot read from a remote it cannot reach
- `reflink(src, dst)`: `dvc_objects.fs.system.reflink`, a copy sharing blocks, or OSError
- `logging.getLogger("dvc")`: DVC's logger, whose level decides whether its progress bars show
- `ADD_IMPORTS`: the modules `track` needs, which `import_for_add` imports ahead of it
- `Repo.get_url(url, out=, config=)`: what `dvc get-url` runs (`dvc.repo.get_url`), reading a
  URL through the filesystem DVC has for its scheme, `remote://NAME/path` resolved through
  `config`
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from ..errors import RegistryError

# What `track` imports: DVC's repository code, and networkx, with which DVC builds its
# stage graph.
ADD_IMPORTS = ("dvc.repo", "dvc.repo.add", "dvc_data.hashfile.hash_info", "networkx")


# DVC's packages import one another in circles: two threads importing them at once can each
# hold a module the other waits for, which Python ends with a _DeadlockError (seen under load:
# the copy thread's reflink beside the preload thread). A thread takes this lock to import DVC.
IMPORTING = threading.RLock()


def import_for_add() -> None:
    import importlib

    with IMPORTING:
        for module in ADD_IMPORTS:
            importlib.import_module(module)


def quiet(progress_shown: bool) -> None:
    """DVC's own progress bars only where ours would show (a terminal, not --json); its
    console stays off, as DVC leaves it for callers of its API. Call it once DVC is imported:
    importing DVC sets its loggers to INFO."""
    import logging

    if not progress_shown:
        logging.getLogger("dvc").setLevel(logging.CRITICAL)


def reflink(src: str, dst: str) -> None:
    """`dst` as a copy of `src` sharing its blocks; OSError where the filesystem cannot."""
    with IMPORTING:
        from dvc_objects.fs.system import reflink as share
    share(src, dst)


def track(root: str, relpath: str, md5: str | None = None, fill_cache=None) -> None:
    """`dvc add relpath`, run in this process: DVC writes the pointer, the .gitignore entry and
    the cache entry. With `md5`, the file's (known to be current), DVC's state learns it, as it
    would after hashing the file itself, and `fill_cache(path)` puts the cache entry at `path`
    unless it is there: DVC then neither hashes the file again nor copies it in."""
    from dvc.repo import Repo

    path = os.path.abspath(os.path.join(root, relpath))  # DVC reads a relative one from cwd
    with Repo(root) as repo:
        if md5 is not None:
            from dvc_data.hashfile.hash_info import HashInfo

            repo.state.save(path, repo.fs, HashInfo("md5", md5))
            cached = repo.cache.local.oid_to_path(md5)
            if not os.path.isfile(cached):
                fill_cache(cached)
        # The work-tree file already is a copy of the cache entry: DVC's relink would only
        # copy it over itself.
        repo.add(path, relink=md5 is None)


def remove(root: str, pointer_file: str) -> None:
    """Stop tracking an artifact (its .dvc file, .gitignore entry and work-tree copy)."""
    command(root, "remove", "--outs", pointer_file)


def command(root: str, *args: str) -> str:
    """Run a DVC command (for the rare ones the helper does not drive in process)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, text=True,
                          capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")]
        raise RegistryError(f"dvc {args[0]} failed: {(errors or lines or ['no output'])[-1]}")
    return proc.stdout


def config(root: str, local: str | None, rev: str | None = None, read=None):
    """DVC's configuration, merged from the system, global, repository and local levels as
    DVC merges them; the repository level as committed at `rev` (None: the work tree), read
    with `read(rev, path)` (a file's bytes at a revision, None if absent). `local` is the
    folder holding config.local, or None."""
    from dvc.config import Config

    files = Committed(root, rev, read) if rev else None
    return Config(os.path.join(root, ".dvc"), local_dvc_dir=local, fs=files)


def get_url(url: str, out: str, config) -> None:
    """The file or folder at `url` written to `out`, as `dvc get-url URL OUT` writes it, with
    DVC's configuration `config` (see `config`)."""
    from dvc.repo import Repo

    Repo.get_url(url, out=out, config=config)


def unreadable(exc: BaseException) -> bool:
    """Whether `exc` is DVC finding no repository or a configuration it cannot read."""
    from dvc.config import ConfigError
    from dvc.exceptions import NotDvcRepoError

    return isinstance(exc, (ConfigError, NotDvcRepoError))


class Committed:
    """The repository's DVC config file as committed at `rev`, for DVC's `Config`, which
    reads its repository level through the three calls below (as it does through DVC's git
    filesystem). Paths keep the work tree's names, so a relative path in it (`cache.dir`)
    resolves against the work tree's .dvc folder, as in a checkout."""

    abspath = staticmethod(os.path.abspath)
    join = staticmethod(os.path.join)

    def __init__(self, root: str, rev: str, read):
        self.root, self.rev, self.read = root, rev, read

    def open(self, path: str, *args, **kwargs):
        import io

        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        data = self.read(self.rev, rel)
        if data is None:
            raise FileNotFoundError(path)
        return io.StringIO(data.decode())


class RepoStores:
    """A remote of any kind DVC supports, and the local cache, through a DVC `Repo` at `rev`:
    the object store `dvc push` and `dvc pull` use. `cache` is None in a clone without a
    DVC folder of its own; `remote_folder` is the folder of a local remote."""

    def __init__(self, root: str, rev: str | None, name: str | None, command: str,
                 upload_jobs: int):
        from dvc.repo import Repo

        self.repo = Repo(root, rev=rev)
        try:
            odb = self.repo.cloud.get_remote_odb(name, command=command)
        except BaseException:
            self.repo.close()
            raise
        try:
            self.cache = self.repo.cache.local if self.repo.cache.local.path else None
        except Exception:  # a clone without a DVC folder of its own: nowhere to cache
            self.cache = None
        self.remote = Remote(odb, upload_jobs)
        self.remote_folder = odb.path if odb.fs.protocol == "local" else None

    def close(self) -> None:
        self.repo.close()


class Remote:
    """A remote through DVC's object store: `size`, `read`, `upload` and `delete` by object
    id, as the botocore path (`s3.Remote`) answers them."""

    def __init__(self, odb, upload_jobs: int):
        self.odb, self.upload_jobs = odb, upload_jobs

    def size(self, oid: str) -> int | None:
        try:
            return self.odb.fs.size(self.odb.oid_to_path(oid))
        except FileNotFoundError:
            return None

    def read(self, oid: str, start: int, end: int) -> bytes:
        return self.odb.fs.cat_file(self.odb.oid_to_path(oid), start=start, end=end)

    def upload(self, path: str, oid: str, part: int, advance) -> None:
        """A local remote copies to a temporary name and renames; S3 assembles a multipart
        upload only when every part has arrived: a remote never shows half an object."""
        from fsspec.callbacks import Callback

        class Advance(Callback):
            def relative_update(self, inc=1):
                advance(inc)

        parts = {"max_concurrency": self.upload_jobs, "chunksize": part} if hasattr(
            self.odb.fs.fs, "max_concurrency") else {}
        self.odb.fs.put_file(path, self.odb.oid_to_path(oid), callback=Advance(), **parts)

    def delete(self, oid: str) -> None:
        self.odb.fs.remove(self.odb.oid_to_path(oid))
