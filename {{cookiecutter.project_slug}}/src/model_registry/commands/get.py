"""`get`: a version's artifact, verified, written atomically; from a clone or from a URL."""

from __future__ import annotations

import os

from .. import storage
from ..core import Registry, cloned
from ..errors import InputError
from ..results import Fetched
from ..tags import parse_ref, split_hashes


def get(reg: Registry, ref: str, output: str | None = None, force: bool = False) -> Fetched:
    state, version = reg.locate(ref)
    found = reg.describe(state, version, parse_ref(ref).stage)
    pointer = reg.pointer(version)
    dest = output or os.path.basename(pointer.path)
    check_output(dest, force, pointer.is_dir)
    # A file is checked against the sha256 its registration tag attests for this md5
    # (storage.fetch says why); a folder, or a version whose tag attests none, by md5.
    attested = split_hashes(version.registration.message)[1]
    sha256 = (attested["sha256"] if attested and attested["md5"] == pointer.md5
              and not pointer.is_dir else None)
    got = storage.fetch(reg.root, version.commit, pointer, dest, force, reg.git.read,
                        f"{version.model} {version.version}", sha256)
    return Fetched(**vars(found), output=os.path.abspath(dest), sha256=got.sha256,
                   verified_by="sha256" if sha256 else "md5")


def get_from_url(url: str, ref: str, output: str | None = None, force: bool = False) -> Fetched:
    """`registry get --repo URL`: resolve and fetch from a registry you have not cloned."""
    with cloned(url) as reg:
        return get(reg, ref, output or None, force)


def check_output(dest: str, force: bool, is_dir: bool) -> None:
    """Refuse an output path before anything is downloaded."""
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InputError(f"folder {parent} does not exist: create it or choose another -o")
    if os.path.lexists(dest) and not force:
        raise InputError(f"{dest} exists: pass --force to overwrite it")
    if os.path.isdir(dest) and not os.path.islink(dest) and not is_dir:
        raise InputError(f"{dest} is a folder and the artifact is a file: give a file path "
                         "with -o (--force never replaces a folder with a file)")
    if is_dir and os.path.abspath(os.getcwd()).startswith(os.path.abspath(dest)):
        raise InputError(f"{dest} holds the current folder: choose another -o")
