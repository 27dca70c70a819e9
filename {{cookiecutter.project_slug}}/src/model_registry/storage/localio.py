"""Local copies of artifact bytes: reflinks where the filesystem shares blocks, else O_DIRECT
writes and reads for the copies the registry keeps (work-tree file, DVC cache entry), and
cache entries that appear only whole and checked."""

from __future__ import annotations

import errno
import os

from .dvc import reflink

# The unit of every transfer: a download's ranged GET, a copy's read and a cache entry's read
# all move PART bytes at a time, through one buffer of this size.
PART = 16 << 20


def store_copies(src: str, dsts: list[str]) -> None:
    """Copies of `src` that the registry keeps rather than reads soon (a DVC cache entry, the
    registered work-tree file): reflinks where the filesystem shares blocks, else one read of
    `src` written to each around the page cache (`Direct`)."""
    import mmap

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
            files.append(Direct(dst))
        with open(src, "rb", buffering=0) as f:
            while length := f.readinto(buffer):
                for file in files:
                    file.write_aligned(memoryview(buffer)[:length])
    finally:
        for file in files:
            file.close()
        buffer.close()


class Direct:
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
        self.fd, self.direct = open_direct(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

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


def open_direct(path: str, flags: int) -> tuple[int, bool]:
    """`path` opened with O_DIRECT, or without it where the platform or filesystem has none;
    and whether it was."""
    if hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT, 0o644), True
        except OSError:
            pass
    return os.open(path, flags, 0o644), False


def read_parts(path: str):
    """The file's bytes in parts of PART bytes, read with O_DIRECT where the filesystem allows
    (see `Direct`): a cache entry is read once per `get`, and buffered reads would fill as much
    new page cache as its size. Parts are read into one aligned buffer and handed out as
    copies, which the caller may keep while the next part is read."""
    import mmap

    fd, _ = open_direct(path, os.O_RDONLY)
    buffer = mmap.mmap(-1, PART)
    try:
        with open(fd, "rb", buffering=0) as f:
            while length := f.readinto(buffer):
                yield buffer[:length]
    finally:
        buffer.close()


class CacheCopy:
    """The DVC cache entry of an object being downloaded, written from each part as it
    arrives and around the page cache (`Direct`), so the cache costs neither a second pass
    once the download ends nor a second gigabyte of page cache beside the output's. The copy
    enters the cache, read-only as DVC keeps it, only once it matches. A cache that cannot be
    written costs only a download next time."""

    def __init__(self, cached: str):
        self.cached, self.tmp, self.kept, self.file = cached, cache_temp(cached), False, None
        try:
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            self.file = Direct(self.tmp)
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
            into_cache(self.tmp, self.cached)
            self.kept = True
        except OSError:
            self.discard()

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if not self.kept:
            discard(self.tmp)


def keep(path: str, cached: str, copy: str | None = None) -> None:
    """Put a verified object into DVC's cache, read-only as DVC keeps it: `copy`, a copy of
    it already made, moved in where it can be, else a new copy of `path`. A cache that cannot
    be written costs only a download next time."""
    tmp = cache_temp(cached)
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        if copy is not None:
            try:
                into_cache(copy, cached)
                return
            except OSError:  # a cache on another filesystem: copied below
                pass
        store_copies(path, [tmp])
        into_cache(tmp, cached)
    except OSError:
        discard(tmp)


def cache_temp(cached: str) -> str:
    """Where a cache entry is written before it is complete and checked: beside it, under a
    name DVC ignores, so a cache never shows half an object."""
    return os.path.join(os.path.dirname(cached),
                        f".registry-{os.getpid()}-{os.path.basename(cached)}")


def into_cache(tmp: str, cached: str) -> None:
    os.chmod(tmp, 0o444)
    os.replace(tmp, cached)


def discard(path: str) -> None:
    try:
        os.chmod(path, 0o644)
        os.remove(path)
    except OSError:
        pass
