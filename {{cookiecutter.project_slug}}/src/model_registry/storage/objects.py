"""One revision's objects, as `fetch` reads them: from the local DVC cache when it holds a good
copy, else streamed from the DVC remote and hashed on the way."""

from __future__ import annotations

import json
import os

from ..errors import RegistryError
from . import dvc
from .hashing import Digest, Hasher, manifest_hash, matches, plain
from .localio import CacheCopy, discard, read_parts
from .progress import Progress
from .remote import Stores, parts, why


class Objects:
    """The objects of revision `rev`, for the artifact `label` names (in errors) and whose
    size, when known, `size` gives (for the progress line); `read(rev, path)` reads the DVC
    configuration committed there."""

    def __init__(self, root: str, rev: str, label: str, size: int | None, read,
                 progress_shown: bool):
        self.label = label
        self.progress = Progress(f"fetching {label}", size, progress_shown)
        try:
            self._stores = Stores(root, rev, None, "pull", read)
        except Exception as exc:  # DVC raises many types; all mean "no remote to read"
            self.progress.close()
            if dvc.unreadable(exc):
                raise RegistryError(f"cannot read DVC's configuration at {rev[:12]} "
                                    f"({why(exc)}): is this a registry repository?") from None
            raise RegistryError(f"no usable DVC remote for {label} ({why(exc)}): set one in "
                                ".dvc/config (`dvc remote add -d`)") from None
        self.remote, self.cache = self._stores.remote, self._stores.cache

    def __enter__(self) -> "Objects":
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
            if matches(got, oid, sha256):
                return got
            discard(cached)  # a damaged cache copy: drop it and download a good one
        return self._download(oid, out, cached, sha256)

    def _from_cache(self, cached: str, out: str, sha256: str | None) -> Digest:
        """A cache entry copied to `out` and hashed: a reflink where the filesystem shares
        blocks (then read back to hash), else read once, around the page cache as it was
        written, and hashed while it is written out."""
        try:
            dvc.reflink(cached, out)
        except OSError:
            with open(out, "wb") as dst:
                return drain(read_parts(cached), dst.write, self.progress, sha256)
        return drain(read_parts(out), None, self.progress, sha256)

    def get_dir(self, oid: str, out: str, manifest_file: str, within: str = "") -> Digest:
        """A directory: its manifest (`<md5>.dir`), verified, then each file it lists; with
        `within`, only that file or folder of it (what a path inside a folder DVC tracks
        names). A folder's digest covers its files as `hashing.digest` does; a file's is
        its own."""
        import hashlib
        got = self.get_file(oid, manifest_file)
        if got.md5 != plain(oid):
            raise RegistryError(f"checksum mismatch for {self.label} (manifest {oid}): expected "
                                f"md5 {plain(oid)}, got {got.md5}; the copy in the DVC remote "
                                "is corrupt, nothing was written")
        try:
            with open(manifest_file, "rb") as f:
                entries = [(e["relpath"], e["md5"]) for e in json.load(f)]
        except (ValueError, TypeError, KeyError):
            raise RegistryError(f"the manifest of {self.label} ({oid}) is not a DVC directory "
                                "listing: the remote copy is damaged") from None
        if within:
            file = [md5 for relpath, md5 in entries if relpath == within]
            if file:
                return self.get_checked(file[0], out, within)
            entries = [(relpath[len(within) + 1:], md5) for relpath, md5 in entries
                       if relpath.startswith(within + "/")]
            if not entries:
                raise RegistryError(f"the folder DVC tracks for {self.label} ({oid}) holds no "
                                    f"{within}: fix the path in dvc.yaml")
        os.makedirs(out)
        sha_entries, md5_entries, total = [], [], 0
        for relpath, file_oid in entries:
            names = relpath.split("/")
            if relpath.startswith("/") or any(p in ("", ".", "..") for p in names):
                raise RegistryError(f"the manifest of {self.label} lists {relpath!r}, a path "
                                    "outside the artifact: refusing to write it")
            target = os.path.join(out, *names)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            got = self.get_checked(file_oid, target, relpath)
            sha_entries.append({"relpath": relpath, "sha256": got.sha256})
            md5_entries.append({"md5": file_oid, "relpath": relpath})
            total += got.size
        md5 = oid if not within else manifest_hash(md5_entries, hashlib.md5) + ".dir"
        return Digest(md5, manifest_hash(sha_entries, hashlib.sha256), total, len(entries))

    def get_checked(self, oid: str, out: str, relpath: str) -> Digest:
        """One file of a folder, written to `out` once its md5 is the one listed."""
        got = self.get_file(oid, out)
        if got.md5 != oid:
            raise RegistryError(f"checksum mismatch for {self.label} ({relpath}): expected "
                                f"md5 {oid}, got {got.md5}; the copy in the DVC remote "
                                "is corrupt, nothing was written")
        return got

    def _download(self, oid: str, out: str, cached: str | None, sha256: str | None) -> Digest:
        """Stream `oid` from the remote into `out` and, once it matches, into the cache (see
        `CacheCopy`)."""
        try:
            size = self.remote.size(oid)
        except Exception as exc:  # DVC raises many types; all mean "could not ask the remote"
            raise RegistryError(f"could not reach the DVC remote for {self.label} "
                                f"({why(exc)}): check that it is reachable and its "
                                "credentials are set, then re-run") from None
        if size is None:
            raise RegistryError(f"{self.label}: object {oid} is not in the DVC remote: push it "
                                "with `dvc push` from a clone that has it")
        entry = CacheCopy(cached) if cached else None
        try:
            with open(out, "wb") as dst:

                def write(chunk: bytes) -> None:
                    dst.write(chunk)
                    if entry:
                        entry.add(chunk)

                got = drain(parts(self.remote, oid, size), write, self.progress, sha256)
            if entry and matches(got, oid, sha256):
                entry.keep()
        except Exception as exc:  # network, credentials, server errors: all "could not download"
            raise RegistryError(f"could not download {self.label} from the DVC remote "
                                f"({why(exc)}): check the remote and its credentials, "
                                "then re-run") from None
        finally:
            if entry:
                entry.discard()  # unless kept: a copy of bytes that failed the check
        return got


def drain(chunks, write, progress: Progress, sha256: str | None = None) -> Digest:
    """Hash each chunk and pass it to `write` (unless None), the writing in a thread of its
    own: while the kernel makes a writer wait for the disk, the chunk is hashed and the
    download goes on. With an expected `sha256`, only sha256 is computed."""
    from concurrent.futures import ThreadPoolExecutor

    write = write or (lambda chunk: None)
    hasher = Hasher(md5=sha256 is None)
    with ThreadPoolExecutor(1, thread_name_prefix="write") as writer:
        written = None
        for chunk in chunks:
            if written is not None:
                written.result()
            written = writer.submit(write, chunk)
            hasher.update(chunk)
            progress.update(len(chunk))
        if written is not None:
            written.result()
    return Digest(*hasher.result())
