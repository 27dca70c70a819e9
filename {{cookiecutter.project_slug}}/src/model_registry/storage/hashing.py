"""What the registry records of an artifact's bytes: DVC's md5, a sha256 for auditors, the size.

hashlib is imported where it is used: reading a pointer, on every resolve, needs none of this.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

CHUNK = 1 << 20


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


class Hasher:
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
        if Hasher._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            Hasher._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        if self._sha_done is not None:
            self._sha_done.result()
        self._sha_done = Hasher._pool.submit(self.sha256.update, chunk)
        self.md5.update(chunk)

    def result(self) -> tuple[str | None, str, int]:
        if self._sha_done is not None:
            self._sha_done.result()
        md5 = self.md5.hexdigest() if self.md5 is not None else None
        return md5, self.sha256.hexdigest(), self.size


def hash_file(path: str) -> tuple[str, str, int]:
    hasher = Hasher()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.result()


def manifest_hash(entries: list[dict], algorithm) -> str:
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
        md5, sha, size = hash_file(path)
        return Digest(md5, sha, size)
    md5_entries, sha_entries, total = [], [], 0
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in files:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            md5, sha, size = hash_file(full)
            md5_entries.append({"md5": md5, "relpath": rel})
            sha_entries.append({"relpath": rel, "sha256": sha})
            total += size

    return Digest(manifest_hash(md5_entries, hashlib.md5) + ".dir",
                  manifest_hash(sha_entries, hashlib.sha256), total, len(md5_entries))


def matches(got: Digest, oid: str, sha256: str | None) -> bool:
    """Whether hashed bytes are the object `oid`: by `sha256` when given, else by md5."""
    return got.sha256 == sha256 if sha256 else got.md5 == plain(oid)


def plain(oid: str) -> str:
    """The md5 an object's bytes hash to (a `.dir` object's id carries a suffix)."""
    return oid[:-len(".dir")] if oid.endswith(".dir") else oid
