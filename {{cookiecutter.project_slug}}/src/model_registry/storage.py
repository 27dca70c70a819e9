"""Artifact bytes: DVC tracks them, the DVC remote keeps them, and we verify every byte we hand out.

DVC is driven through its Python API, in this process: `Repo.add` (what `dvc add` runs) tracks an
artifact and writes its pointer; DVC's `Config` says where the remote and the cache are. Objects
move under the keys `dvc push` uses, through DVC's object stores, or for a plain S3 remote
through botocore directly (`s3.py`, `_Stores`). DVC is imported only here and only inside the
functions that need it, so resolving a version never pays for it; hashlib, shutil and tempfile,
which reading a pointer needs neither, are imported where they are used too.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from . import yamlio
from .errors import InputError, RegistryError

CHUNK = 1 << 20
# Progress of long transfers on stderr: None means "when stderr is a terminal"; the CLI sets
# False for --json, whose readers are scripts.
PROGRESS: bool | None = None
# DVC remote options that hold credentials: never in .dvc/config, which git tracks.
SECRET_KEYS = {"access_key_id", "secret_access_key", "session_token", "password",
               "sas_token", "connection_string", "account_key", "gdrive_client_secret"}


@dataclass
class Digest:
    """What the registry records of an artifact: DVC's md5 plus a sha256 for auditors."""

    md5: str | None  # None only inside `fetch`, for bytes checked by sha256 alone
    sha256: str
    size: int
    nfiles: int | None = None

    def as_dict(self) -> dict:
        data = {"md5": self.md5, "sha256": self.sha256, "size": self.size}
        if self.nfiles is not None:
            data["nfiles"] = self.nfiles
        return data


_CREDENTIALS = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a secret access key setting": re.compile(r"(?i)secret_access_key\s*[:=]\s*\S{16,}"),
}


def credentials_in(text: str) -> list[str]:
    """Kinds of credential that `text` appears to hold (a file git would publish)."""
    return [what for what, pattern in _CREDENTIALS.items() if pattern.search(text)]


# ------------------------------------------------------------------ hashing


class _Hasher:
    """md5 (DVC's) and sha256 (the auditors') of one stream, computed side by side: hashlib
    lets go of the GIL, so a second core does sha256 while this one does md5, and hashing a
    large artifact costs the slower of the two rather than their sum. With `md5=False`,
    sha256 alone (a third of md5's cost here, with the CPU's SHA instructions): what `get`
    needs to check a file whose registration attests its sha256."""

    _pool = None

    def __init__(self, md5: bool = True):
        import hashlib
        self.md5 = hashlib.md5() if md5 else None
        self.sha256, self.size = hashlib.sha256(), 0
        self._sha_done = None

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.md5 is None:
            self.sha256.update(chunk)
            return
        if _Hasher._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            _Hasher._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        if self._sha_done is not None:
            self._sha_done.result()
        self._sha_done = _Hasher._pool.submit(self.sha256.update, chunk)
        self.md5.update(chunk)

    def result(self) -> tuple[str | None, str, int]:
        if self._sha_done is not None:
            self._sha_done.result()
        md5 = self.md5.hexdigest() if self.md5 is not None else None
        return md5, self.sha256.hexdigest(), self.size


def _hash_file(path: str) -> tuple[str, str, int]:
    hasher = _Hasher()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.result()


def _manifest_hash(entries: list[dict], algorithm) -> str:
    """The hash of a directory manifest, serialised as DVC serialises its `.dir` objects."""
    entries.sort(key=lambda e: e["relpath"])
    return algorithm(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def digest(path: str) -> Digest:
    """DVC's md5 of a file, or of a directory's manifest (`<md5>.dir`), with sha256 and size.

    For a directory the sha256 is taken over the same manifest with sha256 in place of md5,
    so both digests cover every file's path and content.
    """
    import hashlib
    if not os.path.isdir(path):
        md5, sha, size = _hash_file(path)
        return Digest(md5, sha, size)
    md5_entries, sha_entries, total = [], [], 0
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in files:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            md5, sha, size = _hash_file(full)
            md5_entries.append({"md5": md5, "relpath": rel})
            sha_entries.append({"relpath": rel, "sha256": sha})
            total += size

    return Digest(_manifest_hash(md5_entries, hashlib.md5) + ".dir",
                  _manifest_hash(sha_entries, hashlib.sha256), total, len(md5_entries))


# ------------------------------------------------------------------ .dvc pointers


@dataclass
class Pointer:
    path: str
    md5: str
    size: int | None
    nfiles: int | None

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


def read_pointer(data: bytes, source: str) -> Pointer:
    doc = yamlio.load(data, source)
    try:
        out = doc["outs"][0]
        return Pointer(out["path"], out["md5"], out.get("size"), out.get("nfiles"))
    except (TypeError, KeyError, IndexError):
        raise InputError(f"{source} is not a DVC pointer file: re-create it with dvc add") from None


# ------------------------------------------------------------------ DVC commands


def _show_progress() -> bool:
    return PROGRESS if PROGRESS is not None else sys.stderr.isatty()


def _dvc(root: str, *args: str) -> str:
    """Run a DVC command (for the rare ones the helper does not drive in process)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, text=True,
                          capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")]
        raise RegistryError(f"dvc {args[0]} failed: {(errors or lines or ['no output'])[-1]}")
    return proc.stdout


def file_identity(path: str) -> tuple | None:
    """What DVC trusts to know a file unchanged (inode, size, mtime); None for a folder."""
    if os.path.isdir(path):
        return None
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _quiet_dvc() -> None:
    """DVC's own progress bars only where ours would show (a terminal, not --json); its
    console stays off, as DVC leaves it for callers of its API."""
    import logging

    if not _show_progress():
        logging.getLogger("dvc").setLevel(logging.CRITICAL)


@contextmanager
def copying(root: str, source: str, names: list[str]):
    """Copies of the file `source`, one per name, made in a thread while the caller goes on
    (`_store_copies`): started while it hashes the file, they take the core hashing leaves
    free, rather than compete with an upload later for the CPU and memory. Yields a future of
    {name: path}; the paths are in .dvc/tmp, which git ignores, on the repository's
    filesystem, so a rename moves a copy into the work tree or the DVC cache. Whatever is
    still there on leaving is deleted.

    The copies are of the file as it is while they are made: a caller checks, as DVC does,
    that the file did not change (`file_identity`) before it takes them for what it hashed.
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    folder = os.path.join(root, ".dvc", "tmp")
    paths = {name: os.path.join(folder, f"registry-{os.getpid()}-{n}")
             for n, name in enumerate(names)}

    def copy() -> dict[str, str]:
        try:
            os.makedirs(folder, exist_ok=True)
            _store_copies(source, list(paths.values()))
        except OSError as exc:
            raise RegistryError(f"could not copy {source} into the registry ({_why(exc)}): "
                                "free some disk space or fix the permissions, then re-run"
                                ) from None
        return paths

    with ThreadPoolExecutor(1, thread_name_prefix="copy") as pool:
        copies = pool.submit(copy)
        try:
            yield copies
        finally:
            wait([copies])
            for path in paths.values():
                _discard(path)


def add(root: str, relpath: str, known: Digest | None = None,
        cache_copy: str | None = None) -> None:
    """`dvc add relpath`, run in this process: DVC writes the pointer, the .gitignore entry and
    the cache entry. `known` is the digest of exactly these bytes (the caller checked that they
    did not change since it hashed them): DVC's state learns the md5, as it would after
    hashing the file itself, and the cache entry is `cache_copy` (a copy of the same bytes,
    moved in) or else made now (`_store_copies`), so DVC neither reads a large artifact again
    to hash it nor copies it through the page cache. Should that fail, DVC makes its own."""
    from dvc.repo import Repo

    _quiet_dvc()
    path = os.path.abspath(os.path.join(root, relpath))
    placed = known is not None and not os.path.isdir(path)
    try:
        with Repo(root) as repo:
            if placed:
                from dvc_data.hashfile.hash_info import HashInfo

                repo.state.save(path, repo.fs, HashInfo("md5", known.md5))
                cached = repo.cache.local.oid_to_path(known.md5)
                if not os.path.isfile(cached):
                    _keep(path, cached, cache_copy)
            # The work-tree file already is a copy of the cache entry: DVC's relink would
            # only copy it over itself.
            repo.add(relpath, relink=not placed)
    except RegistryError:
        raise
    except Exception as exc:  # DVC raises many types; all mean "could not track it"
        raise RegistryError(f"dvc add failed: {_why(exc)}") from None


# What `add` imports: DVC's repository code, and networkx, with which DVC builds its stage graph.
_ADD_IMPORTS = ("dvc.repo", "dvc.repo.add", "dvc_data.hashfile.hash_info", "networkx")


def _import_for_add() -> None:
    import importlib

    for module in _ADD_IMPORTS:
        importlib.import_module(module)


def preload() -> None:
    """Import what `add` needs (about a second of DVC's modules) in a thread, while the caller
    hashes the artifact: hashing lets go of the GIL, so the imports cost no wall time. An
    `Uploader` does the same in its own thread: DVC's modules are imported by one thread at
    a time, as DVC's package, circular in places, needs."""
    import threading

    threading.Thread(target=_import_for_add, name="preload", daemon=True).start()


def remove(root: str, pointer_file: str) -> None:
    """Stop tracking an artifact (its .dvc file, .gitignore entry and work-tree copy)."""
    _dvc(root, "remove", "--outs", pointer_file)


def push(root: str, targets: list[str], remote: str | None) -> None:
    """Upload the targets' objects from the DVC cache to the DVC remote, as `dvc push` would
    (same keys, objects already there skipped, a folder's files before its manifest); raises
    naming the remote on failure. It runs in this process: no second DVC start and index
    walk."""
    _quiet_dvc()
    with _upload_errors(remote) as name, _Stores(root, None, remote, "push") as stores:
        oids = []
        for target in targets:
            pointer = read_pointer(open(os.path.join(root, target), "rb").read(), target)
            if stores.remote.size(pointer.md5) is not None:  # a manifest goes last: its
                continue                                      # files are there too
            if pointer.is_dir:
                with open(stores.cache.oid_to_path(pointer.md5), "rb") as f:
                    oids += [e["md5"] for e in json.load(f)
                             if stores.remote.size(e["md5"]) is None]
            oids.append(pointer.md5)
        _send(stores.remote, [(stores.cache.oid_to_path(oid), oid) for oid in oids], name)


class Uploader:
    """Uploads one file whose md5 is known to its key in the DVC remote, in a thread, while
    the caller goes on (copies the file in, has DVC track it): the upload, the long part,
    hides the rest. The remote is opened (DVC's configuration read, the client made) from
    the start, beside the hashing that tells what to send, and what `add` imports is imported
    (see `preload`); opening it changes nothing.

        with Uploader(root, remote) as upload:
            ...hash...
            upload.send(path, md5, identity)
            ...
            upload.wait()   # raises the upload's error; leaving the block waits too
    """

    def __init__(self, root: str, remote: str | None):
        from concurrent.futures import ThreadPoolExecutor

        _quiet_dvc()
        self.remote = remote
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="upload")
        self._stores = self._pool.submit(self._open, root, remote)
        self._sent = None

    @staticmethod
    def _open(root: str, remote: str | None) -> "_Stores":
        stores = _Stores(root, None, remote, "push")
        _import_for_add()
        return stores

    def send(self, path: str, md5: str, identity: tuple) -> None:
        """Start uploading `path`. `identity` is its `file_identity` when it was hashed: a
        file that changed during the upload may have sent other bytes under that md5, so the
        object is deleted again and `wait` raises."""
        self._sent = self._pool.submit(self._send, path, md5, identity)

    def _send(self, path: str, md5: str, identity: tuple) -> None:
        with _upload_errors(self.remote) as name:
            remote = self._stores.result().remote
            if remote.size(md5) is not None:
                return
            _send(remote, [(path, md5)], name)
            try:
                same = file_identity(path) == identity
            except OSError:
                same = False
            if not same:
                try:
                    remote.delete(md5)
                except Exception as exc:  # the change is the error to report; say what is left
                    raise InputError(f"{path} changed while it was being uploaded, and object "
                                     f"{md5} could not be deleted from the remote ({_why(exc)})"
                                     ": delete it, then re-run") from None
                raise InputError(f"{path} changed while it was being uploaded: re-run")

    def wait(self) -> None:
        if self._sent is not None:
            self._sent.result()

    def __enter__(self) -> "Uploader":
        return self

    def __exit__(self, *exc_info) -> None:
        """Waits for the thread; the block's own error, if any, wins over the upload's."""
        self._pool.shutdown()
        if self._stores.exception() is None:
            self._stores.result().close()
        if exc_info[0] is None:
            self.wait()
            with _upload_errors(self.remote):
                self._stores.result()


@contextmanager
def _upload_errors(remote: str | None):
    """Any failure of an upload as one error naming the remote and what to check."""
    name = remote or "the default remote"
    try:
        yield name
    except RegistryError:
        raise
    except Exception as exc:  # network, credentials, a missing folder: all "could not upload"
        raise RegistryError(f"could not upload to DVC remote {name} ({_why(exc)}): check that "
                            "the remote is reachable and its credentials are set, then re-run"
                            ) from None


def _send(remote, files: list[tuple[str, str]], name: str) -> None:
    with _Progress(f"uploading to {name}", sum(os.path.getsize(p) for p, _ in files)) as shown:
        for path, oid in files:
            remote.upload(path, oid, UPLOAD_PART, shown.advance)


def remote_problems(root: str, pointers: list[Pointer], remote: str | None = None,
                    read: bool = False) -> list[tuple[Pointer, str]]:
    """The pointers whose data the DVC remote lacks, each with why (for a folder: its manifest
    or any file it lists).

    Without `read`, asks the remote object by object without downloading, so CI can refuse a
    version whose bytes never reached storage before anyone tags or deploys it. With `read`
    (`registry verify`), also streams each object and compares its md5, so a copy damaged in
    storage is found before the day it is needed. A remote that cannot be asked at all raises:
    an outage must not read as "never pushed", whose advice (push again) would be wrong.
    """
    name = remote or "the default remote"
    try:
        with _Stores(root, None, remote, "status") as stores:
            if stores.remote_folder and not os.path.isdir(stores.remote_folder):
                raise RegistryError(f"could not reach DVC remote {name}: its folder "
                                    f"{stores.remote_folder} does not exist; mount it or fix "
                                    "the URL (dvc remote modify), then re-run")
            return [(p, why) for p in pointers if (why := _remote_problem(stores.remote, p, read))]
    except RegistryError:
        raise
    except Exception as exc:  # DVC raises many types; all mean "could not ask the remote"
        raise RegistryError(f"could not reach DVC remote {name} to query it ({_why(exc)}): "
                            "check that it is reachable and its credentials are set") from None


def _remote_problem(remote, pointer: Pointer, read: bool) -> str | None:
    """Why the remote's copy of one artifact is unusable, or None when it is whole."""
    import hashlib

    files = [pointer.md5]
    if pointer.is_dir:
        size = remote.size(pointer.md5)
        if size is None:
            return "not in the DVC remote"
        manifest = remote.read(pointer.md5, 0, size)
        if read and hashlib.md5(manifest).hexdigest() != _plain(pointer.md5):
            return f"its manifest {pointer.md5} is damaged in the DVC remote"
        try:
            files = [entry["md5"] for entry in json.loads(manifest)]
        except (ValueError, TypeError, KeyError):
            return f"its manifest {pointer.md5} in the DVC remote is not a DVC directory listing"
    for oid in files:
        size = remote.size(oid)
        if size is None:
            return "not in the DVC remote"
        if read:
            got = hashlib.md5()
            for chunk in _parts(remote, oid, size):
                got.update(chunk)
            if got.hexdigest() != oid:
                return f"object {oid} is damaged in the DVC remote (its md5 is {got.hexdigest()})"
    return None


def fetch(repo: str, rev: str, pointer: Pointer, dest: str, force: bool,
          label: str | None = None, sha256: str | None = None) -> Digest:
    """Write the artifact of `pointer` at `rev` to `dest`, only once its checksum matches.

    Each object comes from the local DVC cache when it holds a good copy, else from the DVC
    remote, streamed in bounded parts and hashed on the way (memory stays flat whatever the
    size). A downloaded object enters the cache only once it matches, so a second `get`
    needs no download and a corrupt remote copy never poisons the cache. The bytes land in a
    temporary sibling of `dest` and are renamed into place after the check, so `dest` is
    either untouched or complete. `label` (e.g. "churn v1.4.0") names the version in errors.

    `sha256`, for a file, is what the version's registration tag attests for the bytes its
    md5 names (the helper hashed both in one read). The file is then checked against it
    alone: bytes with that sha256 are the registered ones, so their md5 is the pointer's, and
    the check costs a third of md5's (see docs/design-decisions.md). A folder is checked file
    by file against the md5s its manifest lists, the only per-file checksums there are.
    """
    import shutil
    import tempfile
    label = label or f"{pointer.path} at {rev[:12]}"
    parent = os.path.dirname(os.path.abspath(dest))
    staging = tempfile.mkdtemp(prefix=".registry-get-", dir=parent)
    try:
        tmp = os.path.join(staging, "artifact")
        with _Objects(repo, rev, label, pointer.size) as objects:
            if pointer.is_dir:
                got = objects.get_dir(pointer.md5, tmp, os.path.join(staging, "manifest"))
            else:
                got = objects.get_file(pointer.md5, tmp, sha256)
        if sha256 and got.sha256 != sha256:
            raise RegistryError(f"checksum mismatch for {label} ({pointer.path}, object "
                                f"{pointer.md5}): its tag attests sha256 {sha256}, the bytes "
                                f"have {got.sha256}; nothing was written; `registry verify` "
                                "tells a damaged copy in the DVC remote from a wrong tag")
        if not sha256 and got.md5 != pointer.md5:
            raise RegistryError(f"checksum mismatch for {label} ({pointer.path}): expected md5 "
                                f"{pointer.md5}, got {got.md5}; the copy in the DVC remote is "
                                "corrupt, nothing was written")
        if os.path.lexists(dest):
            if not force:
                raise InputError(f"{dest} exists: pass --force to overwrite it")
            if os.path.isdir(dest) and not os.path.islink(dest):
                shutil.rmtree(dest)
            else:
                os.remove(dest)
        os.replace(tmp, dest)
        return Digest(pointer.md5, got.sha256, got.size, got.nfiles)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------ the remote and the cache

# A download reads one object in parts of PART bytes, JOBS at a time, in order: at most
# (JOBS + 1) * PART bytes are held, so fetching 1 GiB or 100 GiB takes the same memory.
# Each request costs CPU in botocore and in the server: 16 MiB parts took 0.4 s less per GiB
# than 8 MiB on 2 cores with SeaweedFS beside them.
PART = 16 << 20
JOBS = 4
# An upload sends UPLOAD_JOBS parts of UPLOAD_PART bytes at a time: 64 MiB held, where DVC's
# defaults hold 8 parts of 50 MiB.
UPLOAD_PART = 8 << 20
UPLOAD_JOBS = 8


class _Stores:
    """The DVC remote (`name`, or the default) and the local DVC cache, as DVC's configuration
    names them at `rev` (None: the work tree): DVC's own `Config` merges the system, global,
    repository and local levels. An S3 remote whose options `s3.usable` accepts is reached
    through botocore; any other remote, or a cache kept in a remote, through a DVC `Repo`.
    Either way `remote` answers `size`, `read`, `upload` and `delete` by object id, and
    `cache` (None where there is no DVC folder) has `oid_to_path`."""

    def __init__(self, root: str, rev: str | None, name: str | None, command: str):
        from dvc.config import Config

        from . import s3

        dvc_dir = os.path.join(root, ".dvc")
        local = dvc_dir if os.path.isdir(dvc_dir) else None
        files = _Committed(root, rev) if rev else None
        config = Config(dvc_dir, local_dvc_dir=local, fs=files)
        self._repo = None
        self.remote_folder = None
        name = name or config["core"].get("remote")
        conf = config["remote"].get(name) if name else None
        if conf is not None and s3.usable(conf) and "local" not in config["cache"]:
            self.remote = s3.Remote(conf, max(JOBS, UPLOAD_JOBS))
            folder = config["cache"].get("dir") or (local and os.path.join(local, "cache"))
            self.cache = _Cache(folder) if folder else None
            return
        from dvc.repo import Repo

        self._repo = Repo(root, rev=rev)
        try:
            odb = self._repo.cloud.get_remote_odb(name, command=command)
        except BaseException:
            self._repo.close()
            raise
        try:
            self.cache = self._repo.cache.local if self._repo.cache.local.path else None
        except Exception:  # a clone without a DVC folder of its own: nowhere to cache
            self.cache = None
        self.remote = _DvcRemote(odb)
        if odb.fs.protocol == "local":
            self.remote_folder = odb.path

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()

    def __enter__(self) -> "_Stores":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Committed:
    """The repository's DVC config file as committed at `rev`, for DVC's `Config`, which
    reads its repository level through the three calls below (as it does through DVC's git
    filesystem). Paths keep the work tree's names, so a relative path in it (`cache.dir`)
    resolves against the work tree's .dvc folder, as in a checkout."""

    abspath = staticmethod(os.path.abspath)
    join = staticmethod(os.path.join)

    def __init__(self, root: str, rev: str):
        self.root, self.rev = root, rev

    def open(self, path: str, *args, **kwargs):
        import io

        from .gitrepo import Git

        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        data = Git(self.root).read(self.rev, rel)
        if data is None:
            raise FileNotFoundError(path)
        return io.StringIO(data.decode())


class _Cache:
    """DVC 3's local cache: each object at `<cache dir>/files/md5/<2 hex>/<30 hex>`."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "files", "md5")

    def oid_to_path(self, oid: str) -> str:
        return os.path.join(self.path, oid[:2], oid[2:])


class _DvcRemote:
    """A remote of any kind DVC supports, through its object store (what `dvc push` uses)."""

    def __init__(self, odb):
        self.odb = odb

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

        parts = {"max_concurrency": UPLOAD_JOBS, "chunksize": part} if hasattr(
            self.odb.fs.fs, "max_concurrency") else {}
        self.odb.fs.put_file(path, self.odb.oid_to_path(oid), callback=Advance(), **parts)

    def delete(self, oid: str) -> None:
        self.odb.fs.remove(self.odb.oid_to_path(oid))


def _parts(remote, oid: str, size: int):
    """The object's bytes in order, read in parts with JOBS ranged requests in flight."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def read(start: int) -> bytes:
        return remote.read(oid, start, min(start + PART, size))

    starts = iter(range(0, size, PART))
    with ThreadPoolExecutor(JOBS, thread_name_prefix="download") as pool:
        pending = deque(pool.submit(read, s) for _, s in zip(range(JOBS + 1), starts))
        while pending:
            chunk = pending.popleft().result()
            following = next(starts, None)
            if following is not None:
                pending.append(pool.submit(read, following))
            yield chunk


class _Objects:
    """One revision's objects: from the local DVC cache when it holds a good copy, else from
    the DVC remote."""

    def __init__(self, root: str, rev: str, label: str, size: int | None):
        from dvc.config import ConfigError
        from dvc.exceptions import NotDvcRepoError

        self.label = label
        self.progress = _Progress(f"fetching {label}", size)
        try:
            self._stores = _Stores(root, rev, None, "pull")
        except (ConfigError, NotDvcRepoError) as exc:
            raise RegistryError(f"cannot read DVC's configuration at {rev[:12]} ({_why(exc)}): "
                                "is this a registry repository?") from None
        except Exception as exc:  # DVC raises many types; all mean "no remote to read"
            raise RegistryError(f"no usable DVC remote for {label} ({_why(exc)}): set one in "
                                ".dvc/config (`dvc remote add -d`)") from None
        self.remote, self.cache = self._stores.remote, self._stores.cache

    def __enter__(self) -> "_Objects":
        return self

    def __exit__(self, *exc_info) -> None:
        self.progress.close()
        self._stores.close()

    def get_file(self, oid: str, out: str, sha256: str | None = None) -> Digest:
        """The object `oid` written to `out`, with its md5, or with only its sha256 when
        `sha256` (what the bytes of `oid` must hash to) is given; the caller compares."""
        cached = self.cache.oid_to_path(oid) if self.cache else None
        if cached and os.path.isfile(cached):
            got = self._from_cache(cached, out, sha256)
            if _matches(got, oid, sha256):
                return got
            _discard(cached)  # a damaged cache copy: drop it and download a good one
        return self._download(oid, out, cached, sha256)

    def _from_cache(self, cached: str, out: str, sha256: str | None) -> Digest:
        """A cache entry copied to `out` and hashed: a reflink where the filesystem shares
        blocks (then read back to hash), else read once, around the page cache as it was
        written, and hashed while it is written out."""
        from dvc_objects.fs.system import reflink

        try:
            reflink(cached, out)
        except OSError:
            with open(out, "wb") as dst:
                return _drain(_read_parts(cached), dst.write, self.progress, sha256)
        return _drain(_read_parts(out), None, self.progress, sha256)

    def get_dir(self, oid: str, out: str, manifest_file: str) -> Digest:
        """A directory: its manifest (`<md5>.dir`), verified, then each file it lists."""
        import hashlib
        got = self.get_file(oid, manifest_file)
        if got.md5 != _plain(oid):
            return Digest(got.md5 + ".dir", got.sha256, got.size)
        try:
            with open(manifest_file, "rb") as f:
                entries = [(e["relpath"], e["md5"]) for e in json.load(f)]
        except (ValueError, TypeError, KeyError):
            raise RegistryError(f"the manifest of {self.label} ({oid}) is not a DVC directory "
                                "listing: the remote copy is damaged") from None
        os.makedirs(out)
        sha_entries, total = [], 0
        for relpath, file_oid in entries:
            parts = relpath.split("/")
            if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise RegistryError(f"the manifest of {self.label} lists {relpath!r}, a path "
                                    "outside the artifact: refusing to write it")
            target = os.path.join(out, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            got = self.get_file(file_oid, target)
            if got.md5 != file_oid:
                raise RegistryError(f"checksum mismatch for {self.label} ({relpath}): expected "
                                    f"md5 {file_oid}, got {got.md5}; the copy in the DVC remote "
                                    "is corrupt, nothing was written")
            sha_entries.append({"relpath": relpath, "sha256": got.sha256})
            total += got.size
        return Digest(oid, _manifest_hash(sha_entries, hashlib.sha256), total, len(entries))

    def _download(self, oid: str, out: str, cached: str | None, sha256: str | None) -> Digest:
        """Stream `oid` from the remote into `out` and, once it matches, into the cache (see
        `_CacheCopy`)."""
        try:
            size = self.remote.size(oid)
        except Exception as exc:  # DVC raises many types; all mean "could not ask the remote"
            raise RegistryError(f"could not reach the DVC remote for {self.label} "
                                f"({_why(exc)}): check that it is reachable and its "
                                "credentials are set, then re-run") from None
        if size is None:
            raise RegistryError(f"{self.label}: object {oid} is not in the DVC remote: push it "
                                "with `dvc push` from a clone that has it")
        entry = _CacheCopy(cached) if cached else None
        try:
            with open(out, "wb") as dst:

                def write(chunk: bytes) -> None:
                    dst.write(chunk)
                    if entry:
                        entry.add(chunk)

                got = _drain(_parts(self.remote, oid, size), write, self.progress, sha256)
            if entry and _matches(got, oid, sha256):
                entry.keep()
        except Exception as exc:  # network, credentials, server errors: all "could not download"
            raise RegistryError(f"could not download {self.label} from the DVC remote "
                                f"({_why(exc)}): check the remote and its credentials, "
                                "then re-run") from None
        finally:
            if entry:
                entry.discard()  # unless kept: a copy of bytes that failed the check
        return got


class _CacheCopy:
    """The DVC cache entry of an object being downloaded, written from each part as it
    arrives and around the page cache (`_Direct`), so the cache costs neither a second pass
    once the download ends nor a second gigabyte of page cache beside the output's. The copy
    enters the cache, read-only as DVC keeps it, only once it matches. A cache that cannot be
    written costs only a download next time."""

    def __init__(self, cached: str):
        self.cached, self.tmp, self.kept, self.file = cached, _cache_temp(cached), False, None
        try:
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            self.file = _Direct(self.tmp)
        except OSError:
            pass

    def add(self, chunk: bytes) -> None:
        if self.file is not None:
            try:
                self.file.write(chunk)
            except OSError:
                self.discard()

    def keep(self) -> None:
        if self.file is None:
            return
        try:
            self.file.close()
            _into_cache(self.tmp, self.cached)
            self.kept = True
        except OSError:
            self.discard()

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if not self.kept:
            _discard(self.tmp)


def _drain(chunks, write, progress: "_Progress", sha256: str | None = None) -> Digest:
    """Hash each chunk and pass it to `write` (unless None), the writing in a thread of its
    own: while the kernel makes a writer wait for the disk, the chunk is hashed and the
    download goes on. With an expected `sha256`, only sha256 is computed."""
    from concurrent.futures import ThreadPoolExecutor

    write = write or (lambda chunk: None)
    hasher = _Hasher(md5=sha256 is None)
    with ThreadPoolExecutor(1, thread_name_prefix="write") as writer:
        written = None
        for chunk in chunks:
            if written is not None:
                written.result()
            written = writer.submit(write, chunk)
            hasher.update(chunk)
            progress.advance(len(chunk))
        if written is not None:
            written.result()
    return Digest(*hasher.result())


def _why(exc: Exception) -> str:
    """An exception as one line (botocore's messages can span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _matches(got: Digest, oid: str, sha256: str | None) -> bool:
    """Whether hashed bytes are the object `oid`: by `sha256` when given, else by md5."""
    return got.sha256 == sha256 if sha256 else got.md5 == _plain(oid)


def _plain(oid: str) -> str:
    """The md5 an object's bytes hash to (a `.dir` object's id carries a suffix)."""
    return oid[:-len(".dir")] if oid.endswith(".dir") else oid


def _store_copies(src: str, dsts: list[str]) -> None:
    """Copies of `src` that the registry keeps rather than reads soon (a DVC cache entry, the
    registered work-tree file): reflinks where the filesystem shares blocks, else one read of
    `src` written to each around the page cache (`_Direct`)."""
    import mmap

    from dvc_objects.fs.system import reflink

    left = []
    for dst in dsts:
        try:
            reflink(src, dst)
        except OSError:
            left.append(dst)
    if not left:
        return
    files, buffer = [], mmap.mmap(-1, PART)
    try:
        for dst in left:
            files.append(_Direct(dst))
        with open(src, "rb", buffering=0) as f:
            while length := f.readinto(buffer):
                for file in files:
                    file.write_aligned(memoryview(buffer)[:length])
    finally:
        for file in files:
            file.close()
        buffer.close()


class _Direct:
    """A file written with O_DIRECT: the disk reads the bytes from one aligned buffer, used
    for every part, where a buffered write copies them into new page cache. On 2-core VMs,
    a buffered GiB cost 0.25 to 3.1 s of kernel CPU (the pages it fills are new to the
    guest), O_DIRECT 0.16 s; so the copies the registry keeps, not read soon, take neither
    that CPU from the transfer beside them nor the user's page cache. Where O_DIRECT is
    refused (tmpfs before Linux 6.6, some network filesystems; a block size above ALIGN),
    and for a last part not a whole number of blocks, the writes go through the page cache."""

    ALIGN = 4096  # O_DIRECT's offsets, lengths and buffer addresses: multiples of this

    def __init__(self, path: str):
        self.path, self.offset, self.buffer = path, 0, None
        self.fd, self.direct = _open_direct(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def write(self, chunk: bytes) -> None:
        """Append `chunk`, copied into the aligned buffer first (bytes objects are not)."""
        import mmap

        if not self.direct:
            self._append(memoryview(chunk))
            return
        if self.buffer is None or len(self.buffer) < len(chunk):
            self.buffer = mmap.mmap(-1, max(len(chunk), self.ALIGN))
        self.buffer[:len(chunk)] = chunk
        self.write_aligned(memoryview(self.buffer)[:len(chunk)])

    def write_aligned(self, view: memoryview) -> None:
        """Append `view`, which starts at the start of an mmap (page-aligned)."""
        whole = len(view) - len(view) % self.ALIGN if self.direct else 0
        if whole:
            try:
                self._append(view[:whole])
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                whole = 0
        if whole < len(view):
            self._through_page_cache()
            self._append(view[whole:])

    def _append(self, view: memoryview) -> None:
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], self.offset + done)
        self.offset += done

    def _through_page_cache(self) -> None:
        if self.direct:
            os.close(self.fd)
            self.fd, self.direct = os.open(self.path, os.O_WRONLY), False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.buffer is not None:
            self.buffer.close()
            self.buffer = None


def _open_direct(path: str, flags: int) -> tuple[int, bool]:
    """`path` opened with O_DIRECT, or without it where the platform or filesystem has none;
    and whether it was."""
    if hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT, 0o644), True
        except OSError:
            pass
    return os.open(path, flags, 0o644), False


def _read_parts(path: str):
    """The file's bytes in parts of PART bytes, read with O_DIRECT where the filesystem allows
    (see `_Direct`): a cache entry is read once per `get`, and buffered reads would fill as much
    new page cache as its size. Parts are read into one aligned buffer and handed out as
    copies, which the caller may keep while the next part is read."""
    import mmap

    fd, _ = _open_direct(path, os.O_RDONLY)
    buffer = mmap.mmap(-1, PART)
    try:
        with open(fd, "rb", buffering=0) as f:
            while length := f.readinto(buffer):
                yield buffer[:length]
    finally:
        buffer.close()


def _keep(path: str, cached: str, copy: str | None = None) -> None:
    """Put a verified object into DVC's cache, read-only as DVC keeps it: `copy`, a copy of
    it already made, moved in where it can be, else a new copy of `path`. A cache that cannot
    be written costs only a download next time."""
    tmp = _cache_temp(cached)
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        if copy is not None:
            try:
                _into_cache(copy, cached)
                return
            except OSError:  # a cache on another filesystem: copied below
                pass
        _store_copies(path, [tmp])
        _into_cache(tmp, cached)
    except OSError:
        _discard(tmp)


def _cache_temp(cached: str) -> str:
    """Where a cache entry is written before it is complete and checked: beside it, under a
    name DVC ignores, so a cache never shows half an object."""
    return os.path.join(os.path.dirname(cached),
                        f".registry-{os.getpid()}-{os.path.basename(cached)}")


def _into_cache(tmp: str, cached: str) -> None:
    os.chmod(tmp, 0o444)
    os.replace(tmp, cached)


def _discard(path: str) -> None:
    try:
        os.chmod(path, 0o644)
        os.remove(path)
    except OSError:
        pass


class _Progress:
    """One line on stderr for a transfer that takes a while: drawn only on a terminal, only
    after the first half second, at most four times a second, and never with --json."""

    def __init__(self, what: str, total: int | None):
        self._clock = time.monotonic
        self.what, self.total, self.done = what, total, 0
        self.start = self.last = self._clock()
        self.drawn = False
        self.enabled = _show_progress()

    def advance(self, count: int) -> None:
        self.done += count
        now = self._clock()
        if self.enabled and now - self.start >= 0.5 and now - self.last >= 0.25:
            self.last = now
            self._draw(now)

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.drawn:
            self._draw(self._clock())
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _draw(self, now: float) -> None:
        mib, rate = self.done / (1 << 20), self.done / max(now - self.start, 1e-6) / 1e6
        share = f"{min(self.done / self.total, 1):4.0%} " if self.total else ""
        of = f" of {self.total / (1 << 20):.0f}" if self.total else ""
        sys.stderr.write(f"\r{self.what}: {share}{mib:.0f}{of} MiB, {rate:.0f} MB/s ")
        sys.stderr.flush()
        self.drawn = True
