"""Artifact bytes: DVC tracks them, the DVC remote keeps them, and we verify every byte we hand out.

DVC is driven through its CLI for writes (`dvc add`, `dvc push`: the interface DVC keeps stable)
and through `dvc.api.DVCFileSystem` for reads at any revision. DVC is imported only here and only
inside the functions that need it, so resolving a version never pays for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from . import yamlio
from .errors import InputError, RegistryError

CHUNK = 1 << 20
# DVC remote options that hold credentials: never in .dvc/config, which git tracks.
SECRET_KEYS = {"access_key_id", "secret_access_key", "session_token", "password",
               "sas_token", "connection_string", "account_key", "gdrive_client_secret"}


@dataclass
class Digest:
    """What the registry records of an artifact: DVC's md5 plus a sha256 for auditors."""

    md5: str
    sha256: str
    size: int
    nfiles: int | None = None

    def as_dict(self) -> dict:
        data = {"md5": self.md5, "sha256": self.sha256, "size": self.size}
        if self.nfiles is not None:
            data["nfiles"] = self.nfiles
        return data


# ------------------------------------------------------------------ hashing


def _hash_file(path: str) -> tuple[str, str, int]:
    md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha.hexdigest(), size


def digest(path: str) -> Digest:
    """DVC's md5 of a file, or of a directory's manifest (`<md5>.dir`), with sha256 and size.

    For a directory the sha256 is taken over the same manifest with sha256 in place of md5,
    so both digests cover every file's path and content.
    """
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

    def manifest_hash(entries, algorithm):
        entries.sort(key=lambda e: e["relpath"])
        return algorithm(json.dumps(entries, sort_keys=True).encode()).hexdigest()

    return Digest(manifest_hash(md5_entries, hashlib.md5) + ".dir",
                  manifest_hash(sha_entries, hashlib.sha256), total, len(md5_entries))


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


def _dvc(root: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")]
        raise RegistryError(f"dvc {args[0]} failed: {(errors or lines or ['no output'])[-1]}")
    return proc.stdout


def add(root: str, relpath: str) -> None:
    _dvc(root, "add", "--quiet", relpath)


def remove(root: str, pointer_file: str) -> None:
    """Stop tracking an artifact (its .dvc file, .gitignore entry and work-tree copy)."""
    _dvc(root, "remove", "--outs", pointer_file)


def push(root: str, targets: list[str], remote: str | None) -> None:
    """Upload the targets' data to the DVC remote; raises naming the remote on failure."""
    try:
        _dvc(root, "push", "--quiet", *(["--remote", remote] if remote else []), *targets)
    except RegistryError as exc:
        name = remote or "the default remote"
        raise RegistryError(f"could not upload to DVC remote {name} ({exc}): check that the "
                            "remote is reachable and its credentials are set, then re-run"
                            ) from None


def missing_from_remote(root: str, pointers: list[Pointer], remote: str | None = None
                        ) -> list[Pointer]:
    """The pointers whose data the DVC remote lacks (for a folder: its manifest or any file).

    Asks the remote object by object, without downloading, so CI can refuse a version whose
    bytes never reached storage before anyone tags or deploys it.
    """
    from dvc.repo import Repo

    try:
        with Repo(root) as repo:
            odb = repo.cloud.get_remote_odb(remote, command="check")
            missing = []
            for pointer in pointers:
                oids = [pointer.md5]
                if pointer.is_dir and odb.exists(pointer.md5):
                    manifest = json.loads(odb.fs.cat_file(odb.oid_to_path(pointer.md5)))
                    oids += [entry["md5"] for entry in manifest]
                if not all(odb.exists(oid) for oid in oids):
                    missing.append(pointer)
            return missing
    except Exception as exc:  # DVC raises many types; all mean "could not ask the remote"
        name = remote or "the default remote"
        raise RegistryError(f"could not query DVC remote {name} ({type(exc).__name__}: {exc}): "
                            "check that it is reachable and its credentials are set") from None


def fetch(repo: str, rev: str, pointer: Pointer, dest: str, force: bool) -> Digest:
    """Write the artifact of `pointer` at `rev` to `dest`, only once its md5 matches.

    The bytes land in a temporary sibling of `dest` and are renamed into place after the check,
    so `dest` is either untouched or complete.
    """
    from dvc.api import DVCFileSystem

    parent = os.path.dirname(os.path.abspath(dest))
    staging = tempfile.mkdtemp(prefix=".registry-get-", dir=parent)
    try:
        fs = DVCFileSystem(repo, rev=rev)
        tmp = os.path.join(staging, "artifact")
        try:
            if pointer.is_dir:
                fs.get(pointer.path, tmp, recursive=True)
            else:
                with fs.open(pointer.path, "rb") as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
        except Exception as exc:  # DVC raises many types; all mean "could not download"
            raise RegistryError(f"could not download {pointer.path} at {rev[:12]} from the DVC "
                                f"remote ({type(exc).__name__}: {exc}): check the remote and "
                                "its credentials, then re-run") from None
        got = digest(tmp)
        if got.md5 != pointer.md5:
            raise RegistryError(f"checksum mismatch for {pointer.path} at {rev[:12]}: expected "
                                f"md5 {pointer.md5}, got {got.md5}; the remote or cache copy is "
                                "corrupt, nothing was written")
        if os.path.lexists(dest):
            if not force:
                raise InputError(f"{dest} exists: pass --force to overwrite it")
            if os.path.isdir(dest) and not os.path.islink(dest):
                shutil.rmtree(dest)
            else:
                os.remove(dest)
        os.replace(tmp, dest)
        return got
    finally:
        shutil.rmtree(staging, ignore_errors=True)
