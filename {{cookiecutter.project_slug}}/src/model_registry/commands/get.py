"""`get`: a version's artifact, verified, written atomically; from a clone or from a URL.

The artifact is wherever the version's dvc.yaml entry points (storage.locate): an output DVC
tracks, files committed to git, or a URL; the same bytes `dvc artifacts get` gives."""

from __future__ import annotations

import os
import posixpath
from urllib.parse import urlsplit

from .. import storage
from ..core import Registry, cloned
from ..errors import InputError
from ..results import Fetched
from ..tags import parse_ref, split_hashes


def get(reg: Registry, ref: str, output: str | None = None, force: bool = False) -> Fetched:
    state, version = reg.locate(ref)
    pointer = reg.pointer(version)
    found = reg.describe(state, version, parse_ref(ref).stage)
    dest = output or default_output(pointer.path)
    storage.check_output(dest, force, pointer.is_dir)
    # A file DVC tracks is checked against the sha256 its registration tag attests for this
    # md5 (storage.fetch says why); a folder, or a version whose tag attests none, by md5.
    attested = split_hashes(version.registration.message)[1]
    sha256 = (attested["sha256"] if attested and pointer.whole_output and not pointer.is_dir
              and attested["md5"] == pointer.md5 else None)
    blobs = [p.repo_path for p in pointer.pieces if p.source == storage.GIT]
    if len(blobs) > 1:  # a clone made by --repo lacks them: one round trip, not one each
        reg.git.prefetch({version.commit: blobs})
    with reg.git.reader() as read:  # a folder committed to git is read file by file
        got = storage.fetch(reg.root, version.commit, pointer, dest, force, read,
                            f"{version.model} {version.version}", sha256)
    return Fetched(**vars(found), output=os.path.abspath(dest), sha256=got.sha256,
                   verified_by=verified_by(pointer, sha256))


def get_from_url(url: str, ref: str, output: str | None = None, force: bool = False) -> Fetched:
    """`registry get --repo URL`: resolve and fetch from a registry you have not cloned."""
    with cloned(url, ref) as reg:
        return get(reg, ref, output or None, force)


def default_output(path: str) -> str:
    """The artifact's own name (a URL's last path segment), written here."""
    name = posixpath.basename((urlsplit(path).path if storage.outside(path) else path)
                              .rstrip("/"))
    if not name:
        raise InputError(f"the artifact at {path} has no file name to write it under: give "
                         "one with -o")
    return name


def verified_by(pointer: storage.Pointer, sha256: str | None) -> str:
    """What the written bytes were checked against: "sha256" (the registration tag's), "md5"
    (DVC's), "git" (git's object ids), "git and md5" (a folder of both), "" (nothing
    records a checksum of a URL's bytes)."""
    if pointer.source == storage.URL:
        return "md5" if pointer.md5 else ""
    if pointer.source == storage.GIT:
        return ("git" if all(p.source == storage.GIT for p in pointer.pieces)
                else "git and md5")
    return "sha256" if sha256 else "md5"
