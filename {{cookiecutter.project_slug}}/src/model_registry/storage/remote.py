"""The DVC remote and the local DVC cache, reached the fastest way their configuration allows:
a plain S3 remote through botocore (`s3`), any other through DVC's object stores (`dvc`).
Objects move under the keys `dvc push` uses either way."""

from __future__ import annotations

import os

from . import dvc
from .localio import PART

# A download reads one object in parts of PART bytes, JOBS at a time, in order: at most
# (JOBS + 1) * PART bytes are held, so fetching 1 GiB or 100 GiB takes the same memory.
# Each request costs CPU in botocore and in the server: 16 MiB parts took 0.4 s less per GiB
# than 8 MiB on 2 cores with SeaweedFS beside them.
JOBS = 4
# An upload sends UPLOAD_JOBS parts of UPLOAD_PART bytes at a time: 64 MiB held, where DVC's
# defaults hold 8 parts of 50 MiB.
UPLOAD_PART = 8 << 20
UPLOAD_JOBS = 8


def why(exc: Exception) -> str:
    """An exception as one line (botocore's messages can span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class Stores:
    """The DVC remote (`name`, or the default) and the local DVC cache, as DVC's configuration
    names them at `rev` (None: the work tree), whose committed files `read(rev, path)` reads:
    DVC's own `Config` merges the system, global, repository and local levels. An S3 remote
    whose options `s3.usable` accepts is reached through botocore; any other remote, or a
    cache kept in a remote, through a DVC `Repo`. Either way `remote` answers `size`, `read`,
    `upload` and `delete` by object id, and `cache` (None where there is no DVC folder) has
    `oid_to_path`."""

    def __init__(self, root: str, rev: str | None, name: str | None, command: str,
                 read=None):
        from . import s3

        dvc_dir = os.path.join(root, ".dvc")
        local = dvc_dir if os.path.isdir(dvc_dir) else None
        config = dvc.config(root, local, rev, read)
        self._repo = None
        self.remote_folder = None
        name = name or config["core"].get("remote")
        conf = config["remote"].get(name) if name else None
        if conf is not None and s3.usable(conf) and "local" not in config["cache"]:
            self.remote = s3.Remote(conf, max(JOBS, UPLOAD_JOBS))
            folder = config["cache"].get("dir") or (local and os.path.join(local, "cache"))
            self.cache = Cache(folder) if folder else None
            return
        self._repo = dvc.RepoStores(root, rev, name, command, UPLOAD_JOBS)
        self.remote, self.cache = self._repo.remote, self._repo.cache
        self.remote_folder = self._repo.remote_folder

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()

    def __enter__(self) -> "Stores":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Cache:
    """DVC 3's local cache: each object at `<cache dir>/files/md5/<2 hex>/<30 hex>`."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "files", "md5")

    def oid_to_path(self, oid: str) -> str:
        return os.path.join(self.path, oid[:2], oid[2:])


def parts(remote, oid: str, size: int):
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
