"""Artifact bytes: DVC tracks them, the DVC remote keeps them, and we verify every byte we hand out.

The storage API the commands call. DVC is driven through its Python API, in this process
(`dvc`, the only module importing DVC): `Repo.add` (what `dvc add` runs) tracks an artifact
and writes its pointer; DVC's `Config` says where the remote and the cache are. Objects move
under the keys `dvc push` uses, through DVC's object stores, or for a plain S3 remote through
botocore directly (`s3`, `remote`). The modules that move bytes are imported inside the
functions that need them, so resolving a version, which reads pointers only, never pays for
them, nor for DVC.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

from ..errors import InputError, RegistryError
from .hashing import Digest, digest
from .locate import DVC, GIT, URL, Pointer, locate, outside, read_pointer
from .remote import UPLOAD_PART, why

__all__ = ["DVC", "Digest", "GIT", "Pointer", "UPLOAD_PART", "URL", "Uploader", "add",
           "check_output", "copying", "digest", "fetch", "file_identity", "locate", "outside",
           "preload", "push", "read_pointer", "remote_problems", "remove", "show_progress"]

_progress: bool | None = None


def show_progress(on: bool | None) -> None:
    """Whether long transfers draw a progress line on stderr: None (the default) when stderr
    is a terminal; the CLI says False for --json, whose readers are scripts."""
    global _progress
    _progress = on


def _progress_shown() -> bool:
    import sys

    return _progress if _progress is not None else sys.stderr.isatty()


# ------------------------------------------------------------------ tracking


def file_identity(path: str) -> tuple | None:
    """What DVC trusts to know a file unchanged (inode, size, mtime); None for a folder."""
    if os.path.isdir(path):
        return None
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


@contextmanager
def copying(root: str, source: str, names: list[str]):
    """Copies of the file `source`, one per name, made in a thread while the caller goes on
    (`localio.store_copies`): started while it hashes the file, they take the core hashing
    leaves free, rather than compete with an upload later for the CPU and memory. Yields a
    future of {name: path}; the paths are in .dvc/tmp, which git ignores, on the repository's
    filesystem, so a rename moves a copy into the work tree or the DVC cache. Whatever is
    still there on leaving is deleted.

    The copies are of the file as it is while they are made: a caller checks, as DVC does,
    that the file did not change (`file_identity`) before it takes them for what it hashed.
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    from . import localio

    folder = os.path.join(root, ".dvc", "tmp")
    paths = {name: os.path.join(folder, f"registry-{os.getpid()}-{n}")
             for n, name in enumerate(names)}

    def copy() -> dict[str, str]:
        try:
            os.makedirs(folder, exist_ok=True)
            localio.store_copies(source, list(paths.values()))
        except OSError as exc:
            raise RegistryError(f"could not copy {source} into the registry ({why(exc)}): "
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
                localio.discard(path)


def add(root: str, relpath: str, known: Digest | None = None,
        cache_copy: str | None = None) -> None:
    """`dvc add relpath`, run in this process: DVC writes the pointer, the .gitignore entry and
    the cache entry. `known` is the digest of exactly these bytes (the caller checked that they
    did not change since it hashed them): DVC's state learns the md5, as it would after
    hashing the file itself, and the cache entry is `cache_copy` (a copy of the same bytes,
    moved in) or else made now (`localio.store_copies`), so DVC neither reads a large
    artifact again to hash it nor copies it through the page cache. Should that fail, DVC
    makes its own."""
    from . import dvc, localio

    # Importing DVC sets its loggers up, so it comes before `quiet` (mostly done already,
    # in a thread: `preload`).
    dvc.import_for_add()
    dvc.quiet(_progress_shown())
    path = os.path.abspath(os.path.join(root, relpath))
    placed = known is not None and not os.path.isdir(path)
    try:
        dvc.track(root, relpath, known.md5 if placed else None,
                  lambda cached: localio.keep(path, cached, cache_copy))
    except RegistryError:
        raise
    except Exception as exc:  # DVC raises many types; all mean "could not track it"
        raise RegistryError(f"dvc add failed: {why(exc)}") from None


def preload() -> None:
    """Import what `add` needs (about a second of DVC's modules) in a thread, while the caller
    hashes the artifact: hashing lets go of the GIL, so the imports cost no wall time. An
    `Uploader` does the same in its own thread: DVC's modules are imported by one thread at
    a time, as DVC's package, circular in places, needs."""
    import threading

    from . import dvc

    threading.Thread(target=dvc.import_for_add, name="preload", daemon=True).start()


def remove(root: str, pointer_file: str) -> None:
    """Stop tracking an artifact (its .dvc file, .gitignore entry and work-tree copy)."""
    from . import dvc

    dvc.remove(root, pointer_file)


# ------------------------------------------------------------------ uploads


def push(root: str, targets: list, remote: str | None) -> None:
    """Upload the targets' objects from the DVC cache to the DVC remote, as `dvc push` would
    (same keys, objects already there skipped, a folder's files before its manifest); raises
    naming the remote on failure. A target is a pointer file in the work tree, or a Pointer
    (one read from an earlier commit). It runs in this process: no second DVC start and index
    walk."""
    from . import dvc
    from .remote import Stores

    with _upload_errors(remote) as name, Stores(root, None, remote, "push") as stores:
        dvc.quiet(_progress_shown())
        oids = []
        for target in targets:
            pointer = target if isinstance(target, Pointer) else read_pointer(
                open(os.path.join(root, target), "rb").read(), target)
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

        self.remote = remote
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="upload")
        self._stores = self._pool.submit(self._open, root, remote, _progress_shown())
        self._sent = None

    @staticmethod
    def _open(root: str, remote: str | None, progress_shown: bool):
        from . import dvc
        from .remote import Stores

        with dvc.IMPORTING:  # opening the remote imports DVC or botocore
            stores = Stores(root, None, remote, "push")
            dvc.quiet(progress_shown)
            dvc.import_for_add()
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
                                     f"{md5} could not be deleted from the remote ({why(exc)})"
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
        raise RegistryError(f"could not upload to DVC remote {name} ({why(exc)}): check that "
                            "the remote is reachable and its credentials are set, then re-run"
                            ) from None


def _send(remote, files: list[tuple[str, str]], name: str) -> None:
    from .progress import Progress

    total = sum(os.path.getsize(p) for p, _ in files)
    with Progress(f"uploading to {name}", total, _progress_shown()) as shown:
        for path, oid in files:
            remote.upload(path, oid, UPLOAD_PART, shown.update)


# ------------------------------------------------------------------ checks and downloads


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
    from .remote import Stores

    # What DVC keeps of each artifact: the whole output, the folder an artifact is part of,
    # the outputs inside a folder committed to git. Git's files and URLs are not DVC's.
    held = [(p, Pointer(p.path, piece.oid)) for p in pointers for piece in p.pieces
            if piece.source == DVC]
    if pointers and not held:
        return []
    name = remote or "the default remote"
    try:
        with Stores(root, None, remote, "status") as stores:
            if stores.remote_folder and not os.path.isdir(stores.remote_folder):
                raise RegistryError(f"could not reach DVC remote {name}: its folder "
                                    f"{stores.remote_folder} does not exist; mount it or fix "
                                    "the URL (dvc remote modify), then re-run")
            found = {}
            for pointer, part in held:
                if id(pointer) not in found and (
                        problem := _remote_problem(stores.remote, part, read)):
                    found[id(pointer)] = (pointer, problem)
            return list(found.values())
    except RegistryError:
        raise
    except Exception as exc:  # DVC raises many types; all mean "could not ask the remote"
        raise RegistryError(f"could not reach DVC remote {name} to query it ({why(exc)}): "
                            "check that it is reachable and its credentials are set") from None


def _remote_problem(remote, pointer: Pointer, read: bool) -> str | None:
    """Why the remote's copy of one artifact is unusable, or None when it is whole."""
    import hashlib

    from .hashing import plain
    from .remote import parts

    files = [pointer.md5]
    if pointer.is_dir:
        size = remote.size(pointer.md5)
        if size is None:
            return "not in the DVC remote"
        manifest = remote.read(pointer.md5, 0, size)
        if read and hashlib.md5(manifest).hexdigest() != plain(pointer.md5):
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
            for chunk in parts(remote, oid, size):
                got.update(chunk)
            if got.hexdigest() != oid:
                return f"object {oid} is damaged in the DVC remote (its md5 is {got.hexdigest()})"
    return None


def fetch(repo: str, rev: str, pointer: Pointer, dest: str, force: bool, read,
          label: str | None = None, sha256: str | None = None) -> Digest:
    """Write the artifact of `pointer` at `rev` to `dest`, only once its checksum matches.
    DVC's configuration is read as committed at `rev`, through `read(rev, path)` (a file's
    bytes there, None if absent: the repository's git reader), which also reads the files an
    artifact committed to git is made of.

    Each object DVC tracks comes from the local DVC cache when it holds a good copy, else from
    the DVC remote, streamed in bounded parts and hashed on the way (memory stays flat whatever
    the size). A downloaded object enters the cache only once it matches, so a second `get`
    needs no download and a corrupt remote copy never poisons the cache. A file committed to
    git is checked against the object id git gives it at `rev`. The bytes land in a temporary
    sibling of `dest` and are renamed into place after the check, so `dest` is either
    untouched or complete. `label` (e.g. "churn v1.4.0") names the version in errors.

    `sha256`, for a file, is what the version's registration tag attests for the bytes its
    md5 names (the helper hashed both in one read). The file is then checked against it
    alone: bytes with that sha256 are the registered ones, so their md5 is the pointer's, and
    the check costs a third of md5's (see docs/design-decisions.md). A folder is checked file
    by file against the md5s its manifest lists, the only per-file checksums there are.

    An artifact at a URL is read with DVC's `get-url`, whose bytes nothing records a checksum
    of, unless a `dvc import-url` pointer does (then its md5 is checked).
    """
    import shutil
    import tempfile

    label = label or f"{pointer.path} at {rev[:12]}"
    parent = os.path.dirname(os.path.abspath(dest))
    staging = tempfile.mkdtemp(prefix=".registry-get-", dir=parent)
    try:
        tmp = os.path.join(staging, "artifact")
        if pointer.source == URL:
            got = _from_url(repo, rev, pointer, tmp, read, label)
        else:
            got = _from_pieces(repo, rev, pointer, staging, read, label, sha256)
        check_output(dest, force, os.path.isdir(tmp))  # what the artifact is, now known
        if os.path.lexists(dest):
            if os.path.isdir(dest) and not os.path.islink(dest):
                shutil.rmtree(dest)
            else:
                os.remove(dest)
        os.replace(tmp, dest)
        return got
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output(dest: str, force: bool, is_dir: bool | None) -> None:
    """Refuse an output path: before anything is downloaded, and again before the artifact
    takes its place (`is_dir` None: not known yet)."""
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InputError(f"folder {parent} does not exist: create it or choose another -o")
    if os.path.lexists(dest) and not force:
        raise InputError(f"{dest} exists: pass --force to overwrite it")
    if os.path.isdir(dest) and not os.path.islink(dest) and is_dir is False:
        raise InputError(f"{dest} is a folder and the artifact is a file: give a file path "
                         "with -o (--force never replaces a folder with a file)")
    if is_dir and os.path.abspath(os.getcwd()).startswith(os.path.abspath(dest)):
        raise InputError(f"{dest} holds the current folder: choose another -o")


def _from_pieces(repo: str, rev: str, pointer: Pointer, staging: str, read, label: str,
                 sha256: str | None) -> Digest:
    """The artifact's pieces (objects DVC tracks, files git holds) written into
    `staging`/artifact, each checked; its digest."""
    from contextlib import nullcontext

    from .objects import Objects

    tmp = os.path.join(staging, "artifact")
    manifest = os.path.join(staging, "manifest")
    dvc_held = any(p.source == DVC for p in pointer.pieces)
    with (Objects(repo, rev, label, pointer.size, read, _progress_shown()) if dvc_held
          else nullcontext()) as objects:
        if pointer.whole_output:
            if pointer.is_dir:
                got = objects.get_dir(pointer.md5, tmp, manifest)
            else:
                got = objects.get_file(pointer.md5, tmp, sha256)
            _check(got, pointer, label, sha256)
            return Digest(pointer.md5, got.sha256, got.size, got.nfiles)
        for piece in pointer.pieces:
            target = os.path.join(tmp, *piece.relpath.split("/")) if piece.relpath else tmp
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if piece.source == GIT:
                got = _from_git(read, rev, piece.repo_path, piece.oid, target, label)
            elif piece.within or piece.oid.endswith(".dir"):
                got = objects.get_dir(piece.oid, target, manifest, piece.within)
            else:
                got = objects.get_checked(piece.oid, target, piece.relpath)
    return got if [p.relpath for p in pointer.pieces] == [""] else digest(tmp)


def _from_git(read, rev: str, path: str, oid: str, out: str, label: str) -> Digest:
    """A file committed to git, written to `out` once its bytes hash to the object id git
    lists for it (SHA-1, or SHA-256 in a repository that uses it)."""
    import hashlib

    data = read(rev, path)
    if data is None:
        raise RegistryError(f"could not read {path} at {rev[:12]} from git, the artifact of "
                            f"{label}: run `git fsck`, or fetch the repository again")
    algorithm = hashlib.sha256 if len(oid) == 64 else hashlib.sha1
    if algorithm(b"blob %d\0" % len(data) + data).hexdigest() != oid:
        raise RegistryError(f"checksum mismatch for {label} ({path}): git lists object {oid}, "
                            "the bytes read differ; run `git fsck`; nothing was written")
    with open(out, "wb") as f:
        f.write(data)
    return Digest(hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data))


def _from_url(repo: str, rev: str, pointer: Pointer, out: str, read, label: str) -> Digest:
    """The bytes at the artifact's URL, read with DVC's `get-url` (DVC's configuration as
    committed at `rev` resolves `remote://NAME/path`; credentials come from it and the
    environment, as for DVC's CLI); checked against the md5 a `dvc import-url` recorded."""
    from . import dvc

    dvc_dir = os.path.join(repo, ".dvc")
    try:
        dvc.quiet(_progress_shown())
        dvc.get_url(pointer.url, out, dvc.config(repo, dvc_dir if os.path.isdir(dvc_dir)
                                                 else None, rev, read))
    except Exception as exc:  # DVC raises many types; all mean "could not read the URL"
        raise RegistryError(f"could not read {pointer.url}, where {label} is ({why(exc)}): "
                            "check the URL and your access to it (credentials as DVC reads "
                            "them: its config or the environment)") from None
    got = digest(out)
    if pointer.md5 and got.md5 != pointer.md5:
        raise RegistryError(f"checksum mismatch for {label} ({pointer.url}): its import "
                            f"recorded md5 {pointer.md5}, the bytes there have {got.md5}; the "
                            "source changed since: `dvc update` it; nothing was written")
    return got


def _check(got: Digest, pointer: Pointer, label: str, sha256: str | None) -> None:
    """Raise unless the fetched bytes are the ones `sha256` (else the pointer's md5) names."""
    if sha256 and got.sha256 != sha256:
        raise RegistryError(f"checksum mismatch for {label} ({pointer.path}, object "
                            f"{pointer.md5}): its tag attests sha256 {sha256}, the bytes "
                            f"have {got.sha256}; nothing was written; `registry verify` "
                            "tells a damaged copy in the DVC remote from a wrong tag")
    if not sha256 and got.md5 != pointer.md5:
        raise RegistryError(f"checksum mismatch for {label} ({pointer.path}): expected md5 "
                            f"{pointer.md5}, got {got.md5}; the copy in the DVC remote is "
                            "corrupt, nothing was written")
